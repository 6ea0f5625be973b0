"""Pause reasons an agent picks when pausing in a queue ("Lunch", "Meeting"...)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import PauseReason
from . import Actor, Field, FieldType, Invalid, register
from ._base import N_, ModelResource

REASON_TAKEN = N_("This pause reason already exists.")


@register
class PauseReasons(ModelResource):
    name = "pause_reasons"
    label = N_("Pause reasons")
    model = PauseReason
    search_columns = ("label",)
    sort_columns = ("label", "id")
    fields = (
        Field("tenant_id", FieldType.REFERENCE, N_("Tenant"), ref="tenants"),
        Field("label", FieldType.STRING, N_("Label"), required=True, max_length=80),
    )

    def check(self, db: Session, actor: Actor, values: dict[str, Any], obj: Any | None) -> None:
        if "label" in values:
            other = db.scalar(select(PauseReason).where(PauseReason.tenant_id == values["tenant_id"],
                                                        PauseReason.label == values["label"]))
            if other is not None and other is not obj:
                raise Invalid({"label": REASON_TAKEN})
