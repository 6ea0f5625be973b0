"""Projection of one node's domain events into the database tables the portal reads: live calls,
registrations, queue member states, mailbox counts and call records.

Events update an in-memory view at once; `flush()` writes what changed in one transaction with bulk
upserts, so thousands of events per second cost a few statements, and a call that starts and ends
between two flushes never touches the live_calls table at all.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import time
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Table, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from .. import audit, callrecords
from ..models import (
    AuditEntry,
    CallSettings,
    Extension,
    MailboxState,
    Queue,
    QueueMembership,
    QueueMemberState,
    Registration,
    SyncState,
    Tenant,
    User,
    utcnow,
)
from ..models import LiveCall as LiveCallRow
from ..pbxnames import PbxNames
from ..port import (
    CallAnswered,
    CallEnded,
    CallRecorded,
    CallRecordReport,
    CallRinging,
    CallStarted,
    CallState,
    Connected,
    FeatureChanged,
    MailboxChanged,
    PbxCall,
    PbxEvent,
    QueueMember,
    QueueMemberChanged,
    RegistrationChanged,
    RegistrationState,
)

log = logging.getLogger(__name__)
# How long an endpoint or number that the database did not know is not looked up again (a user created
# meanwhile gets the records of calls after that; the directory learns it at the next look-up).
NOT_FOUND_SECONDS = 10.0


def _upsert(db: Session, table: Table, rows: list[dict[str, Any]], keys: list[str]) -> None:
    if not rows:
        return
    dialect = db.get_bind().dialect.name
    ins = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    update_cols = {c: ins.excluded[c] for c in rows[0] if c not in keys}
    db.connection().execute(ins.on_conflict_do_update(index_elements=keys, set_=update_cols), rows)


@dataclasses.dataclass
class ProjectionStats:
    events: int = 0
    flushes: int = 0
    records: int = 0
    last_event_at: dt.datetime | None = None


class Projector:
    def __init__(self, sessions: sessionmaker[Session], node_id: int):
        self.sessions = sessions
        self.node_id = node_id
        self.calls: dict[str, PbxCall] = {}
        self._dirty_calls: set[str] = set()
        self._ended_calls: set[str] = set()
        self._replace_calls = False
        self._registrations: dict[str, RegistrationState] = {}
        self._members: dict[tuple[str, str], tuple[QueueMember, bool]] = {}
        # Member changes seen live (a phone's *45/*46, the PBX's own console), as opposed to snapshots:
        # only these are adopted as the user's wish, because a snapshot after a PBX restart also shows
        # members missing that nobody logged out.
        self._member_changes: dict[tuple[str, str], tuple[QueueMember, bool]] = {}
        # What the last member change taken for adoption said per (queue, interface): a QueueMemberStatus
        # repeating it (one per call a member takes) is not adopted again (a query of every membership).
        self._member_adopting: dict[tuple[str, str], tuple[bool, bool, str]] = {}
        self._mailboxes: dict[str, MailboxChanged] = {}
        self._records: list[CallRecordReport] = []
        self._features: list[FeatureChanged] = []  # feature codes dialled on phones, in order
        # Users whose desired state a feature code changed, written by the writer thread: the daemon
        # pushes them again, so a push planned before the code cannot leave the older value on the PBX.
        self.adopted_users: set[int] = set()
        self.stats = ProjectionStats()
        self._not_found: dict[str, float] = {}  # endpoint or number -> until when a look-up is skipped
        with sessions() as db:
            self.directory = callrecords.Directory.load(db, node_id)

    def reload_directory(self) -> None:
        self._not_found.clear()
        with self.sessions() as db:
            self.directory = callrecords.Directory.load(db, self.node_id)

    # -- events -----------------------------------------------------------------------------------

    def handle(self, event: PbxEvent) -> None:
        self.stats.events += 1
        self.stats.last_event_at = event.at
        if isinstance(event, CallStarted):
            self.calls[event.call.call_id] = event.call
            self._touch(event.call.call_id)
        elif isinstance(event, (CallRinging, CallAnswered)):
            call = self.calls.get(event.call_id)
            if call is None:
                return
            changes: dict[str, Any] = {}
            for name in ("destination_number", "destination_uri", "destination_ip", "destination_endpoint"):
                value = getattr(event, name)
                if value:
                    changes[name] = value
            if isinstance(event, CallAnswered) and call.state is not CallState.ANSWERED:
                changes.update(state=CallState.ANSWERED, answered_at=event.at)
            if changes:
                self.calls[event.call_id] = dataclasses.replace(call, **changes)
                self._touch(event.call_id)
        elif isinstance(event, CallEnded):
            if self.calls.pop(event.call_id, None) is not None:
                self._dirty_calls.discard(event.call_id)
                self._ended_calls.add(event.call_id)
        elif isinstance(event, CallRecorded):
            self._records.append(event.record)
        elif isinstance(event, RegistrationChanged):
            self._registrations[event.state.endpoint] = event.state
        elif isinstance(event, QueueMemberChanged):
            key = (event.member.queue, event.member.interface)
            self._members[key] = self._member_changes[key] = (event.member, event.removed)
        elif isinstance(event, MailboxChanged):
            self._mailboxes[event.mailbox] = event
        elif isinstance(event, FeatureChanged):
            self._features.append(event)
        elif isinstance(event, Connected):
            pass  # the daemon answers Connected with snapshots (reconcile_*)

    def _touch(self, call_id: str) -> None:
        self._dirty_calls.add(call_id)
        self._ended_calls.discard(call_id)

    # -- snapshots after (re)connect ------------------------------------------------------------

    def reconcile_calls(self, snapshot: Iterable[PbxCall]) -> None:
        """Replace the live view with the PBX's snapshot: calls that ended while the link was down
        disappear, calls that started appear; no ghosts, no duplicates."""
        self.calls = {c.call_id: c for c in snapshot}
        self._dirty_calls = set(self.calls)
        self._ended_calls.clear()
        self._replace_calls = True

    def reconcile_registrations(self, states: Iterable[RegistrationState]) -> None:
        for s in states:
            self._registrations[s.endpoint] = s

    def reconcile_queue_members(self, members: Iterable[QueueMember]) -> None:
        self._member_adopting.clear()  # after a (re)connect every live change is adopted afresh
        for m in members:
            self._members[(m.queue, m.interface)] = (m, False)

    # -- writing -----------------------------------------------------------------------------------

    @property
    def pending(self) -> int:
        return (len(self._dirty_calls) + len(self._ended_calls) + len(self._registrations)
                + len(self._members) + len(self._member_changes) + len(self._mailboxes) + len(self._records)
                + len(self._features) + int(self._replace_calls))

    def _call_row(self, call: PbxCall) -> dict[str, Any]:
        return {**self._call_values(call), "tenant_id": self._call_tenant(call)}

    def _call_tenant(self, call: PbxCall) -> int | None:
        """The tenant a live call is shown to: its phones' (SIP endpoints are unique on the platform),
        else the one its dialplan context or SIP domain names, else the tenant of its numbers when only
        one tenant of the node has them; the node's default tenant only when it has a single one."""
        d = self.directory
        for endpoint in (call.source_endpoint, call.destination_endpoint):
            party = d.by_endpoint.get(endpoint) if endpoint else None
            if party is not None:
                return party[0]
        tenant_id = d.tenant_of(call.context, call.domain)
        if tenant_id is not None:
            return tenant_id
        for number in (call.source_number, call.destination_number):
            party = d.number(number)
            if party is not None:
                return party[0]
        return d.default_tenant_id

    def _call_values(self, call: PbxCall) -> dict[str, Any]:
        return {
            "node_id": self.node_id, "pbx_call_id": call.call_id[:128],
            "started_at": call.started_at, "answered_at": call.answered_at, "state": call.state.value,
            "source_number": call.source_number[:64], "destination_number": call.destination_number[:64],
            "source_uri": call.source_uri[:255], "destination_uri": call.destination_uri[:255],
            "source_ip": call.source_ip[:64], "destination_ip": call.destination_ip[:64],
        }

    def take(self) -> Batch:
        """Move everything pending into a batch. Call it on the thread that calls handle(): the batch can
        then be written from another thread while new events keep arriving."""
        batch = Batch(
            replace_calls=self._replace_calls,
            ended_calls=list(self._ended_calls),
            call_rows=[self._call_row(self.calls[c]) for c in self._dirty_calls if c in self.calls],
            dirty_calls=set(self._dirty_calls),
            registrations=dict(self._registrations),
            members=dict(self._members),
            member_changes=self._new_member_changes(),
            mailboxes=dict(self._mailboxes),
            records=list(self._records),
            features=list(self._features),
        )
        self._dirty_calls = set()
        self._ended_calls = set()
        self._replace_calls = False
        self._registrations = {}
        self._members = {}
        self._member_changes = {}
        self._mailboxes = {}
        self._records = []
        self._features = []
        return batch

    def _new_member_changes(self) -> dict[tuple[str, str], tuple[QueueMember, bool]]:
        """The member changes that say something new: what adopt_member_changes writes (logged in, paused,
        reason) differs from the last change taken for that member."""
        out = {}
        for key, (member, removed) in self._member_changes.items():
            logged_in = member.logged_in and not removed
            said = (logged_in, logged_in and member.paused, member.pause_reason[:80] if logged_in and member.paused
                    else "")
            if self._member_adopting.get(key) != said:
                self._member_adopting[key] = said
                out[key] = (member, removed)
        return out

    def requeue(self, batch: Batch) -> None:
        """Give a batch that could not be written back; newer pending state wins over the batch's."""
        self._replace_calls |= batch.replace_calls
        self._dirty_calls |= {c for c in batch.dirty_calls if c in self.calls}
        self._ended_calls |= {c for c in batch.ended_calls if c not in self.calls}
        for k, v in batch.registrations.items():
            self._registrations.setdefault(k, v)
        for km, vm in batch.members.items():
            self._members.setdefault(km, vm)
        for km, vm in batch.member_changes.items():
            self._member_changes.setdefault(km, vm)
            self._member_adopting.pop(km, None)  # not written: taken again by the next batch
        for kb, vb in batch.mailboxes.items():
            self._mailboxes.setdefault(kb, vb)
        self._records[:0] = batch.records
        self._features[:0] = batch.features

    def flush(self) -> int:
        """take() and write() in one go (tests, and callers on a single thread)."""
        return self.write(self.take())

    def write(self, batch: Batch) -> int:
        """Write a batch in one transaction; returns the number of call records stored. On failure the
        batch is requeued (nothing is lost) and the error raised."""
        if batch.empty:
            return 0
        try:
            stored = self.store(batch)
        except BaseException:
            self.requeue(batch)
            raise
        self.stored(stored)
        return stored

    def store(self, batch: Batch) -> int:
        """Write a batch in one short write transaction, from any thread; the caller requeues it on failure
        (on the thread that handles events). Returns the number of call records stored."""
        return self._write(batch) if not batch.empty else 0

    def stored(self, records: int) -> None:
        self.stats.flushes += 1
        self.stats.records += records

    def _learn_endpoints(self, db: Session, records: list[CallRecordReport]) -> None:
        """Users, extensions and tenants created after the daemon started: look up the parties the
        directory does not know yet (one indexed query), so their calls are not dropped as concerning
        nobody, or given to another tenant that has the same number."""
        d = self.directory
        unknown: set[str] = set()
        new_tenant = False
        for r in records:
            tenant_id = d.tenant_of(r.context, r.domain)
            # a context or domain of ours that names no tenant: one created after the directory was loaded
            new_tenant |= tenant_id is None and (r.context.startswith("cpbx-") or bool(r.domain))
            unknown.update(p for p in (r.source_endpoint, r.destination_endpoint) if p and not d.knows(p))
            if r.dialed_number and not d.knows(r.dialed_number, tenant_id):
                unknown.add(r.dialed_number)
        # A key looked up in vain (an outside number dialled, a trunk) is not looked up again for
        # NOT_FOUND_SECONDS: every outgoing call's record would otherwise cost a query per batch.
        now = time.monotonic()
        unknown = {k for k in unknown if self._not_found.get(k, 0.0) <= now}
        if new_tenant:
            d.merge(callrecords.Directory.load(db, self.node_id, unknown))
        elif unknown:  # the node's tenants are known: only their parties are looked up (two indexed queries)
            by_endpoint, by_number = callrecords.Directory.parties(db, list(d.rates), unknown)
            if by_endpoint or by_number:
                d.merge(callrecords.Directory(by_endpoint, {}, None, by_number))
        if len(self._not_found) > 10_000:
            self._not_found = {k: t for k, t in self._not_found.items() if t > now}
        for key in unknown:
            if not d.knows(key):
                self._not_found[key] = now + NOT_FOUND_SECONDS

    def _write(self, batch: Batch) -> int:
        now = utcnow()
        stored = 0
        # Its own short transaction: SQLite takes the write lock at the first statement (BEGIN IMMEDIATE,
        # control/db.py) and releases it at the commit below, a few milliseconds later.
        with self.sessions() as db:
            if batch.replace_calls:
                db.execute(delete(LiveCallRow).where(LiveCallRow.node_id == self.node_id))
            elif batch.ended_calls:
                ended = batch.ended_calls
                for i in range(0, len(ended), 500):
                    db.execute(delete(LiveCallRow).where(LiveCallRow.node_id == self.node_id,
                                                         LiveCallRow.pbx_call_id.in_(ended[i:i + 500])))
            _upsert(db, LiveCallRow.__table__, batch.call_rows, ["node_id", "pbx_call_id"])  # type: ignore[arg-type]
            _upsert(db, Registration.__table__, [  # type: ignore[arg-type]
                {"node_id": self.node_id, "endpoint": s.endpoint[:64], "registered": s.registered,
                 "contact": s.contact[:255], "user_agent": s.user_agent[:255], "updated_at": now}
                for s in batch.registrations.values()], ["node_id", "endpoint"])
            removed = [key for key, (_m, gone) in batch.members.items() if gone]
            for q, iface in removed:
                db.execute(delete(QueueMemberState).where(QueueMemberState.node_id == self.node_id,
                                                          QueueMemberState.queue == q,
                                                          QueueMemberState.interface == iface))
            _upsert(db, QueueMemberState.__table__, [  # type: ignore[arg-type]
                {"node_id": self.node_id, "queue": m.queue[:64], "interface": m.interface[:128],
                 "logged_in": m.logged_in, "paused": m.paused, "pause_reason": m.pause_reason[:80],
                 "in_call": m.in_call, "updated_at": now}
                for m, gone in batch.members.values() if not gone], ["node_id", "queue", "interface"])
            if batch.member_changes:
                adopt_member_changes(db, self.node_id, batch.member_changes)
            if batch.features:
                adopt_feature_changes(db, self.node_id, batch.features, self.adopted_users)
            _upsert(db, MailboxState.__table__, [  # type: ignore[arg-type]
                {"node_id": self.node_id, "mailbox": e.mailbox[:64], "new_messages": e.counts.new,
                 "old_messages": e.counts.old, "updated_at": now}
                for e in batch.mailboxes.values()], ["node_id", "mailbox"])
            if batch.records:
                self._learn_endpoints(db, batch.records)
                stored = callrecords.ingest(db, self.node_id, batch.records, self.directory)
            db.commit()
        return stored


@dataclasses.dataclass
class Batch:
    replace_calls: bool
    ended_calls: list[str]
    call_rows: list[dict[str, Any]]
    dirty_calls: set[str]
    registrations: dict[str, RegistrationState]
    members: dict[tuple[str, str], tuple[QueueMember, bool]]
    member_changes: dict[tuple[str, str], tuple[QueueMember, bool]]
    mailboxes: dict[str, MailboxChanged]
    records: list[CallRecordReport]
    features: list[FeatureChanged] = dataclasses.field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.replace_calls or self.ended_calls or self.call_rows or self.registrations
                    or self.members or self.mailboxes or self.records or self.features)


def adopt_member_changes(db: Session, node_id: int,
                         changes: dict[tuple[str, str], tuple[QueueMember, bool]]) -> int:
    """Make a queue login, logout or pause done on the PBX side (a phone's *45/*46) the user's
    desired state, so the next re-assertion does not undo it. A membership with a portal change still
    pending keeps the portal's value: that change is newer than anything the PBX reports."""
    wanted: dict[tuple[str, str], QueueMembership] = {}
    for tenant in db.scalars(select(Tenant).where(Tenant.node_id == node_id)):
        names = PbxNames.for_tenant(db, tenant)
        rows = db.execute(select(QueueMembership, Queue, Extension)
                          .join(Queue, Queue.id == QueueMembership.queue_id)
                          .join(User, User.id == QueueMembership.user_id)
                          .join(Extension, Extension.user_id == User.id)
                          .where(Queue.tenant_id == tenant.id, User.tenant_id == tenant.id)
                          .order_by(Extension.number)).all()
        seen: set[int] = set()
        for membership, queue, ext in rows:
            # Ordered like User.extensions: the first is the primary one, the one queue_interface() pushes.
            if membership.id not in seen:
                seen.add(membership.id)
                wanted[(names.queue(queue), names.member(ext))] = membership
    adopted = 0
    for key, (member, removed) in changes.items():
        row = wanted.get(key)
        if row is None or row.sync_state is not SyncState.APPLIED:
            continue
        logged_in = member.logged_in and not removed
        paused = logged_in and member.paused
        reason = member.pause_reason[:80] if paused else ""
        if (row.logged_in, row.paused, row.pause_reason) != (logged_in, paused, reason):
            row.logged_in, row.paused, row.pause_reason = logged_in, paused, reason
            row.applied_at = utcnow()
            adopted += 1
    return adopted


# The code a FeatureChanged comes from, for the audit log.
_PHONE_CODES = {("dnd", "on"): "*76", ("dnd", "off"): "*76", ("queue", "login"): "*45",
                ("queue", "logout"): "*46"}


def _phone_audit(entry: AuditEntry | None, user: User, event: FeatureChanged) -> None:
    """Mark an audit entry as a change made on the phone, not in the portal."""
    if entry is not None:
        code = _PHONE_CODES.get((event.feature, event.value), event.feature)
        entry.actor_label = f"{user.email} ({PHONE_AUDIT_LABEL} {code})"[:255]


PHONE_AUDIT_LABEL = "phone"


def feature_owners(db: Session, node_id: int) -> dict[str, tuple[int, bool]]:
    """Every extension of the node's tenants as the PBX names its owner in FeatureChanged
    (PbxNames.feature_owner, lower-cased), with its user and whether it is that user's primary extension
    (the one the generated dialplans make a queue agent)."""
    out: dict[str, tuple[int, bool]] = {}
    for tenant in db.scalars(select(Tenant).where(Tenant.node_id == node_id)):
        names = PbxNames.for_tenant(db, tenant)
        users = db.scalars(select(User).where(User.tenant_id == tenant.id, User.active.is_(True)))
        for user in users:
            for i, ext in enumerate(user.extensions):  # ordered like User.extensions: the first is primary
                out[names.feature_owner(ext.number).lower()] = (user.id, i == 0)
    return out


def adopt_feature_changes(db: Session, node_id: int, events: list[FeatureChanged],
                          changed_users: set[int] | None = None) -> int:
    """Make what a feature code dialled on a phone changed (*76 DND, *45/*46 queue log-in/out) the user's
    desired state, so the portal shows it and the next re-assertion does not undo it. The PBX already
    has it: a row that was applied stays applied; one with a portal change still pending stays pending
    (its push then writes the phone's value too). The owner is matched by its tenant-qualified PBX name,
    never by a bare number. Returns the rows changed; each change is audit-logged as made on the phone."""
    owners = feature_owners(db, node_id)
    changed = 0
    now = utcnow()
    for event in events:
        found = owners.get(event.owner.lower())
        if found is None:
            log.info("feature code of unknown owner %r ignored", event.owner)
            continue
        user = db.get(User, found[0])
        if user is None:
            continue
        if event.feature == "dnd":
            cs = db.get(CallSettings, user.id)
            dnd = event.value == "on"
            if cs is None:
                cs = CallSettings(user_id=user.id, sync_state=SyncState.APPLIED, applied_at=now)
                db.add(cs)
                db.flush()
            if bool(cs.dnd) == dnd:
                continue
            before = audit.state(cs)
            cs.dnd = dnd
            if cs.sync_state is SyncState.APPLIED:
                cs.applied_at = now
            db.flush()
            _phone_audit(audit.user_change(db, user, "call_settings", before, audit.state(cs)), user, event)
            changed += 1
            if changed_users is not None:
                changed_users.add(user.id)
        elif event.feature == "queue" and found[1]:
            logged_in = event.value == "login"
            rows = db.scalars(select(QueueMembership).join(Queue, Queue.id == QueueMembership.queue_id)
                              .where(QueueMembership.user_id == user.id, Queue.tenant_id == user.tenant_id)
                              .order_by(QueueMembership.id))
            for m in rows:
                if bool(m.logged_in) == logged_in:
                    continue  # already so (a paused agent stays paused: *45 adds no one already there)
                before = audit.state(m)
                m.logged_in, m.paused, m.pause_reason = logged_in, False, ""
                if m.sync_state is SyncState.APPLIED:
                    m.applied_at = now
                db.flush()
                _phone_audit(audit.user_change(db, user, "queue_membership", before, audit.state(m),
                                               action=event.value, object_id=m.id), user, event)
                changed += 1
                if changed_users is not None:
                    changed_users.add(user.id)
    return changed
