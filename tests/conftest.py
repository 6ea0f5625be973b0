"""Shared fixtures: a migrated database on SQLite and PostgreSQL, the Flask app, a client, tenants and
users, and an AuthActions helper for logging in (the shape of Flask's tutorial)."""

from __future__ import annotations

import os
import shutil
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jinja2
import jinja2.bccache
import pytest
import sqlalchemy.exc
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from clusterpbx.control import db as control_db
from clusterpbx.control import migrate
from clusterpbx.control.accounts import NewUser, create_tenant, create_user
from clusterpbx.control.db import make_engine, make_session_factory
from clusterpbx.control.models import Base, NodeKind, PbxNode, Tenant, User
from clusterpbx.web.provision import fetchlog
from tests import components

PASSWORD = "Secret-pass1"

# A save waits for its push to the PBX at most `apply_wait` (0.4 s in production) before answering
# "being applied". Tests that check "applied" right after a save run on loaded machines: they wait for
# the push (clamped to the command timeout). Tests of the budget itself set it explicitly. Inherited by
# the processes the system tests start.
os.environ.setdefault("CLUSTERPBX_APPLY_WAIT", "30")

if sys.version_info < (3, 11, 8):
    # CPython before 3.11.8 (gh-106905): building Python ASTs in two threads at once can fail with
    # "SystemError: AST constructor recursion depth mismatch" (seen once in a full CI run, in Werkzeug's
    # URL-rule compilation while another test thread was still at work). Werkzeug builds an AST for every
    # URL rule of every app a test creates: one at a time in the test process.
    import ast

    from werkzeug.routing import rules as _werkzeug_rules

    _AST_LOCK = threading.RLock()
    _ast_parse, _rule_compile = ast.parse, _werkzeug_rules.Rule.compile

    def _locked_parse(*args: Any, **kwargs: Any) -> Any:
        with _AST_LOCK:
            return _ast_parse(*args, **kwargs)

    def _locked_compile(self: Any) -> None:
        with _AST_LOCK:
            _rule_compile(self)

    ast.parse = _locked_parse  # type: ignore[assignment]
    _werkzeug_rules.Rule.compile = _locked_compile  # type: ignore[method-assign]


def _builder_cache() -> None:
    """Werkzeug compiles a URL builder for every rule of every app by building a Python AST and calling
    compile() (half of a create_app, about 0.5 s; every web test builds its own app). The builder is
    a function of the rule's text and of what `Rule._compile_builder` reads (its trace of static and
    dynamic parts, defaults resolved through their converters, the defaults' names): the same rule in
    the next test's app gets the same function, compiled once per process. It is bound to each rule
    as before, so it still reads that rule's own converters."""
    from werkzeug.routing import rules

    compiled: dict[Any, Any] = {}
    original = rules.Rule._compile_builder

    def cached(self: Any, append_unknown: bool = True) -> Any:
        defaults = self.defaults or {}
        ops = tuple((False, self._converters[data].to_url(defaults[data])) if dynamic and data in defaults
                    else (dynamic, data) for dynamic, data in self._trace)
        key = (self.rule, append_unknown, ops, tuple(str(k) for k in defaults))
        builder = compiled.get(key)
        if builder is None:
            builder = compiled[key] = original(self, append_unknown)
        return builder

    rules.Rule._compile_builder = cached  # type: ignore[method-assign]


_builder_cache()

# The real-PBX suite (`make test-real`) runs only when asked: it needs the lab PBXs of lab/.
if os.environ.get("CLUSTERPBX_REAL") != "1":
    collect_ignore_glob = ["real/*"]

# Seconds a file's tests take on the 2-core machine, for the files that take far longer than their count
# of tests says (a browser session, a real command run twenty times, schemathesis, servers in
# processes), from the durations of a full run with two workers (docs/performance.md, "Test suite"; the
# run of 2026-12-08 02:00 UTC). Any other file counts SECONDS_PER_TEST per test.
FILE_SECONDS = {
    "tests/vagrant/test_lab_cli.py": 78, "tests/system/test_failover.py": 60,
    "tests/system/test_live_server.py": 52, "tests/e2e/test_responsive_browser.py": 47,
    "tests/daemon/test_cluster.py": 47, "tests/api/test_schemathesis.py": 45,
    "tests/system/test_two_servers.py": 32, "tests/provisioning/test_config_cache.py": 30,
    "tests/daemon/test_busy_database.py": 29, "tests/system/test_durability.py": 27,
    "tests/export/test_csv_export.py": 25, "tests/export/test_export_windows.py": 24,
    "tests/e2e/test_admin_browser.py": 17, "tests/e2e/test_live_browser.py": 16,
    "tests/admin/test_tenant_scope.py": 14, "tests/vagrant/test_lab.py": 14,
    "tests/e2e/test_identity_browser.py": 14, "tests/admin_web/test_admin_forms.py": 13,
    "tests/sms/test_sms_tenants.py": 13, "tests/e2e/test_daily_screens_browser.py": 13,
    "tests/api/test_scopes.py": 12, "tests/admin_web/test_admin_access.py": 12,
    "tests/e2e/test_team_browser.py": 12, "tests/e2e/test_phone_browser.py": 12,
    "tests/e2e/test_webconf_browser.py": 11, "tests/e2e/test_forms_browser.py": 11,
    "tests/team/test_directory.py": 10, "tests/system/test_demo_stack.py": 10,
    "tests/esl/test_connection.py": 9, "tests/e2e/test_login_browser.py": 9,
    "tests/e2e/test_settings_browser.py": 9, "tests/dialplan_db/test_from_db.py": 8,
    "tests/sms/test_pbx_daemon.py": 8,
}
SECONDS_PER_TEST = 0.2


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The longest files first, each file's tests kept in their order. Under `-n auto --dist loadfile
    --no-loadscope-reorder` (make test) the workers take files in this order, so the last files
    handed out are short ones and the workers finish together; with xdist's default order (most tests
    first) a file of two long tests came last and one worker ran it alone for minutes. Every worker
    computes the same order (xdist checks that the collections match)."""
    counts: dict[str, int] = {}
    for item in items:
        counts[item.nodeid.split("::")[0]] = counts.get(item.nodeid.split("::")[0], 0) + 1

    def cost(name: str) -> float:
        return FILE_SECONDS.get(name, counts[name] * SECONDS_PER_TEST)

    order = {name: rank for rank, name in enumerate(sorted(counts, key=lambda n: (-cost(n), n)))}
    items.sort(key=lambda item: order[item.nodeid.split("::")[0]])


class LimiterClock:
    """The clock of the rate limiter's in-memory storage, frozen for the test: a window never expires
    because the machine is slow, only when the test says `advance`."""

    def __init__(self, now: float) -> None:
        self.now = now

    def time(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(autouse=True)
def limiter_clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[LimiterClock]:
    """Every test starts with an empty rate-limit storage and a clock that moves only when told.

    The limiter is module-level (its decorators are applied at import), so without this a window
    opened by an earlier test, keyed by a user id that the next test's fresh database reuses, could
    still be full or expire half-way through; and 21 requests on a busy machine can outlast a minute."""
    import limits.storage.memory

    from clusterpbx.web.limiter import limiter

    clock = LimiterClock(time.time())
    monkeypatch.setattr(limits.storage.memory, "time", clock)
    yield clock
    storage = getattr(limiter, "_storage", None)
    if storage is not None:
        storage.reset()


# One engine per database URL and options for the worker's session, instead of one per test and per
# app: an engine's compiled-statement cache then serves every test (compiling the same statements again
# for each new engine was about a fifth of a web test's CPU). The worker's PostgreSQL database is the
# same for all its tests, and so is its SQLite file's path (database_url puts a fresh copy of the
# migrated template there for each test, as a new file: a connection an earlier test left open keeps
# the old one). Each engine's pool is disposed after every test (connections a test left checked out go
# with it); the cache stays. Other SQLite files (sqlite_url, a test's own) get an engine each.
_SHARED_ENGINES: dict[tuple[str, str], Engine] = {}
_SHARED_SQLITE: list[str] = []  # the worker's SQLite URL, once database_url made it
_create_engine = control_db.create_engine
_sqlite_transactions = control_db._sqlite_transactions
_SQLITE_LISTENING: set[int] = set()


def _shared_create_engine(url: Any, **kwargs: Any) -> Engine:
    text_url = sqlalchemy.make_url(url).render_as_string(hide_password=False)
    if not (text_url.startswith("postgresql") or text_url in _SHARED_SQLITE):
        return _create_engine(url, **kwargs)
    key = (text_url, repr(sorted(kwargs.items())))
    engine = _SHARED_ENGINES.get(key)
    if engine is None:
        engine = _SHARED_ENGINES[key] = _create_engine(url, **kwargs)
        if engine.dialect.name == "postgresql":
            # Its connections outlive the test (shared_engines_disposed): an app's or a test's dispose()
            # leaves them in the pool.
            engine.dispose = lambda close=True: None  # type: ignore[method-assign]
    return engine


def _sqlite_transactions_once(engine: Engine, memory: bool) -> None:
    """make_engine's SQLite listeners, installed once on a shared engine (not again at each make_engine)."""
    if id(engine) in _SQLITE_LISTENING:
        return
    if any(engine is shared for shared in _SHARED_ENGINES.values()):
        _SQLITE_LISTENING.add(id(engine))
    _sqlite_transactions(engine, memory)


control_db.create_engine = _shared_create_engine
control_db._sqlite_transactions = _sqlite_transactions_once


@pytest.fixture(autouse=True)
def shared_engines_disposed() -> Iterator[None]:
    """After each test, the shared SQLite engines' connections closed (the next test's file is a new
    copy). A PostgreSQL engine keeps its pooled connections for the next test (a new one costs about
    15 ms, two or three per test); returned to the pool they were rolled back. Unless the test left one
    checked out: then the pool goes, as for SQLite."""
    yield
    for engine in list(_SHARED_ENGINES.values()):
        if engine.dialect.name != "postgresql" or engine.pool.checkedout():
            Engine.dispose(engine)


@pytest.fixture(autouse=True)
def process_state_restored() -> Iterator[None]:
    """What the code under test keeps per process, put back after every test so that no test sees what
    an earlier one left: the outbound URL policy (every load_settings sets it from its settings) and
    the cached Zoom access tokens (keyed by URL and credentials: a fake server's port can come back)."""
    from clusterpbx.control import urlpolicy, webconf

    policy = urlpolicy.current()
    yield
    urlpolicy.configure(policy)
    webconf.forget_zoom_tokens()


@pytest.fixture(scope="session", autouse=True)
def cheap_password_hashing() -> Iterator[None]:
    """Argon2 with the cheapest parameters for the whole session (1.5 s per hash at production cost on
    a busy 2-core machine, a few per web test). Production keeps argon2-cffi's defaults:
    tests/control/test_password_hashing.py checks them, and that a cheap hash asks for a rehash."""
    from argon2 import PasswordHasher

    from clusterpbx.control import passwords

    passwords.use_hasher(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    yield
    passwords.use_hasher(None)


class _CompiledTemplates(jinja2.BytecodeCache):
    """Compiled Jinja templates kept in memory for the session. Each test builds its own app, hence its
    own Jinja environment, which would otherwise compile every template it renders again. A bucket
    is keyed by the template's name and checked against its source's checksum: an edited template is
    compiled afresh."""

    def __init__(self) -> None:
        self.store: dict[str, bytes] = {}

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        code = self.store.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        self.store[bucket.key] = bucket.bytecode_to_string()


@pytest.fixture(scope="session", autouse=True)
def compiled_templates_once() -> Iterator[None]:
    from flask import Flask

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Flask, "jinja_options", {**Flask.jinja_options, "bytecode_cache": _CompiledTemplates()})
        yield


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("db") / "template.db"
    migrate.upgrade(f"sqlite:///{path}")
    return path


def _worker_database(url: str) -> str:
    """Under pytest-xdist, each worker has a database of its own (<name>_gw0, ...), created on the fly
    (.ci/run gives the test role CREATEDB): one worker's DROP SCHEMA or TRUNCATE never hits another's."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not worker:
        return url
    from sqlalchemy import create_engine, make_url

    base = make_url(url)
    name = f"{base.database}_{worker}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            if conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}) is None:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def _postgres_migrated() -> Iterator[str]:
    url = _worker_database(components.postgres_url())
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    _no_commit_flush(engine)
    engine.dispose()
    migrate.upgrade(url)
    yield url


def _no_commit_flush(engine: Engine) -> None:
    """A commit in the test database does not wait for its WAL to reach the disk (synchronous_commit
    off, for the connections opened from now on): what other sessions see is unchanged, only a crash of
    the server could lose the last commits, and this database is rebuilt by every session. Each test
    commits a few dozen times; on this machine's disk each wait was a few milliseconds. Skipped where
    the test role does not own the database (ALTER DATABASE needs it; the per-worker ones it creates)."""
    try:
        with engine.begin() as conn:
            conn.execute(text("DO $$ BEGIN EXECUTE 'ALTER DATABASE ' || quote_ident(current_database()) || "
                              "' SET synchronous_commit = off'; END $$"))
    except sqlalchemy.exc.DBAPIError:
        pass


def _delete_statements(used: set[str] | None = None) -> str:
    """The tables in `used` (every table when None) emptied, children first, and every sequence back to
    its start (as TRUNCATE ... RESTART IDENTITY did), in one round trip."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", sqlalchemy.exc.SAWarning)  # a cycle of foreign keys: no safe order
        tables = list(reversed(Base.metadata.sorted_tables))
    return "; ".join([f'DELETE FROM "{t.name}"' for t in tables if used is None or t.name in used] + [  # noqa: S608 (our models' table names)
        "SELECT setval((quote_ident(schemaname) || '.' || quote_ident(sequencename))::regclass, start_value, false) "
        "FROM pg_sequences WHERE schemaname = current_schema()"])


def _used_tables_query() -> str:
    """The tables that hold a row, in one round trip (a test writes to a handful of the thirty-odd)."""
    return " UNION ALL ".join(f"SELECT '{t.name}' WHERE EXISTS (SELECT 1 FROM \"{t.name}\")"  # noqa: S608
                              for t in Base.metadata.sorted_tables)


def _truncate_postgres(url: str) -> None:
    """Empty every table for the next test: the tables that hold rows get DELETEs, children first, then a
    VACUUM, and every sequence starts again, on the connection the worker keeps (about 30 ms; a TRUNCATE
    of the thirty-odd tables cost 0.15-1 s: it gives every table and index a new file and waits for them
    on commit; bench/suite_reset.py). An earlier test's connection left idle inside a transaction (a session
    a background thread of that test still holds) would make the deletes wait for its locks: it is ended
    first, and the set-up waits for locks as long as it takes (no product lock_timeout). If the deletes
    fail (a table outside the models that references theirs, a cycle of foreign keys), TRUNCATE ...
    CASCADE empties them as before."""
    fetchlog.close_all()  # an earlier test's provisioning log thread would insert while we truncate
    engine = make_engine(url, busy_timeout=0)  # the worker's engine for this URL (_shared_create_engine)
    names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    try:
        _delete_statements()
        deletes = True
    except sqlalchemy.exc.SAWarning:
        deletes = False
    for attempt in range(3):
        # First only the connections left inside a transaction; if a live one still deadlocks with
        # the deletes (a background thread an earlier test left running), every other one.
        try:
            used: set[str] = set()
            with engine.begin() as conn:
                conn.execute(text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid() AND (:all OR state LIKE 'idle in transaction%')"),
                    {"all": attempt > 0})
                if deletes:
                    used = set(conn.exec_driver_sql(_used_tables_query()).scalars())
                    conn.exec_driver_sql(_delete_statements(used))
                else:
                    conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
            if used:
                # Without it, the next rows go into the space the deleted ones left, in another
                # order than inserted, and a query without ORDER BY (tests that take
                # `tenant.users[0]` as the first user created) sees them in that order; VACUUM
                # gives back empty pages as a TRUNCATE did. It runs outside a transaction.
                with engine.connect() as conn:
                    conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
                        "VACUUM " + ", ".join(f'"{name}"' for name in sorted(used)))
            if attempt > 0:  # every other connection was ended, those the shared engines keep too
                for shared in _SHARED_ENGINES.values():
                    Engine.dispose(shared)
            return
        except sqlalchemy.exc.IntegrityError:
            deletes = False  # rolled back; TRUNCATE ... CASCADE on the next attempt
        except OperationalError:
            Engine.dispose(engine)  # a connection the server dropped: a new one for the next attempt
            if attempt == 2:
                raise


@pytest.fixture(scope="session")
def _sqlite_shared_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The path of the SQLite database of database_url's tests in this worker (a new copy for each)."""
    path = tmp_path_factory.mktemp("database") / "clusterpbx.db"
    _SHARED_SQLITE.append(f"sqlite:///{path}")
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path, _sqlite_template: Path) -> str:
    if request.param == "sqlite":
        path: Path = request.getfixturevalue("_sqlite_shared_path")
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        shutil.copy(_sqlite_template, path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("_postgres_migrated")
    _truncate_postgres(url)
    return url


@pytest.fixture
def sqlite_url(tmp_path: Path, _sqlite_template: Path) -> str:
    """For tests that need a database but whose behaviour does not depend on the backend."""
    path = tmp_path / "clusterpbx.db"
    shutil.copy(_sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    eng = make_engine(database_url)
    yield eng
    eng.dispose()


@pytest.fixture
def db(engine: Engine) -> Iterator[Session]:
    session = make_session_factory(engine)()
    yield session
    session.close()


class World:
    """Builds tenants and users in the test database."""

    def __init__(self, session: Session):
        self.db = session
        self._n = 0

    def node(self, name: str = "n1", kind: NodeKind = NodeKind.ASTERISK, port: int = 5038, **fields: Any) -> PbxNode:
        """A PBX node on loopback (nothing connects to it unless a daemon starts it); a tenant lives on it
        with `tenant(..., node_id=node.id)`."""
        node = PbxNode(name=name, kind=kind, host="127.0.0.1", port=port, **fields)
        self.db.add(node)
        self.db.commit()
        return node

    def tenant(self, domain: str = "acme.test", **policy: Any) -> Tenant:
        t = create_tenant(self.db, domain.split(".")[0].title(), domain)
        for k, v in policy.items():
            setattr(t, k, v)
        self.db.commit()
        return t

    def user(self, tenant: Tenant, email: str | None = None, password: str = PASSWORD, **kw: Any) -> User:
        self._n += 1
        email = email or f"user{self._n}@{tenant.domain}"
        spec = NewUser(email=email, first_name=kw.pop("first_name", "Test"),
                       last_name=kw.pop("last_name", f"User{self._n}"), password=password,
                       extension=kw.pop("extension", str(200 + self._n)), language=kw.pop("language", "fr"))
        u = create_user(self.db, tenant, spec, check_policy=False)
        for k, v in kw.items():
            setattr(u, k, v)
        self.db.commit()
        return u


@pytest.fixture
def world(db: Session) -> World:
    return World(db)


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Any:
    from clusterpbx.web import create_app

    app = create_app({
        "TESTING": True,
        "SETTINGS": {"database_url": database_url, "instance_path": str(tmp_path / "instance"),
                     "session_cookie_secure": False, "ratelimit_storage_url": "memory://"},
    })
    yield app
    writer = app.extensions.get("clusterpbx.fetchlog")
    if writer is not None:
        writer.close()
    app.extensions["clusterpbx.engine"].dispose()


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()


class AuthActions:
    def __init__(self, client: Any):
        self.client = client

    def csrf(self, path: str = "/login") -> str:
        import re

        html = self.client.get(path).get_data(as_text=True)
        m = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
            r'name="csrf_token" value="([^"]+)"', html)
        assert m, f"no CSRF token on {path}"
        return m.group(1)

    def login(self, email: str, password: str = PASSWORD, language: str | None = None,
              remember: bool = False) -> Any:
        """Logs in; with `language`, then chooses that language in the menu as a user would (logging
        in itself keeps the user's saved language)."""
        data = {"email": email, "password": password, "csrf_token": self.csrf()}
        if remember:
            data["remember"] = "y"
        resp = self.client.post("/login", data=data)
        if language and resp.status_code == 302 and "/login" not in resp.headers.get("Location", ""):
            self.client.post(f"/language/{language}", data={"csrf_token": self.csrf("/home"), "next": "/home"})
        return resp

    def logout(self) -> Any:
        return self.client.post("/logout", data={"csrf_token": self.csrf("/home")})


@pytest.fixture
def auth(client: Any) -> AuthActions:
    return AuthActions(client)


def missing_component_reasons(terminalreporter: Any) -> list[str]:
    """The reason of every test skipped for a missing component, one per test. A session fixture that
    skips (PostgreSQL) runs once, so `components.MISSING` holds one line per component, not one per
    test; and under pytest-xdist it fills in the workers, not here: read the skip reports themselves."""
    reasons = []
    for report in terminalreporter.stats.get("skipped", []):
        longrepr = getattr(report, "longrepr", None)
        reason = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr or "")
        if "MISSING COMPONENT" in reason:
            reasons.append(reason[reason.index("MISSING COMPONENT"):])
    return reasons


def missing_component_skips(terminalreporter: Any) -> int:
    return len(missing_component_reasons(terminalreporter))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    tr = terminalreporter
    reasons = missing_component_reasons(tr)
    if components.MISSING or reasons:
        tr.section("SKIPPED FOR MISSING COMPONENTS", sep="!", red=True, bold=True)
        for line in sorted(set(components.MISSING) | set(reasons)):
            tr.write_line(line, red=True, bold=True)
        tr.write_line(f"{len(reasons)} test(s) did not run; run `bash .ci/run` for the full suite.",
                      red=True, bold=True)
