"""Benchmark of "Appels en cours" (issues 20 and 24) against the real server process (`clusterpbx web`,
gunicorn's asgi worker, 2 workers as deployed) on loopback, 2,000 live calls in one tenant.

  .venv/bin/python -m bench.live [--backend sqlite|postgresql] [--runs 3] [--requests 100] [--streams 500]

Prints, per run and as median and spread over the runs:
  - the admin page /live/ over HTTP: p50 and p95, and its size; beside a static file of the same size
    served by the same server in the same run (the ceiling);
  - a change: bytes of the delta event an open admin stream receives for one added, one changed and
    one ended call, the full list's bytes (sent when a page opens), what a page coming back with its
    Last-Event-ID after one change receives, and the delay from the commit to the event (p50, p95);
  - `--streams` open live pages: a static file and the home page, idle and with the pages open
    (p50 each), and the server's thread count.
"""

from __future__ import annotations

import datetime as dt
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import delete, insert, text, update
from sqlalchemy.orm import Session, sessionmaker

from bench._setup import bench_args, bench_company, database_url, fresh_database, live_call_rows, pct
from clusterpbx.control.models import Extension, LiveCall, Role, User
from clusterpbx.control.passwords import hash_password
from tests.system.live_portal import Stream, login, portal, thread_count, worker_pids

STATIC = Path(__file__).resolve().parents[1] / "web" / "static"
PASSWORD = "Bench-2026"
CALLS = 2000


def build(url: str, users: int = 500) -> tuple[str, int, sessionmaker[Session]]:
    _engine, sessions = fresh_database(url)
    with sessions() as db:
        node, tenant = bench_company(db)
        pw = hash_password(PASSWORD)
        db.execute(insert(User.__table__), [
            {"tenant_id": tenant.id, "email": f"u{i}@bench.example.com", "password_hash": pw,
             "first_name": "Marie", "last_name": f"Tremblay{i}", "role": Role.TENANT_ADMIN if i == 0 else Role.USER,
             "language": "fr", "active": True, "approved": True} for i in range(users)])
        ids = db.scalars(text("SELECT id FROM users ORDER BY id")).all()
        db.execute(insert(Extension.__table__), [
            {"tenant_id": tenant.id, "user_id": uid, "number": str(10000 + i), "sip_username": f"s{10000 + i}",
             "sip_password": "x" * 16} for i, uid in enumerate(ids)])
        db.execute(insert(LiveCall.__table__), live_call_rows(node.id, tenant.id, CALLS, users))
        db.commit()
        return "u0@bench.example.com", node.id, sessions


def timed(session: requests.Session, url: str, n: int) -> tuple[list[float], int]:
    times, size = [], 0
    for _ in range(n):
        t = time.perf_counter()
        resp = session.get(url, timeout=60)
        times.append((time.perf_counter() - t) * 1000)
        assert resp.status_code == 200, (url, resp.status_code)
        size = len(resp.content)
    return times, size


def changes(base: str, session: requests.Session, sessions: sessionmaker[Session], node_id: int,
            n: int = 10) -> dict[str, float]:
    stream = Stream(base, session)
    assert stream.head() == 200
    name, calls, full = stream.events(timeout=60)[0]
    assert name == "calls" and len(calls) == CALLS, (name, len(calls))
    sizes: dict[str, list[int]] = {"add": [], "change": [], "end": []}
    delays: list[float] = []

    def one(kind: str, statement: Any) -> None:
        with sessions() as db:
            db.execute(statement)
            db.commit()
        t = time.perf_counter()
        _n, _d, size = stream.wait_for(lambda e: e[0] == "delta", timeout=30)[-1]
        delays.append((time.perf_counter() - t) * 1000)
        sizes[kind].append(size)

    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    for i in range(n):
        one("add", insert(LiveCall).values(node_id=node_id, tenant_id=1, pbx_call_id=f"b{i}", started_at=now,
                                           state="ringing", source_number="10001", destination_number="15145550000",
                                           source_uri="", destination_uri="", source_ip="10.0.0.3",
                                           destination_ip="10.0.0.4"))
        one("change", update(LiveCall).where(LiveCall.pbx_call_id == f"b{i}").values(state="answered",
                                                                                   destination_number="10002"))
        one("end", delete(LiveCall).where(LiveCall.pbx_call_id == f"b{i}"))
    stream.close()
    # The browser comes back (30-minute end, network failure) with its Last-Event-ID after one call
    # started meanwhile: what it receives before anything else changes.
    with sessions() as db:
        db.execute(insert(LiveCall).values(node_id=node_id, tenant_id=1, pbx_call_id="back", started_at=now,
                                           state="ringing", source_number="10001", destination_number="1514",
                                           source_uri="", destination_uri="", source_ip="", destination_ip=""))
        db.commit()
    back = Stream(base, session, last_event_id=stream.last_id)
    assert back.head() == 200
    name, delta, reconnect = back.events(timeout=60)[0]
    assert name == "delta" and [c["id"] for c in delta["upsert"]] == [f"{node_id}:back"], (name, delta)
    back.close()
    with sessions() as db:
        db.execute(delete(LiveCall).where(LiveCall.pbx_call_id == "back"))
        db.commit()
    return {"full_bytes": full, "reconnect_bytes": reconnect,
            **{f"{k}_bytes": statistics.mean(v) for k, v in sizes.items()},
            "delay_p50": pct(delays, 50), "delay_p95": pct(delays, 95)}


def open_pages(base: str, session: requests.Session, master: int, streams: int, n: int) -> dict[str, float]:
    pages = {"static": f"{base}/static/live.js", "home": f"{base}/home"}
    workers = worker_pids(master)
    idle = {k: statistics.median(timed(session, u, n)[0]) for k, u in pages.items()}
    threads_idle = sum(thread_count(p) for p in workers)
    opened = []
    try:
        for _ in range(streams):
            opened.append(Stream(base, session, timeout=60))
        for s in opened:
            status = s.head(timeout=120)
            assert status == 200, f"a live page's stream answered {status}: {s.buffer[:300]!r}"
            s.events(timeout=120)
        busy = {k: statistics.median(timed(session, u, n)[0]) for k, u in pages.items()}
        threads_busy = sum(thread_count(p) for p in workers)
    finally:
        for s in opened:
            s.close()
    return {"static_idle": idle["static"], "static_busy": busy["static"], "home_idle": idle["home"],
            "home_busy": busy["home"], "threads_idle": threads_idle, "threads_busy": threads_busy}


def spread(values: list[float]) -> str:
    return f"median {statistics.median(values):.1f}, min {min(values):.1f}, max {max(values):.1f}"


def main() -> int:
    args = bench_args(__doc__, runs=3, requests=100, streams=500, workers=2)
    tmp = Path(tempfile.mkdtemp(prefix="bench-live-"))
    url = database_url(args.backend, tmp)
    email, node_id, sessions = build(url)
    print(f"clusterpbx web: gunicorn asgi worker x{args.workers}; {CALLS} live calls; {os.cpu_count()} CPU(s); "
          f"{args.backend}")
    results: list[dict[str, float]] = []
    with portal(url, tmp / "instance", workers=args.workers, threads=16) as (base, master):
        session = login(base, email, PASSWORD)
        page = session.get(f"{base}/live/", timeout=60).content
        ceiling = STATIC / f"bench-live-{os.getpid()}.html"
        ceiling.write_bytes(b"x" * len(page))
        try:
            for run in range(1, args.runs + 1):
                times, size = timed(session, f"{base}/live/", args.requests)
                ctimes, csize = timed(session, f"{base}/static/{ceiling.name}", args.requests)
                r = {"page_p50": pct(times, 50), "page_p95": pct(times, 95), "page_bytes": size,
                     "ceiling_p50": pct(ctimes, 50), "ceiling_p95": pct(ctimes, 95), "ceiling_bytes": csize}
                r.update(changes(base, session, sessions, node_id))
                r.update(open_pages(base, session, master.pid, args.streams, 20))
                results.append(r)
                print(f"run {run}: admin /live/ p50 {r['page_p50']:.1f} ms, p95 {r['page_p95']:.1f} ms, "
                      f"{r['page_bytes'] / 1024:.1f} KiB | static file of the same size p50 {r['ceiling_p50']:.1f} ms, "
                      f"p95 {r['ceiling_p95']:.1f} ms")
                print(f"       change: added {r['add_bytes']:.0f} B, changed {r['change_bytes']:.0f} B, ended "
                      f"{r['end_bytes']:.0f} B (full list when a page opens: {r['full_bytes'] / 1024:.1f} KiB; "
                      f"a page coming back after one change: {r['reconnect_bytes']:.0f} B); "
                      f"commit to event p50 {r['delay_p50']:.0f} ms, p95 {r['delay_p95']:.0f} ms")
                print(f"       {args.streams} open pages: static p50 {r['static_idle']:.1f} -> {r['static_busy']:.1f} ms, "
                      f"home p50 {r['home_idle']:.1f} -> {r['home_busy']:.1f} ms; server threads "
                      f"{r['threads_idle']:.0f} -> {r['threads_busy']:.0f}")
                sys.stdout.flush()
        finally:
            ceiling.unlink(missing_ok=True)
    print(f"over {len(results)} runs:")
    for key, label in (("page_p50", "admin /live/ p50 ms"), ("page_p95", "admin /live/ p95 ms"),
                       ("ceiling_p50", "static same size p50 ms"), ("ceiling_p95", "static same size p95 ms"),
                       ("add_bytes", "bytes per added call"), ("end_bytes", "bytes per ended call"),
                       ("reconnect_bytes", "bytes to a page coming back after one change"),
                       ("delay_p95", "commit to event p95 ms"), ("static_busy", "static p50 ms, pages open"),
                       ("home_idle", "home p50 ms, idle"), ("home_busy", "home p50 ms, pages open")):
        print(f"  {label}: {spread([r[key] for r in results])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
