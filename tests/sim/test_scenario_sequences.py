"""The scenario driver's calls, seen over AMI, against the event streams recorded from real SIP calls:
answered internal call (06), unanswered call to voicemail (08), queue call (11).

Same event names in the same order with the same header names in the same order, after this documented
normalisation:
- events the sim does not model are dropped from the recording: VarSet and Newexten (no dialplan engine),
  RTCPSent/RTCPReceived (no media), ChallengeSent and SuccessfulAuth (no SIP authentication; the AMI
  SuccessfulAuth of other logins is unrelated to the call);
- DeviceStateChange events are compared as a multiset of (device kind, state), not by position: Asterisk
  updates device states from another thread, so their position differs between recordings of one flow;
- between DialBegin and DialEnd (the ringing phase) events are compared as a multiset: the recordings of the
  same dialplan path order Newstate/NewConnectedLine/DialState differently (06 vs 08 vs 16);
- in 11 the recording client's own QueuePause action (unpausing the agent while the caller waited) and its
  events are dropped; the sim's queue call finds the agent available.
"""
from __future__ import annotations

import re
from collections import Counter

import pytest
from astfixtures import RawAmi, asterisk_dir, parse, split_messages

from clusterpbx.sim.runner import SimPBX
from clusterpbx.sim.scenario import ScenarioDriver

Msg = list[tuple[str, str]]
UNMODELLED = {"VarSet", "Newexten", "RTCPSent", "RTCPReceived", "ChallengeSent", "SuccessfulAuth"}


def _device_kind(dev: str) -> str:
    dev = re.sub(r"^PJSIP/\d+$", "PJSIP/<ext>", dev)
    dev = re.sub(r"^MWI:\d+@", "MWI:<box>@", dev)
    return re.sub(r"^Queue:[a-z]+", "Queue:<q>", re.sub(r"_pause_PJSIP/\d+$", "_pause_PJSIP/<ext>", dev))


def canonical(msgs: list[Msg]) -> tuple[list[object], Counter[tuple[str, str]]]:
    seq: list[object] = []
    dsc: Counter[tuple[str, str]] = Counter()
    ringing: list[tuple[str, tuple[str, ...]]] | None = None
    for m in msgs:
        if m[0][0] != "Event" or m[0][1] in UNMODELLED:
            continue
        name = m[0][1]
        if name == "DeviceStateChange":
            d = dict(m)
            dsc[(_device_kind(d["Device"]), d["State"])] += 1
            continue
        shape = (name, tuple(k for k, _ in m))
        if name == "DialBegin":
            seq.append(shape)
            ringing = []
        elif name == "DialEnd" and ringing is not None:
            seq.append(("<ringing phase>", tuple(sorted(ringing))))
            seq.append(shape)
            ringing = None
        elif ringing is not None:
            ringing.append(shape)
        else:
            seq.append(shape)
    return seq, dsc


def recorded_call(stem: str) -> list[Msg]:
    """The recording's events from the caller's Newchannel to the end of the call."""
    cap = parse(asterisk_dir() / f"{stem}.txt")
    msgs = split_messages(cap.server_bytes().split(b"\r\n", 1)[1])
    start = next(i for i, m in enumerate(msgs) if m[0] == ("Event", "Newchannel"))
    out: list[Msg] = []
    dropping = False
    for m in msgs[start:]:
        if m[0][0] == "Response":
            if m[0][1] == "Goodbye" or "Removed" in dict(m).get("Message", ""):
                break
            dropping = True   # the recording client's own action (11: QueuePause) and what it caused
            continue
        if dropping and m[0] == ("Event", "Newchannel"):
            dropping = False
        if not dropping:
            out.append(m)
    return out


def sim_call(kind: str) -> list[Msg]:
    with SimPBX(esl_port=None) as pbx:
        driver = pbx.call_soon(ScenarioDriver, pbx.model, 7)
        if kind == "queue":
            # The recorded queue: support with one agent, 104 (Erin Agent).
            pbx.call_soon(pbx.model.queue_add, "support", "PJSIP/104", "Erin Agent")
        cli = RawAmi(pbx.ami_port)
        try:
            cli.login()
            cli.wait_for(lambda m: m[0] == ("Event", "SuccessfulAuth"))
            pbx.call_soon(driver.step, kind)
            cli.action("Ping", ActionID="end-of-call")
            msgs = cli.wait_for(lambda m: ("ActionID", "end-of-call") in m)
        finally:
            cli.close()
    return msgs[:-1]


@pytest.mark.parametrize(("stem", "kind"), [
    ("06_call_answered_events", "internal_answered"),
    ("08_call_unanswered_voicemail_events", "internal_voicemail"),
    ("11_queue_call_events", "queue"),
])
def test_scenario_call_matches_recorded_sequence(stem: str, kind: str) -> None:
    rec_seq, rec_dsc = canonical(recorded_call(stem))
    sim_seq, sim_dsc = canonical(sim_call(kind))
    assert sim_seq == rec_seq
    assert sim_dsc == rec_dsc


CONF_EVENTS = ("BridgeCreate", "ConfbridgeStart", "BridgeEnter", "ConfbridgeJoin")


def test_conference_joins_match_recording_12() -> None:
    """Two callers join room 500. The recorded callers dialled at the same moment, so their channel events
    interleave and neither heard music on hold; the sim's joins come one after the other. Compared: the
    conference events in order, and the multiset of all event shapes except MusicOnHold*."""
    cap = parse(asterisk_dir() / "12_confbridge.txt")
    msgs = split_messages(cap.server_bytes().split(b"\r\n", 1)[1])
    start = next(i for i, m in enumerate(msgs) if m[0] == ("Event", "Newchannel"))
    end = [i for i, m in enumerate(msgs) if m[0] == ("Event", "ConfbridgeJoin")][1]
    rec = [m for m in msgs[start:end + 1] if m[0][1] not in UNMODELLED]
    with SimPBX(esl_port=None) as pbx:
        cli = RawAmi(pbx.ami_port)
        try:
            cli.login()
            cli.wait_for(lambda m: m[0] == ("Event", "SuccessfulAuth"))
            for ext in ("105", "102"):
                pbx.call_soon(pbx.model.conference_call, ext, "500", exten="*99500")
            cli.action("Ping", ActionID="end")
            sim = [m for m in cli.wait_for(lambda m: ("ActionID", "end") in m)[:-1]
                   if not m[0][1].startswith("MusicOnHold")]
        finally:
            cli.close()

    def shapes(ms: list[Msg], only: tuple[str, ...] | None = None) -> list[tuple[str, tuple[str, ...]]]:
        return [(m[0][1], tuple(k for k, _ in m)) for m in ms if only is None or m[0][1] in only]
    assert shapes(sim, CONF_EVENTS) == shapes(rec, CONF_EVENTS)
    assert Counter(shapes(sim)) == Counter(shapes(rec))
    counts = [dict(m)["BridgeNumChannels"] for m in sim if m[0][1] in CONF_EVENTS]
    assert counts == [dict(m)["BridgeNumChannels"] for m in rec if m[0][1] in CONF_EVENTS]


def canonical_values(msgs: list[Msg]) -> tuple[list[object], Counter[tuple[str, str]]]:
    """Like canonical(), but whole messages with values normalised as in the conformance test."""
    from test_ami_conformance import normalised
    seq: list[object] = []
    dsc: Counter[tuple[str, str]] = Counter()
    ringing: list[tuple[tuple[str, str], ...]] | None = None
    for m in msgs:
        if m[0][0] != "Event" or m[0][1] in UNMODELLED:
            continue
        if m[0][1] == "DeviceStateChange":
            dsc[(dict(m)["Device"], dict(m)["State"])] += 1
            continue
        item = tuple(normalised(m))
        if m[0][1] == "DialBegin":
            seq.append(item)
            ringing = []
        elif m[0][1] == "DialEnd" and ringing is not None:
            seq.append(("<ringing phase>", tuple(sorted(ringing))))
            seq.append(item)
            ringing = None
        elif ringing is not None:
            ringing.append(item)
        else:
            seq.append(item)
    return seq, dsc


@pytest.mark.parametrize(("stem", "dst", "answer"), [
    ("06_call_answered_events", "102", True),
    ("08_call_unanswered_voicemail_events", "103", False),
])
def test_same_call_same_values(stem: str, dst: str, answer: bool) -> None:
    """The same call as recorded (101 -> dst, same channel numbers): every header value matches too,
    apart from ids and times (normalised as in test_ami_conformance)."""
    with SimPBX(esl_port=None) as pbx:
        pbx.call_soon(pbx.model.set_channel_sequence, 0 if answer else 2)
        cli = RawAmi(pbx.ami_port)
        try:
            cli.login()
            cli.wait_for(lambda m: m[0] == ("Event", "SuccessfulAuth"))
            pbx.call_soon(pbx.model.place_call, "101", dst, answer)
            cli.action("Ping", ActionID="end")
            sim = cli.wait_for(lambda m: ("ActionID", "end") in m)[:-1]
        finally:
            cli.close()
    assert canonical_values(sim) == canonical_values(recorded_call(stem))
