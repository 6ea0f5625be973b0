"""Engine and session factory; one place that knows how to open the database.

The transaction rules (docs/transactions.md) are enforced here for SQLite:

* WAL, so readers never wait for the writer and the writer never waits for readers.
* A busy timeout (`BUSY_TIMEOUT`, 5 s) shorter than anyone should wait: past it the caller gets a
  "database is locked" error that the portal turns into "busy, try again" (503), never a 500.
* We, not the sqlite3 module, open transactions (SQLAlchemy's documented pysqlite recipe). A transaction
  that writes takes the write lock up front with `BEGIN IMMEDIATE`, so two writers queue on the busy
  timeout instead of one failing at once when it upgrades a stale read snapshot to a write
  (SQLITE_BUSY_SNAPSHOT, which no timeout helps with). Reads run without holding a snapshot: a
  session that only reads never blocks a writer nor keeps a transaction open across a network call.
  A writer session (`make_session_factory(engine, write=True)`, the daemon's) begins IMMEDIATE before
  its first statement, so what it reads and what it writes are one atomic step.

PostgreSQL keeps its defaults (READ COMMITTED, row locks), plus a `lock_timeout` so a statement waits at
most `BUSY_TIMEOUT` for a lock, with the same outcome as SQLite's busy timeout.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import sqlite3
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session, sessionmaker

T = TypeVar("T")

BUSY_TIMEOUT = 5.0  # seconds a statement waits for a lock before "busy, try again"
READ_POOL_SIZE = 3  # PostgreSQL connections of a process's read engine (make_read_engine)
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE", "SAVEPOINT")  # a savepoint is there to write
# PostgreSQL SQLSTATEs that mean "someone else holds what we need; the same request will work later":
# lock_not_available (lock_timeout), serialization_failure, deadlock_detected, query_canceled
# (statement_timeout).
PG_BUSY_STATES = {"55P03", "40001", "40P01", "57014"}


def make_engine(url: str, *, busy_timeout: float = BUSY_TIMEOUT, **kwargs: Any) -> Engine:
    sqlite_url = url.startswith("sqlite")
    memory = sqlite_url and (":memory:" in url or url.rstrip("/") in ("sqlite:", "sqlite+pysqlite:"))
    if busy_timeout and not memory:
        # Waiting for a pooled connection is waiting too: no longer than for a lock.
        kwargs.setdefault("pool_timeout", busy_timeout)
    if sqlite_url:
        kwargs.setdefault("connect_args", {"check_same_thread": False, "timeout": busy_timeout})
        if not memory:
            # SQLite connections are cheap; every web thread and the daemon's threads may hold one.
            kwargs.setdefault("pool_size", 20)
            kwargs.setdefault("max_overflow", 20)
    elif url.startswith("postgresql") and busy_timeout:
        kwargs.setdefault("connect_args", _pg_lock_timeout(busy_timeout))
    engine = create_engine(url, future=True, pool_pre_ping=not sqlite_url, **kwargs)
    if sqlite_url:
        _sqlite_transactions(engine, memory=memory)
    return engine


def _sqlite_transactions(engine: Engine, memory: bool) -> None:
    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
        # The sqlite3 module's own transaction handling is off: the listeners below open transactions.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        # WAL lets the web workers read while the daemon writes; FKs are off by default in SQLite.
        cur.execute("PRAGMA foreign_keys=ON")
        if not memory:
            cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        # A writer session takes the write lock before it reads anything; others begin at their first write.
        if conn.get_execution_options().get("sqlite_begin") == "IMMEDIATE":
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    def _write_begins(cursor: Any, statement: str, _context: Any) -> None:
        if not cursor.connection.in_transaction and statement.lstrip()[:9].upper().startswith(_WRITES):
            cursor.execute("BEGIN IMMEDIATE")

    # In do_execute (not before_cursor_execute) so that a lock not had in time is raised as SQLAlchemy's
    # OperationalError, like any other statement's.
    @event.listens_for(engine, "do_execute")
    def _do_execute(cursor: Any, statement: str, _params: Any, context: Any) -> None:
        _write_begins(cursor, statement, context)

    @event.listens_for(engine, "do_executemany")
    def _do_executemany(cursor: Any, statement: str, _params: Any, context: Any) -> None:
        _write_begins(cursor, statement, context)


def make_read_engine(engine: Engine, busy_timeout: float = BUSY_TIMEOUT) -> Engine:
    """A companion engine for one-statement reads on the hot path (a phone's provisioning lookup).

    On PostgreSQL, checking a connection out of `engine`'s pool costs a `pool_pre_ping` round trip and
    returning it a ROLLBACK: two round trips around a one-round-trip SELECT. This engine's connections
    are in autocommit, neither pinged nor reset; a connection that went stale (the server restarted) fails
    its statement, and the caller invalidates it and retries once (`read_once`). SQLite has no round
    trips: the engine itself. A statement waits at most `busy_timeout` for a lock, as make_engine's."""
    if engine.dialect.name != "postgresql":
        return engine
    # A few connections per process: a worker's threads (16) that ask at once wait for one of them, which
    # costs less than as many statements in PostgreSQL at once on a couple of cores (a boot storm on the
    # ASGI worker went from 0.27-0.36 to 0.50-0.65 phones/s per static file/s, docs/performance.md).
    return create_engine(engine.url, future=True, isolation_level="AUTOCOMMIT", pool_pre_ping=False,
                         pool_size=READ_POOL_SIZE, max_overflow=0,
                         pool_reset_on_return=None, pool_timeout=busy_timeout,
                         connect_args=_pg_lock_timeout(busy_timeout))


def _pg_lock_timeout(busy_timeout: float) -> dict[str, str]:
    """psycopg's connect arguments for a session whose statements wait at most `busy_timeout` for a lock."""
    return {"options": f"-c lock_timeout={int(busy_timeout * 1000)}"}


def read_once(engine: Engine, sql: str, params: Any) -> Any:
    """The first row of one statement on a raw DB-API cursor of `engine` (see make_read_engine). A
    connection the server dropped is thrown away and the statement tried once more on a new one; any
    other database error is raised as SQLAlchemy's (a lock not had in time is then "busy", `is_busy`)."""
    dbapi = engine.dialect.loaded_dbapi
    for attempt in (1, 2):
        conn = engine.raw_connection()
        try:
            cursor = conn.cursor()
            try:
                cursor.execute(sql, params)
                return cursor.fetchone()
            finally:
                cursor.close()
        except dbapi.Error as exc:
            driver = conn.driver_connection
            lost = engine.dialect.name == "postgresql" and bool(
                getattr(driver, "closed", False) or getattr(driver, "broken", False))
            if lost:
                conn.invalidate()
            if not lost or attempt == 2:
                raise sa_exc.DBAPIError.instance(sql, params, exc, dbapi.Error,
                                                 connection_invalidated=lost) from exc
        finally:
            conn.close()  # back to the pool (a no-op after invalidate)
    raise AssertionError("unreachable")


def make_session_factory(engine: Engine, *, write: bool = False) -> sessionmaker[Session]:
    """Sessions for the engine. `write=True`: each transaction takes SQLite's write lock up front
    (BEGIN IMMEDIATE) — for short read-modify-write steps that must be atomic (the daemon's writes)."""
    bind = engine.execution_options(sqlite_begin="IMMEDIATE") if write else engine
    return sessionmaker(bind=bind, expire_on_commit=False)


def writer_sessions(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    """The writer counterpart of a session factory (same engine)."""
    bind = sessions.kw["bind"]
    engine = bind.engine if hasattr(bind, "engine") else bind
    return make_session_factory(engine, write=True)


def base_engine(sessions: sessionmaker[Session]) -> Engine:
    bind = sessions.kw["bind"]
    engine: Engine = bind.engine if hasattr(bind, "engine") else bind
    return engine


def is_busy(exc: BaseException) -> bool:
    """Whether a database error means "locked or busy right now, try again" rather than a bug."""
    if isinstance(exc, sa_exc.TimeoutError):  # no pooled connection free in time
        return True
    if isinstance(exc, sa_exc.DBAPIError):
        orig = exc.orig
        if isinstance(orig, sqlite3.OperationalError):
            text = str(orig).lower()
            return "locked" in text or "busy" in text
        state = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
        return state in PG_BUSY_STATES
    return False


class AsyncDb:
    """The control daemon's only way to the database. Every session lives and ends inside a worker
    thread: the event loop never waits for a lock, so it keeps reading the PBX sockets whatever the
    database does. Writes go through one writer thread, in the order they were asked for; reads use
    the default thread pool and run beside them (WAL readers do not wait for the writer)."""

    def __init__(self, sessions: sessionmaker[Session]):
        self.sessions = sessions
        self.writers = writer_sessions(sessions)
        self._writer: concurrent.futures.ThreadPoolExecutor | None = None

    @property
    def writer(self) -> concurrent.futures.ThreadPoolExecutor:
        if self._writer is None:
            self._writer = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="clusterpbx-db-writer")
        return self._writer

    async def read(self, fn: Callable[[Session], T]) -> T:
        def run() -> T:
            with self.sessions() as db:
                return fn(db)

        return await asyncio.to_thread(run)

    async def write(self, fn: Callable[[Session], T]) -> T:
        """Run fn in one short write transaction (committed when fn returns, rolled back if it raises)."""
        def run() -> T:
            with self.writers() as db:
                try:
                    result = fn(db)
                    db.commit()
                except BaseException:
                    db.rollback()
                    raise
                return result

        return await asyncio.get_running_loop().run_in_executor(self.writer, run)

    async def call(self, fn: Callable[[], T]) -> T:
        """Run fn (which opens its own sessions) on the writer thread, after the writes already asked for."""
        return await asyncio.get_running_loop().run_in_executor(self.writer, fn)

    def close(self) -> None:
        """Wait for the writes already asked for; a later write starts a new writer thread."""
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.shutdown(wait=True)
