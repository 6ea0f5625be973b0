"""The daemon asks Asterisk for only what it needs: the login class mask plus one whitelist Filter.
Checked on a real, unfiltered call stream (capture 06, read=all): the filtered stream is much smaller
and translates into exactly the same domain events, PJSIP's SuccessfulAuth (the phone's real address)
included; the filter is anchored, so a header further down cannot smuggle another event through."""

from __future__ import annotations

import datetime as dt
import re

from clusterpbx.ami.adapter import needed_events
from clusterpbx.ami.connection import ConnectionSettings, event_filter
from clusterpbx.ami.translate import EventTranslator
from clusterpbx.sim.ami.wire import _posix_ere
from tests.ami.capture import server_events

# What the adapter asks for at login, as Asterisk reads it.
CLASSES = {c.strip() for c in ConnectionSettings("h", 1, "u", "s").events.split(",")}
FILTER = re.compile(_posix_ere(event_filter(needed_events())))


def in_mask(event: dict[str, str]) -> bool:
    privilege = {p.strip() for p in event.get("Privilege", "").split(",")}
    return bool(privilege & CLASSES) or "Privilege" not in event


def passes(event: dict[str, str], pattern: re.Pattern[str]) -> bool:
    text = "".join(f"{k}: {v}\r\n" for k, v in event.items())
    return in_mask(event) and bool(pattern.search(text))


def translate(events: list[dict[str, str]], translator: EventTranslator | None = None) -> list[str]:
    t = translator or EventTranslator(clock=lambda: dt.datetime(2026, 11, 27, 16, 0, 0))
    out = []
    for e in events:
        for d in t.feed(e):
            fields = {k: v for k, v in vars(d).items() if k != "at"}
            out.append(f"{type(d).__name__}:{fields}")
    return out


def test_filter_keeps_everything_the_translation_needs_and_cuts_the_stream():
    events = [e for e in server_events("06_call_answered_events.txt") if "Event" in e]
    pattern = FILTER
    masked = [e for e in events if in_mask(e)]
    kept = [e for e in events if passes(e, pattern)]
    assert translate(kept) == translate(masked)
    assert any(x.startswith("CallRecorded") for x in translate(kept)), "the call still gives its record"
    cut = 1 - len(kept) / len(events)
    print(f"capture 06: {len(events)} events, {len(masked)} with the class mask, {len(kept)} with mask and "
          f"filter ({cut:.0%} cut)")
    assert cut >= 0.5


def test_every_translated_event_is_requested():
    names = {n.lower() for n in needed_events()}
    handled = {n[4:] for n in dir(EventTranslator) if n.startswith("_on_")}
    assert handled <= names and {"fullybooted", "shutdown"} <= names


def test_the_phones_real_address_reaches_the_translator():
    """SuccessfulAuth is a `security` event: without that class at login it never arrives (issue 22
    item 8). In capture 06, PJSIP authenticated 101's INVITE from 127.0.0.1:5071."""
    assert "security" in CLASSES
    events = [e for e in server_events("06_call_answered_events.txt") if "Event" in e]
    auths = [e for e in events if e["Event"] == "SuccessfulAuth" and e.get("Service") == "PJSIP"]
    assert auths and all(passes(e, FILTER) for e in auths)
    t = EventTranslator(clock=lambda: dt.datetime(2026, 11, 27, 16, 0, 0))
    translate([e for e in events if passes(e, FILTER)], t)
    assert t.contacts["101"].ip == "127.0.0.1"
    # The other security events (ChallengeSent, InvalidPassword...) stay filtered out.
    for name in ("ChallengeSent", "InvalidPassword", "FailedACL"):
        assert not passes({"Event": name, "Privilege": "security,all"}, FILTER)


def test_the_filter_is_anchored_to_the_event_name():
    smuggled = {"Event": "VarSet", "Privilege": "dialplan,all", "Value": "x Event: Cdr"}
    assert not FILTER.search("".join(f"{k}: {v}\r\n" for k, v in smuggled.items()))
    named = {"Event": "Newchannel", "Privilege": "call,all", "CallerIDName": "Event: Cdr"}
    assert FILTER.search("".join(f"{k}: {v}\r\n" for k, v in named.items()))  # its own name, not the header
    assert not FILTER.search("Event: HangupRequest\r\nPrivilege: call,all\r\n")
    assert FILTER.search("Event: Hangup\r\nPrivilege: call,all\r\n")
