"""Desk phones: MAC address, vendor, model, owner, provisioning (HTTP Digest) credentials."""

from __future__ import annotations

import re
import secrets
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from clusterpbx.provisioning.vendors import VENDORS

from .. import validation
from ..models import Device, Role, User
from . import Actor, Field, FieldType, Forbidden, Invalid, register
from ._base import N_, UNKNOWN_REFERENCE, ModelResource

F = FieldType

INVALID_MAC = N_("Enter a MAC address such as 00:15:65:12:34:56.")
MAC_TAKEN = N_("A phone with this MAC address already exists.")
UNKNOWN_VENDOR = N_("Unknown phone vendor.")
UNKNOWN_MODEL = N_("Unknown model for this vendor.")
INVALID_PROV_USERNAME = N_("Use letters, digits, '.', '_' and '-' only.")
INVALID_PROV_PASSWORD = N_("A provisioning password is 12 to 128 letters, digits or _ . - ~.")  # noqa: S105 - a message
OPERATOR_OWNER = N_("Only an operator can give a phone to an operator.")

_PROV_PASSWORD = re.compile(r"[A-Za-z0-9_.\-~]{12,128}")


def vendor_models() -> dict[str, list[str]]:
    """Vendors the provisioning knows, with their models."""
    return {name: list(v.models) for name, v in VENDORS.items()}


def _vendor_names() -> tuple[str, ...]:
    return tuple(vendor_models())


@register
class Devices(ModelResource):
    name = "devices"
    label = N_("Phones")
    model = Device
    search_columns = ("mac", "label", "model", "vendor")
    sort_columns = ("mac", "vendor", "model", "label", "id", "created_at")
    fields = (
        Field("tenant_id", F.REFERENCE, N_("Tenant"), ref="tenants"),
        Field("mac", F.STRING, N_("MAC address"), required=True, max_length=17),
        Field("vendor", F.CHOICE, N_("Vendor"), required=True, choices=_vendor_names()),
        Field("model", F.STRING, N_("Model"), required=True, max_length=64),
        Field("label", F.STRING, N_("Label"), max_length=80),
        Field("user_id", F.REFERENCE, N_("Owner"), ref="users"),
        Field("prov_username", F.STRING, N_("Provisioning username"), max_length=64, help=N_("Empty: the MAC address")),
        Field("prov_password", F.SECRET, N_("Provisioning password"), max_length=128, help=N_("Empty: generated")),
        Field("created_at", F.STRING, N_("Created"), read_only=True),
    )

    def clean(self, db: Session, actor: Actor, data: dict[str, Any], obj: Any | None) -> dict[str, Any]:
        values = super().clean(db, actor, data, obj)
        errors: dict[str, str] = {}
        if "mac" in values:
            try:
                values["mac"] = validation.mac_address(values["mac"])
            except validation.InvalidValue:
                errors["mac"] = INVALID_MAC
        vendor = values.get("vendor", obj.vendor if obj is not None else "")
        if "model" in values or "vendor" in values:
            model = values.get("model", obj.model if obj is not None else "")
            known = vendor_models().get(vendor)
            if known is not None:
                match = {m.lower(): m for m in known}.get(model.lower())
                if match is None:
                    errors["model"] = UNKNOWN_MODEL
                else:
                    values["model"] = match
        if values.get("prov_username"):
            try:
                validation.sip_username(values["prov_username"])
            except validation.InvalidValue:
                errors["prov_username"] = INVALID_PROV_USERNAME
        if values.get("prov_password") and not _PROV_PASSWORD.fullmatch(values["prov_password"]):
            errors["prov_password"] = INVALID_PROV_PASSWORD
        if errors:
            raise Invalid(errors)
        return values

    def may_change(self, db: Session, actor: Actor, obj: Any) -> None:
        owner = db.get(User, obj.user_id) if obj.user_id else None
        if owner is not None and owner.role is Role.OPERATOR and not actor.is_operator:
            raise Forbidden("only an operator may change an operator's phone")

    def check(self, db: Session, actor: Actor, values: dict[str, Any], obj: Any | None) -> None:
        errors: dict[str, str] = {}
        if "mac" in values:
            other = db.scalar(select(Device).where(Device.mac == values["mac"]))
            if other is not None and other is not obj:
                errors["mac"] = MAC_TAKEN
        if values.get("user_id") is not None:
            owner = db.get(User, values["user_id"])
            if owner is None or owner.tenant_id != values["tenant_id"]:
                errors["user_id"] = UNKNOWN_REFERENCE
            elif owner.role is Role.OPERATOR and not actor.is_operator:
                # The phone's configuration carries its owner's SIP password.
                errors["user_id"] = OPERATOR_OWNER
        if errors:
            raise Invalid(errors)

    def build(self, db: Session, actor: Actor, values: dict[str, Any]) -> Any:
        device = Device()
        self.apply(db, actor, device, values)
        device.prov_username = device.prov_username or device.mac
        device.prov_password = device.prov_password or secrets.token_urlsafe(18)
        db.add(device)
        return device

    def apply(self, db: Session, actor: Actor, obj: Any, values: dict[str, Any]) -> None:
        for key, value in values.items():
            if key == "prov_password" and not value:
                continue
            setattr(obj, key, value)
        if "prov_username" in values and not values["prov_username"]:
            obj.prov_username = obj.mac

    def serialize(self, obj: Any) -> dict[str, Any]:
        out = super().serialize(obj)
        out["created_at"] = obj.created_at.isoformat(timespec="seconds") if obj.created_at else None
        return out

    def audit_view(self, obj: Any) -> dict[str, Any]:
        out = self.serialize(obj)
        out.pop("created_at", None)
        return out
