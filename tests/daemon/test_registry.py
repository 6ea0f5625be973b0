"""The daemon's commands and jobs, registered by their feature modules (control/daemon/registry.py): every
command the portal and the CLI send is there, and the scheduler's job table keeps loading the jobs stored
before the daemon became a package (their reference is stored data)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import create_engine

from clusterpbx.control.daemon import COMMANDS, JOB_INTERVALS, JOBS, run_job
from clusterpbx.control.daemon.registry import command, job
from clusterpbx.control.daemon.scheduler import JOB_REF, JOBS_TABLE

ROOT = Path(__file__).resolve().parents[2]


def test_every_command_the_portal_and_the_cli_send_is_registered() -> None:
    sent = set()
    for folder in ("web", "cli", "control"):
        for path in (ROOT / folder).rglob("*.py"):
            sent.update(re.findall(r"\.call\(\s*\"(\w+)\"", path.read_text(encoding="utf-8")))
    assert {"apply_user", "voicemail_list", "sms_send", "ping"} <= sent
    assert not sent - set(COMMANDS), f"commands sent but registered by no feature: {sorted(sent - set(COMMANDS))}"
    # Each command runs the handler of its own name (`cmd_<name>`), in one of the daemon's modules.
    assert all(fn.__name__ == f"cmd_{name}" and fn.__module__.startswith("clusterpbx.control.daemon.")
               for name, fn in COMMANDS.items())
    assert {"out_of_office", "reconcile", "retention", "sms_retry", "webconf_usage", "live_sweep"} == set(JOB_INTERVALS)
    assert {name for name, j in JOBS.items() if j.per_node} == {"live_sweep", "reconcile", "catch_up"}


def test_a_name_is_registered_once_and_by_its_prefix() -> None:
    with pytest.raises(ValueError, match="registered twice"):
        command(COMMANDS["ping"])
    with pytest.raises(ValueError, match="cmd_<name>"):
        command(JOBS["retention"].run)
    with pytest.raises(ValueError, match="registered twice"):
        job(seconds=1)(JOBS["retention"].run)
    assert set(JOB_INTERVALS) | {"catch_up"} == set(JOBS)


def test_jobs_stored_under_the_old_reference_still_load(tmp_path: Path) -> None:
    """The job table holds `clusterpbx.control.daemon:run_job` (daemon.py's path before the package):
    a daemon started after the upgrade loads those rows and calls the function at that path."""
    assert JOB_REF == "clusterpbx.control.daemon:run_job"
    engine = create_engine(f"sqlite:///{tmp_path / 'jobs.db'}")
    before = BackgroundScheduler(jobstores={"default": {"type": "sqlalchemy", "engine": engine,
                                                        "tablename": JOBS_TABLE}})
    before.start(paused=True)
    before.add_job("clusterpbx.control.daemon:run_job", "interval", seconds=60, args=["retention"], id="retention")
    before.shutdown(wait=False)

    after = BackgroundScheduler(jobstores={"default": {"type": "sqlalchemy", "engine": engine,
                                                       "tablename": JOBS_TABLE}})
    after.start(paused=True)
    try:
        (stored,) = after.get_jobs()
        assert stored.func is run_job and stored.args == ("retention",)
        assert run_job("retention") is None  # no daemon running in this process: nothing runs
    finally:
        after.shutdown(wait=False)
    engine.dispose()
