"""Boot storm: 2,000 desk phones fetch their configuration at once from the provisioning endpoint,
served by gunicorn (2 workers of the kind `clusterpbx web` runs: the asgi worker, 16 threads each; or
gunicorn's sync workers with `--server sync`) on an ephemeral loopback port, with per-device HTTP Digest (each
config costs a challenge then the authenticated fetch, as on a real phone). In the same run, the same
server serves a static file the same number of times: that is the ceiling of this server on this machine.

  .venv/bin/python -m bench.provisioning [--phones 2000] [--concurrency 200] [--workers 2] [--rounds 3]
                                         [--server asgi|sync]
  .venv/bin/python -m bench.provisioning --backend postgresql   # uses CLUSTERPBX_TEST_POSTGRES_URL

Each round runs both storms, alternating which goes first; the first phone storm is the phones' first
boot since the server started (nothing rendered yet), the next ones a reboot of the same phones (the
server has rendered their files before). Prints configs per second and latency percentiles (p50, p99)
for both in every round, each round's ratios and their median and spread, and checks that every phone
got its own configuration and that every fetch was recorded in ProvisioningFetch.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, insert, select, text

from clusterpbx.control import migrate
from clusterpbx.control.accounts import create_tenant
from clusterpbx.control.db import make_engine, make_session_factory
from clusterpbx.control.models import Device, Extension, PhoneKey, ProvisioningFetch, User
from clusterpbx.provisioning import digest

VENDOR_FILES = {  # vendor, model, file the phone asks for
    "yealink": ("T46S", "{mac}.cfg"), "grandstream": ("GXP2170", "cfg{mac}.xml"),
    "polycom": ("VVX450", "{mac}-clusterpbx.cfg"), "cisco": ("CP-8841", "{mac}.xml"),
    "snom": ("D785", "snomD785-{MAC}.htm"), "fanvil": ("X4U", "{mac}.cfg"),
}


def build(url: str, phones: int) -> tuple[str, list[tuple[str, str, str]]]:
    """A tenant with `phones` users, each with an extension, 4 keys and a desk phone (vendors mixed)."""
    engine = make_engine(url)
    if url.startswith("postgresql"):
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    migrate.upgrade(url)
    vendors = list(VENDOR_FILES)
    out: list[tuple[str, str, str]] = []
    with make_session_factory(engine)() as db:
        tenant = create_tenant(db, "Bench Inc.", "bench.example.com")
        db.commit()
        tid, key = tenant.id, tenant.provisioning_key
        db.execute(insert(User), [{"tenant_id": tid, "email": f"u{i}@bench.example.com", "first_name": f"User{i}",
                                   "last_name": "Bench", "language": "fr", "can_use_blf": True}
                                  for i in range(phones)])
        ids = db.scalars(select(User.id).where(User.tenant_id == tid).order_by(User.id)).all()
        db.execute(insert(Extension), [{"tenant_id": tid, "user_id": uid, "number": str(10000 + i),
                                        "sip_username": f"bench-{10000 + i}", "sip_password": secrets.token_hex(8)}
                                       for i, uid in enumerate(ids)])
        keys = []
        for i, uid in enumerate(ids):
            keys += [{"user_id": uid, "position": 1, "kind": "line", "value": str(10000 + i), "label": ""},
                     {"user_id": uid, "position": 2, "kind": "blf", "value": str(10000 + (i + 1) % phones),
                      "label": f"Colleague {i}"},
                     {"user_id": uid, "position": 3, "kind": "speed", "value": "5149079050", "label": "Réception"},
                     {"user_id": uid, "position": 4, "kind": "speed", "value": "5145550000", "label": "Support"}]
        db.execute(insert(PhoneKey), keys)
        devices = []
        for i, uid in enumerate(ids):
            vendor = vendors[i % len(vendors)]
            mac = f"00aa{i:08x}"
            password = secrets.token_urlsafe(12)
            devices.append({"tenant_id": tid, "user_id": uid, "mac": mac, "vendor": vendor,
                            "model": VENDOR_FILES[vendor][0], "prov_username": mac, "prov_password": password,
                            "overrides": {"_prov": {"armed": True}}})
            name = VENDOR_FILES[vendor][1].format(mac=mac, MAC=mac.upper())
            out.append((f"/prov/{key}/{name}", mac, password))
        db.execute(insert(Device), devices)
        db.commit()
    if url.startswith("postgresql"):
        # Planner statistics, as a database in service has them (autovacuum analyzes a table within a minute
        # of a bulk load): without them PostgreSQL plans the presence-key lookup as a scan of the company's
        # extensions, and the first round measures that minute instead of the endpoint.
        with engine.begin() as conn:
            conn.execute(text("ANALYZE tenants, pbx_nodes, users, extensions, phone_keys, personal_contacts, devices"))
    engine.dispose()
    return key, out


async def http_get(port: int, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close",
             *(f"{k}: {v}" for k, v in headers.items()), "", ""]
    writer.write("\r\n".join(lines).encode())
    await writer.drain()
    raw = await reader.read()
    writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    hdrs = {}
    for line in header_lines:
        k, _, v = line.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    return int(status_line.split()[1]), hdrs, body


async def phone(port: int, path: str, mac: str, password: str) -> tuple[float, bool]:
    t0 = time.perf_counter()
    ua = {"User-Agent": f"BenchPhone {mac}"}
    status, hdrs, _ = await http_get(port, path, ua)
    if status != 401:
        return time.perf_counter() - t0, False
    auth = digest.client_header(mac, password, "GET", path, hdrs["www-authenticate"])
    status, _, body = await http_get(port, path, {**ua, "Authorization": auth})
    ok = status == 200 and (mac.encode() in body or mac.upper().encode() in body or b"bench-" in body)
    return time.perf_counter() - t0, ok


async def static(port: int, path: str) -> tuple[float, bool]:
    t0 = time.perf_counter()
    status, _, body = await http_get(port, path, {})
    return time.perf_counter() - t0, status == 200 and len(body) > 100


async def storm(factories: list, concurrency: int) -> tuple[float, list[float], int]:
    sem = asyncio.Semaphore(concurrency)

    async def one(make):  # type: ignore[no-untyped-def]
        async with sem:
            return await make()

    t0 = time.perf_counter()
    results = await asyncio.gather(*(one(f) for f in factories))
    elapsed = time.perf_counter() - t0
    return elapsed, [r[0] for r in results], sum(1 for r in results if not r[1])


def server_cpu(master: int) -> float:
    """CPU seconds (user + system) used so far by the gunicorn master's worker processes (Linux /proc):
    what a storm cost the server, whatever else the shared machine was doing meanwhile."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == master:  # fields[1] is the parent pid; utime, stime are fields[11], fields[12]
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def report(label: str, elapsed: float, latencies: list[float], failures: int) -> None:
    n = len(latencies)
    print(f"{label:<34} {n / elapsed:8.0f}/s   p50 {statistics.median(latencies) * 1000:7.1f} ms   "
          f"p99 {percentile(latencies, 99) * 1000:7.1f} ms   failures {failures}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phones", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=200,
                        help="connections in flight at once (phones beyond it wait, like a switch queue)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--server", choices=("sync", "asgi"), default="asgi",
                        help="the asgi worker `clusterpbx web` runs (default), or gunicorn's sync workers")
    parser.add_argument("--rounds", type=int, default=3,
                        help="rounds of (phones, static file), alternating which goes first; the first phone storm "
                             "is their first boot since the server started, the next ones a reboot")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="clusterpbx-bench-prov-"))
    try:
        url = (os.environ["CLUSTERPBX_TEST_POSTGRES_URL"] if args.backend == "postgresql"
               else f"sqlite:///{tmp / 'bench.db'}")
        t0 = time.perf_counter()
        _key, phones = build(url, args.phones)
        print(f"{args.phones} phones in the database in {time.perf_counter() - t0:.1f} s ({args.backend})")
        # A listening socket on an ephemeral loopback port, handed to gunicorn (no port race).
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen(2048)
        port = sock.getsockname()[1]
        env = {**os.environ, "CLUSTERPBX_DATABASE_URL": url, "CLUSTERPBX_INSTANCE": str(tmp / "instance"),
               "CLUSTERPBX_PUBLIC_URL": f"http://127.0.0.1:{port}", "CLUSTERPBX_RATELIMIT_STORAGE_URL": "memory://"}
        server = subprocess.Popen(  # noqa: S603 - fixed argv
            [sys.executable, "-m", "gunicorn", "--bind", f"fd://{sock.fileno()}", "--workers", str(args.workers),
             "--backlog", "2048", "--log-level", "warning",
             *(["clusterpbx.web.wsgi:app"] if args.server == "sync" else
               # what `clusterpbx web` runs (cli/cmd_web.py): the asyncio worker, Flask on a thread pool
               ["--worker-class", "asgi", "--worker-connections", "2000", "--graceful-timeout", "5", "--no-control-socket",
                "clusterpbx.web.asgi:make_app()"])],
            env=env, pass_fds=(sock.fileno(),), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            deadline = time.time() + 30
            while True:
                try:
                    # Bounded: the listening socket is ours, so a server that died leaves the probe unanswered.
                    status, _, _ = asyncio.run(asyncio.wait_for(http_get(port, "/static/style.css", {}), 5))
                    if status == 200:
                        break
                except (OSError, TimeoutError):
                    pass
                if time.time() > deadline or server.poll() is not None:
                    print("gunicorn did not start:", server.stderr.read().decode() if server.stderr else "")
                    return 1
                time.sleep(0.2)
            print(f"gunicorn: {args.workers} {args.server} workers on 127.0.0.1:{port}; {args.phones} phones, "
                  f"{args.concurrency} connections in flight; {os.cpu_count()} CPU(s); "
                  f"load average {os.getloadavg()[0]:.1f}")
            rounds: list[tuple[float, float, float, float]] = []  # phones/s, p99, static/s, static p99
            cpu_ratios: list[float] = []
            for r in range(args.rounds):
                # Alternated: the phones first in odd rounds, the static file first in even ones, so that
                # neither always gets the quieter half of a round on a shared machine.
                figures: dict[str, tuple[float, float]] = {}
                cpu: dict[str, float] = {}
                for what in (("phones", "static") if r % 2 == 0 else ("static", "phones")):
                    cpu_before = server_cpu(server.pid) + time.process_time()
                    if what == "phones":
                        label = "configs (401 challenge + Digest)" + (" [first boot]" if r == 0 else " [reboot]")
                        elapsed, lat, failed = asyncio.run(storm(
                            [lambda p=p: phone(port, *p) for p in phones], args.concurrency))
                    else:
                        label = "static file (ceiling)"
                        elapsed, lat, failed = asyncio.run(storm(
                            [lambda: static(port, "/static/style.css") for _ in phones], args.concurrency))
                    report(f"round {r + 1}: {label}", elapsed, lat, failed)
                    if failed:
                        print("failures: the round does not count")
                        return 1
                    figures[what] = (len(lat) / elapsed, percentile(lat, 99))
                    cpu[what] = server_cpu(server.pid) + time.process_time() - cpu_before
                (pr, pp), (sr, sp) = figures["phones"], figures["static"]
                rounds.append((pr, pp, sr, sp))
                cpu_ratios.append(cpu["static"] / cpu["phones"])
                print(f"round {r + 1}: {pr / sr:.2f} phones/s per static file/s, p99 {pp / sp:.2f} x the static p99; "
                      f"CPU (server workers + this client) per phone {cpu['phones'] / len(phones) * 1000:.2f} ms, "
                      f"per static file {cpu['static'] / len(phones) * 1000:.2f} ms: {cpu_ratios[-1]:.2f} phones "
                      f"per static file for the same CPU")
            ratios = [pr / sr for pr, _, sr, _ in rounds]
            p99s = [pp / sp for _, pp, _, sp in rounds]
            print(f"over {len(rounds)} rounds: phones/s per static/s median {statistics.median(ratios):.2f} "
                  f"(spread {min(ratios):.2f}-{max(ratios):.2f}); p99 / static p99 median {statistics.median(p99s):.2f} "
                  f"(spread {min(p99s):.2f}-{max(p99s):.2f}); phones per static file for the same CPU median "
                  f"{statistics.median(cpu_ratios):.2f} (spread {min(cpu_ratios):.2f}-{max(cpu_ratios):.2f}); "
                  f"load average {os.getloadavg()[0]:.1f}")
        finally:
            server.terminate()
            server.wait(15)
            sock.close()
        engine = make_engine(url)
        with make_session_factory(engine)() as db:
            logged = db.scalar(select(func.count()).select_from(ProvisioningFetch)
                               .where(ProvisioningFetch.result == 200))
        engine.dispose()
        print(f"fetches recorded in ProvisioningFetch: {logged} of {args.phones * args.rounds}")
        return 0 if logged == args.phones * args.rounds else 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
