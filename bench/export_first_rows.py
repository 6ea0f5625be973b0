"""When does a long call-records export start? The admin-wide CSV export of bench.calls' tenant (1,000,000
rows by default, SQLite), by the export of an earlier revision of control/calllog.py and by the
current one, alternately, each beside `sqlite3 -csv` running the same query (the ceiling) in the same
run.

  .venv/bin/python -m bench.export_first_rows --before 2f12591 [--runs 3] [--rows 1000000] [--db PATH]
  .venv/bin/python -m bench.export_first_rows --before 2f12591 --backend postgresql [--reuse]

--db keeps the generated SQLite database at PATH and reuses it on the next call (generating 1,000,000
rows takes minutes). --backend postgresql uses CLUSTERPBX_TEST_POSTGRES_URL (a database of its own:
its schema is dropped and rebuilt unless --reuse) and `psql \\copy` as the ceiling. Prints per run and as median (min-max): the seconds until the first rows (the chunk
after the header row), the whole export's time, rows/s and CPU seconds of the exporting process, and
the peak memory of each export (its own child process's VmHWM).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = r"""
import importlib.util, json, sys, time
from clusterpbx.control.db import make_engine, make_session_factory
path, url = sys.argv[1], sys.argv[2]
if path:
    spec = importlib.util.spec_from_file_location("clusterpbx.control._calllog_before", path)
    mod = importlib.util.module_from_spec(spec); sys.modules[spec.name] = mod; spec.loader.exec_module(mod)
else:
    from clusterpbx.control import calllog as mod
db = make_session_factory(make_engine(url))()
q = mod.CallQuery(user_id=None, tenant_id=1, timezone="America/Montreal")
t0 = time.perf_counter(); c0 = time.process_time(); first = None; rows = -1
for n, chunk in enumerate(mod.export_csv(db, q, [str(i) for i in range(10)], {}, ";")):
    if n == 1:
        first = time.perf_counter() - t0
    rows += chunk.count(b"\r\n")
total = time.perf_counter() - t0
hwm = int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1])
print(json.dumps({"first": first, "total": total, "rows": rows, "cpu": time.process_time() - c0, "hwm_mb": hwm / 1024}))
"""

QUERY = ("SELECT caller_name, caller_number, dialed_number, callee, started_at, duration_seconds, status, "
         "recording_status, call_type, cost FROM call_records WHERE tenant_id = 1 ORDER BY started_at, id")


def export(module_path: str, url: str) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", CHILD, module_path, url], capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout)


def ceiling(url: str, rows: int) -> float:
    t0 = time.perf_counter()
    if url.startswith("sqlite"):
        subprocess.run(["sqlite3", "-csv", url.split("///", 1)[1], QUERY], stdout=subprocess.DEVNULL, check=True)
    else:
        from sqlalchemy.engine import make_url

        u = make_url(url)
        subprocess.run(["psql", "-h", u.host or "127.0.0.1", "-p", str(u.port or 5432), "-U", u.username or "",
                        u.database or "", "-c", f"\\copy ({QUERY}) TO STDOUT WITH CSV"], stdout=subprocess.DEVNULL,
                       env=dict(os.environ, PGPASSWORD=u.password or ""), check=True)
    return rows / (time.perf_counter() - t0)


def spread(values: list[float], fmt: str) -> str:
    return f"{fmt.format(statistics.median(values))} ({fmt.format(min(values))}-{fmt.format(max(values))})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", required=True, help="git revision whose control/calllog.py is 'before'")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--db", default="")
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--reuse", action="store_true", help="PostgreSQL: keep the rows already there")
    args = parser.parse_args()
    root = Path(__file__).resolve().parents[1]
    work = Path(tempfile.mkdtemp(prefix="bench-export-"))
    before = work / "calllog_before.py"
    before.write_text(subprocess.run(["git", "show", f"{args.before}:control/calllog.py"], cwd=root,
                                     capture_output=True, text=True, check=True).stdout)
    db_path = Path(args.db) if args.db else work / "bench.db"
    url = f"sqlite:///{db_path}" if args.backend == "sqlite" else os.environ["CLUSTERPBX_TEST_POSTGRES_URL"]
    tool = "sqlite3 -csv" if args.backend == "sqlite" else "psql \\copy"
    if (not db_path.exists()) if args.backend == "sqlite" else not args.reuse:
        from bench.calls import build

        _admin, _ids, seconds = build(url, args.rows, 10_000)
        print(f"{args.rows} call records generated in {seconds:.0f} s")
    results: dict[str, list[dict[str, float]]] = {"before": [], "after": []}
    ceilings = []
    for run in range(1, args.runs + 1):
        for name, path in (("before", str(before)), ("after", "")):
            r = export(path, url)
            assert r["rows"] == args.rows, r
            results[name].append(r)
            print(f"run {run} {name:6}: first rows after {r['first']:.2f} s, {r['rows']} rows in {r['total']:.1f} s "
                  f"= {r['rows'] / r['total']:,.0f} rows/s, {r['cpu']:.1f} s CPU, peak RSS {r['hwm_mb']:.0f} MB",
                  flush=True)
        ceilings.append(ceiling(url, args.rows))
        print(f"run {run} ceiling {tool}: {ceilings[-1]:,.0f} rows/s; load average {os.getloadavg()[0]:.1f} "
              f"on {os.cpu_count()} CPUs", flush=True)
    print(f"median (min-max) of {args.runs} runs:")
    for name, rs in results.items():
        print(f"  {name:6}: first rows after {spread([r['first'] for r in rs], '{:.2f}')} s; "
              f"{spread([r['rows'] / r['total'] for r in rs], '{:,.0f}')} rows/s; "
              f"CPU {spread([r['cpu'] for r in rs], '{:.1f}')} s; peak RSS {spread([r['hwm_mb'] for r in rs], '{:.0f}')} MB")
    print(f"  ceiling {tool}: {spread(ceilings, '{:,.0f}')} rows/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
