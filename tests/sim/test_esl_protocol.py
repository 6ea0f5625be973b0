"""The sim ESL server's framing and connection-level commands, from a raw socket, plus its fault hooks."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import pytest

from .fsfixtures import EslThread, RawClient, parse_event


@pytest.fixture
def esl() -> Iterator[EslThread]:
    t = EslThread(heartbeat_interval=0)
    yield t
    t.close()


def client(t: EslThread) -> RawClient:
    c = RawClient(t.port)
    assert c.login().get("Reply-Text") == "+OK accepted"
    return c


def test_auth_failure_and_commands_before_auth(esl: EslThread) -> None:
    c = RawClient(esl.port)
    assert c.frame().headers == [("Content-Type", "auth/request")]
    assert c.cmd("api status").get("Reply-Text") == "-ERR command not found"
    reply = c.cmd("auth wrong")
    assert reply.headers == [("Content-Type", "command/reply"), ("Reply-Text", "-ERR invalid")]
    notice = c.frame()
    assert notice.content_type == "text/disconnect-notice"
    assert notice.body == b"Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"
    assert c.wait_eof()


def test_exit(esl: EslThread) -> None:
    c = client(esl)
    assert c.cmd("exit").get("Reply-Text") == "+OK bye"
    assert c.frame().content_type == "text/disconnect-notice"
    assert c.wait_eof()


def test_lines_end_in_lf_only_and_lengths_hold(esl: EslThread) -> None:
    c = RawClient(esl.port)
    c.send("auth ClueCon\n\napi version\n\n")
    deadline = time.monotonic() + 30
    while b"Content-Length: 50\n\nFreeSWITCH" not in c.buf + b"".join(f.raw for f in c.frames):
        assert c._fill(deadline) or not c.eof, "connection closed"
        assert time.monotonic() < deadline
    raw = b"".join(f.raw for f in c.frames) + c.buf
    assert b"\r" not in raw
    assert raw.startswith(b"Content-Type: auth/request\n\nContent-Type: command/reply\nReply-Text: +OK accepted\n\n")


def test_event_formats_filters_and_nixevent(esl: EslThread) -> None:
    c = client(esl)
    assert c.cmd("event plain NOSUCHEVENT").get("Reply-Text") == "-ERR no keywords supplied"
    assert c.cmd("event json CUSTOM lab::test").get("Reply-Text") == "+OK event listener enabled json"
    assert c.cmd("sendevent CUSTOM\nEvent-Subclass: lab::test\nLab-Key: one\nLab-Note: 100% & more").get(
        "Reply-Text", "").startswith("+OK ")
    ev = c.until(lambda f: f.content_type == "text/event-json")
    body = json.loads(ev.body)
    assert body["Event-Subclass"] == "lab::test" and body["Lab-Note"] == "100% & more"
    assert list(body)[:4] == ["Event-Subclass", "Command", "Lab-Key", "Lab-Note"]
    assert c.cmd("event plain CUSTOM lab::test").get("Reply-Text") == "+OK event listener enabled plain"
    assert c.cmd("filter Lab-Key two").get("Reply-Text") == "+OK filter added. [Lab-Key]=[two]"
    c.cmd("sendevent CUSTOM\nEvent-Subclass: lab::test\nLab-Key: one")
    c.cmd("sendevent CUSTOM\nEvent-Subclass: lab::test\nLab-Key: two\nLab-Note: a b")
    ev = c.until(lambda f: f.content_type == "text/event-plain")
    assert b"Lab-Key: two\n" in ev.body and b"Lab-Note: a%20b\n" in ev.body
    assert parse_event(ev).get("Lab-Key") == "two"
    assert c.cmd("filter delete Lab-Key two").get("Reply-Text") == "+OK filter deleted. [Lab-Key][two]"
    assert c.cmd("filter delete all").get("Reply-Text") == "+OK filter deleted. [all][]"
    assert c.cmd("nixevent CUSTOM lab::test").get("Reply-Text") == "+OK events nixed"
    assert c.cmd("event xml ALL").get("Reply-Text") == "+OK event listener enabled xml"
    c.cmd("sendevent CUSTOM\nEvent-Subclass: lab::test\nLab-Key: x")
    ev = c.until(lambda f: f.content_type == "text/event-xml")
    assert ev.body.startswith(b"<event>\n  <headers>\n    <Event-Subclass>lab%3A%3Atest</Event-Subclass>\n")
    assert c.cmd("noevents").get("Reply-Text") == "+OK no longer listening for events"
    assert c.cmd("noevents").get("Reply-Text") == "-ERR not listening for events"


def test_log_stream(esl: EslThread) -> None:
    c = client(esl)
    assert c.cmd("log 7").get("Reply-Text") == "+OK log level 7 [7]"
    c.send("api log NOTICE hello log\n\n")
    seen = [c.frame(), c.frame()]
    assert sorted(f.content_type or "" for f in seen) == ["api/response", "log/data"]
    log = next(f for f in seen if f.content_type == "log/data")
    assert log.names == ["Content-Type", "Content-Length", "Log-Level", "Text-Channel", "Log-File", "Log-Func",
                         "Log-Line", "User-Data"]
    assert log.get("Log-Level") == "5" and log.body.endswith(b"[NOTICE] mod_commands.c:7200 hello log\n")
    assert c.cmd("nolog").get("Reply-Text") == "+OK no longer logging"
    assert c.cmd("nolog").get("Reply-Text") == "-ERR not loging"


def test_bgapi_with_client_job_uuid(esl: EslThread) -> None:
    c = client(esl)
    c.cmd("event plain BACKGROUND_JOB")
    job = "38f5593d-95bc-48d2-905f-c396cff26301"
    reply = c.cmd(f"bgapi version\nJob-UUID: {job}")
    assert reply.headers == [("Content-Type", "command/reply"), ("Reply-Text", f"+OK Job-UUID: {job}"),
                             ("Job-UUID", job)]
    ev = parse_event(c.until(lambda f: f.content_type == "text/event-plain"))
    assert ev is not None and ev.get("Job-UUID") == job
    assert ev.body == "FreeSWITCH Version 1.10.12-release~64bit ( 64bit)\n"
    assert ev.names[-3:] == ["Job-UUID", "Job-Command", "Content-Length"]


# ---------------------------------------------------------------------- fault hooks


def test_drop_all(esl: EslThread) -> None:
    a, b = client(esl), client(esl)
    esl.server.drop_all()
    assert a.wait_eof() and b.wait_eof()
    assert client(esl).cmd("api version").body.startswith(b"FreeSWITCH Version")


def test_shutdown(esl: EslThread) -> None:
    listener = client(esl)
    listener.cmd("event plain ALL")
    esl.server.shutdown()
    ev = parse_event(listener.until(lambda f: f.content_type == "text/event-plain"))
    assert ev is not None and ev.get("Event-Name") == "SHUTDOWN"
    assert ev.get("Event-Info") == "System Shutting Down"
    notice = listener.until(lambda f: f.content_type == "text/disconnect-notice")
    assert notice.body == b"The system is being shut down.\n"
    assert listener.wait_eof()
    deadline = time.monotonic() + 30
    while True:  # the listening socket closes with it
        try:
            socket.create_connection(("127.0.0.1", esl.port), timeout=1).close()
        except OSError:
            break
        assert time.monotonic() < deadline, "still accepting connections after shutdown"


def test_fsctl_shutdown_from_a_client(esl: EslThread) -> None:
    issuer = client(esl)
    assert issuer.cmd("api fsctl shutdown").body == b"+OK\n"
    assert issuer.until(lambda f: f.content_type == "text/disconnect-notice").body == \
        b"The system is being shut down.\n"
    assert issuer.wait_eof()


def test_stall(esl: EslThread) -> None:
    c = client(esl)
    start = time.monotonic()  # before the stall starts: the reply comes at least 1.5 s after, however slow
    esl.server.stall(1.5)
    c.send("api version\n\n")
    with pytest.raises(TimeoutError):
        c.frame(0.3)
    assert c.frame(30).body.startswith(b"FreeSWITCH Version")
    assert time.monotonic() - start >= 1.49


def test_send_malformed(esl: EslThread) -> None:
    c = client(esl)
    esl.server.send_malformed()
    # read raw bytes: the point of the frame is that a frame parser chokes on it
    data = b""
    deadline = time.monotonic() + 30
    c.sock.settimeout(0.2)
    while b"Content-Length: x1\n\n" not in data:
        assert time.monotonic() < deadline, f"no malformed frame: {data!r}"
        try:
            data += c.sock.recv(4096)
        except TimeoutError:
            pass
    assert b"\nThis line is not a header\n" in data


def test_reject_logins(esl: EslThread) -> None:
    esl.server.reject_logins(True)
    c = RawClient(esl.port)
    assert c.login().get("Reply-Text") == "-ERR invalid"
    assert c.frame().content_type == "text/disconnect-notice"
    assert c.wait_eof()
    esl.server.reject_logins(False)
    assert client(esl).cmd("api version").body.startswith(b"FreeSWITCH")


def test_heartbeat_has_the_recorded_headers() -> None:
    from .fsfixtures import freeswitch_dir, parse_capture, server_frames
    recorded = next(e for f in server_frames(parse_capture(freeswitch_dir() / "18_filter_nixevent_noevents.txt"))
                    if (e := parse_event(f)) is not None and e.get("Event-Name") == "HEARTBEAT")
    t = EslThread(heartbeat_interval=0.2)
    try:
        c = client(t)
        c.cmd("event plain HEARTBEAT")
        ev = parse_event(c.until(lambda f: f.content_type == "text/event-plain"))
        assert ev is not None and ev.names == recorded.names
        assert ev.get("Event-Info") == "System Ready" and ev.get("FreeSWITCH-Version") == "1.10.12-release~64bit"
    finally:
        t.close()
