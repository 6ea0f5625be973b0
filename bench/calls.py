"""Benchmark of the three daily screens at real volume: 1,000,000 call records in one tenant (10,000
users over two years), on SQLite and/or PostgreSQL.

  .venv/bin/python -m bench.calls --backend sqlite [--rows 1000000] [--users 10000]
  .venv/bin/python -m bench.calls --backend postgresql   # uses CLUSTERPBX_TEST_POSTGRES_URL
  [--export-runs 3]   # the export and its ceiling, alternately, N times each: prints every run, the
                      # median and the best

Prints: generation time; the first page of one user's records for a one-month range with a search
term (median and p95 of the server time over 200 requests through the Flask app); the admin-wide CSV
export of every row (rows per second, seconds until the first rows and peak memory, measured in a
child process) beside `sqlite3 -csv` exporting the same query in the same run (SQLite only) or
`psql \\copy` (PostgreSQL);
and the live calls page with 2,000 live calls (it renders the PAGE_ROWS most recent).
"""

from __future__ import annotations

import datetime as dt
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal

from sqlalchemy import insert, text

from bench._setup import bench_args, bench_company, database_url, fresh_database, live_call_rows, pct
from clusterpbx.control.models import CallRecord, Extension, LiveCall, Role, User
from clusterpbx.control.passwords import hash_password

NAMES = ["Tremblay", "Gagnon", "Roy", "Côté", "Bouchard", "Gauthier", "Morin", "Lavoie", "Fortin", "Gagné",
         "Ouellet", "Pelletier", "Bélanger", "Lévesque", "Bergeron", "Leblanc", "Paquette", "Girard", "Simard",
         "Boucher"]


def build(url: str, rows: int, users: int, seed: int = 7) -> tuple[int, list[int], float]:
    engine, sessions = fresh_database(url)
    rng = random.Random(seed)
    t0 = time.perf_counter()
    with sessions() as db:
        node, tenant = bench_company(db)
        pw = hash_password("Bench-2026")
        db.commit()
        tid = tenant.id
        user_rows = [{"tenant_id": tid, "email": f"u{i}@bench.example.com", "password_hash": pw,
                      "first_name": f"User{i}", "last_name": rng.choice(NAMES), "language": "fr",
                      "role": Role.USER} for i in range(users)]
        db.execute(insert(User), user_rows)
        db.commit()
        ids = [r[0] for r in db.execute(text("SELECT id FROM users ORDER BY id"))]
        db.execute(insert(Extension), [{"tenant_id": tid, "user_id": uid, "number": str(10000 + n),
                                        "sip_username": str(10000 + n), "sip_password": "x", "mailbox": ""}
                                       for n, uid in enumerate(ids)])
        admin = ids[0]
        db.execute(text("UPDATE users SET role='tenant_admin', email='admin@bench.example.com' WHERE id=:i"),
                   {"i": admin})
        db.commit()
        start = dt.datetime(2024, 11, 27)
        span = 2 * 365 * 86400
        batch = []
        conn = db.connection()
        for n in range(rows):
            uid = ids[rng.randrange(len(ids))]
            kind = rng.choice(("incoming", "outgoing", "outgoing", "internal"))
            status = rng.choices(("answered", "no_answer", "busy", "failed"), (80, 14, 4, 2))[0]
            dur = rng.randint(5, 900) if status == "answered" else rng.randint(0, 30)
            name = f"{rng.choice(NAMES)} {rng.choice(NAMES)}"
            batch.append({"tenant_id": tid, "user_id": uid, "node_id": node.id, "pbx_call_id": f"b{n}",
                          "caller_name": name, "caller_number": f"514{rng.randrange(10**7):07d}",
                          "dialed_number": f"1{rng.choice(('514', '438', '800', '613'))}{rng.randrange(10**7):07d}",
                          "callee": name, "started_at": start + dt.timedelta(seconds=rng.randrange(span)),
                          "answered_at": None, "duration_seconds": dur, "billable_seconds": dur,
                          "status": status, "recording_status": "none", "recording_path": "", "call_type": kind,
                          "cost": Decimal("0.02") * (dur // 60)})
            if len(batch) == 20000:
                conn.execute(insert(CallRecord.__table__), batch)
                batch.clear()
        if batch:
            conn.execute(insert(CallRecord.__table__), batch)
        db.commit()
        db.connection().execute(insert(LiveCall.__table__), live_call_rows(node.id, tid, 2000, users))
        db.commit()
    if url.startswith("postgresql"):
        # Autocommit: an ANALYZE inside the connection's implicit transaction was rolled back on close,
        # which left the planner without statistics.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.execute(text("ANALYZE call_records"))
            c.execute(text("ANALYZE"))
    else:
        with engine.begin() as c:
            c.execute(text("ANALYZE"))
    engine.dispose()
    return admin, ids, time.perf_counter() - t0


def login(client: object, email: str) -> None:
    import re

    html = client.get("/login").get_data(as_text=True)  # type: ignore[attr-defined]
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]
    resp = client.post("/login", data={"email": email, "password": "Bench-2026", "language": "fr",  # type: ignore
                                       "csrf_token": token})
    assert resp.status_code == 302, resp.status_code


def bench_pages(url: str, admin: int, ids: list[int], instance: str, samples: int = 200) -> dict[str, float]:
    from clusterpbx.web import create_app
    from clusterpbx.web.live import PAGE_ROWS

    app = create_app({"SETTINGS": {"database_url": url, "instance_path": instance,
                                   "session_cookie_secure": False, "login_rate_limit": "100000 per minute"}})
    rng = random.Random(3)
    times = []
    engine = app.extensions["clusterpbx.engine"]
    with engine.connect() as c:
        emails = dict(c.execute(text("SELECT id, email FROM users")).all())
    terms = ["tremblay", "514", "gagnon", "roy", "438"]
    client = app.test_client()
    for i in range(samples):
        if i % 20 == 0:  # a new user every 20 requests
            client = app.test_client()
            login(client, emails[ids[rng.randrange(len(ids))]])
        month = rng.randrange(1, 22)
        start = dt.date(2024, 12, 1) + dt.timedelta(days=30 * month)
        end = start + dt.timedelta(days=30)
        t0 = time.perf_counter()
        resp = client.get(f"/calls/?start={start}&end={end}&q={rng.choice(terms)}")
        times.append((time.perf_counter() - t0) * 1000)
        assert resp.status_code == 200
    admin_client = app.test_client()
    login(admin_client, emails[admin])
    live = []
    for _ in range(20):
        t0 = time.perf_counter()
        resp = admin_client.get("/live/")
        live.append((time.perf_counter() - t0) * 1000)
        assert resp.status_code == 200 and resp.data.count(b"<tr data-id") == min(PAGE_ROWS, 2000)
    return {"page_median_ms": statistics.median(times), "page_p95_ms": pct(times, 95),
            "live_median_ms": statistics.median(live), "live_p95_ms": pct(live, 95)}


# Peak memory is read from VmHWM (per address space): ru_maxrss survives exec and would report the
# parent's size.
HWM = "int(next(l for l in open('/proc/self/status') if l.startswith('VmHWM')).split()[1])"
EXPORT_CHILD = r"""
import sys, time
from clusterpbx.control import calllog
from clusterpbx.control.db import make_engine, make_session_factory
url, tenant = sys.argv[1], int(sys.argv[2])
db = make_session_factory(make_engine(url))()
q = calllog.CallQuery(user_id=None, tenant_id=tenant, timezone="America/Montreal")
labels = {}
t0 = time.perf_counter(); c0 = time.process_time(); size = 0; first = None
with open(sys.argv[3], "wb") as out:
    for n, chunk in enumerate(calllog.export_csv(db, q, [str(i) for i in range(10)], labels, ";")):
        out.write(chunk); size += len(chunk)
        if n == 1:  # the first rows (chunk 0 is the header row)
            first = time.perf_counter() - t0
dt = time.perf_counter() - t0
print(dt, size, HWM, time.process_time() - c0, first)
""".replace("HWM", HWM)


def bench_export(url: str, rows: int, workdir: str) -> dict[str, float]:
    out = os.path.join(workdir, "export.csv")
    base = subprocess.run([sys.executable, "-c", "import clusterpbx.control.calllog, clusterpbx.control.db; "
                           f"print({HWM})"], capture_output=True, text=True, check=True)
    res = subprocess.run([sys.executable, "-c", EXPORT_CHILD, url, "1", out], capture_output=True, text=True,
                         check=True)
    seconds, size, maxrss, cpu, first = res.stdout.split()
    lines = sum(1 for _ in open(out, "rb")) - 1
    assert lines == rows, (lines, rows)
    result = {"export_rows_per_s": rows / float(seconds), "export_seconds": float(seconds),
              "export_peak_rss_mb": int(maxrss) / 1024, "import_baseline_rss_mb": int(base.stdout) / 1024,
              "export_mb": int(size) / 1e6, "export_cpu_s": float(cpu),
              "export_first_rows_s": float(first) if first != "None" else float(seconds)}
    query = ("SELECT caller_name, caller_number, dialed_number, callee, started_at, duration_seconds, status, "
             "recording_status, call_type, cost FROM call_records WHERE tenant_id = 1 ORDER BY started_at, id")
    t0 = time.perf_counter()
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1]
        with open(os.path.join(workdir, "ceiling.csv"), "wb") as f:
            subprocess.run(["sqlite3", "-csv", path, query], stdout=f, check=True)
        result["ceiling_tool"] = "sqlite3 -csv"  # type: ignore[assignment]
    else:
        from sqlalchemy.engine import make_url

        u = make_url(url)
        env = dict(os.environ, PGPASSWORD=u.password or "")
        with open(os.path.join(workdir, "ceiling.csv"), "wb") as f:
            subprocess.run(["psql", "-h", u.host or "127.0.0.1", "-p", str(u.port or 5432), "-U", u.username or "",
                            u.database or "", "-c", f"\\copy ({query}) TO STDOUT WITH CSV"], stdout=f, env=env,
                           check=True)
        result["ceiling_tool"] = "psql \\copy"  # type: ignore[assignment]
    result["ceiling_rows_per_s"] = rows / (time.perf_counter() - t0)
    return result


def main() -> int:
    args = bench_args(__doc__, rows=1_000_000, users=10_000, samples=200, export_runs=3)
    workdir = tempfile.mkdtemp(prefix="cpbx-bench-")
    try:
        url = database_url(args.backend, workdir)
        admin, ids, gen = build(url, args.rows, args.users)
        print(f"backend={args.backend} rows={args.rows} users={args.users} generated in {gen:.1f}s")
        pages = bench_pages(url, admin, ids, os.path.join(workdir, "instance"), args.samples)
        print(f"first page, one user, one month, search term: median {pages['page_median_ms']:.1f} ms, "
              f"p95 {pages['page_p95_ms']:.1f} ms ({args.samples} requests)")
        print(f"live calls page, 2,000 live calls (admin): median {pages['live_median_ms']:.1f} ms, "
              f"p95 {pages['live_p95_ms']:.1f} ms")
        runs = []
        for n in range(1, args.export_runs + 1):
            exp = bench_export(url, args.rows, workdir)
            runs.append(exp)
            print(f"run {n}: CSV export of {args.rows} rows: {exp['export_rows_per_s']:,.0f} rows/s "
                  f"({exp['export_seconds']:.1f}s, {exp['export_mb']:.0f} MB), first rows after "
                  f"{exp['export_first_rows_s']:.2f}s, peak RSS "
                  f"{exp['export_peak_rss_mb']:.0f} MB (interpreter+imports alone "
                  f"{exp['import_baseline_rss_mb']:.0f} MB), {exp['export_cpu_s']:.1f}s CPU in the exporting "
                  f"process; ceiling {exp['ceiling_tool']}: {exp['ceiling_rows_per_s']:,.0f} rows/s")
        rates = sorted(r["export_rows_per_s"] for r in runs)
        ceilings = sorted(r["ceiling_rows_per_s"] for r in runs)
        firsts = sorted(r["export_first_rows_s"] for r in runs)
        print(f"CSV export, first rows after: median {statistics.median(firsts):.2f}s "
              f"(runs {firsts[0]:.2f}-{firsts[-1]:.2f}s); rows/s median {statistics.median(rates):,.0f}; "
              f"ceiling median {statistics.median(ceilings):,.0f}")
        print(f"CSV export, best of {len(runs)}: {rates[-1]:,.0f} rows/s (runs {rates[0]:,.0f}-{rates[-1]:,.0f}), "
              f"peak RSS at most {max(r['export_peak_rss_mb'] for r in runs):.0f} MB; ceiling {runs[0]['ceiling_tool']} "
              f"best {ceilings[-1]:,.0f} rows/s (runs {ceilings[0]:,.0f}-{ceilings[-1]:,.0f}); "
              f"load average at the end {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        return 0
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
