"""Appels en cours across web servers (issue 26): on PostgreSQL the live_calls trigger sends NOTIFY
cpbx_live_calls (migration 0013) and each web server's notifier LISTENs on a connection of its own, so a
change written by any daemon reaches every server's open pages at once, without polling; after the
LISTEN connection is lost, it reconnects and what changed meanwhile still arrives. SQLite (one machine)
keeps its one-second poll."""

from __future__ import annotations

import asyncio
import datetime as dt
import time

import pytest
from sqlalchemy import delete, text

from clusterpbx.control.db import make_engine, make_session_factory
from clusterpbx.control.models import LiveCall, NodeKind, PbxNode, utcnow
from clusterpbx.web.live import feed

NEVER = 3600.0  # the notifiers' polls, so that only a notification can wake them


def company(db, world):
    node = PbxNode(name="n1", kind=NodeKind.ASTERISK, host="127.0.0.1", port=5038)
    db.add(node)
    db.flush()
    tenant = world.tenant()
    tenant.node_id = node.id
    db.commit()
    return node, tenant


def write(url: str, statement) -> None:
    """A change made by a third connection, as a control daemon on another machine would make it."""
    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as db:
            if isinstance(statement, LiveCall):
                db.add(statement)
            else:
                db.execute(statement)
            db.commit()
    finally:
        engine.dispose()


def terminate_listeners(url: str) -> int:
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            return len(conn.execute(text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
                "AND application_name = :name"), {"name": feed.LISTEN_APPLICATION}).all())
    finally:
        engine.dispose()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_change_reaches_the_notifiers_of_two_web_servers_through_notify(db, world, database_url):
    node, tenant = company(db, world)
    key = f"{node.id}:fresh"

    async def scenario() -> None:
        engines = [make_engine(database_url) for _ in range(2)]  # two web servers, one database
        default = feed.Notifier(make_session_factory(engines[0]))
        assert isinstance(default.source, feed.ListenSource) and default.source.safety == feed.SAFETY_SECONDS
        sources = [feed.source_for(e, poll=NEVER, safety=NEVER) for e in engines]
        for s in sources:
            assert isinstance(s, feed.ListenSource)
            s.reconnect = 2.0  # room to write a change while they are disconnected
        notifiers = [feed.Notifier(make_session_factory(e), s) for e, s in zip(engines, sources, strict=True)]
        try:
            for n in notifiers:
                await n.start()
            queues = [n.subscribe() for n in notifiers]
            await asyncio.sleep(0.3)  # the look each takes once its LISTEN is in place
            reads = [n.reads for n in notifiers]

            started = time.monotonic()
            await asyncio.to_thread(write, database_url, LiveCall(
                node_id=node.id, tenant_id=tenant.id, pbx_call_id="fresh", started_at=utcnow() - dt.timedelta(seconds=3),
                source_number="2100", destination_number="5145550000", state="answered"))
            batches = await asyncio.wait_for(asyncio.gather(*(q.get() for q in queues)), 10)
            assert time.monotonic() - started < 2.0
            for batch in batches:
                row = batch.by_tenant[tenant.id][key]
                assert row is not None and row["destination_number"] == "5145550000"
            assert all(s.notifications >= 1 for s in sources)
            # Woken once for the change: two reads each (max(id), then the changes), no polling between.
            assert [n.reads - r for n, r in zip(notifiers, reads, strict=True)] == [2, 2]

            # The LISTEN connections are lost (a PostgreSQL restart, a network cut); a call ends meanwhile.
            reads = [n.reads for n in notifiers]
            assert await asyncio.to_thread(terminate_listeners, database_url) == 2
            deadline = time.monotonic() + 5
            # Each notices the loss and looks at the log once (nothing new yet), then waits to reconnect.
            while time.monotonic() < deadline and (any(s.connected for s in sources) or any(
                    n.reads == r for n, r in zip(notifiers, reads, strict=True))):
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.1)
            assert not any(s.connected for s in sources)
            await asyncio.to_thread(write, database_url, delete(LiveCall).where(LiveCall.pbx_call_id == "fresh"))
            batches = await asyncio.wait_for(asyncio.gather(*(q.get() for q in queues)), 15)
            for batch in batches:
                assert batch.by_tenant[tenant.id] == {key: None}
            # It came with the reconnection (the polls are an hour apart), which also looks at the log.
            assert [s.connections for s in sources] == [2, 2] and all(s.connected for s in sources)

            # ...and after reconnecting, notifications arrive again.
            started = time.monotonic()
            await asyncio.to_thread(write, database_url, LiveCall(
                node_id=node.id, tenant_id=tenant.id, pbx_call_id="again", started_at=utcnow(),
                source_number="2100", destination_number="5145550001", state="ringing"))
            batches = await asyncio.wait_for(asyncio.gather(*(q.get() for q in queues)), 10)
            assert time.monotonic() - started < 2.0
            assert all(f"{node.id}:again" in b.by_tenant[tenant.id] for b in batches)
        finally:
            for n in notifiers:
                await n.stop()
            for e in engines:
                e.dispose()

    asyncio.run(scenario())


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_one_transaction_of_many_calls_wakes_a_notifier_once(db, world, database_url):
    """The trigger notifies per node; PostgreSQL folds identical notifications of one transaction."""
    node, tenant = company(db, world)

    async def scenario() -> None:
        engine = make_engine(database_url)
        source = feed.source_for(engine, poll=NEVER, safety=NEVER)
        notifier = feed.Notifier(make_session_factory(engine), source)
        try:
            await notifier.start()
            queue = notifier.subscribe()

            def many() -> None:
                w = make_engine(database_url)
                with make_session_factory(w)() as s:
                    s.add_all([LiveCall(node_id=node.id, tenant_id=tenant.id, pbx_call_id=f"c{i}", started_at=utcnow(),
                                        source_number="2100", destination_number=f"514555{i:04d}", state="ringing")
                               for i in range(300)])
                    s.commit()
                w.dispose()

            await asyncio.to_thread(many)
            batch = await asyncio.wait_for(queue.get(), 10)
            assert len(batch.by_tenant[tenant.id]) == 300
            await asyncio.sleep(0.5)
            assert source.notifications == 1 and queue.empty()
        finally:
            await notifier.stop()
            engine.dispose()

    asyncio.run(scenario())


def test_sqlite_keeps_polling_once_a_second(sqlite_url):
    engine = make_engine(sqlite_url)
    try:
        source = feed.Notifier(make_session_factory(engine)).source
        assert isinstance(source, feed.PollingSource) and source.interval == 1.0
    finally:
        engine.dispose()
