"""Every port operation of the FreeSWITCH adapter against the sim's ESL server (greenswitch underneath,
over loopback), checking what the sim's model recorded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clusterpbx.control.port import (
    CallAnswered,
    CallEnded,
    CallRecorded,
    CallStarted,
    CallState,
    CallStatus,
    ConferenceChanged,
    ExtensionFeatures,
    MailboxChanged,
    MailboxCounts,
    MailboxFolder,
    PbxEvent,
    PbxRefused,
    PhoneVendor,
    QueueMemberChanged,
    RegistrationChanged,
)
from clusterpbx.esl.adapter import FreeSwitchAdapter
from clusterpbx.sim.runner import SimPBX
from tests.components import shared_fixtures

from .conftest import adapter_for, eventually, run

FIXTURE_CDR = shared_fixtures("freeswitch", "json_cdr")


def with_adapter(sim: SimPBX, scenario, **extra: str) -> list[PbxEvent]:  # type: ignore[no-untyped-def]
    events: list[PbxEvent] = []

    async def go() -> None:
        a = adapter_for(sim.esl_port, **extra)
        a.subscribe(events.append)
        await a.start()
        try:
            await scenario(a, events)
        finally:
            await a.stop()

    run(go())
    return events


def test_registrations_snapshot_and_events(sim: SimPBX) -> None:
    async def scenario(a: FreeSwitchAdapter, events: list[PbxEvent]) -> None:
        regs = {r.endpoint: r for r in await a.registrations()}
        assert set(regs) == {str(n) for n in range(1000, 1020)}
        assert regs["1001"].registered and regs["1001"].contact == "sip:1001@127.0.0.1:5071"
        assert regs["1001"].user_agent == "SIPp"
        sim.call_soon(sim.model.unregister, "1001")
        assert await eventually(lambda: any(isinstance(e, RegistrationChanged) for e in events))
        change = next(e for e in events if isinstance(e, RegistrationChanged))
        assert change.state.endpoint == "1001" and not change.state.registered
        assert "1001" not in {r.endpoint for r in await a.registrations()}
        sim.call_soon(sim.model.register, "1001", "sip:1001@127.0.0.1:6001", "Yealink SIP-T46S")
        assert await eventually(lambda: any(isinstance(e, RegistrationChanged) and e.state.registered
                                            for e in events))
        back = {r.endpoint: r for r in await a.registrations()}["1001"]
        assert back.contact == "sip:1001@127.0.0.1:6001" and back.user_agent == "Yealink SIP-T46S"

    with_adapter(sim, scenario)


@pytest.mark.parametrize("event_format", ["plain", "json"])
def test_live_calls_and_call_events_with_record(sim: SimPBX, event_format: str) -> None:
    async def scenario(a: FreeSwitchAdapter, events: list[PbxEvent]) -> None:
        assert await a.live_calls() == []
        call = sim.call_soon(sim.model.start_call, "1000", "1001")
        sim.call_soon(call.ring)
        ringing = await a.live_calls()
        assert len(ringing) == 1 and ringing[0].state == CallState.RINGING
        assert ringing[0].call_id == call.caller.uuid
        assert ringing[0].source_number == "1000" and ringing[0].destination_number == "1001"
        sim.call_soon(call.answer)
        (live,) = await a.live_calls()
        assert live.state == CallState.ANSWERED and live.call_id == call.caller.uuid
        sim.call_soon(call.hangup)
        assert await eventually(lambda: any(isinstance(e, CallRecorded) for e in events))
        kinds = [type(e) for e in events if isinstance(e, CallStarted | CallAnswered | CallEnded | CallRecorded)]
        assert kinds == [CallStarted, CallAnswered, CallEnded, CallRecorded]
        record = next(e for e in events if isinstance(e, CallRecorded)).record
        assert record.pbx_call_id == call.caller.uuid
        assert record.status == CallStatus.ANSWERED
        assert record.caller_number == "1000" and record.dialed_number == "1001"
        assert await a.live_calls() == []

    with_adapter(sim, scenario, event_format=event_format)


def test_queue_login_pause_resume_logout(sim: SimPBX) -> None:
    q = "support@default"

    async def scenario(a: FreeSwitchAdapter, events: list[PbxEvent]) -> None:
        await a.queue_login(q, "PJSIP/1002", "Bob")
        await a.queue_login(q, "PJSIP/1002", "Bob")  # idempotent
        members = {m.interface: m for m in await a.queue_members(q)}
        assert members["PJSIP/1002"].logged_in and not members["PJSIP/1002"].paused
        assert sim.call_soon(lambda: sim.esl.api.fs.agents["1002@default"].status) == "Available"
        await a.queue_pause(q, "PJSIP/1002", "Lunch break")
        m = {m.interface: m for m in await a.queue_members()}["PJSIP/1002"]
        assert m.paused and m.pause_reason == "Lunch break"
        # the reason lives in mod_db: a fresh adapter (daemon restart) still shows it
        b = adapter_for(sim.esl_port)
        await b.start()
        try:
            m2 = {m.interface: m for m in await b.queue_members(q)}["PJSIP/1002"]
            assert m2.pause_reason == "Lunch break"
        finally:
            await b.stop()
        await a.queue_resume(q, "PJSIP/1002")
        m = {m.interface: m for m in await a.queue_members(q)}["PJSIP/1002"]
        assert not m.paused and m.pause_reason == ""
        await a.queue_logout(q, "PJSIP/1002")
        assert "PJSIP/1002" not in {m.interface for m in await a.queue_members(q)}
        assert sim.call_soon(lambda: sim.esl.api.fs.agents["1002@default"].status) == "Logged Out"
        changes = [e.member for e in events if isinstance(e, QueueMemberChanged) and e.member.interface == "PJSIP/1002"]
        assert any(c.paused and c.pause_reason == "Lunch break" for c in changes)
        assert any(not c.paused for c in changes)
        assert any(isinstance(e, QueueMemberChanged) and e.removed for e in events)

    with_adapter(sim, scenario)


def test_queue_call_shows_the_member_in_call(sim: SimPBX) -> None:
    async def scenario(a: FreeSwitchAdapter, events: list[PbxEvent]) -> None:
        await a.queue_login("support@default", "1001@default")
        sim.call_soon(sim.model.queue_call, "1000", "support@default")
        assert await eventually(lambda: any(isinstance(e, QueueMemberChanged) and e.member.in_call for e in events))
        assert await eventually(lambda: any(isinstance(e, CallRecorded) for e in events))

    with_adapter(sim, scenario)


def test_conferences(sim: SimPBX) -> None:
    room = "3000-127.0.0.1"

    async def scenario(a: FreeSwitchAdapter, events: list[PbxEvent]) -> None:
        assert await a.conference_rooms() == []
        assert await a.conference_participants(room) == []
        sim.call_soon(sim.model.conference_call, "1000", room)
        sim.call_soon(sim.model.conference_call, "1001", room, True)
        (r,) = await a.conference_rooms()
        assert r.name == room and r.participants == 2
        parts = await a.conference_participants(room)
        assert [p.caller_number for p in parts] == ["1000", "1001"]
        assert [p.admin for p in parts] == [False, True]
        await a.conference_mute(room, parts[0].participant_id, True)
        assert (await a.conference_participants(room))[0].muted
        await a.conference_mute(room, parts[0].participant_id, False)
        assert not (await a.conference_participants(room))[0].muted
        await a.conference_kick(room, parts[0].participant_id)
        assert [p.caller_number for p in await a.conference_participants(room)] == ["1001"]
        assert await eventually(lambda: any(isinstance(e, ConferenceChanged) and e.left and e.participant
                                            for e in events))
        with pytest.raises(PbxRefused):
            await a.conference_kick(room, "42")

    with_adapter(sim, scenario)


def test_features_round_trip_through_mod_db(sim: SimPBX) -> None:
    features = ExtensionFeatures(call_waiting=False, dnd=True, forward_always="", forward_busy="1003",
                                 forward_noanswer="0612345678", forward_noanswer_delay=25, followme_enabled=True,
                                 followme_numbers=("1004", "+33612345678"), followme_delay=30,
                                 followme_confirm=True, language="en", out_of_office=True)

    async def scenario(a: FreeSwitchAdapter, events: list[PbxEvent]) -> None:
        sim.call_soon(sim.model.db_put, "cpbx_conf", "1000@127.0.0.1", "true")  # another writer's key
        await a.write_features("1000", features)
        assert await a.read_features("1000") == features
        db = sim.call_soon(lambda: dict(sim.model.db))
        assert db["cpbx_dnd/1000@127.0.0.1"] == "true"
        assert db["cpbx_fm_list/1000@127.0.0.1"] == "1004-+33612345678"
        # as on Asterisk (prering, grptime): the own phones ring alone for the portal's follow-me delay, the
        # numbers' legs then start and ring for the user's ring time
        assert db["cpbx_fm_delay/1000@127.0.0.1"] == "30" and db["cpbx_fm_time/1000@127.0.0.1"] == "25"
        assert db["cpbx_conf/1000@127.0.0.1"] == "true"  # left alone
        await a.write_features("1000", ExtensionFeatures())
        assert await a.read_features("1000") == ExtensionFeatures(call_waiting=True)
        db = sim.call_soon(lambda: dict(sim.model.db))
        assert "cpbx_dnd/1000@127.0.0.1" not in db and "cpbx_cf/1000@127.0.0.1" not in db

    with_adapter(sim, scenario)


def test_voicemail_list_counts_read_delete_refresh_audio(sim: SimPBX, tmp_path: Path) -> None:
    async def scenario(a: FreeSwitchAdapter, events: list[PbxEvent]) -> None:
        assert await a.voicemail_messages("1003") == []
        sim.call_soon(sim.model.leave_voicemail, "1003", '"Alice: A" <1000>', 7, "127.0.0.1")
        sim.call_soon(sim.model.leave_voicemail, "1003", '"Bob" <1001>', 4, "127.0.0.1")
        msgs = await a.voicemail_messages("1003")
        assert [m.caller_id for m in msgs] == ['"Alice: A" <1000>', '"Bob" <1001>']
        assert [m.duration_seconds for m in msgs] == [7, 4]
        assert all(m.folder == MailboxFolder.INBOX for m in msgs)
        assert await a.mailbox_counts("1003") == MailboxCounts(new=2, old=0)
        await a.voicemail_move("1003", [msgs[0].message_id], MailboxFolder.OLD)
        assert await a.mailbox_counts("1003") == MailboxCounts(new=1, old=1)
        assert (await a.voicemail_messages("1003"))[0].folder == MailboxFolder.OLD
        with pytest.raises(PbxRefused):
            await a.voicemail_move("1003", [msgs[0].message_id], MailboxFolder.WORK)
        events.clear()
        await a.voicemail_refresh("1003")
        assert await eventually(lambda: any(isinstance(e, MailboxChanged) and e.mailbox == "1003" for e in events))
        await a.voicemail_delete("1003", [msgs[1].message_id])
        assert await eventually(lambda: len(sim.call_soon(lambda: sim.model.mailboxes["1003@127.0.0.1"]
                                                          .folder("INBOX"))) == 0)
        assert [m.message_id for m in await a.voicemail_messages("1003")] == [msgs[0].message_id]
        with pytest.raises(PbxRefused):
            await a.voicemail_delete("1003", ["6f1c1e6a-0000-4000-8000-000000000000"])
        # audio: the file vm_list names, under the spool path (the sim does not write FreeSWITCH files)
        text = await a.api("vm_list 1003@127.0.0.1")
        path = text.split(":")[5]
        local = tmp_path.joinpath(*Path(path).parts[-4:])
        local.parent.mkdir(parents=True)
        local.write_bytes(b"RIFF-audio")
        a.address.spool_path = str(tmp_path)
        assert await a.voicemail_audio("1003", msgs[0].message_id) == b"RIFF-audio"
        with pytest.raises(PbxRefused):
            await a.voicemail_audio("1003", "6f1c1e6a-0000-4000-8000-000000000000")

    with_adapter(sim, scenario)


def test_resync_click_to_call_message_and_reload(sim: SimPBX) -> None:
    async def scenario(a: FreeSwitchAdapter, events: list[PbxEvent]) -> None:
        await a.resync_phone("1002", PhoneVendor.YEALINK)
        notes = sim.call_soon(lambda: list(sim.model.notifies))
        assert notes[-1].endpoint == "1002" and notes[-1].event == "check-sync"
        await a.click_to_call("1002", "1003", caller_id="0612345678")
        assert await eventually(lambda: any(isinstance(e, CallStarted) for e in events))
        started = next(e for e in events if isinstance(e, CallStarted))
        assert started.call.source_number == "1002"  # the user calls; the phone shows the caller id given
        cids = sim.call_soon(lambda: [c.variables.get("origination_caller_id_number")
                                      for c in sim.model.channels.values()])
        assert "0612345678" in cids
        await a.send_message("1002", "1004", "Hello | there")
        msgs = sim.call_soon(lambda: list(sim.model.messages))
        assert msgs[-1].body == "Hello | there" and msgs[-1].to == "1004@127.0.0.1"
        assert msgs[-1].from_ == "1002@127.0.0.1"
        before = sim.call_soon(lambda: sim.model.last_reload)
        await a.reload_configuration()
        assert sim.call_soon(lambda: sim.model.last_reload) >= before

    with_adapter(sim, scenario, context="default")


def test_call_records_catch_up_from_the_json_cdr_error_dir(sim: SimPBX, tmp_path: Path) -> None:
    errdir = tmp_path / "err"
    errdir.mkdir()
    bodies = sorted((FIXTURE_CDR / "json_cdr_failed_copies").glob("*.cdr.json"))
    assert bodies, "fixture copies missing"
    for b in bodies:
        (errdir / b.name).write_bytes(b.read_bytes())

    async def scenario(a: FreeSwitchAdapter, events: list[PbxEvent]) -> None:
        reports, pos = await a.call_records_since("")
        assert pos.startswith("batch:")
        assert reports and all(r.pbx_call_id for r in reports)
        assert not list(errdir.glob("*.cdr.json"))
        # The daemon remembers `pos` once the records are stored; the next catch-up archives them.
        assert await a.call_records_since(pos) == ([], "")
        assert sorted(p.name for p in (errdir / "done").iterdir()) == sorted(b.name for b in bodies)
        assert await a.call_records_since("") == ([], "")

    with_adapter(sim, scenario, json_cdr_error_dir=str(errdir))


def test_records_read_but_never_stored_are_read_again(sim: SimPBX, tmp_path: Path) -> None:
    """A daemon killed between reading mod_json_cdr's failed posts and storing them never remembered
    the batch's position: the next catch-up (its own after a restart, or the daemon that took the node
    over) reads those files again, with the ones written since, instead of finding them archived."""
    errdir = tmp_path / "err"
    errdir.mkdir()
    bodies = sorted((FIXTURE_CDR / "json_cdr_failed_copies").glob("*.cdr.json"))
    first, later = bodies[:-1], bodies[-1:]
    assert first and later
    for b in first:
        (errdir / b.name).write_bytes(b.read_bytes())

    async def scenario(a: FreeSwitchAdapter, events: list[PbxEvent]) -> None:
        lost, _never_remembered = await a.call_records_since("")
        assert lost
        (errdir / later[0].name).write_bytes(later[0].read_bytes())
        (errdir / "half.cdr.json").write_bytes(b'{"variables": {')  # still being written: left for later
        again, pos = await a.call_records_since("")  # from the last position remembered
        assert {r.pbx_call_id for r in lost} <= {r.pbx_call_id for r in again}
        assert not (errdir / "done").exists()
        assert await a.call_records_since(pos) == ([], "")
        assert sorted(p.name for p in (errdir / "done").iterdir()) == sorted(b.name for b in bodies)
        assert (errdir / "half.cdr.json").exists()

    with_adapter(sim, scenario, json_cdr_error_dir=str(errdir))


def test_snapshot_json_without_rows(sim: SimPBX) -> None:
    async def scenario(a: FreeSwitchAdapter, events: list[PbxEvent]) -> None:
        assert json.loads(await a.api("show channels as json")) == {"row_count": 0}
        assert await a.live_calls() == []

    with_adapter(sim, scenario)
