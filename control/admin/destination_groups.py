"""Destination groups ("Local Montréal", "International"...) and their dialled prefixes."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import DestinationGroup, DestinationPrefix
from . import Actor, Field, FieldType, Invalid, register
from ._base import N_, ModelResource

F = FieldType

INVALID_PREFIXES = N_("Enter prefixes of 1 to 20 digits (an optional + first), one per line.")
GROUP_NAME_TAKEN = N_("A destination group with this name already exists.")
NO_SEMICOLON = N_("A name cannot contain ';' (it separates names in CSV files).")

_PREFIX = re.compile(r"\+?[0-9]{1,20}")


def parse_prefixes(text: str) -> list[str]:
    parts = [p for p in re.split(r"[\s,;]+", text) if p]
    if any(not _PREFIX.fullmatch(p) for p in parts):
        raise ValueError(text)
    return sorted(dict.fromkeys(parts))


@register
class DestinationGroups(ModelResource):
    name = "destination_groups"
    label = N_("Destination groups")
    model = DestinationGroup
    search_columns = ("name",)
    sort_columns = ("name", "id")
    fields = (
        Field("tenant_id", F.REFERENCE, N_("Tenant"), ref="tenants"),
        Field("name", F.STRING, N_("Name"), required=True, max_length=80),
        Field("prefixes", F.TEXT, N_("Prefixes"), max_length=20000, help=N_("One dialled prefix per line, e.g. 1514")),
    )

    def clean(self, db: Session, actor: Actor, data: dict[str, Any], obj: Any | None) -> dict[str, Any]:
        values = super().clean(db, actor, data, obj)
        if ";" in values.get("name", ""):
            raise Invalid({"name": NO_SEMICOLON})
        if "prefixes" in values:
            try:
                values["prefixes"] = parse_prefixes(values["prefixes"])
            except ValueError:
                raise Invalid({"prefixes": INVALID_PREFIXES}) from None
        return values

    def check(self, db: Session, actor: Actor, values: dict[str, Any], obj: Any | None) -> None:
        if "name" in values:
            other = db.scalar(select(DestinationGroup).where(DestinationGroup.tenant_id == values["tenant_id"],
                                                             DestinationGroup.name == values["name"]))
            if other is not None and other is not obj:
                raise Invalid({"name": GROUP_NAME_TAKEN})

    def apply(self, db: Session, actor: Actor, obj: Any, values: dict[str, Any]) -> None:
        for key, value in values.items():
            if key != "prefixes":
                setattr(obj, key, value)
        if "prefixes" in values:
            wanted = values["prefixes"]
            kept = [p for p in obj.prefixes if p.prefix in wanted]
            have = {p.prefix for p in kept}
            obj.prefixes = kept + [DestinationPrefix(prefix=p) for p in wanted if p not in have]

    def serialize(self, obj: Any) -> dict[str, Any]:
        return {"id": obj.id, "tenant_id": obj.tenant_id, "name": obj.name,
                "prefixes": "\n".join(sorted(p.prefix for p in obj.prefixes))}
