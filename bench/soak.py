"""Soak: the real processes under ordinary load, for issue 20's targets.

    python -m bench.soak [--db sqlite|postgresql] [--users 20] [--live-pages 200] [--seconds 60]
                         [--rate 2] [--runs 1]

Starts, each in its own process and on loopback only: the embedded PBX (sim/, the demo company, calls
flowing at --rate calls/s), `clusterpbx control`, and `clusterpbx web` (its production server, 2
workers). Then --users demo users at once, each from its own loopback address as people behind their
own machines would: through the REST API (DND toggled with PATCH /api/v1/me/call-settings, call records,
live calls) and through the portal's forms (settings saved on "Paramètres", a personal directory entry
added, call details), while --live-pages "Appels en cours" streams stay open.

It prints the count of answers >= 500, p50/p95/p99 per route beside the same server's static file (the
ceiling, measured in the same run), the lag from each saved setting to "applied", the daemon's socket
backlog towards the PBX (Recv-Q of its AMI/ESL connections), and `clusterpbx control --status`'s
response time; then which targets are met: 0 answers >= 500, p99 < 500 ms, every change applied within
5 s of the last save.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import json
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

PASSWORD = "Demo-2026"  # noqa: S105 - the demo users' password (README)
TARGET_P99_MS = 500.0
TARGET_APPLY_S = 5.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- the PBX process ----------------------------------------------------------------------------------------

def serve_pbx(db_url: str, ami_port: int, esl_port: int, spool: str, rate: float) -> None:
    """`python -m bench.soak --serve-pbx`: seed the demo for these ports, run the sim with calls flowing."""
    from clusterpbx.control.db import make_engine, make_session_factory
    from clusterpbx.control.demo import seed_demo
    from clusterpbx.demo_runtime import demo_model
    from clusterpbx.sim.runner import SimPBX

    engine = make_engine(db_url)
    with make_session_factory(engine)() as db:
        seed_demo(db, ami_port=ami_port, esl_port=esl_port, spool_path=spool)
        db.commit()
        model = demo_model(db, "demo-asterisk", spool)
    sim = SimPBX(model=model, ami_port=ami_port, esl_port=esl_port)
    sim.start()
    if rate > 0:
        sim.start_scenario(rate=rate, seed=7)
    print("READY", flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    done.wait()
    sim.stop()


# -- a small HTTP client bound to one loopback address ------------------------------------------------------

class Client:
    """One person: their own source address (127.0.0.x), cookies, and every answer timed by route."""

    def __init__(self, port: int, source: str, stats: Stats) -> None:
        self.port, self.source, self.stats = port, source, stats
        self.cookies: dict[str, str] = {}
        self.conn: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, route: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, bytes, dict[str, str]]:
        hdrs = dict(headers or {})
        if self.cookies:
            hdrs["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60,
                                                       source_address=(self.source, 0))
            start = time.perf_counter()
            try:
                self.conn.request(method, path, body=body, headers=hdrs)
                resp = self.conn.getresponse()
                data = resp.read()
            except (OSError, http.client.HTTPException):
                self.conn.close()
                self.conn = None
                if attempt == 2:
                    self.stats.add(route, 599, (time.perf_counter() - start) * 1000)
                    return 599, b"", {}
                continue
            elapsed = (time.perf_counter() - start) * 1000
            self.stats.add(route, resp.status, elapsed)
            for name, value in resp.getheaders():
                if name.lower() == "set-cookie":
                    key, _, rest = value.partition("=")
                    self.cookies[key.strip()] = rest.split(";", 1)[0]
                if name.lower() == "connection" and value.lower() == "close":
                    self.conn.close()
                    self.conn = None
            return resp.status, data, {k.lower(): v for k, v in resp.getheaders()}
        raise AssertionError("unreachable")

    def form(self, path: str, page: str, fields: dict[str, str], route: str) -> int:
        status, html, _ = self.request("GET", page, route + " (page)")
        m = re.search(rb'name="csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
            rb'name="csrf_token" value="([^"]+)"', html)
        if status != 200 or not m:
            return status
        from urllib.parse import urlencode

        body = urlencode({**fields, "csrf_token": m.group(1).decode()}).encode()
        status, _, _ = self.request("POST", path, route, body,
                                    {"Content-Type": "application/x-www-form-urlencoded"})
        return status


class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.times: dict[str, list[float]] = defaultdict(list)
        self.samples: list[tuple[float, str, float]] = []  # (when it was asked, route, ms)
        self.errors: dict[str, int] = defaultdict(int)
        self.codes: dict[int, int] = defaultdict(int)

    def add(self, route: str, status: int, ms: float) -> None:
        with self.lock:
            self.times[route].append(ms)
            self.samples.append((time.monotonic() - ms / 1000, route, ms))
            self.codes[status] += 1
            if status >= 500:
                self.errors[route] += 1


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


# -- the run -----------------------------------------------------------------------------------------------

def prepare_database(kind: str, work: Path) -> str:
    if kind == "sqlite":
        return f"sqlite:///{work / 'soak.db'}"
    url = os.environ.get("CLUSTERPBX_SOAK_POSTGRES_URL") or os.environ.get("CLUSTERPBX_TEST_POSTGRES_URL")
    if not url:
        raise SystemExit("--db postgresql needs CLUSTERPBX_SOAK_POSTGRES_URL (a database the bench may empty)")
    from sqlalchemy import text

    from clusterpbx.control.db import make_engine

    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    return url


def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    fh = open(log, "wb")  # noqa: SIM115 - closed when the process is reaped
    return subprocess.Popen(args, env=env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def wait_http(port: int, path: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, http.client.HTTPException):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", path)
            if conn.getresponse().status < 500:
                return
        time.sleep(0.3)
    raise SystemExit(f"the portal did not answer {path} within {timeout:.0f} s")


def backlog_bytes(pid: int, peer_ports: set[int]) -> int:
    """Bytes waiting unread in the daemon's sockets towards the PBX (its Recv-Q)."""
    out = subprocess.run(["ss", "-tnpH"], capture_output=True, text=True).stdout
    total = 0
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 5 and f"pid={pid}," in line:
            peer = parts[4].rsplit(":", 1)[-1]
            if peer.isdigit() and int(peer) in peer_ports:
                total += int(parts[1])
    return total


def run_once(opts: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="clusterpbx-soak-"))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        db_url = prepare_database(opts.db, work)
        web_port, control_port, ami_port, esl_port = free_port(), free_port(), free_port(), free_port()
        exe = str(Path(sys.executable).with_name("clusterpbx"))
        env = {**os.environ, "CLUSTERPBX_INSTANCE": str(work / "instance"), "CLUSTERPBX_DATABASE_URL": db_url,
               "CLUSTERPBX_CONTROL_URL": f"http://127.0.0.1:{control_port}",
               "CLUSTERPBX_SESSION_COOKIE_SECURE": "false", "CLUSTERPBX_PUBLIC_URL": f"http://127.0.0.1:{web_port}"}
        (work / "instance").mkdir()
        subprocess.run([exe, "db", "upgrade"], env=env, check=True, capture_output=True)
        pbx = start([sys.executable, "-m", "bench.soak", "--serve-pbx", db_url, str(ami_port), str(esl_port),
                     str(work / "spool"), str(opts.rate)], env, work / "pbx.log")
        procs.append(pbx)
        deadline = time.monotonic() + 60
        while b"READY" not in (work / "pbx.log").read_bytes():
            if pbx.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the embedded PBX did not start:\n" + (work / "pbx.log").read_text()[-3000:])
            time.sleep(0.2)
        daemon = start([exe, "control"], env, work / "control.log")
        web = start([exe, "web", "--bind", f"127.0.0.1:{web_port}", "--workers", "2"], env, work / "web.log")
        procs += [daemon, web]
        wait_http(web_port, "/health/")
        tokens = api_tokens(db_url, opts.users)
        result = load(opts, web_port, tokens, exe, env, daemon.pid, {ami_port, esl_port})
        result["logs"] = str(work)
        return result
    finally:
        for proc in reversed(procs):
            stop(proc)
        if not opts.keep:
            shutil.rmtree(work, ignore_errors=True)


def api_tokens(db_url: str, count: int) -> list[tuple[str, str]]:
    """(e-mail, bearer token) for the first `count` demo users with an extension."""
    from sqlalchemy import select

    from clusterpbx.control import apitokens
    from clusterpbx.control.db import make_engine, make_session_factory
    from clusterpbx.control.models import User

    engine = make_engine(db_url)
    out = []
    with make_session_factory(engine)() as db:
        users = [u for u in db.scalars(select(User).order_by(User.id)) if u.primary_extension is not None]
        for user in (users * (count // max(1, len(users)) + 1))[:count]:
            out.append((user.email, apitokens.create_user_token(db, user, name=f"soak-{len(out)}")[1]))
        db.commit()
    engine.dispose()
    return out


def load(opts: argparse.Namespace, port: int, tokens: list[tuple[str, str]], exe: str, env: dict[str, str],
         daemon_pid: int, pbx_ports: set[int]) -> dict[str, Any]:
    stats = Stats()
    stop_at = time.monotonic() + opts.seconds
    # The last DND value saved for each account (two simulated users may share one, as two tabs would).
    last_save: dict[str, tuple[float, bool]] = {}
    lock = threading.Lock()
    # The load of the targets is reached once every user has logged in and every live page is open; what
    # was asked before that (the login storm: argon2 at production cost, everyone at once) is the ramp.
    ramp = {"logged_in": 0, "logins_done_at": None,
            "pages_open_at": stop_at - opts.seconds if opts.live_pages == 0 else None}

    def user(i: int, email: str, token: str) -> None:
        rnd = random.Random(i)
        source = f"127.0.{1 + i // 250}.{1 + i % 250}"
        api = Client(port, source, stats)
        portal = Client(port, source, stats)
        auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        portal.form("/login", "/login", {"email": email, "password": PASSWORD}, "POST /login")
        with lock:
            ramp["logged_in"] += 1
            if ramp["logged_in"] == len(tokens):
                ramp["logins_done_at"] = time.monotonic()
        dnd = False
        n = 0
        while time.monotonic() < stop_at:
            n += 1
            dnd = not dnd
            status, _, _ = api.request("PATCH", "/api/v1/me/call-settings", "PATCH /api/v1/me/call-settings",
                                       json.dumps({"dnd": dnd}).encode(), auth)
            if status == 200:
                with lock:
                    last_save[email] = (time.monotonic(), dnd)
            api.request("GET", "/api/v1/me/call-records", "GET /api/v1/me/call-records", headers=auth)
            api.request("GET", "/api/v1/me/live-calls", "GET /api/v1/me/live-calls", headers=auth)
            portal.request("GET", "/calls/", "GET /calls/")
            if n % 3 == 0:
                status = portal.form("/settings/advanced", "/settings/advanced",
                                     {"dnd": "y" if dnd else "", "call_waiting": "y", "followme_delay": "20",
                                      "forward_noanswer_delay": "20", "language": "fr"}, "POST /settings/advanced")
                if status in (200, 302):
                    with lock:
                        last_save[email] = (time.monotonic(), dnd)
            if n % 5 == 0:
                portal.form("/directory/external", "/directory/",
                            {"name": f"Soak {i}-{n}", "number": f"514555{n % 10000:04d}"}, "POST /directory/external")
            portal.request("GET", "/static/style.css", "GET /static/style.css (ceiling)")
            time.sleep(rnd.uniform(0.2, 0.8))

    live_stats = {"open": 0, "failed": 0, "bytes": 0}

    async def live_page(i: int, cookie: str) -> None:
        # From the address the user logged in from: Flask-Login's strong session protection ties the
        # session to it, as it ties a browser's.
        source = f"127.0.{1 + i // 250}.{1 + i % 250}"
        writer = None
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
            writer.write(f"GET /live/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n"
                         f"Cookie: {cookie}\r\n\r\n".encode())
            await writer.drain()
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
            if b" 200 " not in head.split(b"\r\n", 1)[0]:
                live_stats["failed"] += 1
                live_stats.setdefault("why", head.split(b"\r\n", 1)[0].decode(errors="replace"))
                return
            live_stats["open"] += 1
            if live_stats["open"] == opts.live_pages and ramp["pages_open_at"] is None:
                ramp["pages_open_at"] = time.monotonic()
            while time.monotonic() < stop_at:
                chunk = await asyncio.wait_for(reader.read(65536), max(1.0, stop_at - time.monotonic() + 1))
                if not chunk:
                    # A stream the server ends (e.g. after a minute) is reopened, as the browser does.
                    writer.close()
                    live_stats["open"] -= 1
                    return await live_page(i, cookie)
                live_stats["bytes"] += len(chunk)
        except (TimeoutError, OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
            if time.monotonic() < stop_at:
                live_stats["failed"] += 1
                live_stats.setdefault("why", repr(exc)[:200])
        finally:
            if writer is not None:
                writer.close()

    def live_pages() -> None:
        cookies = []
        for i, (email, _token) in enumerate(tokens):
            c = Client(port, f"127.0.{1 + i // 250}.{1 + i % 250}", Stats())
            c.form("/login", "/login", {"email": email, "password": PASSWORD}, "login")
            cookies.append("; ".join(f"{k}={v}" for k, v in c.cookies.items()))

        async def all_pages() -> None:
            await asyncio.gather(*(live_page(j % len(cookies), cookies[j % len(cookies)])
                                   for j in range(opts.live_pages)))

        asyncio.run(all_pages())

    backlog: list[int] = []
    status_ms: list[float] = []
    ping_ms: list[float] = []

    def watch() -> None:
        from clusterpbx.control.commands import ControlClient, DaemonUnavailable

        secret = (Path(env["CLUSTERPBX_INSTANCE"]) / "control_secret").read_text().strip()
        control = ControlClient("127.0.0.1", int(env["CLUSTERPBX_CONTROL_URL"].rsplit(":", 1)[1]), secret, timeout=30)
        while time.monotonic() < stop_at:
            backlog.append(backlog_bytes(daemon_pid, pbx_ports))
            start = time.perf_counter()
            with contextlib.suppress(DaemonUnavailable, OSError):
                control.call("ping")  # the daemon's own loop answering
            ping_ms.append((time.perf_counter() - start) * 1000)
            start = time.perf_counter()
            subprocess.run([exe, "control", "--status"], env=env, capture_output=True, timeout=60)
            status_ms.append((time.perf_counter() - start) * 1000)
            time.sleep(2)

    threads = [threading.Thread(target=live_pages, daemon=True), threading.Thread(target=watch, daemon=True)]
    threads += [threading.Thread(target=user, args=(i, e, t), daemon=True) for i, (e, t) in enumerate(tokens)]
    for t in threads:
        t.start()
    for t in threads[1:]:
        t.join(opts.seconds + 120)
    threads[0].join(30)

    # The lag from each user's last save to "applied" (what the portal then shows).
    lags: list[float] = []
    checked: set[str] = set()
    for email, token in tokens:
        if email not in last_save or email in checked:
            continue
        checked.add(email)
        saved_at, wanted = last_save[email]
        c = Client(port, "127.0.0.1", Stats())
        auth = {"Authorization": f"Bearer {token}"}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            _, body, _ = c.request("GET", "/api/v1/me/call-settings", "lag check", headers=auth)
            with contextlib.suppress(ValueError):
                data = json.loads(body)
                # Two simulated users sharing an account race: the value last answered is not always the
                # value last written. What must hold is that the account's last write gets applied.
                shared = sum(1 for e, _t in tokens if e == email) > 1
                if data.get("sync_state") == "applied" and (shared or data.get("dnd") == wanted):
                    break
            time.sleep(0.1)
        lags.append(time.monotonic() - saved_at)
    reached = (ramp["logins_done_at"], ramp["pages_open_at"])
    # The load never reached: nothing counts as steady.
    steady_at = stop_at if None in reached else max(reached)
    return {"stats": stats, "live": live_stats, "steady_at": steady_at, "ramp_s": steady_at - (stop_at - opts.seconds),
            "lags": lags, "backlog": backlog, "status_ms": status_ms, "ping_ms": ping_ms}


def report(results: list[dict[str, Any]], opts: argparse.Namespace) -> int:
    print(f"\nsoak: {opts.db}, {opts.users} users, {opts.live_pages} live pages, {opts.seconds} s, "
          f"{opts.rate} calls/s, {len(results)} run(s)")
    routes = sorted({r for res in results for r in res["stats"].times})
    print("whole run (the ramp included), then the steady load only: what was asked once every user had logged in "
          "and every live page was open")
    print(f"{'route':44} {'n':>6} {'5xx':>5} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} | {'steady n':>8} "
          f"{'p50 ms':>8} {'p99 ms':>8}")
    worst_p99 = worst_all = 0.0
    errors = 0

    def steady(res: dict[str, Any], route: str) -> list[float]:
        return [ms for at, r, ms in res["stats"].samples if r == route and at >= res["steady_at"]]

    for route in routes:
        values = [v for res in results for v in res["stats"].times.get(route, [])]
        calm = [v for res in results for v in steady(res, route)]
        err = sum(res["stats"].errors.get(route, 0) for res in results)
        errors += err
        p99s = [pct(res["stats"].times.get(route, []), 99) for res in results]
        calm_p99s = [pct(steady(res, route), 99) for res in results]
        # The target is the steady load's: each user's one login at the start (argon2 by design, all
        # users at once) is printed but not held to it, nor is what was asked during that ramp.
        if "ceiling" not in route and "login" not in route:
            worst_p99 = max(worst_p99, statistics.median(calm_p99s))
            worst_all = max(worst_all, statistics.median(p99s))
        spread = f" (p99 per run {min(calm_p99s):.0f}-{max(calm_p99s):.0f})" if len(results) > 1 else ""
        print(f"{route:44} {len(values):6d} {err:5d} {pct(values, 50):8.1f} {pct(values, 95):8.1f} "
              f"{pct(values, 99):8.1f} | {len(calm):8d} {pct(calm, 50):8.1f} {pct(calm, 99):8.1f}{spread}")
    codes: dict[int, int] = defaultdict(int)
    for res in results:
        for code, n in res["stats"].codes.items():
            codes[code] += n
    print("answers by status:", dict(sorted(codes.items())))
    for k, res in enumerate(results):
        live = res["live"]
        why = f" ({live['why']})" if live.get("why") else ""
        print(f"run {k + 1}: live pages open at the end {live['open']}/{opts.live_pages}, failed {live['failed']}{why}, "
              f"{live['bytes']} bytes received; daemon backlog max {max(res['backlog'] or [0])} bytes; "
              f"control --status (whole command, Python start included) p50 {pct(res['status_ms'], 50):.0f} ms "
              f"max {max(res['status_ms'] or [0]):.0f} ms; daemon ping p50 {pct(res['ping_ms'], 50):.0f} ms "
              f"max {max(res['ping_ms'] or [0]):.0f} ms; "
              f"applied after last save: max {max(res['lags'] or [0]):.2f} s; ramp (logins, live pages) "
              f"{res['ramp_s']:.1f} s (logs {res['logs']})")
    max_lag = max((max(r["lags"] or [0]) for r in results), default=0)
    print("\ntargets:")
    ok = True
    for label, met in ((f"0 answers >= 500 (got {errors})", errors == 0),
                       (f"p99 < {TARGET_P99_MS:.0f} ms on every route of the steady load (worst median p99 {worst_p99:.0f} ms; "
                        f"{worst_all:.0f} ms with the ramp)",
                        worst_p99 < TARGET_P99_MS),
                       (f"every change applied within {TARGET_APPLY_S:.0f} s of the last save (max {max_lag:.2f} s)",
                        max_lag <= TARGET_APPLY_S)):
        print(f"  {'MET ' if met else 'MISSED'}  {label}")
        ok &= met
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--serve-pbx"]:
        serve_pbx(argv[1], int(argv[2]), int(argv[3]), argv[4], float(argv[5]))
        return 0
    p = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    p.add_argument("--users", type=int, default=20)
    p.add_argument("--live-pages", type=int, default=200)
    p.add_argument("--seconds", type=int, default=60)
    p.add_argument("--rate", type=float, default=2.0, help="calls per second on the embedded PBX")
    p.add_argument("--runs", type=int, default=1)
    p.add_argument("--keep", action="store_true", help="keep the logs and database of each run")
    opts = p.parse_args(argv)
    results = [run_once(opts) for _ in range(opts.runs)]
    return report(results, opts)


if __name__ == "__main__":
    sys.exit(main())
