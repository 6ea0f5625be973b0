"""The user's call settings and voicemail options: validation against the tenant's rules (allowed
destinations, PIN policy) and saving as desired state (marked pending until the daemon applies it)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import select
from sqlalchemy.orm import Session

from . import audit, validation
from .models import CallSettings, Extension, SyncState, User, VoicemailSettings, utcnow


class SettingRefused(ValueError):
    """A value breaks a rule; `code` and `params` make the translated message in the portal."""

    def __init__(self, field: str, code: str, **params: str):
        super().__init__(f"{field}: {code}")
        self.field = field
        self.code = code
        self.params = params


def allowed_groups(user: User) -> list[tuple[str, list[str]]]:
    return [(g.name, [p.prefix for p in g.prefixes]) for g in sorted(user.destination_groups, key=lambda g: g.name)]


def check_destination(db: Session, user: User, raw: str, field: str) -> str:
    """A number the user may call: an extension of their tenant, or one starting with an allowed prefix."""
    try:
        number = validation.phone_number(raw, field)
    except validation.InvalidValue as exc:
        raise SettingRefused(field, exc.code, number=raw[:40]) from None
    if db.scalar(select(Extension.id).where(Extension.tenant_id == user.tenant_id, Extension.number == number)):
        return number
    groups = allowed_groups(user)
    if not groups:
        raise SettingRefused(field, "internal_only", number=number)
    # "+" is not part of a number's digits nor of a prefix (a group may list +33 or 33: the same)
    digits = number.lstrip("+")
    if any(digits.startswith(p.lstrip("+")) for _name, prefixes in groups for p in prefixes):
        return number
    rule = "; ".join(f"{name} ({', '.join(prefixes)})" for name, prefixes in groups)
    raise SettingRefused(field, "not_allowed", number=number, rule=rule)


def check_click_to_call(db: Session, user: User, raw: str, field: str = "number") -> str:
    """The number a click-to-call will make the PBX dial for `user`, checked against the user's allowed
    destinations like a forward, a follow-me number, a speed-dial key or an SMS. The portal and the API
    call it for an immediate, worded refusal; the daemon's command calls it again before it originates,
    so no other way in skips it."""
    if not isinstance(raw, str) or not raw.strip():
        raise SettingRefused(field, "invalid_number", number="")
    return check_destination(db, user, raw, field)


class SettingsRefused(ValueError):
    """Several values refused at once, so the form can show every problem in one go."""

    def __init__(self, errors: list[SettingRefused]):
        super().__init__("; ".join(str(e) for e in errors))
        self.errors = errors


@dataclass
class CallSettingsInput:
    call_waiting: bool
    dnd: bool
    followme_enabled: bool
    followme_numbers: list[str]
    followme_confirm: bool
    followme_delay: int
    forward_always: str
    forward_busy: str
    forward_noanswer: str
    forward_noanswer_delay: int
    language: str


def save_call_settings(db: Session, user: User, data: CallSettingsInput) -> CallSettings:
    """Validate everything first; on any refusal nothing is changed."""
    errors: list[SettingRefused] = []

    def dest(raw: str, field: str) -> str:
        if not raw.strip():
            return ""
        try:
            return check_destination(db, user, raw, field)
        except SettingRefused as exc:
            errors.append(exc)
            return ""

    numbers = [dest(n, "followme_numbers") for n in data.followme_numbers if n.strip()]
    if len(numbers) > 10:
        errors.append(SettingRefused("followme_numbers", "too_many"))
    forward_always = dest(data.forward_always, "forward_always")
    forward_busy = dest(data.forward_busy, "forward_busy")
    forward_noanswer = dest(data.forward_noanswer, "forward_noanswer")
    # Forwarding (or following) one's own extension to itself is a loop: the call would ring back here.
    own = {e.number for e in user.extensions}
    for field, targets in (("followme_numbers", numbers), ("forward_always", [forward_always]),
                           ("forward_busy", [forward_busy]), ("forward_noanswer", [forward_noanswer])):
        for number in targets:
            if number and number in own:
                errors.append(SettingRefused(field, "own_extension", number=number))
    if data.followme_enabled and not [n for n in numbers if n]:
        errors.append(SettingRefused("followme_numbers", "followme_needs_number"))
    for field, value in (("followme_delay", data.followme_delay), ("forward_noanswer_delay",
                                                                   data.forward_noanswer_delay)):
        if not 5 <= value <= 120:
            errors.append(SettingRefused(field, "delay_range"))
    if data.language not in ("fr", "en"):
        errors.append(SettingRefused("language", "invalid_language"))
    if errors:
        raise SettingsRefused(errors)
    before = {**audit.state(db.get(CallSettings, user.id)), "language": user.language}
    cs = db.get(CallSettings, user.id) or CallSettings(user_id=user.id)
    cs.call_waiting = data.call_waiting
    cs.dnd = data.dnd
    cs.followme_enabled = data.followme_enabled
    cs.followme_numbers = ",".join(n for n in numbers if n)
    cs.followme_confirm = data.followme_confirm
    cs.followme_delay = data.followme_delay
    cs.forward_always = forward_always
    cs.forward_busy = forward_busy
    cs.forward_noanswer = forward_noanswer
    cs.forward_noanswer_delay = data.forward_noanswer_delay
    cs.sync_state = SyncState.PENDING
    cs.updated_at = utcnow()
    user.language = data.language
    db.add(cs)
    audit.user_change(db, user, "call_settings", before, {**audit.state(cs), "language": user.language})
    db.commit()
    return cs


def user_today(user: User) -> dt.date:
    """Today in the user's time zone (the out-of-office days are the user's days)."""
    return dt.datetime.now(ZoneInfo(user.timezone or user.tenant.timezone or "UTC")).date()


@dataclass
class VoicemailInput:
    ooo_enabled: bool
    ooo_start: dt.date | None
    ooo_last_day: dt.date | None
    email_enabled: bool
    email_use_login: bool
    email_address: str
    email_attach: bool
    delete_after_email: bool


def save_voicemail(db: Session, user: User, data: VoicemailInput) -> VoicemailSettings:
    errors: list[SettingRefused] = []
    if data.ooo_start and data.ooo_last_day and data.ooo_last_day < data.ooo_start:
        errors.append(SettingRefused("ooo_last_day", "last_day_before_start"))
    elif data.ooo_enabled and data.ooo_last_day and data.ooo_last_day < user_today(user):
        # An absence that is already over would never play: say so rather than save it silently.
        errors.append(SettingRefused("ooo_last_day", "last_day_in_past"))
    address = data.email_address.strip()
    if data.email_enabled and not data.email_use_login:
        try:
            address = validate_email(address, check_deliverability=False, test_environment=True).normalized
        except EmailNotValidError:
            errors.append(SettingRefused("email_address", "invalid_email"))
    if data.delete_after_email and not data.email_enabled:
        errors.append(SettingRefused("delete_after_email", "delete_needs_email"))
    if errors:
        raise SettingsRefused(errors)
    before = audit.state(db.get(VoicemailSettings, user.id))
    vm = db.get(VoicemailSettings, user.id) or VoicemailSettings(user_id=user.id)
    vm.ooo_enabled = data.ooo_enabled
    vm.ooo_start = data.ooo_start
    vm.ooo_last_day = data.ooo_last_day
    vm.email_enabled = data.email_enabled
    vm.email_use_login = data.email_use_login
    vm.email_address = address if not data.email_use_login else ""
    vm.email_attach = data.email_attach
    vm.delete_after_email = data.delete_after_email
    vm.sync_state = SyncState.PENDING
    vm.updated_at = utcnow()
    db.add(vm)
    audit.user_change(db, user, "voicemail_settings", before, audit.state(vm))
    db.commit()
    return vm


def change_voicemail_pin(db: Session, user: User, pin: str, confirm: str) -> None:
    tenant = user.tenant
    if pin != confirm:
        raise SettingRefused("pin", "pin_mismatch")
    try:
        validation.pin(pin, max(4, tenant.vm_pin_min_length), min(20, tenant.vm_pin_max_length))
    except validation.InvalidValue as exc:
        raise SettingRefused("pin", "pin_" + exc.code, min=str(max(4, tenant.vm_pin_min_length)),
                             max=str(min(20, tenant.vm_pin_max_length))) from None
    if len(set(pin)) == 1 or (user.primary_extension and pin == user.primary_extension.number):
        raise SettingRefused("pin", "pin_trivial")
    before = {"vm_pin": [ext.vm_pin for ext in user.extensions]}
    for ext in user.extensions:
        ext.vm_pin = pin
    vm = db.get(VoicemailSettings, user.id) or VoicemailSettings(user_id=user.id)
    vm.sync_state = SyncState.PENDING
    db.add(vm)
    audit.user_change(db, user, "voicemail_pin", before, {"vm_pin": [ext.vm_pin for ext in user.extensions]},
                      secrets=("vm_pin",))
    db.commit()
