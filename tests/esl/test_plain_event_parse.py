"""The lazy plain-event parser (values URL-decoded only when read) gives exactly what the former eager
one gave (every line split, then every value decoded), on every plain event of the recorded captures and
on hostile payloads, and the call records built from the still-encoded variables are the same."""

from __future__ import annotations

from urllib.parse import unquote

import pytest

from clusterpbx.esl.protocol import ProtocolError, content_length, iter_frames, parse_plain_event
from clusterpbx.esl.translate import EventTranslator, record_from_variables

from .capture import FIXTURES, server_stream


def reference(payload: bytes) -> tuple[dict[str, str], list[tuple[str, str]], str]:
    """The former parse_plain_event: split into lines, decode each value at once."""
    head, sep, rest = payload.partition(b"\n\n")
    headers: dict[str, str] = {}
    ordered: list[tuple[str, str]] = []
    for raw in head.split(b"\n"):
        line = raw.decode("utf-8", "replace")
        if not line:
            continue
        name, colon, value = line.partition(": ")
        if not colon:
            name, colon, value = line.partition(":")
        if not colon:
            raise ProtocolError(f"not an event header: {line[:80]!r}")
        decoded = unquote(value, errors="replace")
        ordered.append((name, decoded))
        headers.setdefault(name, decoded)
    body = ""
    if sep and "Content-Length" in headers:
        body = rest[:content_length(headers)].decode("utf-8", "replace")
    return headers, ordered, body


def recorded_payloads() -> list[bytes]:
    out = []
    for path in sorted(FIXTURES.glob("*.txt")):
        for frame in iter_frames(server_stream(path.name)):
            if frame.content_type == "text/event-plain":
                out.append(frame.body)
    return out


HOSTILE = [
    b"Event-Name: CHANNEL_CREATE\nUnique-ID: real\nCaller-Caller-ID-Name: Evil%0AUnique-ID%3A%20forged\n\n",
    b"Event-Name: X\nUnique-ID: first\nUnique-ID: second\n\n",  # the first of a repeated name wins
    b"Event-Name: X\nNoSpace:value\nA:b: c\nEmpty: \n\n",  # "Name:value" lines, a colon in a name
    b"\n\nEvent-Name: X\nY: %C3%A9t%C3%A9 %ZZ %E9\n\n",  # leading empty lines, bad escapes
    b"Event-Name: X\nName: caf\xc3\n\n",  # invalid UTF-8 at a line's end
    b"Event-Name: BACKGROUND_JOB\nContent-Length: 4\n\n+OK\nmore",
    b"Event-Name: X\nContent-Length: 4\n",  # no blank line: no body
    b"Event-Name: X\nUnique-ID: u",  # no final newline
    b"Event-Name: X\nnot a header\n\n",
    b"Event-Name: X\r\nUnique-ID: u\r\n\n",  # CR LF is not the event socket's line end
    b"",
]


def check_same(payload: bytes) -> None:
    try:
        want = reference(payload)
    except ProtocolError:
        with pytest.raises(ProtocolError):
            parse_plain_event(payload)
        return
    ev = parse_plain_event(payload)
    headers, ordered, body = want
    # read one by one (the translator's way) before anything iterates them, then iterated
    assert {name: ev.headers.get(name) for name in headers} == headers
    assert all(name in ev.headers and ev.headers[name] == value for name, value in headers.items())
    assert ev.headers.get("No-Such-Header", "absent") == "absent" and "No-Such-Header" not in ev.headers
    assert dict(ev.headers) == headers and list(ev.headers) == list(headers)
    assert list(ev.all_headers) == ordered and ev.all_headers == ordered
    assert ev.body == body
    assert ev.variables() == {k[9:]: v for k, v in headers.items() if k.startswith("variable_")}
    assert {k: unquote(v, errors="replace") for k, v in ev.encoded_variables().items()} == ev.variables()


@pytest.mark.parametrize("payload", HOSTILE)
def test_hostile_payloads_parse_as_before(payload: bytes) -> None:
    check_same(payload)


def test_a_header_name_that_is_not_one_is_never_found_across_lines() -> None:
    ev = parse_plain_event(b"Event-Name: X\nA: 1\nB: 2\n\n")
    assert ev.headers.get("1\nB") is None and ev.headers.get("A: 1\nB") is None
    assert "X\nA" not in ev.headers


def test_every_recorded_plain_event_parses_as_before() -> None:
    payloads = recorded_payloads()
    assert len(payloads) > 100
    for payload in payloads:
        check_same(payload)


def test_call_records_from_the_encoded_variables_are_the_ones_from_the_decoded() -> None:
    hangups = [parse_plain_event(p) for p in recorded_payloads() if b"Event-Name: CHANNEL_HANGUP_COMPLETE\n" in p]
    assert hangups
    records = 0
    for ev in hangups:
        profile = {"caller_id_name": ev.get("Caller-Caller-ID-Name"), "context": ev.get("Caller-Context")}
        new = record_from_variables(ev.encoded_variables(), profile, encoded=True)
        assert new == record_from_variables(ev.variables(), profile)
        records += new is not None
    assert records  # the captures hold reported legs, not only skipped ones
    # and through the translator, on the whole recorded calls
    for name in ("05_events_plain_answered_call.txt", "07_events_plain_voicemail_call.txt"):
        events = [parse_plain_event(f.body) for f in iter_frames(server_stream(name))
                  if f.content_type == "text/event-plain"]
        assert EventTranslator().feed_all(events) == EventTranslator().feed_all(
            [type(e)(dict(e.headers), list(e.all_headers), e.body) for e in events])
