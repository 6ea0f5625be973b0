"""Mes files d'attente: the queues an admin made the user an agent of, the state the user asks for
(desired, QueueMembership) and the state the PBX reports (projected, QueueMemberState)."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import audit
from .models import PauseReason, Queue, QueueMembership, QueueMemberState, SyncState, User, utcnow
from .pbxnames import PbxNames
from .validation import has_control_chars


class AgentStatus(enum.StrEnum):
    """The guide's three icons."""

    CONNECTED = "connected"
    OFFLINE = "offline"
    PAUSED = "paused"


class QueueAction(enum.StrEnum):
    LOGIN = "login"
    LOGOUT = "logout"
    PAUSE = "pause"
    RESUME = "resume"


class QueueRefused(ValueError):
    """The action cannot be taken; `code` makes the translated message in the portal."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class AgentRow:
    membership: QueueMembership
    queue: Queue
    status: AgentStatus  # what the PBX says now
    pause_reason: str  # the projected reason, else the desired one
    pending: bool  # desired and projected differ (not applied yet, or changed from the phone)

    @property
    def label(self) -> str:
        return self.queue.label or self.queue.name


def _status(state: QueueMemberState | None) -> AgentStatus:
    if state is None or not state.logged_in:
        return AgentStatus.OFFLINE
    return AgentStatus.PAUSED if state.paused else AgentStatus.CONNECTED


def _desired_status(m: QueueMembership) -> AgentStatus:
    if not m.logged_in:
        return AgentStatus.OFFLINE
    return AgentStatus.PAUSED if m.paused else AgentStatus.CONNECTED


def agent_rows(db: Session, user: User, descending: bool = False) -> list[AgentRow]:
    """The user's queues sorted by the name shown, each with its projected status."""
    rows = db.execute(select(QueueMembership, Queue).join(Queue, Queue.id == QueueMembership.queue_id)
                      .where(QueueMembership.user_id == user.id, Queue.tenant_id == user.tenant_id)).all()
    ext = user.primary_extension
    node_id = user.tenant.node_id
    # The projection carries PBX-side names (what the generated config and the daemon use).
    names = PbxNames.for_tenant(db, user.tenant) if rows and ext and node_id is not None else None
    states: dict[str, QueueMemberState] = {}
    if names is not None and ext is not None:
        # One query for every queue of the page: the projection is keyed by (node, queue, interface).
        for s in db.scalars(select(QueueMemberState).where(
                QueueMemberState.node_id == node_id, QueueMemberState.interface == names.member(ext),
                QueueMemberState.queue.in_([names.queue(q) for _m, q in rows]))):
            states[s.queue] = s
    out = []
    for m, q in rows:
        state = states.get(names.queue(q)) if names is not None else None
        status = _status(state)
        reason = (state.pause_reason if state is not None and state.paused else "") or (
            m.pause_reason if status is AgentStatus.PAUSED else "")
        out.append(AgentRow(m, q, status, reason, status != _desired_status(m)))
    out.sort(key=lambda r: (r.label.casefold(), r.queue.id), reverse=descending)
    return out


def pause_reasons(db: Session, user: User) -> list[PauseReason]:
    # A label with control characters would be refused by the adapter on every retry: never offer it.
    return [r for r in db.scalars(select(PauseReason).where(PauseReason.tenant_id == user.tenant_id)
                                  .order_by(PauseReason.label, PauseReason.id))
            if not has_control_chars(r.label)]


def set_state(db: Session, user: User, membership_id: int, action: QueueAction,
              reason_id: int | None = None) -> QueueMembership:
    """Save what the user asked for as desired state (pending); the daemon then pushes it.

    The membership is looked up by the user's own id so another agent's row is never reachable."""
    m = db.scalar(select(QueueMembership).where(QueueMembership.id == membership_id,
                                                QueueMembership.user_id == user.id))
    if m is None:
        raise LookupError("no such queue membership")
    before = audit.state(m)
    if action is QueueAction.LOGIN:
        m.logged_in, m.paused, m.pause_reason = True, False, ""
    elif action is QueueAction.LOGOUT:
        m.logged_in, m.paused, m.pause_reason = False, False, ""
    elif action is QueueAction.PAUSE:
        reasons = pause_reasons(db, user)
        label = ""
        if reasons:
            # Only the tenant's own reasons reach the PBX (they end up in an AMI header / ESL command).
            chosen = next((r for r in reasons if r.id == reason_id), None)
            if chosen is None:
                raise QueueRefused("reason_required")
            label = chosen.label
        # Pausing implies being logged in: the PBX cannot pause a member that is not there.
        m.logged_in, m.paused, m.pause_reason = True, True, label
    elif action is QueueAction.RESUME:
        # Resuming means "available": the row may say logged out while the phone paused the member.
        m.logged_in, m.paused, m.pause_reason = True, False, ""
    m.sync_state = SyncState.PENDING
    m.sync_error = ""
    m.updated_at = utcnow()
    audit.user_change(db, user, "queue_membership", before, audit.state(m), action=action.value, object_id=m.id)
    db.commit()
    return m
