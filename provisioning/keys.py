"""The user's phone buttons ("Mon téléphone") as desired state: validation of each row against the
tenant's rules and saving them as PhoneKey rows, plus what the user's phone can hold."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from clusterpbx.control import audit, validation
from clusterpbx.control.callsettings import SettingRefused, check_destination
from clusterpbx.control.models import Device, Extension, PhoneKey, SyncState, User

from .model import KEY_KINDS
from .vendors import VENDORS

MAX_KEYS_WITHOUT_PHONE = 60
LABEL_MAX = 40


@dataclass
class KeyRow:
    kind: str
    value: str
    label: str


@dataclass
class KeyRefused:
    position: int
    code: str
    params: dict[str, str] = field(default_factory=dict)
    refusal: SettingRefused | None = None


@dataclass(frozen=True)
class PhoneInfo:
    device: Device | None
    vendor_label: str
    model: str
    capacity: int


def phone_of(db: Session, user: User) -> PhoneInfo:
    device = db.scalar(select(Device).where(Device.user_id == user.id).order_by(Device.id))
    if device is None or device.vendor not in VENDORS:
        return PhoneInfo(device, "", device.model if device else "", MAX_KEYS_WITHOUT_PHONE)
    vendor = VENDORS[device.vendor]
    modules = (device.overrides or {}).get("expansion_modules") or 0
    try:
        modules = max(0, min(6, int(modules)))
    except (TypeError, ValueError):
        modules = 0
    return PhoneInfo(device, vendor.label, device.model, vendor.key_capacity(device.model, modules))


def validate_rows(db: Session, user: User, rows: list[KeyRow], capacity: int) -> tuple[list[KeyRow], list[KeyRefused]]:
    """Every row checked (all problems reported at once); returns the cleaned rows."""
    errors: list[KeyRefused] = []
    own = [e.number for e in user.extensions]
    out: list[KeyRow] = []
    if len(rows) > capacity:
        errors.append(KeyRefused(0, "too_many", {"max": str(capacity)}))
    for pos, row in enumerate(rows, 1):
        kind, value = row.kind, row.value.strip()
        try:
            label = validation.display_name(row.label, "label", LABEL_MAX)
        except validation.InvalidValue as exc:
            errors.append(KeyRefused(pos, "label_" + exc.code))
            label = ""
        if kind not in KEY_KINDS:
            errors.append(KeyRefused(pos, "invalid_kind"))
            continue
        if kind in ("line", "line2"):
            value = value or (own[0] if own and kind == "line" else "")
            if value not in own:
                errors.append(KeyRefused(pos, "not_own_line", {"number": value[:20]}))
        elif kind == "blf":
            if not user.can_use_blf:
                errors.append(KeyRefused(pos, "blf_not_allowed"))
            elif not value:
                errors.append(KeyRefused(pos, "value_required"))
            else:
                try:
                    value = validation.extension(value, "value")
                except validation.InvalidValue:
                    errors.append(KeyRefused(pos, "not_extension", {"number": value[:20]}))
                else:
                    if not db.scalar(select(Extension.id).where(Extension.tenant_id == user.tenant_id,
                                                                Extension.number == value)):
                        errors.append(KeyRefused(pos, "not_extension", {"number": value}))
        else:  # speed dial: a number this user may call
            if not value:
                errors.append(KeyRefused(pos, "value_required"))
            else:
                try:
                    value = check_destination(db, user, value, "value")
                except SettingRefused as exc:
                    errors.append(KeyRefused(pos, "destination", refusal=exc))
        out.append(KeyRow(kind, value, label))
    return out, errors


def save_rows(db: Session, user: User, rows: list[KeyRow]) -> None:
    """Replace the user's buttons; they stay pending until the phone is asked to resynchronise."""
    before = [[k.kind, k.value, k.label] for k in db.scalars(
        select(PhoneKey).where(PhoneKey.user_id == user.id).order_by(PhoneKey.position))]
    db.execute(delete(PhoneKey).where(PhoneKey.user_id == user.id))
    db.flush()
    for pos, row in enumerate(rows, 1):
        db.add(PhoneKey(user_id=user.id, position=pos, kind=row.kind, value=row.value, label=row.label,
                        sync_state=SyncState.PENDING))
    audit.user_change(db, user, "phone_keys", {"keys": before},
                      {"keys": [[row.kind, row.value, row.label] for row in rows]})
    db.commit()


def mark_applied(db: Session, user: User) -> None:
    for key in db.scalars(select(PhoneKey).where(PhoneKey.user_id == user.id)):
        key.sync_state = SyncState.APPLIED
    db.commit()
