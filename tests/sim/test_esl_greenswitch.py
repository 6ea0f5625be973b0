"""Every api command of the sim ESL server, through greenswitch's InboundESL over loopback.

greenswitch runs on gevent in the test's thread (no monkey-patching); the sim (SimPBX with the FreeSWITCH lab)
runs its asyncio loop in its own thread, and model calls go through SimPBX.call_soon.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import gevent
import gevent.event
import pytest
from greenswitch import InboundESL

from clusterpbx.sim.runner import SimPBX

TIMEOUT = 30  # a guard against hangs; what is awaited comes in milliseconds


@pytest.fixture
def pbx(tmp_path: Path) -> Iterator[SimPBX]:
    sim = SimPBX(lab="freeswitch", spool_dir=tmp_path / "spool")
    sim.start()
    try:
        assert sim.esl is not None and sim.esl_port
        yield sim
    finally:
        sim.stop()


@pytest.fixture
def esl(pbx: SimPBX) -> Iterator[InboundESL]:
    client = InboundESL("127.0.0.1", pbx.esl_port, "ClueCon", timeout=TIMEOUT)
    with gevent.Timeout(TIMEOUT):
        client.connect()
    try:
        yield client
    finally:
        with gevent.Timeout(TIMEOUT):
            client.stop()


def api(client: InboundESL, cmd: str) -> str:
    with gevent.Timeout(TIMEOUT):
        return str(client.send(f"api {cmd}").data)


def send(client: InboundESL, cmd: str) -> Any:
    with gevent.Timeout(TIMEOUT):
        return client.send(cmd)


class Collector:
    """Events greenswitch hands to its handlers, with a wait on a condition (gevent-friendly, no bare sleeps)."""

    def __init__(self, client: InboundESL, *names: str) -> None:
        self.events: list[dict[str, str]] = []
        self._changed = gevent.event.Event()
        for name in names:
            client.register_handle(name, self._on)

    def _on(self, event: Any) -> None:
        self.events.append(dict(event.headers))
        self._changed.set()

    def wait(self, pred: Callable[[list[dict[str, str]]], bool], timeout: float = TIMEOUT) -> list[dict[str, str]]:
        with gevent.Timeout(timeout, AssertionError(f"condition not met; got {[e.get('Event-Name') for e in self.events]}")):
            while not pred(self.events):
                self._changed.clear()
                self._changed.wait(0.2)
        return self.events

    def names(self) -> list[str]:
        return [e.get("Event-Name", "") for e in self.events]


# ---------------------------------------------------------------------- core


def test_status_version_uptime(esl: InboundESL) -> None:
    status = api(esl, "status")
    assert status.startswith("UP 0 years, 0 days, ")
    assert "FreeSWITCH (Version 1.10.12-release  64bit) is ready\n" in status
    assert status.endswith("Current Stack Size/Max 240K/8192K\n")
    assert api(esl, "version") == "FreeSWITCH Version 1.10.12-release~64bit ( 64bit)\n"
    assert api(esl, "uptime").strip().isdigit()


def test_unknown_api_and_empty_reply(esl: InboundESL) -> None:
    assert api(esl, "nosuchcommand arg1") == "-ERR nosuchcommand Command not found!\n"
    assert api(esl, "db select/none/none") == "-ERR no reply\n"
    assert send(esl, "foobar").data == "-ERR command not found"


def test_show_channels_calls_registrations(pbx: SimPBX, esl: InboundESL) -> None:
    assert api(esl, "show channels as json") == '{"row_count": 0}\n'
    assert api(esl, "show channels") == "\n0 total.\n"

    def bridged() -> Any:
        call = pbx.model.start_call("1000", "1001")
        call.ring()
        call.answer()
        return call
    call = pbx.call_soon(bridged)
    chans = json.loads(api(esl, "show channels as json"))
    assert chans["row_count"] == 2
    assert [r["direction"] for r in chans["rows"]] == ["inbound", "outbound"]
    assert chans["rows"][0]["uuid"] == call.caller.uuid and chans["rows"][0]["application"] == "bridge"
    calls = json.loads(api(esl, "show calls as json"))
    assert calls["row_count"] == 1 and calls["rows"][0]["b_uuid"] == call.callee.uuid
    assert api(esl, "show channels count") == "\n2 total.\n"
    text = api(esl, "show channels")
    assert text.startswith("uuid,direction,created,created_epoch,name,state,") and text.endswith("\n\n2 total.\n")
    regs = json.loads(api(esl, "show registrations as json"))
    assert regs["row_count"] == 20
    assert list(regs["rows"][0]) == ["reg_user", "realm", "token", "url", "expires", "network_ip", "network_port",
                                     "network_proto", "hostname", "metadata"]
    assert api(esl, "show registrations").endswith("\n\n20 total.\n")
    pbx.call_soon(call.hangup)
    assert api(esl, "show calls as json") == '{"row_count": 0}\n'


def test_sofia(pbx: SimPBX, esl: InboundESL) -> None:
    assert "internal\tprofile\t" in api(esl, "sofia status")
    reg = api(esl, "sofia status profile internal reg 1001")
    assert "User:       \t1001@127.0.0.1" in reg and reg.endswith("Total items returned: 1\n" + "=" * 97 + "\n")
    assert api(esl, "sofia status profile nosuchprofile") == "Invalid Profile!\n"
    assert "REGISTRATIONS    \t20" in api(esl, "sofia status profile internal")
    assert api(esl, "sofia profile internal check_sync 1001@127.0.0.1") == \
        "+OK syncing all registrations matching specified call_id\n"
    assert pbx.call_soon(lambda: [(n.endpoint, n.event) for n in pbx.model.notifies]) == [("1001", "check-sync")]
    assert api(esl, "sofia_contact 1001@127.0.0.1") == "sofia/internal/sip:1001@127.0.0.1:5071"
    pbx.call_soon(pbx.model.unregister, "1019")
    assert api(esl, "sofia_contact 1019@127.0.0.1") == "error/user_not_registered"


def test_callcenter_config(pbx: SimPBX, esl: InboundESL) -> None:
    cc = "callcenter_config"
    assert api(esl, f"{cc} agent add 1001@default callback") == "-ERR Agent already exist!\n"
    assert api(esl, f"{cc} agent add 1002@default callback") == "+OK\n"
    assert api(esl, f"{cc} agent set contact 1002@default user/1002") == "+OK\n"
    for status in ("Available", "On Break", "Logged Out"):
        assert api(esl, f"{cc} agent set status 1002@default '{status}'") == "+OK\n"
        assert api(esl, f"{cc} agent get status 1002@default") == status
    assert api(esl, f"{cc} agent set status 1002@default On Break") == "-ERR Invalid Agent Status!\n"
    assert api(esl, f"{cc} tier add support@default 1002@default 2 1") == "+OK\n"
    assert api(esl, f"{cc} tier add support@default 1002@default 2 1") == "-ERR Tier already exist!\n"
    tiers = api(esl, f"{cc} tier list")
    assert tiers.startswith("queue|agent|state|level|position\n") and "support@default|1002@default|Ready|2|1\n" in tiers
    agents = api(esl, f"{cc} queue list agents support@default")
    assert agents.count("\n") == 4 and agents.endswith("+OK\n")
    assert api(esl, f"{cc} queue count agents support@default") == "2\n"
    assert api(esl, f"{cc} queue list members support@default") == "+OK\n"
    assert api(esl, f"{cc} queue count members support@default") == "0\n"
    assert api(esl, f"{cc} queue count support@default") == "-ERR Invalid!\n"
    assert "support@default|longest-idle-agent|" in api(esl, f"{cc} queue list")
    # the tier is mirrored into the model's queue members (On Break = paused)
    api(esl, f"{cc} agent set status 1002@default 'On Break'")
    assert pbx.call_soon(lambda: pbx.model.queues["support@default"].members["1002@default"].paused) is True
    assert api(esl, f"{cc} tier del support@default 1002@default") == "+OK\n"
    assert api(esl, f"{cc} agent del 1002@default") == "+OK\n"
    assert "1002@default" not in api(esl, f"{cc} agent list")
    assert api(esl, f"{cc} agent get status nobody@default") == "-ERR Agent not found!\n"
    assert api(esl, cc).startswith("-USAGE: \ncallcenter_config <target> <args>,\n")


def test_callcenter_events_on_queue_call(pbx: SimPBX, esl: InboundESL) -> None:
    send(esl, "event plain CUSTOM callcenter::info")
    got = Collector(esl, "callcenter::info")
    api(esl, "callcenter_config agent set status 1001@default Available")
    pbx.call_soon(lambda: pbx.model.queue_call("1000", "support@default", exten="7700"))
    events = got.wait(lambda evs: any(e.get("CC-Action") == "member-queue-end" for e in evs))
    actions = [e["CC-Action"] for e in events]
    assert actions[:2] == ["agent-status-change", "member-queue-start"]
    assert "agent-offering" in actions and "bridge-agent-start" in actions and "bridge-agent-end" in actions
    assert events[0]["CC-Agent-Status"] == "Available" and events[0]["CC-Agent"] == "1001@default"


def test_conference(pbx: SimPBX, esl: InboundESL) -> None:
    assert api(esl, "conference list") == "+OK No active conferences.\n"
    send(esl, "event plain CUSTOM conference::maintenance")
    got = Collector(esl, "conference::maintenance")
    ch = pbx.call_soon(pbx.model.conference_call, "1000", "3000-127.0.0.1")
    listing = api(esl, "conference list")
    assert listing.startswith("+OK Conference 3000-127.0.0.1 (1 member rate: 8000 flags: ")
    assert f"1;{ch.name};{ch.uuid};" in listing
    data = json.loads(api(esl, "conference json_list"))
    assert data[0]["conference_name"] == "3000-127.0.0.1" and data[0]["members"][0]["uuid"] == ch.uuid
    assert api(esl, "conference 3000-127.0.0.1 list count") == "1"
    assert api(esl, "conference 3000-127.0.0.1 mute 1") == "+OK mute 1\n"
    assert pbx.call_soon(lambda: next(iter(pbx.model.conferences["3000-127.0.0.1"].participants.values())).muted)
    assert api(esl, "conference 3000-127.0.0.1 unmute 1") == "+OK unmute 1\n"
    assert api(esl, "conference 3000-127.0.0.1 deaf 1") == "+OK deaf 1\n"
    assert api(esl, "conference 3000-127.0.0.1 list").split(";")[5].split("|")[0] == "speak"
    assert api(esl, "conference 3000-127.0.0.1 mute 9999") == "-ERR Non-Existant ID 9999\n"
    assert api(esl, "conference nosuchconf list") == "-ERR Conference nosuchconf not found\n"
    assert api(esl, "conference 3000-127.0.0.1 kick 1") == "+OK kicked 1\n"
    events = got.wait(lambda evs: any(e.get("Action") == "conference-destroy" for e in evs))
    assert [e["Action"] for e in events] == ["conference-create", "add-member", "mute-member", "unmute-member",
                                              "deaf-member", "kick-member", "del-member", "conference-destroy"]
    assert api(esl, "conference list") == "+OK No active conferences.\n"


def test_db_and_hash(pbx: SimPBX, esl: InboundESL) -> None:
    assert api(esl, "db insert/lab/key1/value one") == "+OK"
    assert pbx.call_soon(pbx.model.db_get, "lab", "key1") == "value one"
    assert api(esl, "db select/lab/key1") == "value one"
    assert api(esl, "db exists/lab/key1") == "true"
    assert api(esl, "db count/lab") == "1"
    assert api(esl, "db list/lab") == "key1"
    assert api(esl, "db delete/lab/key1") == "+OK"
    assert api(esl, "db select/lab/key1") == "-ERR no reply\n"
    assert api(esl, "db exists/lab/key1") == "false"
    assert api(esl, "db bogus") == "!err!"
    assert api(esl, "hash insert/lab/key1/value 1") == "+OK\n"
    assert api(esl, "hash select/lab/key1") == "value 1"
    assert api(esl, "hash insert_ifempty/lab/key1/other") == "-ERR key already exists\n"
    assert api(esl, "hash delete/lab/key1") == "+OK\n"
    assert api(esl, "hash select/lab/key1") == "-ERR no reply\n"
    assert api(esl, "hash bogus").startswith("-ERR Usage: hash insert|insert_ifempty|select|delete")


def test_voicemail(pbx: SimPBX, esl: InboundESL) -> None:
    send(esl, "event plain MESSAGE_WAITING CUSTOM vm::maintenance")
    got = Collector(esl, "MESSAGE_WAITING", "vm::maintenance")
    for _ in range(2):
        pbx.call_soon(pbx.model.leave_voicemail, "1002", '"Extension 1000" <1000>', 3, "127.0.0.1")
    assert api(esl, "vm_boxcount 1002@127.0.0.1") == "2"
    rows = api(esl, "vm_list 1002@127.0.0.1").splitlines()
    assert len(rows) == 2
    fields = rows[0].split(":")
    assert fields[2:5] == ["1002", "127.0.0.1", "inbox"] and fields[7:] == ["Extension 1000", "1000", "3"]
    msg_uuid = fields[6]
    assert "<uuid>" + msg_uuid + "</uuid>" in api(esl, "vm_list 1002@127.0.0.1 xml")
    got.events.clear()
    assert api(esl, f"vm_read 1002@127.0.0.1 read {msg_uuid}") == "+OK\n"
    events = got.wait(lambda evs: len(evs) >= 2)
    assert events[0]["Event-Name"] == "MESSAGE_WAITING" and events[0]["MWI-Voice-Message"] == "1/1"
    assert events[0]["Update-Reason"] == "READ"
    assert api(esl, "vm_list 1002@127.0.0.1").splitlines()[0].split(":")[1] != "0"
    assert api(esl, f"vm_read 1002@127.0.0.1 unread {msg_uuid}") == "+OK\n"
    got.events.clear()
    assert api(esl, "vm_inject 1002@127.0.0.1 /tmp/inject.wav 5551234 Lab") == "+OK\n"
    got.wait(lambda evs: any(e.get("VM-Action") == "leave-message" for e in evs))
    assert api(esl, "vm_boxcount 1002@127.0.0.1") == "3"
    injected = api(esl, "vm_list 1002@127.0.0.1").splitlines()[2].split(":")
    assert injected[5].endswith("_broadcast_inject.wav") and injected[7:] == ["Lab", "5551234", "4"]
    got.events.clear()
    assert api(esl, f"vm_delete 1002@127.0.0.1 {injected[6]}") == "+OK\n"
    events = got.wait(lambda evs: any(e.get("Update-Reason") == "DELETE" for e in evs))
    assert api(esl, "vm_boxcount 1002@127.0.0.1") == "2"
    assert api(esl, "vm_list nosuchbox@127.0.0.1") == "-ERR no reply\n"
    assert api(esl, "vm_boxcount") == "0"
    counts = json.loads(api(esl, "vm_fsdb_msg_count json default 127.0.0.1 1002 inbox"))
    assert counts["Event-Name"] == "REQUEST_PARAMS" and counts["VM-Total-New-Messages"] == "2"


def test_originate_getvar_kill(pbx: SimPBX, esl: InboundESL) -> None:
    send(esl, "event plain CHANNEL_CREATE CHANNEL_ANSWER CHANNEL_HANGUP CHANNEL_HANGUP_COMPLETE")
    got = Collector(esl, "CHANNEL_CREATE", "CHANNEL_ANSWER", "CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE")
    reply = api(esl, "originate {origination_caller_id_number=555}user/1000 &echo")
    assert reply.startswith("+OK ") and reply.endswith("\n")
    uuid = reply[4:].strip()
    assert api(esl, f"uuid_exists {uuid}") == "true"
    assert api(esl, f"uuid_getvar {uuid} origination_caller_id_number") == "555"
    assert api(esl, f"uuid_getvar {uuid} nosuchvar") == "_undef_"
    time.sleep(1.2)  # a call that lasts: its hangup carries its own duration, not a recorded one
    assert api(esl, f"uuid_kill {uuid}") == "+OK\n"
    events = got.wait(lambda evs: any(e["Event-Name"] == "CHANNEL_HANGUP_COMPLETE" for e in evs))
    assert [e["Event-Name"] for e in events] == ["CHANNEL_CREATE", "CHANNEL_ANSWER", "CHANNEL_HANGUP",
                                                 "CHANNEL_HANGUP_COMPLETE"]
    done = events[-1]
    start, answer, end = (int(done[f"variable_{k}_uepoch"]) for k in ("start", "answer", "end"))
    assert start <= answer < end
    assert int(done["variable_uduration"]) == end - start >= 1_200_000
    assert int(done["variable_billusec"]) == end - answer >= 1_200_000
    assert done["variable_duration"] == str((end - start) // 1_000_000)
    assert int(done["variable_answermsec"]) == (answer - start) // 1_000
    assert all(e["Unique-ID"] == uuid for e in events)
    assert api(esl, f"uuid_exists {uuid}") == "false"
    assert api(esl, f"uuid_kill {uuid}") == "-ERR No such channel!\n"
    assert api(esl, f"uuid_getvar {uuid} x") == "-ERR No such channel!\n"


def test_originate_errors(pbx: SimPBX, esl: InboundESL) -> None:
    def setup() -> None:
        pbx.model.unregister("1019")
        pbx.model.endpoints["1002"].auto_answer = False
        pbx.esl.originate_timeout_cap = 0.2
    pbx.call_soon(setup)
    assert api(esl, "originate user/1019 &echo") == "-ERR USER_NOT_REGISTERED\n"
    assert api(esl, "originate {originate_timeout=4}user/1002 &echo") == "-ERR NO_ANSWER\n"
    assert api(esl, "originate nosuchendpoint/foo &echo") == "-ERR CHAN_NOT_IMPLEMENTED\n"
    assert api(esl, "originate").startswith("-USAGE: <call url> <exten>|&<application_name>(<app_args>)")


def test_chat_reloadxml_flush(pbx: SimPBX, esl: InboundESL) -> None:
    assert api(esl, "chat sip|1000@127.0.0.1|1001@127.0.0.1|hello there") == "Sent"
    msgs = pbx.call_soon(lambda: [(m.to, m.from_, m.body) for m in pbx.model.messages])
    assert msgs == [("1001@127.0.0.1", "1000@127.0.0.1", "hello there")]
    assert api(esl, "reloadxml") == "+OK [Success]\n"
    assert api(esl, "xml_flush_cache") == "+OK\n"


def test_bgapi_background_job(esl: InboundESL) -> None:
    send(esl, "event plain BACKGROUND_JOB")
    got = Collector(esl, "BACKGROUND_JOB")
    reply = send(esl, "bgapi version")
    job = reply.headers["Job-UUID"]
    assert reply.data == f"+OK Job-UUID: {job}"
    events = got.wait(lambda evs: len(evs) >= 1)
    assert events[0]["Job-UUID"] == job and events[0]["Job-Command"] == "version"


def test_call_events_and_registration(pbx: SimPBX, esl: InboundESL) -> None:
    send(esl, "event plain ALL")
    got = Collector(esl, "*")
    pbx.call_soon(pbx.model.place_call, "1000", "1001")
    pbx.call_soon(pbx.model.register, "1005", "sip:1005@127.0.0.1:6000", "Phone")
    events = got.wait(lambda evs: sum(e.get("Event-Name") == "CHANNEL_DESTROY" for e in evs) == 2
                      and any(e.get("Event-Subclass") == "sofia::register" for e in evs))
    names = [e["Event-Name"] for e in events if e["Event-Name"].startswith("CHANNEL_")]
    for expected in ("CHANNEL_CREATE", "CHANNEL_PROGRESS", "CHANNEL_ANSWER", "CHANNEL_BRIDGE", "CHANNEL_UNBRIDGE",
                     "CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE", "CHANNEL_DESTROY", "CHANNEL_CALLSTATE"):
        assert expected in names
    assert names.index("CHANNEL_BRIDGE") < names.index("CHANNEL_UNBRIDGE") < names.index("CHANNEL_DESTROY")
    reg = next(e for e in events if e.get("Event-Subclass") == "sofia::register")
    assert reg["from-user"] == "1005" and reg["network-port"] == "6000"
    pbx.call_soon(pbx.model.unregister, "1005")
    events = got.wait(lambda evs: any(e.get("Event-Subclass") == "sofia::unregister" for e in evs))
    unreg = next(e for e in events if e.get("Event-Subclass") == "sofia::unregister")
    assert unreg["from-user"] == "1005" and unreg["profile-name"] == "internal"
