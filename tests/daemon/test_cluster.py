"""Several control daemons on one PostgreSQL (issue 26, control/cluster.py): two real daemons in this
process, each with the real Asterisk adapter against its own embedded PBX (sim/), share two nodes
through leases; one is killed (its tasks cancelled and its PBX connections dropped without giving its
leases back, as kill -9 leaves them) and the other takes its node within the lease window, catches up
the call records of the gap from the node's Master.csv exactly once and leaves no ghost call; commands
reach the owner of the user's node from either daemon; SQLite is refused."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import threading
import time
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, update

from clusterpbx.ami.cdr import read_csv_since
from clusterpbx.cli import cli
from clusterpbx.control import callrecords
from clusterpbx.control.commands import ControlClient, DaemonUnavailable
from clusterpbx.control.config import load_settings
from clusterpbx.control.daemon import ControlDaemon
from clusterpbx.control.db import make_session_factory
from clusterpbx.control.models import CallRecord, LiveCall, NodeHealth, NodeKind, NodeLease, PbxNode
from clusterpbx.demo_runtime import demo_model
from clusterpbx.sim.runner import SimPBX
from tests.daemon_harness import die_like_kill_9

SECRET = "cluster-secret"
PG = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


def wait(predicate: Any, timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"{what} not reached within {timeout}s")


class Cluster:
    """Two nodes, each an embedded Asterisk writing its own Master.csv, a tenant on each, and control
    daemons in cluster mode on one event loop in a background thread."""

    def __init__(self, engine: Any, db: Any, world: Any, tmp_path: Path):
        self.engine, self.db, self.tmp = engine, db, tmp_path
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.daemons: list[ControlDaemon] = []
        self.sims: dict[str, SimPBX] = {}
        self.csv: dict[str, Path] = {}
        self.nodes: dict[str, PbxNode] = {}
        self.users: dict[str, Any] = {}
        for name, domain in (("n1", "acme.test"), ("n2", "beta.test")):
            node = PbxNode(name=name, kind=NodeKind.ASTERISK, host="127.0.0.1", port=1, username="portal",
                           secret="portalsecret", sip_domain="pbx.test")
            db.add(node)
            db.flush()
            tenant = world.tenant(domain)
            tenant.node_id = node.id
            db.commit()
            self.users[name] = world.user(tenant, extension="201")
            world.user(tenant, extension="202")
            world.user(tenant, extension="203")
            spool = tmp_path / f"spool-{name}"
            sim = SimPBX(model=demo_model(db, name, str(spool)), ami_port=0, esl_port=None)
            self.csv[name] = tmp_path / f"Master-{name}.csv"
            sim.ami.cdr_csv = self.csv[name]
            sim.start()
            node.port = sim.ami_port
            node.options = {"cdr_csv": str(self.csv[name]), "timezone": "UTC"}
            db.commit()
            self.sims[name], self.nodes[name] = sim, node

    def on_loop(self, coro: Coroutine[Any, Any, Any], timeout: float = 60.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def daemon(self, lease: float = 3.0) -> ControlDaemon:
        d = ControlDaemon(make_session_factory(self.engine), SECRET, port=0, cluster=True, node_lease_seconds=lease)
        self.on_loop(d.start(), 30)
        self.daemons.append(d)
        return d

    def owns(self, d: ControlDaemon, name: str) -> bool:
        runner = d.nodes.get(self.nodes[name].id)
        return runner is not None and runner.resynced.is_set()

    def kill(self, d: ControlDaemon) -> None:
        """kill -9: nothing more runs, the PBX and command connections drop, nothing is flushed and no
        lease or row is given back."""

        self.on_loop(die_like_kill_9(d))
        self.daemons.remove(d)

    def close(self) -> None:
        for d in self.daemons:
            with contextlib.suppress(Exception):
                self.on_loop(d.stop(), 30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        for sim in self.sims.values():
            sim.stop()


@pytest.fixture
def cluster(engine: Any, db: Any, world: Any, tmp_path: Path) -> Iterator[Cluster]:
    c = Cluster(engine, db, world, tmp_path)
    try:
        yield c
    finally:
        c.close()


def client_for(tmp_path: Path, database_url: str, port: int, cluster_mode: bool = True) -> ControlClient:
    instance = tmp_path / "instance"
    instance.mkdir(exist_ok=True)
    (instance / "control_secret").write_text(SECRET)
    settings = load_settings({"database_url": database_url, "instance_path": str(instance),
                              "control_url": f"http://127.0.0.1:{port}", "control_cluster": cluster_mode,
                              "control_timeout": 10.0})
    return ControlClient.from_settings(settings)


def two_daemons(c: Cluster, lease: float = 3.0) -> tuple[ControlDaemon, ControlDaemon]:
    """The first daemon alone takes both nodes; the second one joins and gets its fair share (one)."""
    a = c.daemon(lease)
    wait(lambda: c.owns(a, "n1") and c.owns(a, "n2"), what="the only daemon owning every node")
    b = c.daemon(lease)
    wait(lambda: len(a.nodes) == 1 and len(b.nodes) == 1 and all(c.owns(d, n) for d in (a, b)
                                                                   for n in ("n1", "n2") if c.nodes[n].id in d.nodes),
         what="each daemon owning one node")
    return a, b


def owner(c: Cluster, a: ControlDaemon, b: ControlDaemon, name: str) -> tuple[ControlDaemon, ControlDaemon]:
    """(the daemon owning node `name`, the other one)."""
    return (a, b) if c.nodes[name].id in a.nodes else (b, a)


@PG
def test_a_killed_daemons_node_is_taken_over_with_every_record_of_the_gap_once(cluster, database_url):
    c = cluster
    a, b = two_daemons(c, lease=6.0)  # the production lease: take-over within 10 s
    victim, survivor = owner(c, a, b, "n1")
    node_id = c.nodes["n1"].id
    sim = c.sims["n1"]
    sim.start_scenario(rate=4.0, seed=7, count=60, talk_seconds=(0.3, 1.0), ring_seconds=0.2,
                       mix={"internal_answered": 4, "internal_voicemail": 1})
    wait(lambda: sim.call_soon(lambda: sim.scenario.stats.total) >= 10, what="calls under way")
    wait(lambda: c.db.scalar(select(func.count()).select_from(CallRecord).where(CallRecord.node_id == node_id)) > 0,
         what="records stored live by the first owner")
    csv_at_kill = c.csv["n1"].read_bytes().count(b"\n")
    with make_session_factory(c.engine)() as s:
        position = int(s.get(NodeHealth, node_id).cdr_position or 0)
    # The dead owner's catch-up position is older than the records it stored live: the new owner reads
    # those again (they must not be stored twice) along with the gap's.
    assert position < c.csv["n1"].stat().st_size
    killed_at = time.monotonic()
    c.kill(victim)
    wait(lambda: node_id in survivor.nodes, timeout=12, what="the survivor starting the node")
    took = time.monotonic() - killed_at
    assert took < 10, f"take-over took {took:.1f} s"
    runner = survivor.nodes[node_id]
    wait(lambda: runner.resynced.is_set(), timeout=15, what="the take-over resync")
    csv_at_takeover = c.csv["n1"].read_bytes().count(b"\n")
    assert csv_at_takeover > csv_at_kill, "records were written while nobody owned the node"
    assert node_id not in victim.nodes

    wait(lambda: sim.call_soon(lambda: sim.scenario.stats.total) >= 60, what="the scenario finished")
    wait(lambda: sim.call_soon(lambda: len(sim.model.channels)) == 0, what="every call ended on the PBX")
    reports, _pos = read_csv_since(str(c.csv["n1"]), 0, ZoneInfo("UTC"))
    with make_session_factory(c.engine)() as s:
        directory = callrecords.Directory.load(s, node_id)
    expected = {(row["pbx_call_id"], row["user_id"]) for r in reports
                for row in callrecords.rows_for(r, node_id, directory)}
    assert len(reports) >= 40

    def stored() -> set[tuple[str, int]]:
        c.db.expire_all()
        return {(r.pbx_call_id, r.user_id) for r in c.db.scalars(select(CallRecord).where(CallRecord.node_id == node_id))}

    wait(lambda: stored() == expected, timeout=20, what="every record of the node stored")
    count = c.db.scalar(select(func.count()).select_from(CallRecord).where(CallRecord.node_id == node_id))
    assert count == len(expected)  # none twice: the live ones of the dead owner were read again from its position
    # No ghost: the calls the dead daemon had projected were replaced by the PBX's list at the take-over.
    wait(lambda: c.db.scalar(select(func.count()).select_from(LiveCall).where(LiveCall.node_id == node_id)) == 0,
         timeout=10, what="no live call left")
    lease = c.db.get(NodeLease, node_id)
    c.db.refresh(lease)
    assert lease.holder == survivor.holder


@PG
def test_a_command_for_another_daemons_node_is_forwarded_to_its_owner(cluster, database_url, tmp_path):
    c = cluster
    a, b = two_daemons(c)
    owner_n1, other = owner(c, a, b, "n1")
    user = c.users["n1"]
    # Sent to the daemon that does not own the user's node: the call is placed on the user's PBX.
    reply = client_for(tmp_path, database_url, other.port).call("click_to_call", user_id=user.id, number="202")
    assert reply["number"] == "202" and reply["endpoint"]
    sim = c.sims["n1"]
    wait(lambda: sim.call_soon(lambda: any(reply["endpoint"] in ch.name for ch in sim.model.channels.values())),
         timeout=10, what="the call on node n1's PBX")
    assert not c.sims["n2"].call_soon(lambda: list(c.sims["n2"].model.channels))
    # A command for the other daemon's own node is answered by it directly.
    assert client_for(tmp_path, database_url, owner_n1.port).call("resync_phone", user_id=user.id)["endpoints"]
    # A node named in the command (the admin's "apply the configuration"): reloaded by its owner.
    before = {n: c.sims[n].call_soon(lambda n=n: c.sims[n].model.last_reload) for n in ("n1", "n2")}
    time.sleep(0.05)
    assert client_for(tmp_path, database_url, other.port).call("reload_node", node="n1")["node"] == "n1"
    assert c.sims["n1"].call_soon(lambda: c.sims["n1"].model.last_reload) > before["n1"]
    assert c.sims["n2"].call_soon(lambda: c.sims["n2"].model.last_reload) == before["n2"]


@PG
def test_a_text_message_through_the_pbx_is_sent_by_the_owner_of_its_node(cluster, database_url, tmp_path):
    from clusterpbx.control.models import SmsMessage

    c = cluster
    a, b = two_daemons(c)
    owner_n1, other = owner(c, a, b, "n1")
    for d in (a, b):
        d.settings = load_settings({"database_url": database_url, "instance_path": str(tmp_path / "instance")})
    user = c.users["n1"]
    user.tenant.sms_provider = "pbx"
    msg = SmsMessage(tenant_id=user.tenant_id, user_id=user.id, to_number="202", body="on my way", provider="pbx")
    c.db.add(msg)
    c.db.commit()
    reply = client_for(tmp_path, database_url, other.port).call("sms_send", message_id=msg.id)
    assert reply["status"] == "sent", reply
    sent = c.sims["n1"].call_soon(lambda: [m.body for m in c.sims["n1"].model.messages])
    assert sent == ["on my way"]


@PG
def test_no_owner_gives_a_clear_daemon_unavailable(cluster, database_url, tmp_path):
    c = cluster
    a, b = two_daemons(c)
    victim, survivor = owner(c, a, b, "n1")
    user = c.users["n1"]
    c.kill(victim)
    # Its lease has not lapsed yet: the owner is known but gone.
    with pytest.raises(DaemonUnavailable, match="owning node n1 .* is not reachable"):
        client_for(tmp_path, database_url, survivor.port).call("resync_phone", user_id=user.id)
    # A node nobody may own (disabled): no owner at all.
    c.db.execute(update(PbxNode).where(PbxNode.name == "n1").values(enabled=False))
    c.db.commit()
    c.db.execute(update(NodeLease).where(NodeLease.node_id == c.nodes["n1"].id)
                 .values(expires_at=dt.datetime(2000, 1, 1)))
    c.db.commit()
    with pytest.raises(DaemonUnavailable, match="no control daemon owns node n1 right now"):
        client_for(tmp_path, database_url, survivor.port).call("resync_phone", user_id=user.id)
    time.sleep(1.5)  # a lease tick later the disabled node is still nobody's
    assert c.nodes["n1"].id not in survivor.nodes


@PG
def test_a_client_whose_daemon_is_down_reaches_another_live_daemon(cluster, database_url, tmp_path):
    c = cluster
    a, b = two_daemons(c)
    port_a = a.port
    c.kill(a)
    with pytest.raises(DaemonUnavailable, match="not reachable"):
        client_for(tmp_path, database_url, port_a, cluster_mode=False).call("ping")
    assert client_for(tmp_path, database_url, port_a).call("ping")["holder"] == b.holder


@PG
def test_a_daemon_whose_lease_was_taken_stops_the_node_and_the_new_owner_starts_it(cluster):
    """A daemon that stalled finds its node taken by another: it stops that runner at once."""
    c = cluster
    a = c.daemon(3.0)
    wait(lambda: c.owns(a, "n1") and c.owns(a, "n2"), what="the daemon owning both nodes")
    node_id = c.nodes["n2"].id
    c.db.execute(update(NodeLease).where(NodeLease.node_id == node_id).values(holder="someone-else"))
    c.db.commit()
    wait(lambda: node_id not in a.nodes, timeout=5, what="the runner stopped")
    assert c.nodes["n1"].id in a.nodes
    # The other daemon never renews it: once it lapses, the only live daemon takes the node again.
    wait(lambda: c.owns(a, "n2"), timeout=10, what="the lapsed node taken again")


@PG
def test_an_unexpected_error_in_a_tick_does_not_end_the_daemons_ticking(cluster, monkeypatch):
    """A tick that fails past the lease renewal (here: starting a taken node's runner) is logged and the
    next tick comes: the daemon keeps renewing and taking nodes (a dead loop held its nodes unrun until
    they lapsed and never took over another daemon's)."""
    c = cluster
    a = c.daemon(3.0)
    wait(lambda: c.owns(a, "n1") and c.owns(a, "n2"), what="the daemon owning both nodes")
    node_id = c.nodes["n2"].id
    track = a._track
    failed: list[int] = []

    def fails_once(coro: Any) -> None:
        if not failed:
            failed.append(1)
            coro.close()
            raise RuntimeError("a bug in starting a runner")
        track(coro)

    monkeypatch.setattr(a, "_track", fails_once)
    # Another daemon took n2 (a stops its runner), then died: once its lease lapsed, `a` takes n2 back.
    c.db.execute(update(NodeLease).where(NodeLease.node_id == node_id).values(holder="someone-else"))
    c.db.commit()
    wait(lambda: node_id not in a.nodes, timeout=5, what="the runner stopped")
    c.db.execute(update(NodeLease).where(NodeLease.node_id == node_id).values(expires_at=dt.datetime(2000, 1, 1)))
    c.db.commit()
    wait(lambda: bool(failed), timeout=5, what="the failing tick")
    wait(lambda: c.owns(a, "n2"), timeout=10, what="n2 started at a later tick")


@PG
def test_a_daemon_that_cannot_renew_its_leases_stops_its_nodes_before_they_lapse(cluster, monkeypatch):
    """Cut off from the database, a daemon stops its runners before another daemon may take the nodes
    (never two owners of a node), and writes nothing for them meanwhile."""
    from sqlalchemy.exc import OperationalError

    from clusterpbx.control import cluster as clustering

    c = cluster
    a = c.daemon(3.0)
    wait(lambda: c.owns(a, "n1") and c.owns(a, "n2"), what="the daemon owning both nodes")
    runner = a.nodes[c.nodes["n1"].id]

    failed: list[float] = []

    def cut_off(*args: Any, **kwargs: Any) -> Any:
        failed.append(time.monotonic())
        raise OperationalError("UPDATE node_leases", {}, ConnectionRefusedError("the database is unreachable"))

    monkeypatch.setattr(clustering, "tick", cut_off)
    wait(lambda: bool(failed), timeout=5, what="a lease tick failing")  # none renews after it
    c.db.commit()
    leases = {row.node_id: row.expires_at for row in c.db.scalars(select(NodeLease))}
    wait(lambda: not a.nodes, timeout=6, what="the runners stopped")
    with make_session_factory(c.engine)() as s:
        now = clustering.db_now(s)
    assert all(now < expires for expires in leases.values()), "stopped only after the leases lapsed"
    wait(lambda: not runner.owned(), timeout=3, what="the runner no longer writing for the node")


@PG
def test_the_owner_keeps_its_catch_up_position_current(cluster, monkeypatch):
    """A daemon taking a node over reads the node's log from the last position its owner remembered:
    the owner moves it forward as it goes, not only at its reconnects (a take-over after weeks reads a
    minute of records again, not weeks)."""
    from clusterpbx.control import daemon as daemon_module

    monkeypatch.setitem(daemon_module.CLUSTER_JOB_INTERVALS, "catch_up", 1)
    c = cluster
    a = c.daemon(3.0)
    wait(lambda: c.owns(a, "n1"), what="the node owned")
    node_id = c.nodes["n1"].id
    sim = c.sims["n1"]
    sim.start_scenario(rate=None, seed=3, count=5, talk_seconds=(0.1, 0.2), ring_seconds=0.1,
                       mix={"internal_answered": 1})
    wait(lambda: sim.call_soon(lambda: sim.scenario.stats.total) >= 5, what="the calls made")
    wait(lambda: sim.call_soon(lambda: len(sim.model.channels)) == 0, what="the calls ended")

    def position() -> int:
        with make_session_factory(c.engine)() as s:
            return int(s.get(NodeHealth, node_id).cdr_position or 0)

    size = c.csv["n1"].stat().st_size
    assert size > 0
    wait(lambda: position() == size, timeout=10, what="the position at the end of the node's log")
    assert a.nodes[node_id].resyncs == 1  # no reconnect moved it


@PG
def test_each_daemon_sweeps_the_ghost_calls_of_its_own_nodes(cluster, monkeypatch):
    """The scheduler's leader owns only some nodes: the live-call sweep runs in every daemon, for its own."""
    from clusterpbx.control import daemon as daemon_module
    from clusterpbx.control.daemon import jobs
    from clusterpbx.control.port import CallStarted, CallState, PbxCall

    monkeypatch.setitem(daemon_module.JOB_INTERVALS, "live_sweep", 1)
    c = cluster
    a, b = two_daemons(c)
    for d in (a, b):
        (runner,) = d.nodes.values()
        # A call whose hangup the daemon missed: the PBX does not list it. Started within the sweep's
        # grace, so that both are surely in the database before the sweep may end them.
        recent = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(seconds=5)
        c.loop.call_soon_threadsafe(runner.on_event, CallStarted(recent, PbxCall(
            f"ghost-{runner.name}", recent, CallState.ANSWERED, "201", "202")))
    ghosts = select(func.count()).select_from(LiveCall).where(LiveCall.pbx_call_id.like("ghost-%"))
    wait(lambda: c.db.scalar(ghosts) == 2, timeout=10, what="the ghosts projected")
    time.sleep(1.5)  # a sweep or more ran: within the grace, nothing is removed
    assert c.db.scalar(ghosts) == 2
    monkeypatch.setattr(jobs, "LIVE_SWEEP_GRACE", dt.timedelta(0))  # now they are old enough
    wait(lambda: c.db.scalar(ghosts) == 0, timeout=10, what="both ghosts swept")


@PG
def test_control_status_shows_each_nodes_owner(cluster, database_url, tmp_path, monkeypatch):
    c = cluster
    a, b = two_daemons(c)
    instance = tmp_path / "instance"
    instance.mkdir(exist_ok=True)
    (instance / "control_secret").write_text(SECRET)
    monkeypatch.setenv("CLUSTERPBX_DATABASE_URL", database_url)
    monkeypatch.setenv("CLUSTERPBX_INSTANCE", str(instance))
    monkeypatch.setenv("CLUSTERPBX_CONTROL_CLUSTER", "1")
    monkeypatch.setenv("CLUSTERPBX_CONTROL_URL", f"http://127.0.0.1:{a.port}")
    r = CliRunner().invoke(cli, ["control", "--status"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    n1, n2 = owner(c, a, b, "n1")[0], owner(c, a, b, "n2")[0]
    lines = r.output.splitlines()
    assert any(line.split()[:2] == ["n1", n1.holder] and f"127.0.0.1:{n1.port}" in line for line in lines), r.output
    assert any(line.split()[:2] == ["n2", n2.holder] and f"127.0.0.1:{n2.port}" in line for line in lines), r.output
    assert "live daemons: 2" in r.output


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_cluster_mode_refuses_sqlite(database_url, tmp_path, monkeypatch, engine):
    monkeypatch.setenv("CLUSTERPBX_DATABASE_URL", database_url)
    monkeypatch.setenv("CLUSTERPBX_INSTANCE", str(tmp_path / "instance"))
    monkeypatch.setenv("CLUSTERPBX_CONTROL_CLUSTER", "1")
    r = CliRunner().invoke(cli, ["control"])
    assert r.exit_code == 2
    assert "control_cluster needs PostgreSQL" in r.output and "Traceback" not in r.output
    daemon = ControlDaemon(make_session_factory(engine), SECRET, port=0, cluster=True)
    with pytest.raises(RuntimeError, match="needs PostgreSQL"):
        asyncio.run(daemon.start())


@PG
def test_fair_share_and_take_over_between_three_daemons(engine, db):
    """The lease transactions themselves (control/cluster.py), daemon by daemon: a lone daemon takes
    every node, one joining gets its share once the first gives a node back, a third gets nothing while
    the others hold their share, and the node of one that stops renewing goes to a live one, once."""
    from clusterpbx.control import cluster as clustering

    for name in ("n1", "n2"):
        db.add(PbxNode(name=name, kind=NodeKind.ASTERISK, host="127.0.0.1", port=5038))
    db.add(PbxNode(name="off", kind=NodeKind.ASTERISK, host="127.0.0.1", port=5038, enabled=False))
    db.commit()
    sessions = make_session_factory(engine, write=True)
    lease = 1.0
    started = dt.datetime(2026, 1, 1)

    def tick(holder: str) -> clustering.LeaseView:
        with sessions() as s:
            view = clustering.tick(s, holder, f"{holder}:1", started, lease)
            if view.shed:
                clustering.release(s, holder, view.shed)
            return view

    assert len(tick("A").held) == 2  # alone: everything enabled, the disabled node never
    view = tick("B")
    assert (view.held, view.fair, view.live) == (set(), 1, 2)  # nothing free yet
    a = tick("A")
    assert len(a.held) == 1 and len(a.shed) == 1  # above its share while B has none: one given back
    assert tick("B").held == a.shed
    assert tick("C").held == set()  # the others hold exactly their share
    held_by = {row.node_id: row.holder for row in db.scalars(select(NodeLease))}
    assert sorted(held_by.values()) == ["A", "B"]
    # A stops renewing (killed); B and C go on. Once A's lease lapsed, exactly one of them has its node.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        b, c3 = tick("B"), tick("C")
        if len(b.held) + len(c3.held) == 2:
            break
        time.sleep(0.2)
    assert len(b.held) + len(c3.held) == 2 and not b.held & c3.held
    db.commit()  # a new transaction: the database's clock of now, not of the test's first read
    assert {row.holder for row in db.scalars(select(NodeLease))} == {"B", "C"}
    assert {h for h, _a, _s in clustering.ownership(db, lease)[1]} == {"B", "C"}


@PG
def test_two_daemons_starting_together_on_a_new_database_both_start_their_scheduler(engine):
    """Both daemons found the job table missing and created it; the second's CREATE TABLE failed (a
    unique violation in PostgreSQL's catalog) and that daemon exited at start (seen in the fail-over
    bench). Here the other daemon's CREATE is held uncommitted until this one's waits behind it."""
    from sqlalchemy import text

    from clusterpbx.control.daemon import scheduler as scheduling

    with engine.begin() as conn:
        conn.execute(text(f"DROP TABLE IF EXISTS {scheduling.JOBS_TABLE}"))
    other = engine.connect()
    other.execute(text(f"CREATE TABLE {scheduling.JOBS_TABLE} (id VARCHAR(191) PRIMARY KEY, "
                       "next_run_time FLOAT(25), job_state BYTEA NOT NULL)"))
    host = object()
    started: dict[str, Any] = {}

    def start() -> None:
        try:
            started["scheduler"] = scheduling.start_scheduler(host, engine)  # type: ignore[arg-type]
        except Exception as exc:  # noqa: BLE001 - what the daemon died of
            started["error"] = exc

    thread = threading.Thread(target=start)
    thread.start()
    try:
        def create_waiting() -> bool:
            with engine.connect() as conn:
                return conn.scalar(text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                                        "AND query LIKE '%CREATE TABLE%'")) == 1

        wait(create_waiting, timeout=10, what="this daemon's CREATE waiting")
    finally:
        other.commit()
        other.close()
    thread.join(30)
    try:
        assert "error" not in started, started.get("error")
        assert started["scheduler"].running
        with engine.connect() as conn:  # the jobs were stored in the other daemon's table
            assert conn.scalar(text(f"SELECT count(*) FROM {scheduling.JOBS_TABLE}")) > 0  # noqa: S608 (our constant)
    finally:
        if "scheduler" in started:
            started["scheduler"].shutdown(wait=False)
        scheduling.forget(host)  # type: ignore[arg-type]
