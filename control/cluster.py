"""Several control daemons on one PostgreSQL (issue 26, `control_cluster`).

Each daemon heartbeats its row of `control_daemons` (the address of its command channel) and owns PBX
nodes through `node_leases`: it renews its leases every `lease/3` seconds, takes a node whose lease lapsed
(its owner died or stalled) or that nobody holds, at most its fair share (ceil(enabled nodes / live
daemons)) while other daemons are alive, and gives back what it holds above its share when another live
daemon holds less (a daemon that joins gets work). The heartbeat and the renewal are one transaction at
the database's clock, so a dead daemon stops counting as alive when its leases lapse.

Everything here is synchronous, one short transaction per call, run in a worker thread by the daemon
(docs/transactions.md). The command channel's routing reads the owner of a node here too, and the
portal's `ControlClient` the other live daemons when its own is unreachable.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, delete, func, select, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from .db import make_engine, make_session_factory
from .models import ClusterDaemon, NodeLease, PbxNode, SmsMessage, Tenant, User

NODE_LEASE_SECONDS = 6.0  # a dead owner's node is taken within lease + lease/3 (< 10 s)
FORGET_DAEMON_AFTER = dt.timedelta(hours=1)  # rows of daemons gone this long are deleted

SQLITE_REFUSED = ("control_cluster needs PostgreSQL: several control daemons share their node leases "
                  "through the database, and SQLite is one machine's file. Set database_url to a "
                  "postgresql+psycopg:// URL, or turn control_cluster off to run one daemon on SQLite.")


def refusal(database_url: str) -> str:
    """Why cluster mode cannot run on this database ('' when it can)."""
    return SQLITE_REFUSED if database_url.strip().lower().startswith("sqlite") else ""


def db_now(db: Session) -> dt.datetime:
    """The database's clock (naive UTC, as every DateTime column): daemons on several machines agree on
    when a lease lapses even if their own clocks drift."""
    if db.get_bind().dialect.name == "postgresql":
        value = db.scalar(select(func.timezone("UTC", func.now())))
        assert isinstance(value, dt.datetime)
        return value
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


@dataclass
class LeaseView:
    """What one tick decided, for the daemon to act on (start, stop, give back runners)."""

    now: dt.datetime
    held: set[int] = field(default_factory=set)  # nodes this daemon owns after the tick (shed excluded)
    shed: set[int] = field(default_factory=set)  # nodes to give back: stop their runner, then release()
    live: int = 1  # live daemons, this one included
    fair: int = 0


def tick(db: Session, holder: str, address: str, started_at: dt.datetime, lease_seconds: float) -> LeaseView:
    """Heartbeat, renew this daemon's leases, take lapsed or free nodes up to its fair share and say
    which to give back; one short transaction, committed here."""
    now = db_now(db)
    lease = dt.timedelta(seconds=lease_seconds)
    expires = now + lease
    ins = postgresql.insert(ClusterDaemon).values(holder=holder, address=address, started_at=started_at,
                                                  seen_at=now)
    if db.get_bind().dialect.name == "postgresql":
        db.execute(ins.on_conflict_do_update(index_elements=["holder"],
                                             set_={"address": address, "seen_at": now}))
    else:  # not used in production (cluster mode refuses SQLite); kept for completeness
        me = db.get(ClusterDaemon, holder)
        if me is None:
            db.add(ClusterDaemon(holder=holder, address=address, started_at=started_at, seen_at=now))
        else:
            me.address, me.seen_at = address, now
        db.flush()
    # Renewed even if it lapsed meanwhile, as long as nobody took it: this daemon kept running it.
    db.execute(update(NodeLease).where(NodeLease.holder == holder).values(expires_at=expires)
               .execution_options(synchronize_session=False))
    enabled = list(db.scalars(select(PbxNode.id).where(PbxNode.enabled.is_(True)).order_by(PbxNode.id)))
    leases = {lease_row.node_id: lease_row for lease_row in db.scalars(select(NodeLease))}
    mine = {n for n, row in leases.items() if row.holder == holder}
    gone = mine - set(enabled)  # disabled or deleted nodes are given back
    if gone:
        db.execute(delete(NodeLease).where(NodeLease.holder == holder, NodeLease.node_id.in_(gone)))
        mine -= gone
    live_holders = set(db.scalars(select(ClusterDaemon.holder).where(ClusterDaemon.seen_at >= now - lease)))
    live_holders.add(holder)
    fair = math.ceil(len(enabled) / len(live_holders)) if enabled else 0
    for node_id in enabled:
        if len(mine) >= fair:
            break
        row = leases.get(node_id)
        if row is not None and (row.holder == holder or row.expires_at >= now):
            continue
        conn = db.connection()
        if row is None:
            taken = conn.execute(postgresql.insert(NodeLease)
                                 .values(node_id=node_id, holder=holder, expires_at=expires, taken_at=now)
                                 .on_conflict_do_nothing(index_elements=["node_id"])).rowcount
        else:  # lapsed: taken only if still lapsed (another daemon may have taken it meanwhile)
            taken = conn.execute(update(NodeLease).where(NodeLease.node_id == node_id, NodeLease.expires_at < now)
                                 .values(holder=holder, expires_at=expires, taken_at=now)).rowcount
        if taken:
            mine.add(node_id)
    shed: set[int] = set()
    if len(mine) > fair:
        counts = {h: 0 for h in live_holders}
        for held in leases.values():
            if held.holder in counts and held.expires_at >= now:
                counts[held.holder] += 1
        if any(n < fair for h, n in counts.items() if h != holder):
            shed = set(sorted(mine)[fair:])
    db.execute(delete(ClusterDaemon).where(ClusterDaemon.seen_at < now - FORGET_DAEMON_AFTER))
    db.commit()
    return LeaseView(now=now, held=mine - shed, shed=shed, live=len(live_holders), fair=fair)


def release(db: Session, holder: str, node_ids: set[int] | None = None) -> int:
    """Give back this daemon's leases (all of them when node_ids is None), after their runners stopped:
    another daemon takes them at its next tick."""
    stmt = delete(NodeLease).where(NodeLease.holder == holder)
    if node_ids is not None:
        stmt = stmt.where(NodeLease.node_id.in_(node_ids))
    count = int(db.connection().execute(stmt).rowcount)
    db.commit()
    return count


def leave(db: Session, holder: str) -> None:
    """A daemon stopping cleanly: its leases and its row go at once (no waiting for them to lapse)."""
    db.execute(delete(NodeLease).where(NodeLease.holder == holder))
    db.execute(delete(ClusterDaemon).where(ClusterDaemon.holder == holder))
    db.commit()


# -- routing ------------------------------------------------------------------------------------------

@dataclass
class Target:
    node_id: int
    node_name: str
    required: bool = True  # False: any daemon may run the command when the node has no live owner


def command_node(db: Session, command: str, args: dict[str, Any]) -> Target | None:
    """The node a command is about (user -> tenant -> node; reload_node by name; test_node; sms_send by
    message -> tenant -> node), None when it concerns no node or the arguments name nothing."""
    try:
        if "user_id" in args:
            user = db.get(User, int(args["user_id"]))
            tenant = user.tenant if user is not None else None
            node_id = tenant.node_id if tenant is not None else None
        elif command == "reload_node":
            node_id = db.scalar(select(PbxNode.id).where(PbxNode.name == str(args.get("node"))))
        elif command == "test_node":
            node = db.get(PbxNode, int(args.get("node_id", -1)))
            return Target(node.id, node.name, required=False) if node is not None else None
        elif command == "sms_send":
            msg = db.get(SmsMessage, int(args.get("message_id", -1)))
            if msg is None or msg.provider != "pbx":  # other providers are reached from any daemon
                return None
            node_id = db.scalar(select(Tenant.node_id).where(Tenant.id == msg.tenant_id))
        else:
            return None
    except (TypeError, ValueError, OverflowError):
        return None  # the command's own validation answers
    if node_id is None:
        return None
    name = db.scalar(select(PbxNode.name).where(PbxNode.id == node_id))
    return Target(int(node_id), name or str(node_id))


@dataclass
class Owner:
    holder: str
    address: str
    expires_at: dt.datetime


def owner_of(db: Session, node_id: int) -> Owner | None:
    """The live owner of a node (lease not lapsed, daemon's heartbeat fresh), None otherwise."""
    now = db_now(db)
    row = db.execute(select(NodeLease.holder, ClusterDaemon.address, NodeLease.expires_at)
                     .join(ClusterDaemon, ClusterDaemon.holder == NodeLease.holder)
                     .where(NodeLease.node_id == node_id, NodeLease.expires_at >= now)).first()
    return Owner(row[0], row[1], row[2]) if row is not None else None


def split_address(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host.strip("[]") or "127.0.0.1", int(port)


def live_addresses(db: Session, lease_seconds: float = NODE_LEASE_SECONDS) -> list[tuple[str, int]]:
    """The command channels of the daemons whose heartbeat is fresh, most recently seen first."""
    now = db_now(db)
    rows = db.scalars(select(ClusterDaemon.address)
                      .where(ClusterDaemon.seen_at >= now - dt.timedelta(seconds=lease_seconds))
                      .order_by(ClusterDaemon.seen_at.desc()))
    out = []
    for address in rows:
        try:
            out.append(split_address(address))
        except ValueError:
            continue
    return out


_ENGINES: dict[str, Engine] = {}
_ENGINES_LOCK = threading.Lock()


def peer_addresses(database_url: str, lease_seconds: float = NODE_LEASE_SECONDS) -> list[tuple[str, int]]:
    """live_addresses for a web worker's ControlClient (one short read on an engine kept per URL)."""
    with _ENGINES_LOCK:
        engine = _ENGINES.get(database_url)
        if engine is None:
            engine = _ENGINES[database_url] = make_engine(database_url)
    with make_session_factory(engine)() as db:
        return live_addresses(db, lease_seconds)


# -- status -------------------------------------------------------------------------------------------

@dataclass
class NodeOwnership:
    node: str
    holder: str
    address: str
    expires_in: float | None  # seconds left on the lease; negative: lapsed; None: no lease


def ownership(db: Session, lease_seconds: float = NODE_LEASE_SECONDS
              ) -> tuple[list[NodeOwnership], list[tuple[str, str, float]]]:
    """Per enabled node its owner, and the live daemons (holder, address, seconds since seen)."""
    now = db_now(db)
    nodes = []
    for node, lease_row, daemon in db.execute(
            select(PbxNode, NodeLease, ClusterDaemon)
            .outerjoin(NodeLease, NodeLease.node_id == PbxNode.id)
            .outerjoin(ClusterDaemon, ClusterDaemon.holder == NodeLease.holder)
            .where(PbxNode.enabled.is_(True)).order_by(PbxNode.name)):
        if lease_row is None:
            nodes.append(NodeOwnership(node.name, "", "", None))
        else:
            nodes.append(NodeOwnership(node.name, lease_row.holder, daemon.address if daemon else "",
                                       (lease_row.expires_at - now).total_seconds()))
    live = [(d.holder, d.address, (now - d.seen_at).total_seconds())
            for d in db.scalars(select(ClusterDaemon).where(ClusterDaemon.seen_at >= now - dt.timedelta(
                seconds=lease_seconds)).order_by(ClusterDaemon.started_at))]
    return nodes, live
