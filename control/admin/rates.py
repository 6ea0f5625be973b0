"""A tenant's rate table (RateEntry rows): price per minute by dialled prefix, billing increment."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import RateEntry
from . import Actor, Field, FieldType, Invalid, register
from ._base import N_, ModelResource

INVALID_RATE_PREFIX = N_("Enter a prefix of 1 to 20 digits (an optional + first).")
INVALID_PRICE = N_("Enter a price such as 0.0250 (at most 4 decimals).")
RATE_PREFIX_TAKEN = N_("This prefix already has a rate.")

_PREFIX = re.compile(r"\+?[0-9]{1,20}")


@register
class Rates(ModelResource):
    name = "rates"
    label = N_("Rates")
    model = RateEntry
    search_columns = ("prefix",)
    sort_columns = ("prefix", "per_minute", "id")
    fields = (
        Field("tenant_id", FieldType.REFERENCE, N_("Tenant"), ref="tenants"),
        Field("prefix", FieldType.STRING, N_("Prefix"), required=True, max_length=21),
        Field("per_minute", FieldType.STRING, N_("Price per minute"), required=True, max_length=12),
        Field("increment_seconds", FieldType.INTEGER, N_("Billing increment (seconds)"), minimum=1, maximum=3600),
    )

    def clean(self, db: Session, actor: Actor, data: dict[str, Any], obj: Any | None) -> dict[str, Any]:
        if isinstance(data, dict) and isinstance(data.get("per_minute"), int | float | Decimal) \
                and not isinstance(data.get("per_minute"), bool):
            data = {**data, "per_minute": str(data["per_minute"])}
        values = super().clean(db, actor, data, obj)
        errors: dict[str, str] = {}
        if "prefix" in values and not _PREFIX.fullmatch(values["prefix"]):
            errors["prefix"] = INVALID_RATE_PREFIX
        if "per_minute" in values:
            try:
                price = Decimal(values["per_minute"].replace(",", "."))
            except InvalidOperation:
                price = Decimal(-1)
            if not price.is_finite() or price < 0 or price >= Decimal(1000000) or price != price.quantize(Decimal("0.0001")):
                errors["per_minute"] = INVALID_PRICE
            else:
                values["per_minute"] = price.quantize(Decimal("0.0001"))
        if errors:
            raise Invalid(errors)
        return values

    def check(self, db: Session, actor: Actor, values: dict[str, Any], obj: Any | None) -> None:
        if "prefix" in values:
            other = db.scalar(select(RateEntry).where(RateEntry.tenant_id == values["tenant_id"],
                                                      RateEntry.prefix == values["prefix"]))
            if other is not None and other is not obj:
                raise Invalid({"prefix": RATE_PREFIX_TAKEN})

    def serialize(self, obj: Any) -> dict[str, Any]:
        out = super().serialize(obj)
        out["per_minute"] = f"{Decimal(obj.per_minute):.4f}"
        return out
