"""The provisioning fetch log, written in batches.

Every request to `/prov/` leaves a row (outcome, MAC, client address), refused and rate-limited ones
included, so an operator can see a misconfigured phone or a scanner. A boot storm must not pay a
database transaction per fetch, so rows go into an in-process buffer that one background thread per
process writes every `interval` seconds in one short transaction (or sooner when `batch` rows wait).
If the database is busy the rows stay in the buffer and go with the next batch; past `capacity` the
oldest are dropped and counted in the log rather than growing without bound.
"""

from __future__ import annotations

import atexit
import logging
import threading
import weakref
from collections import deque
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from clusterpbx.control.admin.fetchlog import OUTCOMES
from clusterpbx.control.models import Device, ProvisioningFetch, Tenant, utcnow

__all__ = ["OUTCOMES", "FetchLogWriter", "close_all", "flush_all"]

log = logging.getLogger("clusterpbx.web.provision")

_WRITERS: weakref.WeakSet[FetchLogWriter] = weakref.WeakSet()


class FetchLogWriter:
    def __init__(self, sessions: sessionmaker[Session], *, interval: float = 0.5, batch: int = 500,
                 capacity: int = 100_000) -> None:
        self._sessions = sessions
        self._interval = interval
        self._batch = batch
        self._rows: deque[dict[str, Any]] = deque()
        self._capacity = capacity
        self._dropped = 0
        self._writing = 0  # rows taken off the queue whose batch is not committed yet
        self._lock = threading.Lock()       # guards _rows, _writing and the thread's start
        self._write_lock = threading.Lock()  # one writer at a time, so rows keep their order
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False
        _WRITERS.add(self)

    def add(self, *, outcome: str, result: int, mac: str = "", address: str = "", path: str = "",
            device_id: int | None = None, tenant_id: int | None = None) -> None:
        """Queue one row; never blocks on the database."""
        row = {"at": utcnow(), "outcome": outcome[:24], "result": result, "mac": mac[:32],
               "address": address[:64], "path": path[:255], "device_id": device_id, "tenant_id": tenant_id}
        with self._lock:
            if len(self._rows) >= self._capacity:
                self._rows.popleft()
                self._dropped += 1
            self._rows.append(row)
            pending = len(self._rows)
            if self._thread is None and not self._closed:
                # Started on first use, so a forking server (gunicorn) starts it in each worker.
                self._thread = threading.Thread(target=self._run, name="prov-fetch-log", daemon=True)
                self._thread.start()
        if pending >= self._batch:
            self._wake.set()

    def pending(self) -> int:
        """Rows not in the database yet: queued, or in a batch being written."""
        with self._lock:
            return len(self._rows) + self._writing

    def flush(self) -> int:
        """Write everything queued now; returns the number of rows written (0 if the database refused,
        in which case they stay queued)."""
        with self._write_lock:
            with self._lock:
                rows = list(self._rows)
                self._rows.clear()
                self._writing = len(rows)
                dropped, self._dropped = self._dropped, 0
            if dropped:
                log.warning("provisioning fetch log: %d rows dropped (database unavailable too long)", dropped)
            if not rows:
                return 0
            try:
                self._write(rows)
            except Exception:  # noqa: BLE001 - keep the rows and try again with the next batch
                log.warning("provisioning fetch log: could not write %d rows; will retry", len(rows), exc_info=True)
                with self._lock:
                    self._writing = 0
                    # Back in front of what came meanwhile, oldest first; the oldest go if it is full.
                    room = self._capacity - len(self._rows)
                    keep = rows[-room:] if room > 0 else []
                    self._dropped += len(rows) - len(keep)
                    self._rows.extendleft(reversed(keep))
                return 0
            with self._lock:
                self._writing = 0
            return len(rows)

    def _write(self, rows: list[dict[str, Any]]) -> None:
        try:
            with self._sessions() as db:
                db.execute(insert(ProvisioningFetch), rows)
                db.commit()
        except IntegrityError:
            # A phone or company deleted between its fetch and this batch: the row is kept without
            # the link (the fetch did happen); retrying the same rows would fail for ever.
            with self._sessions() as db:
                devices = set(db.scalars(select(Device.id).where(
                    Device.id.in_({r["device_id"] for r in rows if r["device_id"] is not None}))))
                tenants = set(db.scalars(select(Tenant.id).where(
                    Tenant.id.in_({r["tenant_id"] for r in rows if r["tenant_id"] is not None}))))
                for r in rows:
                    if r["device_id"] not in devices:
                        r["device_id"] = None
                    if r["tenant_id"] not in tenants:
                        r["tenant_id"] = None
                db.execute(insert(ProvisioningFetch), rows)
                db.commit()

    def close(self, timeout: float = 5.0) -> None:
        """Stop the thread and write what is queued (at app shutdown; tests before they empty tables)."""
        with self._lock:
            self._closed = True
            thread = self._thread
        self._wake.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        self.flush()

    def _run(self) -> None:
        while not self._closed:
            self._wake.wait(self._interval)
            self._wake.clear()
            self.flush()


def flush_all() -> None:
    """Write what every writer of this process holds (tests, and at exit)."""
    for writer in list(_WRITERS):
        writer.flush()


def close_all() -> None:
    """Stop every writer of this process (nothing of theirs touches the database afterwards)."""
    for writer in list(_WRITERS):
        writer.close()


atexit.register(flush_all)
