"""The FreeSWITCH capture parser (fsfixtures) and the sim's event serialisation against the recorded bytes."""

from __future__ import annotations

from pathlib import Path

import pytest

from clusterpbx.sim.esl.events import FsEvent

from .fsfixtures import all_captures, parse_capture, parse_event, server_frames, split_frames


@pytest.mark.parametrize("path", all_captures(), ids=lambda p: p.stem)
def test_capture_parses_into_whole_frames(path: Path) -> None:
    cap = parse_capture(path)
    assert cap.comments and cap.comments[0].startswith("# FreeSWITCH ESL raw capture")
    assert cap.blocks[0].direction == "S>C" and cap.blocks[0].data == b"Content-Type: auth/request\n\n"
    # block lengths are exact: re-rendering every block gives back the file's bytes after the comments
    rendered = b"".join(b"@@ %s t=%.6f len=%d\n" % (b.direction.encode(), b.t, len(b.data)) + b.data + b"\n"
                        for b in cap.blocks)
    raw = path.read_bytes()
    assert raw.endswith(rendered)
    frames = server_frames(cap)
    for f in frames:
        clen = f.get("Content-Length")
        if clen is not None:
            assert int(clen) == len(f.body)


def test_split_frames_keeps_partial_tail() -> None:
    data = b"Content-Type: api/response\nContent-Length: 4\n\n+OK\nContent-Type: api/resp"
    frames, rest = split_frames(data)
    assert [f.body for f in frames] == [b"+OK\n"] and rest == b"Content-Type: api/resp"


def _reserialise(path: Path) -> tuple[int, list[str]]:
    checked, bad = 0, []
    for f in server_frames(parse_capture(path)):
        ev = parse_event(f)
        if ev is None or any(not isinstance(v, str) for _, v in ev.headers):
            continue  # JSON arrays (repeated variables) are not something the sim emits
        headers = ev.headers
        if ev.body is not None and headers and headers[-1][0] == "Content-Length":
            headers = headers[:-1]
        if ev.fmt == "json" and ev.body is not None:
            headers = [(k, v) for k, v in headers if k != "Content-Length"]
        checked += 1
        if FsEvent(list(headers), ev.body).frame(ev.fmt) != f.raw:
            bad.append(ev.key)
    return checked, bad


@pytest.mark.parametrize("name", ["05_events_plain_answered_call", "06_events_json_answered_call",
                                  "09_bgapi_background_job", "14_voicemail_api", "18_filter_nixevent_noevents"])
def test_event_serialisation_is_byte_exact(name: str) -> None:
    from .fsfixtures import freeswitch_dir
    checked, bad = _reserialise(freeswitch_dir() / f"{name}.txt")
    assert checked > 0 and bad == []


def test_event_templates_are_generated_from_the_captures() -> None:
    """sim/data/esl_templates.json is exactly what the generator makes of the recordings (no hand edits, no drift)."""
    from clusterpbx.sim.esl import templates as esl_templates

    from .fsfixtures import generate_templates
    assert esl_templates.DATA_PATH.read_text(encoding="utf-8") == generate_templates()
