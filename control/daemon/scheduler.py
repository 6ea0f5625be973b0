"""The scheduled jobs' clock: APScheduler with its jobs stored in the database (they survive a restart).
Every daemon schedules every job of the registry (registry.py); a job body runs only in the daemon that
holds the scheduler lease (core.py). The scheduler and its job store run on their own thread (a
BackgroundScheduler), so the job store's database writes never block the event loop; each body is run on
the daemon's loop by `run_job`."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from collections.abc import Coroutine
from typing import Any, Protocol

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import Engine, inspect
from sqlalchemy.exc import IntegrityError, ProgrammingError

from .registry import JOB_INTERVALS

log = logging.getLogger(__name__)

JOBS_TABLE = "apscheduler_jobs"
# What the job table stores for every job: the function APScheduler calls, by reference. Jobs stored by
# earlier versions name it so too; it must stay importable at this path (clusterpbx.control.daemon
# re-exports `run_job`).
JOB_REF = "clusterpbx.control.daemon:run_job"


class JobHost(Protocol):
    """The running daemon, as `run_job` sees it."""

    loop: asyncio.AbstractEventLoop | None
    running_jobs: set[concurrent.futures.Future[Any]]

    def run_job(self, name: str) -> Coroutine[Any, Any, Any]: ...


CURRENT: JobHost | None = None  # the daemon whose scheduler runs (one per process)


def run_job(name: str) -> Any:
    """Entry point APScheduler stores by reference, called on the scheduler's thread: runs the job on
    the running daemon's event loop and waits for it (one run of a job at a time)."""
    daemon = CURRENT
    if daemon is None or daemon.loop is None or daemon.loop.is_closed():
        return None
    loop = daemon.loop
    future = asyncio.run_coroutine_threadsafe(daemon.run_job(name), loop)
    daemon.running_jobs.add(future)
    try:
        while not concurrent.futures.wait([future], timeout=1.0).done:
            if not loop.is_running():  # the loop is gone without stop(): do not wait forever
                future.cancel()
                return None
        return future.result()
    except concurrent.futures.CancelledError:
        return None  # the daemon stopped meanwhile
    finally:
        daemon.running_jobs.discard(future)


def start_scheduler(host: JobHost, engine: Engine) -> BackgroundScheduler:
    """Schedule every job of JOB_INTERVALS for `host` (replacing what the job table held) and start."""
    global CURRENT
    CURRENT = host
    store = SQLAlchemyJobStore(engine=engine, tablename=JOBS_TABLE)
    try:
        # The job store creates its table when missing, at start. Two daemons starting together on a
        # new database both found it missing and the second's CREATE TABLE failed (a unique violation
        # in PostgreSQL's catalog), which ended that daemon: created here, the loser of the race sees
        # the winner's table.
        store.jobs_t.create(engine, checkfirst=True)
    except (IntegrityError, ProgrammingError):
        if not inspect(engine).has_table(JOBS_TABLE):
            raise  # not the race (no right to create it, say): the daemon cannot run its jobs
        log.info("job table %s: created by another daemon at the same moment", JOBS_TABLE)
    scheduler = BackgroundScheduler(
        jobstores={"default": store},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 300})
    for name, seconds in JOB_INTERVALS.items():
        scheduler.add_job(JOB_REF, "interval", seconds=seconds, args=[name], id=name, replace_existing=True)
    scheduler.start()
    return scheduler


def forget(host: JobHost) -> None:
    """The daemon stopped: `run_job` no longer reaches it."""
    global CURRENT
    if CURRENT is host:
        CURRENT = None
