"""How fast the control daemon's pipeline consumes a PBX event stream, beside the raw client library.

  .venv/bin/python -m bench.ingest [--calls 4000] [--backend sqlite|postgresql|both] [--runs 3]
                                   [--streams sim,real,esl] [--subscription]

Each figure is printed for every run and as the median (min-max) of the runs; every run measures the
ceiling and then the pipeline on the same bytes, so each ratio compares two figures of the same moment.

1. The embedded PBX (sim/) makes `--calls` calls (its scenario mix) while a raw socket records the
   bytes its AMI server sends: a steady stream that sim/ produces, with the class mask and Filter the
   adapter asks for, and again without them (how much the narrow subscription cuts).
2. A replay server writes those bytes as fast as TCP takes them (after answering Login, Filter and the
   adapter's start-up actions), in a child process so the producer never competes with the consumer.
3. Consumers, each in a fresh process: panoramisk's bare Manager counting events (the ceiling), then
   the daemon's pipeline (AsteriskAdapter with its fixes, event translation, Projector flushing live
   calls and call records to the database every 100 ms) on SQLite and on PostgreSQL. Lag is the time
   between the replay's last byte and the last call record committed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

CLASSES = "system,call,agent,user,cdr,security"


# -- 1. record a stream from sim ---------------------------------------------------------------------

def scenario_done(sim: Any) -> bool:
    """The sim's scenario has made all its calls (a busy machine can pause it longer than any quiet time)."""
    task = getattr(sim.scenario, "_task", None)
    return task is None or task.done()


def record(calls: int, filtered: bool) -> bytes:
    from clusterpbx.ami.adapter import needed_events
    from clusterpbx.ami.connection import event_filter
    from clusterpbx.sim.runner import SimPBX

    sim = SimPBX(lab="asterisk", ami_port=0, esl_port=None, seed=5)
    sim.start()
    try:
        from clusterpbx.sim.lab import AMI_SECRET, AMI_USER

        s = socket.create_connection(("127.0.0.1", sim.ami_port))
        s.settimeout(10)
        f = s.makefile("rb")
        f.readline()  # banner
        actions = [f"Action: Login\r\nUsername: {AMI_USER}\r\nSecret: {AMI_SECRET}\r\nEvents: "
                   f"{CLASSES if filtered else 'on'}\r\n\r\n"]
        if filtered:
            actions.append("Action: Filter\r\nOperation: Add\r\nFilter: " + event_filter(needed_events())
                           + "\r\n\r\n")
        for a in actions:
            s.sendall(a.encode())
        s.settimeout(0.5)
        buf = bytearray()

        def drain(quiet: float) -> None:
            deadline = time.monotonic() + quiet
            while time.monotonic() < deadline or not scenario_done(sim):
                try:
                    chunk = s.recv(1 << 20)
                except TimeoutError:
                    continue
                if not chunk:
                    return
                buf.extend(chunk)
                deadline = time.monotonic() + quiet

        drain(0.5)
        buf.clear()  # the login answers are not part of the stream
        sim.start_scenario(rate=None, seed=11, count=calls, mix={"internal_answered": 5, "internal_voicemail": 2,
                                                                   "inbound": 2, "outbound": 2, "queue": 1})
        drain(2.0)
        s.close()
        return bytes(buf)
    finally:
        sim.stop()


# -- 2. replay server (child process) -------------------------------------------------------------

REPLAY_SERVER = r'''
import asyncio, json, re, sys, time
stream = open(sys.argv[1], "rb").read()
BOOTED = time.time() - 3600
LIST_ACTIONS = {"pjsipshowcontacts": "ContactListComplete", "coreshowchannels": "CoreShowChannelsComplete",
                "queuestatus": "QueueStatusComplete", "pjsipshowendpoints": "EndpointListComplete"}

async def handle(reader, writer):
    writer.write(b"Asterisk Call Manager/11.0.0\r\n")
    sent = False
    while True:
        try:
            block = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        headers = dict(l.split(": ", 1) for l in block.decode().split("\r\n") if ": " in l)
        action = headers.get("Action", "").lower()
        aid = headers.get("ActionID", "")
        if action in LIST_ACTIONS:
            writer.write(f"Response: Success\r\nActionID: {aid}\r\nEventList: start\r\nMessage: listing\r\n\r\n"
                         f"Event: {LIST_ACTIONS[action]}\r\nActionID: {aid}\r\nEventList: Complete\r\n"
                         f"ListItems: 0\r\n\r\n".encode())
        elif action == "corestatus":  # as Asterisk answers it: the start-up time (here a UTC server)
            up = time.gmtime(BOOTED)
            writer.write(f"Response: Success\r\nActionID: {aid}\r\nCoreStartupDate: {time.strftime('%Y-%m-%d', up)}"
                         f"\r\nCoreStartupTime: {time.strftime('%H:%M:%S', up)}\r\n\r\n".encode())
        else:
            writer.write(f"Response: Success\r\nActionID: {aid}\r\nMessage: ok\r\n\r\n".encode())
        if action == "login":  # Asterisk sends FullyBooted right after a login with the system class
            writer.write(f"Event: FullyBooted\r\nPrivilege: system,all\r\nUptime: {int(time.time() - BOOTED)}"
                         f"\r\nStatus: Fully Booted\r\n\r\n".encode())
        await writer.drain()
        if action == "login" and not sent:
            sent = True
            asyncio.ensure_future(blast(writer))

def whole_frames(data, limit=1 << 16):
    """Pieces of about `limit` bytes that end where a message ends, as a real PBX writes: a reply the
    client's Ping gets can then only come between two events, never inside one."""
    start = 0
    while start < len(data):
        end = data.find(b"\r\n\r\n", start + limit)
        end = len(data) if end < 0 else end + 4
        yield data[start:end]
        start = end

async def blast(writer):
    await asyncio.sleep(0.3)  # let the client finish its start-up actions
    t0 = time.monotonic()
    for piece in whole_frames(stream):
        writer.write(piece)
        await writer.drain()
    print(json.dumps({"write_seconds": time.monotonic() - t0, "end_wall": time.time()}), flush=True)

async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()

asyncio.run(main())
'''


def start_replay(stream_path: str) -> tuple[subprocess.Popen[str], int]:
    return start_replay_with(REPLAY_SERVER, stream_path)


def start_replay_with(code: str, stream_path: str) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen([sys.executable, "-c", code, stream_path], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    port = int(proc.stdout.readline())
    return proc, port


# -- 3. consumers (child processes) ---------------------------------------------------------------

RAW_CONSUMER = r'''
import asyncio, json, sys, time
from panoramisk import Manager
expected = int(sys.argv[2])
async def main():
    loop = asyncio.get_running_loop()
    done = asyncio.Event()
    state = {"n": 0, "first": None, "last": None}
    m = Manager(loop=loop, host="127.0.0.1", port=int(sys.argv[1]), username="bench", secret="bench",
                ping_delay=3600)
    def on_event(manager, event):
        if state["first"] is None:
            state["first"] = time.monotonic()
        state["n"] += 1
        if state["n"] >= expected:
            state["last"] = time.monotonic()
            done.set()
    m.register_event("*", on_event)
    cpu = time.process_time()
    m.connect()
    await asyncio.wait_for(done.wait(), 300)
    print(json.dumps({"events": state["n"], "seconds": state["last"] - state["first"],
                      "cpu": time.process_time() - cpu}))
    m.close()
asyncio.run(main())
'''

PIPELINE_CONSUMER = r'''
import asyncio, json, sys, time
from sqlalchemy import func, select
from clusterpbx.ami.adapter import AsteriskAdapter
from clusterpbx.control.db import make_engine, make_session_factory
from clusterpbx.control.models import CallRecord
from clusterpbx.control.port import NodeAddress
from clusterpbx.control.daemon.projection import Projector
port, url, node_id, expected_records, expected_events = (int(sys.argv[1]), sys.argv[2], int(sys.argv[3]),
                                                          int(sys.argv[4]), int(sys.argv[5]))
sessions = make_session_factory(make_engine(url))

async def main():
    adapter = AsteriskAdapter(NodeAddress(host="127.0.0.1", port=port, username="bench", secret="bench",
                                          timeout=30, extra={"event_filter": "off"}))
    projector = Projector(sessions, node_id)
    raw = {"n": 0, "first": None}
    inner = adapter._on_ami_event
    def counting(event):
        if raw["first"] is None:
            raw["first"] = time.monotonic()
        raw["n"] += 1
        inner(event)
    adapter._on_ami_event = counting
    adapter.connection._on_event = counting
    adapter.subscribe(projector.handle)
    def read():
        protocol = adapter.connection.protocol
        return raw["n"] + (getattr(protocol, "events_skipped", 0) if protocol is not None else 0)
    cpu = time.process_time()
    await adapter.start()
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        await asyncio.sleep(0.1)  # the daemon's flush interval
        # Every event read (those the protocol dropped unread on their first line count: it read them),
        # and the call records the adapter holds until it knows the PBX's zone let go.
        done = read() >= expected_events and adapter._zone_known and not adapter._held_cdrs
        await asyncio.to_thread(projector.write, projector.take())  # as the daemon's NodeRunner does
        if done and projector.pending == 0:
            break
    end = time.monotonic()
    with sessions() as db:
        rows = db.scalar(select(func.count()).select_from(CallRecord))
    cpu = time.process_time() - cpu
    print(json.dumps({"events": read(), "seconds": end - raw["first"], "records": rows,
                      "end_wall": time.time(), "cpu": cpu}))
    await adapter.stop()
asyncio.run(main())
'''


def prepare_db(url: str) -> tuple[int, int]:
    """A migrated database with a tenant whose users are the sim lab's endpoints."""
    from sqlalchemy import text

    from clusterpbx.control import migrate
    from clusterpbx.control.accounts import NewUser, create_tenant, create_user
    from clusterpbx.control.db import make_engine, make_session_factory
    from clusterpbx.control.models import NodeKind, PbxNode

    if url.startswith("sqlite:///"):  # each run starts from an empty database
        Path(url[len("sqlite:///"):]).unlink(missing_ok=True)
    engine = make_engine(url)
    if url.startswith("postgresql"):
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()
    migrate.upgrade(url)
    with make_session_factory(make_engine(url))() as db:
        node = PbxNode(name="bench", kind=NodeKind.ASTERISK, host="127.0.0.1", port=5038)
        db.add(node)
        db.flush()
        tenant = create_tenant(db, "Bench", "bench.example.com", node)
        for ext in ("100", "101", "102", "103", "104", "105"):
            create_user(db, tenant, NewUser(f"u{ext}@bench.example.com", "U", ext, "Bench-2026x", ext),
                        check_policy=False)
        db.commit()
        return node.id, tenant.id


def recorded_stream(reps: int) -> bytes:
    """A real Asterisk 22 call's full event stream (capture 06, read=all), repeated with fresh ids."""
    from tests.ami.capture import server_bytes

    data = server_bytes("06_call_answered_events.txt")
    blocks = [b for b in data.split(b"\r\n\r\n") if b.startswith(b"Event: ")
              and not b.startswith((b"Event: FullyBooted", b"Event: SuccessfulAuth", b"Event: ChallengeSent"))]
    one = b"".join(b + b"\r\n\r\n" for b in blocks)
    ids = re.compile(rb"1795797593\.(\d+)")
    bridge = re.compile(rb"(BridgeUniqueid: )[0-9a-f-]{36}")
    out = []
    for i in range(reps):
        x = ids.sub(lambda m, i=i: b"%d.%s" % (1700000000 + i, m.group(1)), one)
        out.append(bridge.sub(lambda m, i=i: m.group(1) + b"%036d" % i, x))
    return b"".join(out)


def count_events(stream: bytes) -> int:
    return len(re.findall(rb"(?:^|\r\n\r\n)Event: ", stream))


def expected_records(stream: bytes, url: str, node_id: int) -> int:
    """Call-record rows the pipeline must store: the stream's Cdr events through the same rules."""
    from zoneinfo import ZoneInfo

    from clusterpbx.ami.cdr import report_from_event
    from clusterpbx.control import callrecords
    from clusterpbx.control.db import make_engine, make_session_factory

    with make_session_factory(make_engine(url))() as db:
        directory = callrecords.Directory.load(db, node_id)
    keys = set()
    for block in stream.split(b"\r\n\r\n"):
        if not block.startswith(b"Event: Cdr"):
            continue
        fields = dict(line.split(": ", 1) for line in block.decode("utf-8", "replace").split("\r\n") if ": " in line)
        report = report_from_event(fields, ZoneInfo("UTC"))
        if report is not None:
            keys |= {(row["pbx_call_id"], row["user_id"]) for row in callrecords.rows_for(report, node_id, directory)}
    return len(keys)


def run_json(args: list[str]) -> dict[str, float]:
    out = subprocess.run(args, capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


# -- FreeSWITCH: the same, over ESL ----------------------------------------------------------------

def record_esl(calls: int) -> bytes:
    from clusterpbx.sim.runner import SimPBX

    sim = SimPBX(lab="freeswitch", ami_port=0, esl_port=0, seed=5)
    sim.start()
    try:
        s = socket.create_connection(("127.0.0.1", sim.esl_port))
        s.settimeout(0.5)
        buf = bytearray()

        def drain(quiet: float) -> None:
            deadline = time.monotonic() + quiet
            while time.monotonic() < deadline or not scenario_done(sim):
                try:
                    chunk = s.recv(1 << 20)
                except TimeoutError:
                    continue
                if not chunk:
                    return
                buf.extend(chunk)
                deadline = time.monotonic() + quiet

        drain(0.3)
        s.sendall(b"auth ClueCon\n\n")
        drain(0.3)
        s.sendall(b"event plain ALL\n\n")
        drain(0.5)
        buf.clear()
        sim.start_scenario(rate=None, seed=11, count=calls, mix={"internal_answered": 5, "internal_voicemail": 2,
                                                                   "inbound": 2, "outbound": 2, "queue": 1})
        drain(2.0)
        s.close()
        return bytes(buf)
    finally:
        sim.stop()


ESL_REPLAY = r'''
import asyncio, json, sys, time
stream = open(sys.argv[1], "rb").read()

async def handle(reader, writer):
    writer.write(b"Content-Type: auth/request\n\n")
    sent = False
    while True:
        try:
            block = (await reader.readuntil(b"\n\n")).decode()
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        if block.startswith("api "):
            body = b"+OK\n"
            writer.write(b"Content-Type: api/response\nContent-Length: %d\n\n" % len(body) + body)
        else:
            writer.write(b"Content-Type: command/reply\nReply-Text: +OK accepted\n\n")
        await writer.drain()
        if block.startswith("event ") and not sent:
            sent = True
            asyncio.ensure_future(blast(writer))

def whole_frames(data, limit=1 << 16):
    """Pieces of about `limit` bytes that end where a frame ends (headers, then Content-Length bytes)."""
    start = pos = 0
    while pos < len(data):
        head = data.find(b"\n\n", pos)
        if head < 0:
            break
        length = 0
        for line in data[pos:head].split(b"\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        pos = head + 2 + length
        if pos - start >= limit:
            yield data[start:pos]
            start = pos
    if start < len(data):
        yield data[start:]

async def blast(writer):
    await asyncio.sleep(0.3)
    start = time.time()
    for piece in whole_frames(stream):
        writer.write(piece)
        await writer.drain()
    print(json.dumps({"start_wall": start, "end_wall": time.time()}), flush=True)

async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()

asyncio.run(main())
'''

GREENSWITCH_CONSUMER = r'''
import json, sys, time
import gevent
from greenswitch import InboundESL
expected = int(sys.argv[2])
state = {"n": 0, "first": None, "last": None}
done = gevent.event.Event()
def on_event(event):
    state["n"] += 1
    if state["n"] >= expected:
        state["last"] = time.time()
        done.set()
conn = InboundESL(host="127.0.0.1", port=int(sys.argv[1]), password="ClueCon")
cpu = time.process_time()
conn.connect()
conn.register_handle("*", on_event)
conn.send("event plain ALL")
done.wait(300)
# greenswitch parses everything into a queue before handling it: time it from the first byte sent
# (the replay's start), not from the first handled event.
print(json.dumps({"events": state["n"], "end_wall": state["last"] or time.time(),
                  "cpu": time.process_time() - cpu}))
'''

ESL_PIPELINE_CONSUMER = r'''
import asyncio, json, sys, time
from clusterpbx.control.db import make_engine, make_session_factory
from clusterpbx.control.port import NodeAddress
from clusterpbx.control.daemon.projection import Projector
from clusterpbx.esl.adapter import FreeSwitchAdapter
port, url, node_id, expected_calls, expected_events = (int(sys.argv[1]), sys.argv[2], int(sys.argv[3]),
                                                      int(sys.argv[4]), int(sys.argv[5]))
sessions = make_session_factory(make_engine(url))

async def main():
    adapter = FreeSwitchAdapter(NodeAddress(host="127.0.0.1", port=port, secret="ClueCon", timeout=30,
                                            sip_domain="127.0.0.1"))
    projector = Projector(sessions, node_id)
    seen = {"first": None, "ended": 0, "events": 0}
    inner = adapter._handle_event
    def counting(event):  # every event read, in the adapter's own loop
        seen["events"] += 1
        inner(event)
    adapter._handle_event = counting
    def handle(event):
        if seen["first"] is None:
            seen["first"] = time.monotonic()
        if type(event).__name__ == "CallEnded":
            seen["ended"] += 1
        projector.handle(event)
    adapter.subscribe(handle)
    cpu = time.process_time()
    await adapter.start()
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        # the last event of the stream read and every call of it ended, then everything written
        done = seen["events"] >= expected_events and seen["ended"] >= expected_calls
        await asyncio.to_thread(projector.write, projector.take())
        if done and projector.pending == 0:
            break
    end = time.monotonic()
    print(json.dumps({"seconds": end - seen["first"], "records": projector.stats.records, "ended": seen["ended"],
                      "events": seen["events"], "end_wall": time.time(), "cpu": time.process_time() - cpu}))
    await adapter.stop()
asyncio.run(main())
'''


def count_esl_events(stream: bytes) -> int:
    return stream.count(b"Content-Type: text/event-plain")


def esl_calls_ended(stream: bytes) -> int:
    """How many CallEnded the adapter's translation of the whole stream gives: the pipeline is done when
    it has seen that many and written everything, i.e. after the stream's last byte (a stop after half the
    hangups declared it done before the end, and printed a negative lag)."""
    from clusterpbx.esl.protocol import event_from_frame, iter_frames
    from clusterpbx.esl.translate import EventTranslator

    translator = EventTranslator()
    ended = 0
    for frame in iter_frames(stream):
        event = event_from_frame(frame)
        if event is not None:
            ended += sum(type(e).__name__ == "CallEnded" for e in translator.feed(event))
    return max(1, ended)


def narrow_share(path: Path, kind: str) -> tuple[int, int]:
    """(all events, events the adapter subscribes to) in a real recorded call stream."""
    if kind == "ami":
        from clusterpbx.ami.adapter import needed_events
        from tests.ami.capture import server_events

        events = [e for e in server_events(path.name) if "Event" in e]
        names = set(needed_events())
        classes = set(CLASSES.split(","))
        kept = [e for e in events if e["Event"] in names
                and ({p.strip() for p in e.get("Privilege", "").split(",")} & classes or "Privilege" not in e)]
        return len(events), len(kept)
    from urllib.parse import unquote

    from clusterpbx.esl.connection import DEFAULT_EVENTS

    data = path.read_bytes()
    names = [m.group(1).decode() for m in re.finditer(rb"\nEvent-Name: ([A-Za-z_:]+)\n", data)]
    subclasses = [unquote(m.group(1).decode()) for m in re.finditer(rb"\nEvent-Subclass: ([^\n]+)\n", data)]
    wanted = set(DEFAULT_EVENTS)
    kept = sum(1 for n in names if n in wanted and n != "CUSTOM") + sum(1 for sc in subclasses if sc in wanted)
    return len(names), kept


def spread(values: list[float], fmt: str = "{:,.0f}") -> str:
    """Median and range of several runs, e.g. "23,100 (21,900-24,000)"."""
    return f"{fmt.format(statistics.median(values))} ({fmt.format(min(values))}-{fmt.format(max(values))})"


def ami_round(path: Path, n_events: int, url: str, node_id: int, n_records: int) -> dict[str, float]:
    """One run: panoramisk's ceiling, then the pipeline, on the same stream, each from a fresh replay."""
    proc, port = start_replay(str(path))
    try:
        raw = run_json([sys.executable, "-c", RAW_CONSUMER, str(port), str(n_events)])
    finally:
        proc.kill()
    node_id = prepare_db(url)[0] if url else node_id
    proc, port = start_replay(str(path))
    try:
        result = run_json([sys.executable, "-c", PIPELINE_CONSUMER, str(port), url, str(node_id),
                           str(n_records), str(n_events)])
        assert proc.stdout is not None
        replay = json.loads(proc.stdout.readline())
    finally:
        proc.kill()
    if result["records"] != n_records or result["events"] < n_events:  # (+ the login's FullyBooted)
        raise RuntimeError(f"pipeline stopped early: {result} (expected {n_events} events, {n_records} rows)")
    ceiling = raw["events"] / raw["seconds"]
    rate = result["events"] / result["seconds"]
    return {"ceiling": ceiling, "rate": rate, "ratio": rate / ceiling, "lag": result["end_wall"] - replay["end_wall"],
            "cpu_ratio": (result["cpu"] / n_events) / (raw["cpu"] / n_events)}


def esl_round(path: Path, n_events: int, n_ended: int, url: str) -> dict[str, float]:
    proc, port = start_replay_with(ESL_REPLAY, str(path))
    try:
        raw = run_json([sys.executable, "-c", GREENSWITCH_CONSUMER, str(port), str(n_events)])
        assert proc.stdout is not None
        replay = json.loads(proc.stdout.readline())
    finally:
        proc.kill()
    ceiling = raw["events"] / (raw["end_wall"] - replay["start_wall"])
    node_id, _tenant = prepare_db(url)
    proc, port = start_replay_with(ESL_REPLAY, str(path))
    try:
        result = run_json([sys.executable, "-c", ESL_PIPELINE_CONSUMER, str(port), url, str(node_id),
                           str(n_ended), str(n_events)])
        assert proc.stdout is not None
        replay = json.loads(proc.stdout.readline())
    finally:
        proc.kill()
    if result["events"] < n_events or result["ended"] < n_ended:
        raise RuntimeError(f"pipeline stopped early: {result} (expected {n_events} events, {n_ended} calls ended)")
    rate = n_events / (result["end_wall"] - replay["start_wall"])
    return {"ceiling": ceiling, "rate": rate, "ratio": rate / ceiling, "lag": result["end_wall"] - replay["end_wall"],
            "cpu_ratio": result["cpu"] / raw["cpu"]}


def report(label: str, ceiling_name: str, rounds: list[dict[str, float]]) -> None:
    for i, r in enumerate(rounds, 1):
        print(f"  run {i}: {ceiling_name} {r['ceiling']:,.0f} ev/s, pipeline {r['rate']:,.0f} ev/s, "
              f"ratio {r['ratio']:.2f}, CPU per event {r['cpu_ratio']:.2f}x the ceiling's, "
              f"lag after the last byte {r['lag']:.2f}s")
    print(f"{label}: pipeline {spread([r['rate'] for r in rounds])} ev/s; ceiling {ceiling_name} "
          f"{spread([r['ceiling'] for r in rounds])} ev/s; ratio {spread([r['ratio'] for r in rounds], '{:.2f}')}; "
          f"CPU per event {spread([r['cpu_ratio'] for r in rounds], '{:.2f}')}x the ceiling's; lag "
          f"{spread([r['lag'] for r in rounds], '{:.2f}')}s  [median (min-max) of {len(rounds)} runs]", flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=4000)
    ap.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    ap.add_argument("--runs", type=int, default=3, help="runs of each ceiling+pipeline pair (median and range)")
    ap.add_argument("--streams", default="sim,real,esl",
                    help="comma-separated: sim (sim/'s AMI stream), real (capture 06 repeated), esl")
    ap.add_argument("--subscription", action="store_true", help="also measure how much the subscription cuts")
    args = ap.parse_args()
    streams = set(args.streams.split(","))
    work = Path(tempfile.mkdtemp(prefix="cpbx-ingest-"))
    print(f"{os.cpu_count()} CPU(s); load average at the start {os.getloadavg()[0]:.1f}", flush=True)
    if args.subscription:
        fixtures = Path(os.environ.get("CLUSTERPBX_FIXTURES",
                                       Path(__file__).resolve().parents[2] / "shared" / "fixtures"))
        total, kept = narrow_share(fixtures / "asterisk" / "06_call_answered_events.txt", "ami")
        print(f"real Asterisk call (capture 06, read=all): {total} events, {kept} with the adapter's class mask "
              f"and Filter ({1 - kept / total:.0%} less)")
        total, kept = narrow_share(fixtures / "freeswitch" / "05_events_plain_answered_call.txt", "esl")
        print(f"real FreeSWITCH call (capture 05, event plain ALL): {total} events, {kept} with the adapter's "
              f"subscription ({1 - kept / total:.0%} less)")
        full = record(min(args.calls, 500), filtered=False)
        narrow = record(min(args.calls, 500), filtered=True)
        print(f"subscription: {count_events(full)} events for 500 calls with Events: on, {count_events(narrow)} "
              f"with the class mask and Filter ({1 - count_events(narrow) / count_events(full):.0%} less)")

    if "sim" in streams:
        stream = record(args.calls, filtered=False)
        path = work / "stream.bin"
        path.write_bytes(stream)
        n_events = count_events(stream)
        print(f"stream: {args.calls} calls from sim/, {n_events} events, {len(stream) / 1e6:.1f} MB", flush=True)
        backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
        for backend in backends:
            url = f"sqlite:///{work}/ingest.db" if backend == "sqlite" else os.environ.get(
                "CLUSTERPBX_TEST_POSTGRES_URL", "")
            if not url:
                print("postgresql: skipped (set CLUSTERPBX_TEST_POSTGRES_URL)")
                continue
            node_id, _tenant = prepare_db(url)
            n_records = expected_records(stream, url, node_id)
            rounds = [ami_round(path, n_events, url, node_id, n_records) for _ in range(args.runs)]
            report(f"AMI, sim/'s stream, daemon pipeline on {backend} ({n_records} call-record rows each run)",
                   "panoramisk", rounds)

    if "real" in streams:
        # A real recorded call's stream: heavier events (VarSet, Newexten...) the daemon skips.
        real = recorded_stream(args.calls)
        real_path = work / "real.bin"
        real_path.write_bytes(real)
        n_real = count_events(real)
        print(f"recorded stream: capture 06 repeated {args.calls} times, {n_real} events, {len(real) / 1e6:.1f} MB",
              flush=True)
        url = f"sqlite:///{work}/ingest-real.db"
        node_id, _tenant = prepare_db(url)
        n_records = expected_records(real, url, node_id)
        rounds = [ami_round(real_path, n_real, url, node_id, n_records) for _ in range(args.runs)]
        report(f"AMI, recorded stream, daemon pipeline on sqlite ({n_records} call-record rows each run)",
               "panoramisk", rounds)

    if "esl" in streams:
        esl_stream = record_esl(args.calls)
        esl_path = work / "esl.bin"
        esl_path.write_bytes(esl_stream)
        n_esl = count_esl_events(esl_stream)
        n_ended = esl_calls_ended(esl_stream)
        print(f"ESL stream: {args.calls} calls from sim/, {n_esl} plain events (event plain ALL), "
              f"{len(esl_stream) / 1e6:.1f} MB, {n_ended} calls end in it", flush=True)
        rounds = [esl_round(esl_path, n_esl, n_ended, f"sqlite:///{work}/ingest-fs-{i}.db") for i in range(args.runs)]
        report("ESL, sim/'s stream, daemon pipeline (FreeSWITCH adapter) on sqlite", "greenswitch", rounds)
    print(f"load average at the end {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
