"""From the database to files: build a `DeviceConfig` for a device (its owner's extensions, keys and
phonebook, the tenant's settings with the device's overrides) and find which file a phone asked for."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from clusterpbx.control.models import Device, Extension, NodeKind, PersonalContact, PhoneKey, Tenant, User
from clusterpbx.control.pbxnames import sip_domain

from .model import Account, Contact, DeviceConfig, Key, Options, Rendered, clean, options_from
from .vendors import VENDORS, Vendor

# File names phones ask for: letters, digits, dot, dash, underscore and at most one folder level.
SAFE_NAME = re.compile(r"[A-Za-z0-9_\-]{1,64}(/[A-Za-z0-9_\-]{1,64})?\.?[A-Za-z0-9]{0,8}")
MAC_IN_NAME = re.compile(r"(?<![0-9a-fA-F])([0-9a-fA-F]{12})(?![0-9a-fA-F])")
MAC_IN_AGENT = re.compile(r"((?:[0-9a-fA-F]{2}[:\-]?){5}[0-9a-fA-F]{2})\s*$")


def base_url(public_url: str, tenant: Tenant) -> str:
    return f"{public_url.rstrip('/')}/prov/{tenant.provisioning_key}/"


def tenant_defaults(tenant: Tenant) -> dict[str, Any]:
    node = tenant.node
    defaults: dict[str, Any] = {"language": tenant.default_language, "timezone": tenant.timezone}
    if node is not None and node.kind is NodeKind.FREESWITCH:
        # Each tenant of a FreeSWITCH node is a directory domain of its own (dialplan/freeswitch.py): its
        # phones register in it, never in the node's domain or another tenant's; the node's SIP name, when
        # it is another one, is the way in (outbound proxy).
        domain = sip_domain(tenant)
        proxy = node.sip_domain if node.sip_domain and node.sip_domain != domain else ""
        return {**defaults, "sip_server": domain, "outbound_proxy": proxy}
    return {**defaults, "sip_server": node.sip_domain if node is not None and node.sip_domain else tenant.domain}


def ensure_credentials(device: Device, rotate: bool = False) -> bool:
    """Per-device Digest credentials, generated once; True if they were (re)generated."""
    if device.prov_password and not rotate:
        return False
    device.prov_username = device.prov_username or device.mac
    device.prov_password = secrets.token_urlsafe(18)
    return True


def device_config(db: Session, device: Device, public_url: str) -> DeviceConfig:
    tenant = db.get(Tenant, device.tenant_id)
    assert tenant is not None
    user = db.get(User, device.user_id) if device.user_id else None
    if user is not None and user.tenant_id != tenant.id:
        user = None  # tenants are namespaces: a phone of one company never carries another's lines
    defaults = tenant_defaults(tenant)
    if user is not None:
        defaults["language"] = user.language or defaults["language"]
        defaults["timezone"] = user.timezone or defaults["timezone"]
    options = options_from(defaults, device.overrides or {})
    accounts: list[Account] = []
    keys: list[Key] = []
    contacts: list[Contact] = []
    if user is not None:
        for i, ext in enumerate(user.extensions, 1):
            accounts.append(Account(i, ext.number, ext.sip_username, ext.sip_password, clean(user.display_name, 80),
                                    clean(f"{ext.number} {user.first_name}".strip(), 40)))
        by_number = {a.number: a.index for a in accounts}
        rows = db.scalars(select(PhoneKey).where(PhoneKey.user_id == user.id).order_by(PhoneKey.position)).all()
        own = set(db.scalars(select(Extension.number).where(Extension.tenant_id == tenant.id)))
        for row in rows:
            if row.kind == "blf" and row.value not in own:
                continue  # a presence key watches an extension of the phone's own company only
            keys.append(Key(row.position, row.kind, clean(row.value, 64), clean(row.label, 40),
                            by_number.get(row.value, 2 if row.kind == "line2" and len(accounts) > 1 else 1)))
        if not rows and accounts:
            keys.append(Key(1, "line", accounts[0].number, "", 1))
        for pc in db.scalars(select(PersonalContact).where(PersonalContact.user_id == user.id)
                             .order_by(PersonalContact.name, PersonalContact.id)).all():
            ref = db.get(User, pc.ref_user_id) if pc.ref_user_id else None
            if ref is not None and (ref.tenant_id != tenant.id or not ref.active):
                continue  # only colleagues of the phone's own company, as the directory offers them
            number = pc.number or (ref.primary_extension.number if ref and ref.primary_extension else "")
            contacts.append(Contact(clean(pc.name or (ref.display_name if ref else ""), 120), clean(number, 32),
                                    clean(ref.first_name if ref else pc.name, 80), clean(ref.last_name if ref else "", 80),
                                    ref.picture if ref is not None else None))
    return DeviceConfig(mac=device.mac, vendor=device.vendor, model=device.model, accounts=tuple(accounts),
                        keys=tuple(keys), contacts=tuple(contacts), options=options,
                        base_url=base_url(public_url, tenant), prov_username=device.prov_username,
                        prov_password=device.prov_password, label=clean(device.label, 80))


def vendor_of(device: Device) -> Vendor | None:
    return VENDORS.get(device.vendor)


def render_all(db: Session, device: Device, public_url: str) -> dict[str, Rendered]:
    vendor = vendor_of(device)
    if vendor is None:
        return {}
    cfg = device_config(db, device, public_url)
    return {name: vendor.render(cfg, name) for name in vendor.device_files(device.mac, device.model)}


@dataclass(frozen=True)
class Request:
    """What the endpoint decided a file name means."""

    kind: str  # "generic" | "device" | "invalid"
    vendor: Vendor | None = None
    mac: str = ""


def classify(filename: str, user_agent: str = "") -> Request:
    if ".." in filename or not SAFE_NAME.fullmatch(filename):
        return Request("invalid")
    for vendor in VENDORS.values():
        if vendor.is_generic(filename):
            return Request("generic", vendor)
    if filename == "y000000000000.boot":
        m = MAC_IN_AGENT.search(user_agent or "")
        if not m:
            return Request("invalid")
        return Request("device", VENDORS["yealink"], re.sub(r"[:\-]", "", m.group(1)).lower())
    m = MAC_IN_NAME.search(filename)
    if not m:
        return Request("invalid")
    return Request("device", None, m.group(1).lower())


def generic_options(tenant: Tenant) -> Options:
    return options_from(tenant_defaults(tenant), {})
