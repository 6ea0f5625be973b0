"""Conférence personnelle: validation and saving of the user's bridge settings (desired state), the
room name the generated dialplans give it, and the PBX key-value entries the dialplans read.

How the settings reach the PBX: the generated dialplans (dialplan.asterisk `_conf_sub`,
dialplan.freeswitch `cpbx-conference`) read them on every call from AstDB `CLUSTERPBX/<ext>/conf/*`
or mod_db `cpbx_conf*` (dialplan.keys). `pbx_entries()` gives exactly those entries; the portal
saves the row as pending and asks the daemon to apply the user (`apply_user` regenerates the node's
configuration when the node has a config_dir). The port has no key-value write for these keys yet
(the adapters leave them to "another writer"), so the row stays pending until one exists.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from clusterpbx.dialplan import keys, model

from . import audit
from .models import PbxNode, PersonalConference, SyncState, Tenant, User, utcnow
from .pbxnames import PbxNames

PIN_MIN = 4
PIN_MAX = 20  # the column's width
MEMBERS_MIN = 2
MEMBERS_MAX = 100
OPTIONS = ("announce_count", "announce_join_leave", "music_on_hold", "star_menu", "wait_for_admin", "listen_only")
# The model's defaults, i.e. what "Réinitialiser les options" goes back to.
DEFAULT_OPTIONS = {"announce_count": True, "announce_join_leave": False, "music_on_hold": True,
                   "star_menu": True, "wait_for_admin": False, "listen_only": False}


class ConferenceRefused(ValueError):
    def __init__(self, field: str, code: str, **params: str):
        super().__init__(f"{field}: {code}")
        self.field = field
        self.code = code
        self.params = params


class ConferenceErrors(ValueError):
    """Every refused value at once, so the form can show all problems together."""

    def __init__(self, errors: list[ConferenceRefused]):
        super().__init__("; ".join(str(e) for e in errors))
        self.errors = errors


@dataclass
class ConferenceInput:
    enabled: bool
    admin_pin: str
    user_pin: str
    max_members: int | None
    announce_count: bool
    announce_join_leave: bool
    music_on_hold: bool
    star_menu: bool
    wait_for_admin: bool
    listen_only: bool


def pin_bounds(tenant: Tenant) -> tuple[int, int]:
    return max(PIN_MIN, min(tenant.vm_pin_min_length or PIN_MIN, PIN_MAX)), PIN_MAX


def _check_pin(value: str, field: str, low: int, high: int, required: bool) -> ConferenceRefused | None:
    if not value:
        return ConferenceRefused(field, "pin_required") if required else None
    if not value.isascii() or not value.isdigit():
        return ConferenceRefused(field, "pin_digits_only")
    if not low <= len(value) <= high:
        return ConferenceRefused(field, "pin_length", min=str(low), max=str(high))
    return None


def save_conference(db: Session, user: User, data: ConferenceInput) -> PersonalConference:
    """Validate everything first (nothing changes on a refusal), then save as pending."""
    low, high = pin_bounds(user.tenant)
    admin_pin = data.admin_pin.strip()
    user_pin = data.user_pin.strip()
    errors = [e for e in (_check_pin(admin_pin, "admin_pin", low, high, data.enabled),
                          _check_pin(user_pin, "user_pin", low, high, data.enabled)) if e]
    if admin_pin and admin_pin == user_pin:
        # Same PIN would make every caller an admin (the dialplan checks the admin PIN first).
        errors.append(ConferenceRefused("user_pin", "pins_equal"))
    if data.max_members is None or not MEMBERS_MIN <= data.max_members <= MEMBERS_MAX:
        errors.append(ConferenceRefused("max_members", "members_range", min=str(MEMBERS_MIN), max=str(MEMBERS_MAX)))
    if data.enabled and not user.extensions:
        errors.append(ConferenceRefused("enabled", "no_extension"))
    if errors:
        raise ConferenceErrors(errors)
    before = audit.state(db.get(PersonalConference, user.id))
    conf = db.get(PersonalConference, user.id) or PersonalConference(user_id=user.id)
    conf.enabled = data.enabled
    conf.admin_pin = admin_pin
    conf.user_pin = user_pin
    conf.max_members = int(data.max_members or 15)
    for name in OPTIONS:
        setattr(conf, name, bool(getattr(data, name)))
    conf.sync_state = SyncState.PENDING
    conf.sync_error = ""
    conf.updated_at = utcnow()
    db.add(conf)
    audit.user_change(db, user, "personal_conference", before, audit.state(conf), secrets=("admin_pin", "user_pin"))
    db.commit()
    return conf


def dial_code(user: User) -> str:
    """What to dial to join: the tenant's prefix + the user's extension ("*9955555")."""
    ext = user.primary_extension
    return f"{user.tenant.conference_prefix}{ext.number}" if ext else ""


def room_name(db: Session, user: User) -> str:
    """The bridge name both generated dialplans use: ConfBridge(cpbx-<slug>-<ext>) on Asterisk,
    conference cpbx-<slug>-<ext>@<profile> on FreeSWITCH."""
    ext = user.primary_extension
    if ext is None:
        raise LookupError("the user has no extension")
    return PbxNames.for_tenant(db, user.tenant).conference_room(ext.number)


def pbx_entries(db: Session, user: User) -> list[tuple[str, str, str | None]]:
    """The (family or realm, key, value or None to delete) entries of the user's conference on their
    node's kind, exactly as dialplan.keys lays them out for the generated dialplans."""
    ext = user.primary_extension
    if ext is None:
        return []
    conf = db.get(PersonalConference, user.id)
    snapshot = None
    if conf is not None:
        snapshot = model.PersonalConference(
            owner=ext.number, enabled=conf.enabled, admin_pin=conf.admin_pin, user_pin=conf.user_pin,
            max_members=conf.max_members, options=model.ConferenceOptions(
                announce_count=conf.announce_count, announce_join_leave=conf.announce_join_leave,
                music_on_hold=conf.music_on_hold, star_menu=conf.star_menu, wait_for_admin=conf.wait_for_admin,
                listen_only_users=conf.listen_only))
    node = db.get(PbxNode, user.tenant.node_id) if user.tenant.node_id is not None else None
    if node is not None and node.kind.value == "freeswitch":
        domain = user.tenant.domain or node.sip_domain or node.host
        settings = keys.FeatureSettings(extension=ext.number, domain=domain, conference=snapshot)
        realm = keys.FS_REALMS["conference"]
        return [e for e in keys.freeswitch_feature_entries(settings) if e[0].startswith(realm)]
    settings = keys.FeatureSettings(extension=ext.number, conference=snapshot)
    return [e for e in keys.asterisk_feature_entries(settings) if "/conf/" in e[1]]
