"""The provisioning lookups' read engine (control/db.py make_read_engine): on PostgreSQL its connections
are in autocommit and neither pinged at checkout nor rolled back at return, so a phone's lookup is one
round trip; a connection the server dropped is replaced and the lookup still answers."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import text

from clusterpbx.control.db import make_read_engine, read_once
from clusterpbx.provisioning.state import device_state
from tests.provisioning.helpers import phone_setup

PG = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


def backend_pid(engine) -> int:
    """The server process of the connection the pool hands out next (it keeps the one it has)."""
    return int(read_once(engine, "SELECT pg_backend_pid()", None)[0])


@pytest.fixture
def reader(engine):
    reader = make_read_engine(engine)
    yield reader
    reader.dispose()


@PG
def test_a_lookup_leaves_no_transaction_open_on_postgresql(engine, reader, db, world):
    tenant, _user, device = phone_setup(world, db)
    assert reader is not engine
    state = device_state(reader, tenant.provisioning_key, device.mac, full=True)
    assert state is not None and state.device_id == device.id
    pid = backend_pid(reader)
    device_state(reader, tenant.provisioning_key, device.mac, full=True)
    assert backend_pid(reader) == pid, "the lookup used the pool's one connection"
    with engine.connect() as conn:
        # Without autocommit, a connection returned unreset would sit "idle in transaction", holding
        # a snapshot that keeps VACUUM from cleaning up behind it.
        assert conn.scalar(text("SELECT state FROM pg_stat_activity WHERE pid = :p"), {"p": pid}) == "idle"


@PG
def test_a_connection_the_server_dropped_is_replaced_and_the_lookup_answers(engine, reader, db, world):
    tenant, _user, device = phone_setup(world, db)
    assert device_state(reader, tenant.provisioning_key, device.mac, full=False) is not None
    pid = backend_pid(reader)
    with engine.connect() as conn:  # as a restart of the server would
        assert conn.scalar(text("SELECT pg_terminate_backend(:p)"), {"p": pid}) is True
        conn.commit()
    state = device_state(reader, tenant.provisioning_key, device.mac, full=True)
    assert state is not None and state.device_id == device.id
    assert backend_pid(reader) != pid


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_sqlite_reads_on_the_engine_itself(engine, db, world):
    tenant, _user, device = phone_setup(world, db)
    assert make_read_engine(engine) is engine
    state = device_state(engine, tenant.provisioning_key, device.mac, full=True)
    assert state is not None and state.device_id == device.id


@PG
def test_a_lookup_that_waits_too_long_for_a_lock_is_busy_not_an_error(database_url, engine, db, world, tmp_path):
    """A lock held longer than a request may wait (a migration's ACCESS EXCLUSIVE on the devices table):
    the phone gets 503 "try again", in about the app's lock wait, never a 500."""
    from clusterpbx.web import create_app

    tenant, _user, device = phone_setup(world, db)
    app = create_app({
        "TESTING": True, "DATABASE_BUSY_TIMEOUT": 0.5,
        "SETTINGS": {"database_url": database_url, "instance_path": str(tmp_path / "instance"),
                     "session_cookie_secure": False, "ratelimit_storage_url": "memory://"},
    })
    client = app.test_client()
    path = f"/prov/{tenant.provisioning_key}/{device.mac}.cfg"
    assert client.get(path).status_code == 200  # first boot: served with the tenant key alone
    with engine.connect() as conn:
        conn.execute(text("LOCK TABLE devices IN ACCESS EXCLUSIVE MODE"))
        started = time.monotonic()
        resp = client.get(path)
        waited = time.monotonic() - started
        conn.rollback()
    assert resp.status_code == 503, resp.status_code
    assert waited < 3
    assert client.get(path).status_code == 401  # the lock gone: the Digest challenge, as armed now


@PG
def test_many_threads_at_once_share_a_few_server_connections(engine, reader, db, world):
    """A worker's threads asking at once wait for one of READ_POOL_SIZE connections instead of each
    opening its own server process; every lookup still answers."""
    import threading

    from clusterpbx.control.db import READ_POOL_SIZE

    tenant, _user, device = phone_setup(world, db)
    pids: set[int] = set()
    answers: list[bool] = []
    start = threading.Barrier(16)

    def ask() -> None:
        start.wait()
        for _ in range(5):
            state = device_state(reader, tenant.provisioning_key, device.mac, full=True)
            answers.append(state is not None and state.device_id == device.id)
            pids.add(int(read_once(reader, "SELECT pg_backend_pid()", None)[0]))

    threads = [threading.Thread(target=ask) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(answers) == 80 and all(answers)
    assert 1 <= len(pids) <= READ_POOL_SIZE < 16
