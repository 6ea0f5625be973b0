"""Call queues and their agents (users of the same tenant)."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from .. import validation
from ..models import Queue, QueueMembership, Role, User
from . import Actor, Field, FieldType, Invalid, register
from ._base import N_, ModelResource, ids_in_scope

F = FieldType

INVALID_QUEUE_NAME = N_("Use letters, digits, '.', '_' and '-' only.")
QUEUE_NAME_TAKEN = N_("A queue with this name already exists.")
INVALID_QUEUE_NUMBER = N_("A queue number is 2 to 10 digits.")
OPERATOR_AGENT = N_("Only an operator can add or remove an operator as an agent.")
STRATEGIES = ("ringall", "leastrecent", "fewestcalls", "random", "rrmemory", "linear")

_NAME = re.compile(r"[A-Za-z0-9_.\-]{1,64}")


@register
class Queues(ModelResource):
    name = "queues"
    label = N_("Queues")
    model = Queue
    search_columns = ("name", "label", "number")
    sort_columns = ("name", "label", "number", "id")
    fields = (
        Field("tenant_id", F.REFERENCE, N_("Tenant"), ref="tenants"),
        Field("name", F.STRING, N_("Name"), required=True, max_length=64, help=N_("Name on the PBX")),
        Field("label", F.STRING, N_("Label"), max_length=80, help=N_("Name shown to users")),
        Field("number", F.STRING, N_("Number"), max_length=10),
        Field("strategy", F.CHOICE, N_("Strategy"), choices=STRATEGIES),
        Field("agents", F.REFERENCES, N_("Agents"), ref="users"),
    )

    def clean(self, db: Session, actor: Actor, data: dict[str, Any], obj: Any | None) -> dict[str, Any]:
        values = super().clean(db, actor, data, obj)
        errors: dict[str, str] = {}
        if "name" in values and not _NAME.fullmatch(values["name"]):
            errors["name"] = INVALID_QUEUE_NAME
        if values.get("number"):
            try:
                validation.extension(values["number"])
            except validation.InvalidValue:
                errors["number"] = INVALID_QUEUE_NUMBER
        if errors:
            raise Invalid(errors)
        return values

    def check(self, db: Session, actor: Actor, values: dict[str, Any], obj: Any | None) -> None:
        errors: dict[str, str] = {}
        if "name" in values:
            other = db.scalar(select(Queue).where(Queue.tenant_id == values["tenant_id"], Queue.name == values["name"]))
            if other is not None and other is not obj:
                errors["name"] = QUEUE_NAME_TAKEN
        if "agents" in values:
            try:
                ids_in_scope(db, User, values["agents"], values["tenant_id"], "agents")
            except Invalid as exc:
                errors.update(exc.errors)
            else:
                if not actor.is_operator and self._operators(db, values["agents"]) != self._operators(
                        db, self.serialize(obj)["agents"] if obj is not None else []):
                    errors["agents"] = OPERATOR_AGENT
        if errors:
            raise Invalid(errors)

    @staticmethod
    def _operators(db: Session, user_ids: list[int]) -> set[int]:
        if not user_ids:
            return set()
        return set(db.scalars(select(User.id).where(User.id.in_(user_ids), User.role == Role.OPERATOR)))

    def apply(self, db: Session, actor: Actor, obj: Any, values: dict[str, Any]) -> None:
        agents = values.get("agents")
        for key, value in values.items():
            if key != "agents":
                setattr(obj, key, value)
        if agents is not None:
            if obj.id is None:
                db.add(obj)
                db.flush()
            current = {m.user_id: m for m in db.scalars(select(QueueMembership)
                                                        .where(QueueMembership.queue_id == obj.id))}
            for uid, m in current.items():
                if uid not in agents:
                    db.delete(m)
            for uid in agents:
                if uid not in current:
                    db.add(QueueMembership(queue_id=obj.id, user_id=uid))
            db.flush()

    def serialize(self, obj: Any) -> dict[str, Any]:
        out = super().serialize(obj)
        db = object_session(obj)
        out["agents"] = sorted(db.scalars(select(QueueMembership.user_id)
                                          .where(QueueMembership.queue_id == obj.id))) if db and obj.id else []
        return out
