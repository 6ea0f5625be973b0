"""Appels en cours against the real server process (`clusterpbx web`: gunicorn, asgi worker) on loopback:
open pages hold no thread and the other screens keep answering; a change reaches an open stream as a
delta (a removal as a removal) in bytes proportional to the change; a user's stream carries only their
calls, another company's never; refused without a session."""

from __future__ import annotations

import datetime as dt
import statistics
import time

import pytest
import requests
from sqlalchemy import delete, update

from clusterpbx.control.models import LiveCall, NodeKind, PbxNode, Role, utcnow
from tests.system.live_portal import Stream, login, portal, thread_count, worker_pids

STREAMS = 200


def company(db, world, domain="acme.test"):
    node = PbxNode(name=f"n-{domain}", kind=NodeKind.ASTERISK, host="127.0.0.1", port=5038)
    db.add(node)
    db.flush()
    tenant = world.tenant(domain)
    tenant.node_id = node.id
    db.commit()
    return node, tenant


def call(node, tenant, call_id, source, destination, seconds_ago=10):
    return LiveCall(node_id=node.id, tenant_id=tenant.id, pbx_call_id=call_id,
                    started_at=utcnow() - dt.timedelta(seconds=seconds_ago), source_number=source,
                    destination_number=destination, source_ip="10.0.0.1", destination_ip="10.0.0.2",
                    state="answered")


def latency(url: str, session: requests.Session | None = None, n: int = 15) -> float:
    getter = session or requests
    times = []
    for _ in range(n):
        t = time.perf_counter()
        assert getter.get(url, timeout=60).status_code == 200
        times.append(time.perf_counter() - t)
    return statistics.median(times)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_open_pages_hold_no_thread_and_other_screens_answer(db, world, database_url, tmp_path):
    node, tenant = company(db, world)
    admin = world.user(tenant, extension="2100", role=Role.TENANT_ADMIN)
    db.add_all([call(node, tenant, f"c{i}", "2100", f"514555{i:04d}") for i in range(50)])
    db.commit()
    with portal(database_url, tmp_path / "instance", threads=4) as (base, master):
        (worker,) = worker_pids(master.pid)
        session = login(base, admin.email)
        pages = {"static": f"{base}/static/live.js", "home": f"{base}/home"}
        idle = {name: latency(url, session) for name, url in pages.items()}
        threads_idle = thread_count(worker)
        streams = [Stream(base, session) for _ in range(STREAMS)]
        try:
            assert all(s.head() == 200 for s in streams)
            assert all(s.events(timeout=30)[0][0] == "calls" for s in streams)
            busy = {name: latency(url, session) for name, url in pages.items()}
            threads_busy = thread_count(worker)
            # Still open and live: a change reaches them all.
            db.add(call(node, tenant, "new", "2100", "5145550000", seconds_ago=0))
            db.commit()
            for s in streams:
                s.wait_for(lambda e: e[0] == "delta" and [c["id"] for c in e[1]["upsert"]] == [f"{node.id}:new"])
        finally:
            for s in streams:
                s.close()
    # 200 open pages do not take 200 threads (a threaded server would hold one each): at most the pool
    # of 4 filling up and the event loop's helper threads.
    assert threads_busy <= threads_idle + 10 and threads_busy < STREAMS // 4, (threads_idle, threads_busy)
    # ...and the other screens answer within twice their idle time (plus 50 ms for a shared machine).
    for name in pages:
        assert busy[name] <= 2 * idle[name] + 0.05, (name, idle[name], busy[name])


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
def test_change_arrives_as_delta_and_removal_as_removal(db, world, database_url, tmp_path):
    node, tenant = company(db, world)
    admin = world.user(tenant, extension="2100", role=Role.TENANT_ADMIN)
    db.add_all([call(node, tenant, f"c{i}", f"3{i:03d}", f"514555{i:04d}") for i in range(300)])
    db.commit()
    with portal(database_url, tmp_path / "instance") as (base, _master):
        stream = Stream(base, login(base, admin.email))
        assert stream.head() == 200 and stream.headers["content-type"].startswith("text/event-stream")
        (name, calls, snapshot_bytes), *_ = stream.events(timeout=30)
        assert name == "calls" and len(calls) == 300
        key = f"{node.id}:fresh"
        db.add(call(node, tenant, "fresh", "2100", "5145559999", seconds_ago=0))
        db.commit()
        started = time.monotonic()
        (_n, delta, delta_bytes) = stream.wait_for(lambda e: e[0] == "delta")[-1]
        assert time.monotonic() - started < 5
        assert [c["id"] for c in delta["upsert"]] == [key] and delta["remove"] == []
        assert delta["upsert"][0]["source"].endswith("(2100)")  # a colleague's name, as on the page
        # The delta is one call's worth, whatever the 300 others: bytes proportional to the change.
        assert delta_bytes < 600 < snapshot_bytes / 50, (delta_bytes, snapshot_bytes)
        db.execute(update(LiveCall).where(LiveCall.pbx_call_id == "c7").values(destination_number="999"))
        db.commit()
        (_n, delta, _b) = stream.wait_for(lambda e: e[0] == "delta")[-1]
        assert [(c["id"], c["destination"]) for c in delta["upsert"]] == [(f"{node.id}:c7", "999")]
        db.execute(delete(LiveCall).where(LiveCall.pbx_call_id == "fresh"))
        db.commit()
        (_n, delta, _b) = stream.wait_for(lambda e: e[0] == "delta")[-1]
        assert delta == {"upsert": [], "remove": [key]}
        stream.close()


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
def test_a_browser_coming_back_gets_only_what_changed_since_its_cursor(db, world, database_url, tmp_path):
    """EventSource reconnects (the 30-minute end, a network failure) with Last-Event-ID, the version of
    the last event it applied: it gets one delta of what changed since, not the whole list again; a
    cursor the server cannot serve (unknown, from a restored database) gets the whole list."""
    node, tenant = company(db, world)
    admin = world.user(tenant, extension="2100", role=Role.TENANT_ADMIN)
    db.add_all([call(node, tenant, f"c{i}", f"3{i:03d}", f"514555{i:04d}") for i in range(300)])
    db.commit()
    with portal(database_url, tmp_path / "instance") as (base, _master):
        session = login(base, admin.email)
        stream = Stream(base, session)
        assert stream.head() == 200
        (name, calls, snapshot_bytes), *_ = stream.events(timeout=30)
        cursor = stream.last_id
        assert name == "calls" and len(calls) == 300 and int(cursor.split(":")[0]) > 0
        stream.close()
        # While the browser was away: one call started, one ended.
        db.add(call(node, tenant, "fresh", "2100", "5145559999", seconds_ago=0))
        db.execute(delete(LiveCall).where(LiveCall.pbx_call_id == "c7"))
        db.commit()
        back = Stream(base, session, last_event_id=cursor)
        assert back.head() == 200
        (name, delta, delta_bytes), *_ = back.events(timeout=30)
        assert name == "delta" and int(back.last_id.split(":")[0]) > int(cursor.split(":")[0])
        assert [c["id"] for c in delta["upsert"]] == [f"{node.id}:fresh"]
        assert delta["remove"] == [f"{node.id}:c7"]
        assert delta_bytes < 600 < snapshot_bytes / 50, (delta_bytes, snapshot_bytes)
        back.close()
        unknown = Stream(base, session, last_event_id=str(int(cursor.split(":")[0]) + 10**6))
        assert unknown.head() == 200
        (name, calls, _b), *_ = unknown.events(timeout=30)
        assert name == "calls" and len(calls) == 300  # 300 - c7 + fresh
        unknown.close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_stream_carries_only_its_users_calls(db, world, database_url, tmp_path):
    node, tenant = company(db, world)
    me = world.user(tenant, extension="2192")
    world.user(tenant, extension="2193")
    other_node, other_tenant = company(db, world, "other.test")
    other_admin = world.user(other_tenant, extension="2192", role=Role.TENANT_ADMIN)  # same number, other company
    db.add(call(node, tenant, "was-mine", "2192", "5140000000"))
    db.commit()
    with portal(database_url, tmp_path / "instance") as (base, _master):
        refused = Stream(base)  # no session
        assert refused.head() == 401
        refused.close()
        mine = Stream(base, login(base, me.email))
        theirs = Stream(base, login(base, other_admin.email))
        assert mine.head() == 200 and theirs.head() == 200
        assert [c["id"] for c in mine.events(timeout=30)[0][1]] == [f"{node.id}:was-mine"]
        assert theirs.events(timeout=30)[0][1] == []
        # A colleague's call, and a call of the other company's 2192: never on my stream.
        db.add_all([call(node, tenant, "colleague", "2193", "5141111111"),
                    call(other_node, other_tenant, "other-company", "2192", "5142222222")])
        db.commit()
        seen_theirs = theirs.wait_for(lambda e: e[0] == "delta")
        assert [c["id"] for e in seen_theirs for c in e[1]["upsert"]] == [f"{other_node.id}:other-company"]
        # Then one of mine, and a call of mine that becomes a colleague's only: removed from my page.
        db.add(call(node, tenant, "mine", "5143333333", "2192"))
        db.execute(update(LiveCall).where(LiveCall.pbx_call_id == "was-mine").values(source_number="2193"))
        db.commit()
        seen_mine = mine.wait_for(lambda e: e[0] == "delta" and e[1]["upsert"])
        carried = [c["id"] for e in seen_mine for c in e[1]["upsert"]]
        assert carried == [f"{node.id}:mine"], carried
        assert [r for e in seen_mine for r in e[1]["remove"]] == [f"{node.id}:was-mine"]
        assert not [e for e in theirs.events(timeout=2) if e[0] == "delta"]  # nothing of acme's
        mine.close()
        theirs.close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_open_stream_ends_when_its_user_is_signed_out(db, world, database_url, tmp_path):
    """A password change (new session version) or a deactivated account ends the open streams of that
    user at the next check (every 30 s; 1 s here), and the browser's reconnection is refused."""
    _node, tenant = company(db, world)
    me = world.user(tenant, extension="2192")
    colleague = world.user(tenant, extension="2193")
    with portal(database_url, tmp_path / "instance", env={"CLUSTERPBX_LIVE_RECHECK_SECONDS": "1"}) as (base, _m):
        my_session, their_session = login(base, me.email), login(base, colleague.email)
        mine, theirs = Stream(base, my_session), Stream(base, their_session)
        assert mine.head() == 200 and theirs.head() == 200
        mine.events(timeout=30)
        theirs.events(timeout=30)
        me.session_version += 1  # what a password change does
        db.commit()
        deadline = time.monotonic() + 15
        with pytest.raises(EOFError):
            while time.monotonic() < deadline:
                mine.events(timeout=1)
        assert Stream(base, my_session).head() == 401
        theirs.events(timeout=3)  # the colleague's stream is still open (no EOFError)
        mine.close()
        theirs.close()
