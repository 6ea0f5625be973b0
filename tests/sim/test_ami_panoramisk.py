"""Every AMI action the sim implements, driven through the real panoramisk client over loopback."""
from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from panoramisk import Manager

from clusterpbx.sim.runner import SimPBX


def with_manager(sim: SimPBX, body: Callable[[Manager], Awaitable[None]], events: str = "on") -> None:
    async def main() -> None:
        logged_in: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        mgr = Manager(loop=asyncio.get_running_loop(), host="127.0.0.1", port=sim.ami_port, username="portal",
                      secret="portalsecret", events=events, ping_delay=3600,
                      on_login=lambda m: logged_in.done() or logged_in.set_result(True))
        await mgr.connect()
        await asyncio.wait_for(logged_in, 5)
        try:
            await asyncio.wait_for(body(mgr), 10)
        finally:
            mgr.close()
    asyncio.run(main())


async def act(mgr: Manager, action: str, as_list: bool | None = None, **headers: Any) -> Any:
    return await asyncio.wait_for(mgr.send_action({"Action": action, **headers}, as_list=as_list), 5)


def test_ping_events_listcommands_and_unknown(sim: SimPBX) -> None:
    async def body(mgr: Manager) -> None:
        pong = await act(mgr, "Ping")
        assert pong.success and pong.ping == "Pong"
        cmds = await act(mgr, "ListCommands")
        assert "QueueStatus" in cmds and "PJSIPNotify" in cmds
        bad = await act(mgr, "NoSuchThing")
        assert not bad.success
        assert bad.message == "Invalid/unknown command: NoSuchThing. Use Action: ListCommands to show available commands."
        off = await act(mgr, "Events", EventMask="off")
        assert off.events == "Off"
        on = await act(mgr, "Events", EventMask="call,agent")
        assert on.events == "On"
    with_manager(sim, body)


def test_calls_channels_status_hangup_originate(sim: SimPBX) -> None:
    def open_call() -> None:
        call = sim.model.start_call("101", "102")
        call.ring()
        call.answer()
    sim.call_soon(open_call)

    async def body(mgr: Manager) -> None:
        seen: list[str] = []
        mgr.register_event("*", lambda m, e: seen.append(e.event))
        chans = await act(mgr, "CoreShowChannels")
        assert [e.event for e in chans[1:]] == ["CoreShowChannel", "CoreShowChannel", "CoreShowChannelsComplete"]
        assert chans[-1].ListItems == "2"
        names = {e.channel for e in chans[1:-1]}
        assert names == {"PJSIP/101-00000000", "PJSIP/102-00000001"}
        status = await act(mgr, "Status")
        assert status[-1].event == "StatusComplete" and status[-1].Items == "2"
        one = await act(mgr, "Status", Channel="PJSIP/102-00000001")
        assert one[1].BridgeID == chans[1].BridgeId
        hung = await act(mgr, "Hangup", Channel="PJSIP/101-00000000", Cause="16")
        assert hung.message == "Channel Hungup"
        missing = await act(mgr, "Hangup", Channel="PJSIP/101-00000000")
        assert missing.message == "No such channel"
        res = await act(mgr, "Originate", Channel="PJSIP/103", Exten="104", Context="internal", Priority="1",
                        CallerID='"Portal" <999>', Async="true")
        assert [m.get("event") or m.response for m in res] == ["Success", "OriginateResponse"]
        assert res[1].response == "Success" and res[1].reason == "4"
        failed = await act(mgr, "Originate", Channel="PJSIP/100", Exten="102", Context="internal", Priority="1")
        assert failed.message == "Originate failed"
        for _ in range(50):
            if "Cdr" in seen and "BridgeEnter" in seen:
                break
            await asyncio.sleep(0.02)
        assert {"Hangup", "Cdr", "Newchannel", "DialBegin", "BridgeEnter"} <= set(seen)
    with_manager(sim, body)
    assert sim.call_soon(lambda: len(sim.model.channels)) == 2   # the originated call is up


def test_queues(sim: SimPBX) -> None:
    async def body(mgr: Manager) -> None:
        members: list[Any] = []
        mgr.register_event("QueueMember*", lambda m, e: members.append(e))
        # panoramisk waits for more messages after "Added interface to queue" unless told otherwise.
        added = await act(mgr, "QueueAdd", as_list=False, Queue="support", Interface="PJSIP/104",
                          MemberName="Erin Agent")
        assert added.message == "Added interface to queue"
        again = await act(mgr, "QueueAdd", as_list=False, Queue="support", Interface="PJSIP/104")
        assert again.message == "Unable to add interface: Already there"
        paused = await act(mgr, "QueuePause", Queue="support", Interface="PJSIP/104", Paused="true", Reason="lunch")
        assert paused.message == "Interface paused successfully"
        status = await act(mgr, "QueueStatus", Queue="support")
        member = next(e for e in status if e.get("event") == "QueueMember")
        assert (member.Name, member.Location, member.Paused, member.PausedReason) == (
            "Erin Agent", "PJSIP/104", "1", "lunch")
        summary = await act(mgr, "QueueSummary")
        assert [e.queue for e in summary[1:-1]] == ["support", "sales"]
        assert summary[1].LoggedIn == "1" and summary[1].Available == "0"
        removed = await act(mgr, "QueueRemove", Queue="support", Interface="PJSIP/104")
        assert removed.message == "Removed interface from queue"
        for _ in range(50):
            if len(members) >= 3:
                break
            await asyncio.sleep(0.02)
        assert [e.event for e in members] == ["QueueMemberAdded", "QueueMemberPause", "QueueMemberRemoved"]
        assert members[1].PausedReason == "lunch" and members[0].Interface == "PJSIP/104"
    with_manager(sim, body)


def test_confbridge(sim: SimPBX) -> None:
    chans = sim.call_soon(lambda: [sim.model.conference_call(e, "500", exten="*99500").name
                                   for e in ("102", "105")])

    async def body(mgr: Manager) -> None:
        rooms = await act(mgr, "ConfbridgeListRooms")
        assert rooms[1].Conference == "500" and rooms[1].Parties == "2"
        users = await act(mgr, "ConfbridgeList", Conference="500")
        assert [u.channel for u in users[1:-1]] == chans
        muted = await act(mgr, "ConfbridgeMute", Conference="500", Channel=chans[1])
        assert muted.message == "User muted"
        unmuted = await act(mgr, "ConfbridgeUnmute", Conference="500", Channel=chans[1])
        assert unmuted.message == "User unmuted"
        nobody = await act(mgr, "ConfbridgeKick", Conference="500", Channel="PJSIP/999-00000000")
        assert nobody.message == "No Channel by that name found in Conference."
        kicked = await act(mgr, "ConfbridgeKick", Conference="500", Channel=chans[1])
        assert kicked.message == "User kicked"
        everyone = await act(mgr, "ConfbridgeKick", Conference="500", Channel="all")
        assert everyone.message == "All participants kicked"
        gone = await act(mgr, "ConfbridgeListRooms")
        assert gone.message == "No active conferences."
    with_manager(sim, body)


def test_astdb(sim: SimPBX) -> None:
    async def body(mgr: Manager) -> None:
        assert (await act(mgr, "DBPut", Family="CF", Key="101", Val="0612345678")).success
        assert (await act(mgr, "DBPut", Family="CF", Key="102", Val="103")).success
        got = await act(mgr, "DBGet", Family="CF", Key="101")
        assert got[1].event == "DBGetResponse" and got[1].Val == "0612345678"
        tree = await act(mgr, "DBGetTree", Family="CF")
        assert [(e.Key, e.Val) for e in tree[1:-1]] == [("/CF/101", "0612345678"), ("/CF/102", "103")]
        assert (await act(mgr, "DBDel", Family="CF", Key="101")).message == "Key deleted successfully"
        assert (await act(mgr, "DBDel", Family="CF", Key="101")).message == "Database entry could not be deleted"
        assert (await act(mgr, "DBDelTree", Family="CF")).message == "Key tree deleted successfully"
        assert (await act(mgr, "DBGet", Family="CF", Key="102")).message == "Database entry not found"
    with_manager(sim, body)
    assert sim.call_soon(lambda: dict(sim.model.db)) == {}


def test_voicemail(sim: SimPBX, tmp_path: Path) -> None:
    msg_id = sim.call_soon(lambda: sim.model.leave_voicemail("103", caller_id='"Bob Sales" <101>',
                                                             duration=4).msg_id)

    async def body(mgr: Manager) -> None:
        count = await act(mgr, "MailboxCount", Mailbox="103@default")
        assert (count.NewMessages, count.OldMessages) == ("1", "0")
        status = await act(mgr, "MailboxStatus", Mailbox="103@default")
        assert status.Waiting == "1"
        users = await act(mgr, "VoicemailUsersList")
        assert len(users) == 8 and users[-1].ListItems == "6"
        user = await act(mgr, "VoicemailUserStatus", Context="default", Mailbox="103")
        assert user[1].NewMessageCount == "1"
        box = await act(mgr, "VoicemailBoxSummary", Context="default", Mailbox="103")
        assert box[1].ID == msg_id and box[1].Duration == "4"
        fwd = await act(mgr, "VoicemailForward", Context="default", Mailbox="103", Folder="INBOX", ID=msg_id,
                        ToContext="default", ToMailbox="102", ToFolder="INBOX")
        assert fwd.message.strip() == "Message forward successful"
        moved = await act(mgr, "VoicemailMove", Context="default", Mailbox="102", Folder="INBOX", ID=msg_id,
                          ToFolder="Old")
        assert moved.message.strip() == "Message move successful"
        removed = await act(mgr, "VoicemailRemove", Context="default", Mailbox="102", Folder="Old", ID=msg_id)
        assert removed.message.strip() == "Message remove successful"
        again = await act(mgr, "VoicemailRemove", Context="default", Mailbox="102", Folder="Old", ID=msg_id)
        assert again.success and again.message.strip() == "Message remove failed"
        assert (await act(mgr, "VoicemailRefresh", Context="default", Mailbox="103")).message == "Refresh sent"
    with_manager(sim, body)
    spool = tmp_path / "spool" / "voicemail" / "default"
    assert (spool / "103" / "INBOX" / "msg0000.wav").exists()
    assert not list((spool / "102" / "Old").glob("msg*"))


def test_pjsip_notify_and_messagesend(sim: SimPBX) -> None:
    async def body(mgr: Manager) -> None:
        eps = await act(mgr, "PJSIPShowEndpoints")
        assert [e.ObjectName for e in eps[1:-1]] == ["100", "101", "102", "103", "104", "105"]
        assert eps[1].DeviceState == "Unavailable" and eps[2].Contacts == "101/sip:101@127.0.0.1:5071,"
        ep = await act(mgr, "PJSIPShowEndpoint", Endpoint="101")
        assert [e.event for e in ep[1:]] == ["EndpointDetail", "AuthDetail", "TransportDetail", "AorDetail",
                                             "ContactStatusDetail", "EndpointDetailComplete"]
        contacts = await act(mgr, "PJSIPShowContacts")
        assert contacts[-1].ListItems == "5"
        sent = await act(mgr, "PJSIPNotify", Endpoint="101", Variable=["Event=check-sync;reboot=false", "X-Lab=1"])
        assert sent.message == "NOTIFY sent"
        opt = await act(mgr, "PJSIPNotify", Endpoint="102", Option="yealink-reboot")
        assert opt.message == "NOTIFY sent"
        bad = await act(mgr, "PJSIPNotify", Endpoint="999", Variable="Event=check-sync")
        assert bad.message == "Unable to retrieve endpoint 999"
        ok = await act(mgr, "MessageSend", To="pjsip:101", From="sip:portal@127.0.0.1", Body="hello")
        assert ok.message == "Message successfully sent"
        b64 = await act(mgr, "MessageSend", Destination="pjsip:102", From="sip:101@127.0.0.1",
                        Base64Body=base64.b64encode("héllo".encode()).decode())
        assert b64.success
        nobody = await act(mgr, "MessageSend", To="pjsip:100", Body="x")
        assert nobody.message == "Message failed to send."
    with_manager(sim, body)
    notifies = sim.call_soon(lambda: list(sim.model.notifies))
    assert [(n.endpoint, n.uri, n.event, n.headers) for n in notifies] == [
        ("101", "sip:101@127.0.0.1:5071", "check-sync;reboot=false", [("X-Lab", "1")]),
        ("102", "sip:102@127.0.0.1:5072", "check-sync;reboot=true", []),
    ]
    messages = sim.call_soon(lambda: list(sim.model.messages))
    assert [(m.to, m.body, m.delivered) for m in messages] == [
        ("pjsip:101", "hello", True), ("pjsip:102", "héllo", True), ("pjsip:100", "x", False)]


def test_command_and_reload(sim: SimPBX) -> None:
    async def body(mgr: Manager) -> None:
        reloads: list[str] = []
        mgr.register_event("Reload", lambda m, e: reloads.append(e.Module))
        version = await asyncio.wait_for(mgr.send_command("core show version"), 5)
        assert version.output.startswith("Asterisk 22.10.1")
        dp = await asyncio.wait_for(mgr.send_command("dialplan reload"), 5)
        assert dp.output == "Dialplan reloaded."
        mod = await asyncio.wait_for(mgr.send_command("module reload app_queue.so"), 5)
        assert mod.output == "Module 'app_queue.so' reloaded successfully."
        vm = await asyncio.wait_for(mgr.send_command("voicemail reload"), 5)
        assert vm.output == "Reloading voicemail configuration..."
        unknown = await asyncio.wait_for(mgr.send_command("pjsip reload"), 5)
        assert not unknown.success
        assert unknown.output == "No such command 'pjsip reload' (type 'core show help pjsip reload' for other " \
                                 "possible commands)"
        rel = await act(mgr, "Reload", Module="res_pjsip.so")
        assert rel.message == "Module Reloaded"
        for _ in range(50):
            if len(reloads) >= 2:
                break
            await asyncio.sleep(0.02)
        assert reloads == ["app_queue.so", "res_pjsip.so"]
    with_manager(sim, body)


def test_scenario_events_reach_panoramisk(sim: SimPBX) -> None:
    async def body(mgr: Manager) -> None:
        cdrs: list[Any] = []
        mgr.register_event("Cdr", lambda m, e: cdrs.append(e))
        await asyncio.to_thread(sim.start_scenario, 100.0, 3, 20, talk_seconds=(0.05, 0.1), ring_seconds=0.01)
        for _ in range(200):
            if len(cdrs) >= 15:
                break
            await asyncio.sleep(0.02)
        assert len(cdrs) >= 15 and all(c.Disposition for c in cdrs)
    with_manager(sim, body)


def test_registration_events(sim: SimPBX) -> None:
    async def body(mgr: Manager) -> None:
        seen: list[Any] = []
        mgr.register_event("ContactStatus", lambda m, e: seen.append(e))
        mgr.register_event("DeviceStateChange", lambda m, e: seen.append(e))
        await asyncio.to_thread(sim.call_soon, sim.model.unregister, "101")
        await asyncio.to_thread(sim.call_soon, sim.model.register, "101", "sip:101@127.0.0.1:5091", "Yealink T46U")
        for _ in range(100):
            if len(seen) >= 4:
                break
            await asyncio.sleep(0.02)
        assert [(e.event, e.get("ContactStatus") or e.get("State")) for e in seen] == [
            ("ContactStatus", "Removed"), ("DeviceStateChange", "UNAVAILABLE"),
            ("ContactStatus", "Created"), ("DeviceStateChange", "NOT_INUSE")]
        assert seen[0].URI == "sip:101@127.0.0.1:5071" and "UserAgent" not in seen[0]
        assert seen[2].UserAgent == "Yealink T46U" and seen[2].URI == "sip:101@127.0.0.1:5091"
        ep = await act(mgr, "PJSIPShowEndpoints")
        assert ep[2].Contacts == "101/sip:101@127.0.0.1:5091,"
    with_manager(sim, body)
