"""Every port operation of the Asterisk adapter against the sim over loopback, through panoramisk."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path

import pytest

from clusterpbx.ami.blocking import BlockingAdapter
from clusterpbx.control.port import (
    CallAnswered,
    CallEnded,
    CallRinging,
    CallStarted,
    CallState,
    ConferenceChanged,
    Connected,
    ExtensionFeatures,
    MailboxChanged,
    MailboxCounts,
    MailboxFolder,
    PbxRefused,
    PhoneVendor,
    QueueMember,
    QueueMemberChanged,
    RegistrationChanged,
    RegistrationState,
)
from clusterpbx.control.validation import InvalidValue
from clusterpbx.sim.runner import SimPBX

from .conftest import Events, address

Pair = tuple[BlockingAdapter, Events]


def astdb(sim: SimPBX) -> dict[tuple[str, str], str]:
    """The sim's AstDB as (family, key) -> value, the family being the first path component."""
    return sim.call_soon(lambda: {tuple(k.split("/", 1)): v for k, v in sim.model.db.items()})


def test_start_announces_connected(adapter: Pair) -> None:
    b, events = adapter
    assert b.adapter.connected
    events.wait_for(Connected)


def test_registrations(adapter: Pair, sim: SimPBX) -> None:
    b, events = adapter
    regs = {r.endpoint: r for r in b.call(b.adapter.registrations)}
    assert set(regs) == {"100", "101", "102", "103", "104", "105"}
    assert regs["100"] == RegistrationState("100", False)
    assert regs["101"] == RegistrationState("101", True, "sip:101@127.0.0.1:5071", "SIPp-lab-101")
    sim.call_soon(sim.model.unregister, "102")
    (gone,) = events.wait_for(RegistrationChanged)
    assert gone.state == RegistrationState("102", False, "", "")
    sim.call_soon(lambda: sim.model.register("102", "sip:102@10.0.0.7:5062", user_agent="Yealink T54W"))
    back = events.wait_for(RegistrationChanged, 2)[-1]
    assert back.state == RegistrationState("102", True, "sip:102@10.0.0.7:5062", "Yealink T54W")
    assert {r.endpoint: r.registered for r in b.call(b.adapter.registrations)}["102"] is True


def test_live_calls_snapshot_and_events(adapter: Pair, sim: SimPBX) -> None:
    b, events = adapter
    assert b.call(b.adapter.live_calls) == []
    call = sim.call_soon(sim.model.start_call, "101", "102")
    (started,) = events.wait_for(CallStarted)
    assert (started.call.source_number, started.call.destination_number) == ("101", "102")
    assert started.call.source_uri == "sip:101@127.0.0.1:5071"
    sim.call_soon(call.ring)
    (ringing,) = events.wait_for(CallRinging)
    assert ringing.destination_uri == "sip:102@127.0.0.1:5072" and ringing.destination_ip == "127.0.0.1"
    sim.call_soon(call.answer)
    (answered,) = events.wait_for(CallAnswered, destination_number="102")
    (live,) = b.call(b.adapter.live_calls)
    assert live.call_id == started.call.call_id and live.state is CallState.ANSWERED
    # A snapshot taken while connected keeps what the events said (the snapshot only approximates it).
    assert (live.started_at, live.answered_at) == (started.call.started_at, answered.at)
    assert (live.source_number, live.destination_number, live.caller_name) == ("101", "102", "Bob Sales")
    assert (live.source_ip, live.destination_uri) == ("127.0.0.1", "sip:102@127.0.0.1:5072")
    sim.call_soon(call.hangup)
    (ended,) = events.wait_for(CallEnded)
    assert (ended.call_id, ended.cause) == (live.call_id, "normal_clearing")
    assert b.call(b.adapter.live_calls) == []


def test_unanswered_call_ends_with_no_answer(adapter: Pair, sim: SimPBX) -> None:
    b, events = adapter
    sim.call_soon(lambda: sim.model.place_call("101", "103", answer=False))
    (ended,) = events.wait_for(CallEnded)
    assert ended.cause == "no_answer"
    assert events.of(CallAnswered) == []
    events.wait_for(MailboxChanged, mailbox="103")


def test_queue_operations(adapter: Pair, sim: SimPBX) -> None:
    b, events = adapter
    assert b.call(b.adapter.queue_members) == []
    b.call(b.adapter.queue_login, "support", "PJSIP/104", "Erin Agent")
    b.call(b.adapter.queue_login, "support", "PJSIP/104", "Erin Agent")  # idempotent
    b.call(b.adapter.queue_login, "sales", "PJSIP/105")
    b.call(b.adapter.queue_pause, "support", "PJSIP/104", "Pause café")
    members = {(m.queue, m.interface): m for m in b.call(b.adapter.queue_members)}
    assert members[("support", "PJSIP/104")] == QueueMember("support", "PJSIP/104", "Erin Agent", True, True,
                                                            "Pause café", False)
    assert members[("sales", "PJSIP/105")].paused is False
    assert [m.interface for m in b.call(b.adapter.queue_members, "sales")] == ["PJSIP/105"]
    b.call(b.adapter.queue_resume, "support", "PJSIP/104")
    assert b.call(b.adapter.queue_members, "support")[0].paused is False
    events.wait_for(QueueMemberChanged, 4)
    b.call(b.adapter.queue_logout, "support", "PJSIP/104")
    b.call(b.adapter.queue_logout, "support", "PJSIP/104")  # idempotent
    assert [m.interface for m in b.call(b.adapter.queue_members, "support")] == []
    assert events.wait_for(QueueMemberChanged, removed=True)[0].member.interface == "PJSIP/104"
    with pytest.raises(PbxRefused):
        b.call(b.adapter.queue_login, "nosuchqueue", "PJSIP/104")
    with pytest.raises(PbxRefused):
        b.call(b.adapter.queue_pause, "support", "PJSIP/103")


def test_conference_operations(adapter: Pair, sim: SimPBX) -> None:
    b, events = adapter
    assert b.call(b.adapter.conference_rooms) == []
    assert b.call(b.adapter.conference_participants, "500") == []
    sim.call_soon(lambda: sim.model.conference_call("102", "500"))
    sim.call_soon(lambda: sim.model.conference_call("105", "500", admin=True))
    (room,) = b.call(b.adapter.conference_rooms)
    assert (room.name, room.participants, room.locked) == ("500", 2, False)
    people = {p.caller_number: p for p in b.call(b.adapter.conference_participants, "500")}
    assert set(people) == {"102", "105"} and people["105"].admin and not people["102"].muted
    assert people["102"].caller_name == "Carol Support"
    b.call(b.adapter.conference_mute, "500", people["102"].participant_id, True)
    assert {p.caller_number: p.muted for p in b.call(b.adapter.conference_participants, "500")}["102"] is True
    b.call(b.adapter.conference_mute, "500", people["102"].participant_id, False)
    assert {p.caller_number: p.muted for p in b.call(b.adapter.conference_participants, "500")}["102"] is False
    b.call(b.adapter.conference_kick, "500", people["105"].participant_id)
    assert [p.caller_number for p in b.call(b.adapter.conference_participants, "500")] == ["102"]
    left = events.wait_for(ConferenceChanged, left=True)
    assert left[0].participant is not None and left[0].participant.caller_number == "105"
    with pytest.raises(PbxRefused):
        b.call(b.adapter.conference_kick, "500", "PJSIP/999-00000009")


def test_features_roundtrip_through_astdb(adapter: Pair, sim: SimPBX) -> None:
    b, _events = adapter
    assert b.call(b.adapter.read_features, "101") == ExtensionFeatures(call_waiting=False)
    features = ExtensionFeatures(call_waiting=True, dnd=True, forward_always="0612345678", forward_busy="102",
                                 forward_noanswer="+33612345678", forward_noanswer_delay=35, followme_enabled=True,
                                 followme_numbers=("102", "0611223344"), followme_delay=25, followme_confirm=True,
                                 language="en", out_of_office=True)
    b.call(b.adapter.write_features, "101", features)
    db = astdb(sim)
    assert db[("DND", "101")] == "YES" and db[("CF", "101")] == "0612345678"
    assert db[("AMPUSER", "101/followme/grplist")] == "102-0611223344#"
    assert db[("AMPUSER", "101/cfringtimer")] == "35"
    # the portal's follow-me delay: the own phones ring alone that long (prering), then the numbers ring
    # with them for the user's ring time (issue 19 item 8: the delay went to grptime, prering stayed 0)
    assert (db[("AMPUSER", "101/followme/prering")], db[("AMPUSER", "101/followme/grptime")]) == ("25", "35")
    assert b.call(b.adapter.read_features, "101") == features
    b.call(b.adapter.write_features, "101", ExtensionFeatures())
    db = astdb(sim)
    assert ("DND", "101") not in db and ("CF", "101") not in db and ("CW", "101") in db
    assert b.call(b.adapter.read_features, "101") == ExtensionFeatures()


def test_pushing_features_that_are_off_makes_asterisk_log_nothing(adapter: Pair, sim: SimPBX) -> None:
    """Every push deletes the keys of features that are off. DBDel of an absent key makes Asterisk log
    "AstDB key ... does not exist" (about ten per user at every resync, issue 19 item 9); DBDelTree of
    the key removes it the same way and logs nothing when it is absent."""
    b, _events = adapter
    b.call(b.adapter.write_features, "acme-202", ExtensionFeatures(dnd=True, forward_always="0612345678"))
    b.call(b.adapter.write_features, "acme-202", ExtensionFeatures())
    b.call(b.adapter.write_features, "acme-202", ExtensionFeatures())
    db = astdb(sim)
    assert ("DND", "acme-202") not in db and ("CF", "acme-202") not in db
    assert db[("AMPUSER", "acme-202/followme/ddial")] == "EXTENSION"
    assert sim.model.warnings == []


def test_features_with_tenant_prefix_leave_conference_keys_alone(adapter: Pair, sim: SimPBX) -> None:
    b, _events = adapter
    sim.call_soon(sim.model.db_put, "CLUSTERPBX", "acme-201/conf/enabled", "YES")
    b.call(b.adapter.write_features, "acme-201", ExtensionFeatures(dnd=True))
    db = astdb(sim)
    assert db[("DND", "acme-201")] == "YES"
    assert db[("CLUSTERPBX", "acme-201/conf/enabled")] == "YES"
    assert b.call(b.adapter.read_features, "acme-201").dnd is True


def test_voicemail_operations(adapter: Pair, sim: SimPBX, tmp_path: Path) -> None:
    b, events = adapter
    assert b.call(b.adapter.voicemail_messages, "103") == []
    first = sim.call_soon(lambda: sim.model.leave_voicemail("103", '"Bob Sales" <101>', duration=7))
    second = sim.call_soon(lambda: sim.model.leave_voicemail("103", '"JP Vallée" <202>', duration=3))
    msgs = b.call(b.adapter.voicemail_messages, "103")
    assert [(m.message_id, m.folder, m.caller_id, m.duration_seconds) for m in msgs] == [
        (first.msg_id, MailboxFolder.INBOX, '"Bob Sales" <101>', 7),
        (second.msg_id, MailboxFolder.INBOX, '"JP Vallée" <202>', 3)]
    assert b.call(b.adapter.voicemail_messages, "103@default") == [
        m.__class__(**{**m.__dict__, "mailbox": "103@default"}) for m in msgs]
    audio = b.call(b.adapter.voicemail_audio, "103", second.msg_id)
    assert audio[:4] == b"RIFF" and audio == (tmp_path / "spool/voicemail/default/103/INBOX/msg0001.wav").read_bytes()
    assert b.call(b.adapter.mailbox_counts, "103") == MailboxCounts(new=2, old=0)
    b.call(b.adapter.voicemail_move, "103", [first.msg_id], MailboxFolder.OLD)
    assert b.call(b.adapter.mailbox_counts, "103") == MailboxCounts(new=1, old=1)
    assert {m.message_id: m.folder for m in b.call(b.adapter.voicemail_messages, "103")} == {
        first.msg_id: MailboxFolder.OLD, second.msg_id: MailboxFolder.INBOX}
    events.wait_for(MailboxChanged, mailbox="103", counts=MailboxCounts(new=1, old=1))
    b.call(b.adapter.voicemail_delete, "103", [first.msg_id, second.msg_id])
    assert b.call(b.adapter.voicemail_messages, "103") == []
    assert b.call(b.adapter.mailbox_counts, "103") == MailboxCounts(new=0, old=0)
    assert list((tmp_path / "spool/voicemail/default/103/INBOX").glob("msg*")) == []
    b.call(b.adapter.voicemail_refresh, "103")
    with pytest.raises(PbxRefused):
        b.call(b.adapter.voicemail_delete, "103", [first.msg_id])
    with pytest.raises(PbxRefused):
        b.call(b.adapter.voicemail_audio, "103", "1795797635-00000099")


@pytest.mark.parametrize(("vendor", "event"), [
    (PhoneVendor.YEALINK, "check-sync;reboot=false"), (PhoneVendor.SNOM, "check-sync;reboot=false"),
    (PhoneVendor.POLYCOM, "check-sync"), (PhoneVendor.GRANDSTREAM, "check-sync"), (PhoneVendor.OTHER, "check-sync")])
def test_resync_phone(adapter: Pair, sim: SimPBX, vendor: PhoneVendor, event: str) -> None:
    b, _events = adapter
    b.call(b.adapter.resync_phone, "101", vendor)
    notify = sim.call_soon(lambda: sim.model.notifies[-1])
    assert (notify.endpoint, notify.uri, notify.event) == ("101", "sip:101@127.0.0.1:5071", event)
    with pytest.raises(PbxRefused):
        b.call(b.adapter.resync_phone, "999", vendor)


def test_click_to_call(adapter: Pair, sim: SimPBX) -> None:
    b, events = adapter
    b.call(b.adapter.click_to_call, "101", "104", '"Portail" <999>')
    answered = events.wait_for(CallAnswered, destination_number="104")[0]
    (live,) = b.call(b.adapter.live_calls)
    assert live.call_id == answered.call_id and live.state is CallState.ANSWERED
    with pytest.raises(PbxRefused):
        b.call(b.adapter.click_to_call, "999", "104")


def test_click_to_call_uses_the_endpoints_context_or_the_configured_one(
        sim: SimPBX, make_adapter: Callable[..., Pair]) -> None:
    b, _ = make_adapter(address(sim.ami_port))
    assert b.call(b.adapter._context_of, "101") == "internal"  # PJSIPShowEndpoint's Context
    b2, _ = make_adapter(address(sim.ami_port, context="cpbx-acme"))
    assert b2.call(b2.adapter._context_of, "101") == "cpbx-acme"


def test_click_to_call_dials_in_the_context_the_call_names(sim: SimPBX, make_adapter: Callable[..., Pair]) -> None:
    """The daemon names the tenant's context (issue 21): it wins over the node's option."""
    b, events = make_adapter(address(sim.ami_port, context="cpbx-other"))
    b.call(b.adapter.click_to_call, "101", "104", "", "cpbx-beta")
    events.wait_for(CallAnswered, destination_number="104")
    first = sim.call_soon(lambda: [c for c in sim.model.channels.values() if c.endpoint == "101"])
    assert [c.context for c in first] == ["cpbx-beta"]
    with pytest.raises(InvalidValue):
        b.call(b.adapter.click_to_call, "101", "104", "", "cpbx-beta\r\nAction: Hangup")


def test_send_message(adapter: Pair, sim: SimPBX) -> None:
    b, _events = adapter
    b.call(b.adapter.send_message, "101", "102", "Bonjour de JP Vallée\nà bientôt")
    msg = sim.call_soon(lambda: sim.model.messages[-1])
    assert (msg.to, msg.from_, msg.body) == ("pjsip:102", "sip:101@pbx.test", "Bonjour de JP Vallée\nà bientôt")
    b.call(b.adapter.send_message, "101", "+15145551234", "SMS", "voipms")
    msg = sim.call_soon(lambda: sim.model.messages[-1])
    assert msg.to == "pjsip:PJSIP/+15145551234@voipms"
    with pytest.raises(PbxRefused):
        b.call(b.adapter.send_message, "101", "100", "nobody home")  # 100 is not registered


def test_base64_body_is_what_reaches_the_wire() -> None:
    assert base64.b64decode(base64.b64encode("é\n".encode())).decode() == "é\n"
