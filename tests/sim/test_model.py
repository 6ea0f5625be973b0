"""Unit tests of the protocol-neutral PBX model: call lifecycles, queues, conferences, voicemail, db."""
from __future__ import annotations

import wave
from pathlib import Path

import pytest

from clusterpbx.sim import model as M
from clusterpbx.sim.lab import asterisk_lab, freeswitch_lab


def _record(m: M.PBXModel) -> list[M.ModelEvent]:
    events: list[M.ModelEvent] = []
    m.subscribe(events.append)
    return events


def test_answered_call_lifecycle() -> None:
    m = asterisk_lab()
    ev = _record(m)
    call = m.place_call("101", "102")
    names = [type(e).__name__ for e in ev]
    assert names[0] == "ChannelCreated"
    for needed in ("DialBegin", "DialEnd", "BridgeCreated", "Bridged", "Unbridged", "BridgeDestroyed",
                   "ChannelHangup", "CallRecord"):
        assert needed in names
    assert names.index("DialBegin") < names.index("DialEnd") < names.index("Bridged")
    # as recorded (06): the caller's device state update trails its CDR
    assert names[-2:] == ["CallRecord", "DeviceStateChanged"]
    assert not m.channels and not m.bridges
    rec = call.records[0]
    assert rec.disposition == "ANSWERED" and rec.src == "101" and rec.dst == "102"
    assert rec.channel == "PJSIP/101-00000000" and rec.dstchannel == "PJSIP/102-00000001"
    hang = [e for e in ev if isinstance(e, M.ChannelHangup)]
    assert [h.cause for h in hang] == [16, 16] and hang[0].cause_txt == "Normal Clearing"


def test_unanswered_call_leaves_voicemail_on_disk(tmp_path: Path) -> None:
    m = asterisk_lab(spool_dir=tmp_path)
    ev = _record(m)
    call = m.place_call("101", "103", answer=False, message_seconds=2)
    assert call.voicemail is not None
    d = tmp_path / "voicemail" / "default" / "103" / "INBOX"
    txt = (d / "msg0000.txt").read_text()
    assert 'callerid="Bob Sales" <101>' in txt and "duration=2" in txt
    with wave.open(str(d / "msg0000.wav")) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()) == (1, 2, 8000, 16000)
    mwi = [e for e in ev if isinstance(e, M.MessageWaiting)]
    assert mwi and mwi[-1].new == 1 and mwi[-1].mailbox.box == "103"
    assert [r.disposition for r in call.records] == ["NO ANSWER", "ANSWERED"]
    # move to Old, then delete: files renumbered, MWI follows
    assert m.move_message("103", "INBOX", call.voicemail.msg_id, "Old")
    assert not list(d.glob("msg*")) and (tmp_path / "voicemail/default/103/Old/msg0000.wav").exists()
    assert m.mailbox_counts("103") == (0, 0, 1)
    assert m.delete_message("103", "Old", call.voicemail.msg_id)
    assert not m.delete_message("103", "Old", call.voicemail.msg_id)
    assert m.mailbox_counts("103") == (0, 0, 0)


def test_queue_operations_and_call() -> None:
    m = asterisk_lab()
    ev = _record(m)
    m.queue_add("support", "PJSIP/104", name="Erin")
    with pytest.raises(M.MemberExists):
        m.queue_add("support", "PJSIP/104")
    with pytest.raises(M.NoSuchQueue):
        m.queue_add("nope", "PJSIP/104")
    assert m.queue_pause("PJSIP/104", True, "lunch") == 1
    assert m.queues["support"].members["PJSIP/104"].pause_reason == "lunch"
    m.queue_pause("PJSIP/104", False)
    call = m.queue_call("101", "support", exten="7001")
    names = [type(e).__name__ for e in ev]
    assert names.index("QueueCallerJoin") < names.index("AgentCalled") < names.index("AgentConnect")
    assert names.index("AgentConnect") < names.index("AgentComplete") < names.index("CallRecord")
    assert call.records[0].disposition == "ANSWERED"
    m.queue_remove("support", "PJSIP/104")
    with pytest.raises(M.NoSuchMember):
        m.queue_remove("support", "PJSIP/104")


def test_conference_and_db_and_sip_records() -> None:
    m = asterisk_lab()
    a = m.conference_call("101", "500", admin=True)
    b = m.conference_call("102", "500")
    assert m.conf_mute("500", b.name, True) == 1
    assert m.conferences["500"].participants[b.uniqueid].muted
    assert m.conf_kick("500", "participants") == 1
    m.hangup(a)
    assert "500" not in m.conferences
    m.db_put("CF", "101", "555")
    m.db_put("AMPUSER/101/followme", "ddial", "DIRECT")
    assert m.db_get("CF", "101") == "555"
    assert m.db_tree("AMPUSER") == [("AMPUSER/101/followme", "ddial", "DIRECT")]
    assert m.db_deltree("AMPUSER") == 1 and m.db_del("CF", "101") and not m.db_del("CF", "101")
    m.send_notify("101", event="check-sync")
    assert m.notifies[0].uri == "sip:101@127.0.0.1:5071"
    m.send_message("pjsip:101", "sip:100@lab", "hello")
    assert m.messages[0].delivered


def test_freeswitch_lab_names_and_originate() -> None:
    m = freeswitch_lab()
    res = m.originate("1000", exten="1001")
    assert res.success and res.channel is not None and res.channel.name == "sofia/internal/1000@127.0.0.1"
    m.unregister("1001")
    assert m.originate("1001").cause == 20
    assert "support@default" in m.queues and len(m.endpoints) == 20


def test_seeded_ids_are_deterministic() -> None:
    a, b = asterisk_lab(seed=7), asterisk_lab(seed=7)
    a.started = b.started = 0
    assert a.place_call("101", "102").caller.uuid == b.place_call("101", "102").caller.uuid


def test_dnd_and_call_forward_from_the_db() -> None:
    m = asterisk_lab()
    m.db_put("DND", "102", "1")
    call = m.place_call("101", "102")
    assert call.callee is None and call.voicemail is not None
    assert [(r.lastapp, r.lastdata) for r in call.records] == [("VoiceMail", "102@default,b")]
    m.db_del("DND", "102")
    m.db_put("CF", "104", "102")
    fwd = m.place_call("101", "104")
    assert fwd.callee is not None and fwd.callee.endpoint == "102"
    # as Asterisk writes a forward rung through a Local leg: the leg's Dial of 102, then the caller's
    # Dial of the leg with the number dialled (tests/real/test_asterisk_calls.py)
    leg, mine = fwd.records
    assert (leg.channel.endswith(";2"), leg.dst, leg.dstchannel.startswith("PJSIP/102-")) == (True, "102", True)
    assert (mine.channel.startswith("PJSIP/101-"), mine.dstchannel.endswith(";1")) == (True, True)
    assert mine.dst == "104" and mine.disposition == leg.disposition == "ANSWERED"
    assert not m.channels


def test_forward_keeps_msg_id_and_mark_read(tmp_path: Path) -> None:
    m = asterisk_lab(spool_dir=tmp_path)
    msg = m.leave_voicemail("103", caller_id='"Bob Sales" <101>', duration=1, msg_id="1795797635-00000000",
                            origtime=1795797635)
    assert msg.origdate == "Fri Nov 27 04:40:35 PM UTC 2026"
    assert m.forward_message("103", "INBOX", msg.msg_id, "102")
    copy = m.mailbox("102").folder("INBOX")[0]
    assert copy.msg_id == msg.msg_id and copy.uuid != msg.uuid
    assert m.mark_read("102", copy.msg_id) and copy.read
    assert m.mailbox_counts("102") == (0, 0, 1)
    assert (tmp_path / "voicemail/default/102/Old/msg0000.wav").read_bytes() == \
        (tmp_path / "voicemail/default/103/INBOX/msg0000.wav").read_bytes()


def test_originate_then_ami_style_hangup() -> None:
    m = asterisk_lab()
    ev = _record(m)
    res = m.originate("101", exten="102", caller_id='"Portal" <999>')
    assert res.success and res.reason == 4 and res.channel is not None
    assert res.channel.caller_num == "999" and res.channel.caller_name == "Portal"
    call = m.originate_continue(res, "102")
    assert call is not None and call.bridge is not None and len(m.channels) == 2
    del ev[:]
    m.hangup_channel(res.channel, 16, via="ami")
    names = [type(e).__name__ for e in ev if not isinstance(e, M.DeviceStateChanged)]
    assert names == ["Unbridged", "Unbridged", "BridgeDestroyed", "ChannelHangup", "HangupRequested",
                     "ChannelHangup", "CallRecord"]
    assert m.call_records[-1].src == "999" and not m.channels
    assert m.originate("100").cause == 20 and m.originate("999").cause == 66


def test_queue_device_states_follow_pause() -> None:
    m = asterisk_lab()
    ev = _record(m)
    m.queue_add("support", "PJSIP/105", name="Frank Agent", penalty=1)
    m.queue_pause("PJSIP/105", True, "lunch", queue="support")
    m.queue_pause("PJSIP/105", False, "back", queue="support")
    with pytest.raises(M.NoSuchMember):
        m.queue_pause("PJSIP/105", True, queue="nosuchqueue")
    devs = [(e.device, e.state.value) for e in ev if isinstance(e, M.DeviceStateChanged)]
    assert devs == [("Queue:support_pause_PJSIP/105", "NOT_INUSE"), ("Queue:support_avail", "NOT_INUSE"),
                    ("Queue:support_pause_PJSIP/105", "INUSE"), ("Queue:support_avail", "INUSE"),
                    ("Queue:support_pause_PJSIP/105", "NOT_INUSE"), ("Queue:support_avail", "NOT_INUSE")]
    assert m.queues["support"].members["PJSIP/105"].pause_reason == ""


def test_subscriber_errors_are_contained_and_reentrancy_is_ordered() -> None:
    m = asterisk_lab()
    seen: list[str] = []

    def broken(_e: M.ModelEvent) -> None:
        raise RuntimeError("boom")

    def reentrant(e: M.ModelEvent) -> None:
        seen.append(type(e).__name__)
        if isinstance(e, M.DbChanged) and e.key == "a":
            m.db_put("X", "b", "2")
    m.subscribe(broken)
    unsubscribe = m.subscribe(reentrant)
    m.db_put("X", "a", "1")
    assert seen == ["DbChanged", "DbChanged"] and m.db_get("X", "b") == "2"
    unsubscribe()
    m.db_put("X", "c", "3")
    assert len(seen) == 2
