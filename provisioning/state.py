"""What the provisioning endpoint needs to know about one request, in one SQL statement: the tenant its
URL key names, the device of that tenant with the MAC it asks for and, for a request that may be
served, everything that phone's configuration is built from: its tenant and node, its owner, the
owner's extensions, keys (with whether a presence key's extension exists in the phone's company),
personal contacts and the colleagues they point to.

`config_from_state` builds the `DeviceConfig` from that row alone (the same one `render.device_config`
builds through the ORM, in about ten statements; tests/provisioning/test_config_cache.py checks that
both give the same files), and the row is also the cache key of the rendered files
(`web/provision/cache.py`): the data itself, not a time stamp or a counter, so a change made anywhere
(another worker, the command line, an import, plain SQL) is in the next fetch's row, and a file is
served from the cache only when it was rendered from exactly the data read now.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Engine, Text, and_, bindparam, cast, exists, func, select
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import aliased
from sqlalchemy.sql import Select

from clusterpbx.control.db import read_once
from clusterpbx.control.models import (
    Device,
    Extension,
    NodeKind,
    PbxNode,
    PersonalContact,
    PhoneKey,
    Tenant,
    User,
)

from .model import Account, Contact, DeviceConfig, Key, clean, options_from
from .render import base_url, tenant_defaults


@dataclass(frozen=True)
class DeviceState:
    tenant_id: int
    tenant_key: str
    networks: str
    device_id: int | None
    mac: str = ""
    vendor: str = ""
    model: str = ""
    prov_username: str = ""
    prov_password: str = ""
    overrides: dict[str, Any] | None = None
    # Everything the configuration is built from (None when not asked for): the row, then the pictures.
    fingerprint: tuple[Any, ...] | None = None
    pictures: dict[int, bytes] | None = None
    sorted_rows: bool = False  # the aggregated rows came in the ORM's order (PostgreSQL)


DEVICE_USER = 18  # the column of devices.user_id in the full statement


def _rows(dialect: str, columns: list[Any], order_by: list[Any]) -> Any:
    """An aggregate of the rows' columns as JSON text: exact (every value, NULLs included, quoted), so two
    different sets of rows never give the same text. PostgreSQL orders them as the ORM would (its
    collation); SQLite's order is taken again in Python (its BINARY collation is Python's order)."""
    if dialect == "postgresql":
        return cast(func.json_agg(aggregate_order_by(func.json_build_array(*columns), *order_by)), Text)
    return func.json_group_array(func.json_array(*columns))


def _query(dialect: str, full: bool) -> Select[Any]:
    t, d, u, n = Tenant.__table__, Device.__table__, User.__table__, PbxNode.__table__
    columns: list[Any] = [t.c.id, t.c.provisioning_key, t.c.provisioning_networks, d.c.id, d.c.mac, d.c.vendor,
                          d.c.model, d.c.prov_username, d.c.prov_password, cast(d.c.overrides, Text)]
    if full:
        e, k, c = Extension.__table__, PhoneKey.__table__, PersonalContact.__table__
        ref = aliased(User.__table__)
        ref_ext = aliased(Extension.__table__)
        own_ext = aliased(Extension.__table__)
        extensions = (select(_rows(dialect, [e.c.number, e.c.sip_username, e.c.sip_password], [e.c.number]))
                      .where(e.c.user_id == d.c.user_id).scalar_subquery())
        # Whether a presence key's extension exists in the phone's own company (device_config's `own`).
        blf_target = (exists().where(own_ext.c.tenant_id == d.c.tenant_id, own_ext.c.number == k.c.value)
                      .correlate_except(own_ext))
        keys = (select(_rows(dialect, [k.c.position, k.c.kind, k.c.value, k.c.label, blf_target], [k.c.position]))
                .where(k.c.user_id == d.c.user_id).scalar_subquery())
        ref_number = select(func.min(ref_ext.c.number)).where(ref_ext.c.user_id == ref.c.id).scalar_subquery()
        contacts = (select(_rows(dialect, [c.c.id, c.c.name, c.c.number, c.c.ref_user_id, ref.c.tenant_id, ref.c.active,
                                           ref.c.first_name, ref.c.last_name, ref.c.email, ref.c.picture_source,
                                           func.length(ref.c.google_picture), func.length(ref.c.uploaded_picture),
                                           ref.c.picture_updated_at, ref_number], [c.c.name, c.c.id]))
                    .select_from(c.outerjoin(ref, ref.c.id == c.c.ref_user_id))
                    .where(c.c.user_id == d.c.user_id).scalar_subquery())
        columns += [t.c.default_language, t.c.timezone, t.c.domain, t.c.node_id, n.c.kind, n.c.sip_domain, n.c.host,
                    d.c.tenant_id, d.c.user_id, d.c.label, u.c.id, u.c.tenant_id, u.c.language, u.c.timezone,
                    u.c.first_name, u.c.last_name, u.c.email, extensions, keys, contacts]
    query = select(*columns).select_from(t.outerjoin(d, and_(d.c.tenant_id == t.c.id, d.c.mac == bindparam("mac"))))
    if full:
        query = query.outerjoin(u, u.c.id == d.c.user_id).outerjoin(n, n.c.id == t.c.node_id)
    return query.where(t.c.provisioning_key == bindparam("key")).limit(1)


class _Compiled:
    """The statement compiled once for a dialect, run on a raw DB-API cursor: the same SQL SQLAlchemy
    would send, without its per-execution work (a third of a cached fetch's time)."""

    def __init__(self, engine: Engine, full: bool) -> None:
        compiled = _query(engine.dialect.name, full).compile(dialect=engine.dialect)
        self.sql = str(compiled)
        self.defaults = dict(compiled.params)
        self.positions = list(compiled.positiontup or []) if compiled.positional else None

    def params(self, key: str, mac: str) -> Any:
        values = {**self.defaults, "key": key, "mac": mac}
        return [values[name] for name in self.positions] if self.positions is not None else values


_COMPILED: dict[tuple[str, bool], _Compiled] = {}


def _pictures(engine: Engine, user_id: int) -> dict[int, bytes]:
    """The picture of each colleague in this user's contacts who has one (read only when one has one)."""
    c, ref = PersonalContact.__table__, User.__table__
    with engine.connect() as conn:
        rows = conn.execute(select(ref.c.id, ref.c.picture_source, ref.c.google_picture, ref.c.uploaded_picture)
                            .select_from(c.join(ref, ref.c.id == c.c.ref_user_id))
                            .where(c.c.user_id == user_id)).all()
    pictures = {}
    for ref_id, source, google, uploaded in rows:
        # User.picture
        picture = google if source == "google" and google else uploaded if source == "uploaded" and uploaded else None
        if picture is not None:
            pictures[ref_id] = bytes(picture)
    return pictures


def device_state(engine: Engine, key: str, mac: str, *, full: bool) -> DeviceState | None:
    """The tenant with this URL key (None if there is none) and its device with this MAC (device_id None
    if it has none); `full` adds the fingerprint of the device's configuration. `engine`: the portal's
    read engine (control/db.py make_read_engine), one round trip per statement."""
    compiled = _COMPILED.get((engine.dialect.name, full))
    if compiled is None:
        compiled = _COMPILED[(engine.dialect.name, full)] = _Compiled(engine, full)
    row = read_once(engine, compiled.sql, compiled.params(key, mac))
    if row is None:
        return None
    overrides_text = row[9]
    try:
        overrides = json.loads(overrides_text) if isinstance(overrides_text, str) else overrides_text or {}
    except ValueError:
        overrides = {}
    fingerprint = pictures = None
    if full and row[3] is not None:
        fingerprint = tuple(row)
        contacts, user_id = row[-1], row[DEVICE_USER]
        # A picture can change without its length or time stamp (a new Google picture): its bytes count.
        if contacts and user_id is not None and any(
                (entry[10] or 0) > 0 or (entry[11] or 0) > 0 for entry in json.loads(contacts)):
            pictures = _pictures(engine, user_id)
            fingerprint += (hashlib.sha256(repr(sorted(pictures.items())).encode()).hexdigest(),)
    return DeviceState(tenant_id=row[0], tenant_key=row[1] or "", networks=row[2] or "", device_id=row[3],
                       mac=row[4] or "", vendor=row[5] or "", model=row[6] or "", prov_username=row[7] or "",
                       prov_password=row[8] or "", overrides=overrides if isinstance(overrides, dict) else {},
                       fingerprint=fingerprint, pictures=pictures,
                       sorted_rows=engine.dialect.name == "postgresql")


def _json(text: Any) -> list[Any]:
    if text is None:
        return []
    value = json.loads(text) if isinstance(text, str) else text
    return value if isinstance(value, list) else []


def config_from_state(state: DeviceState, public_url: str) -> DeviceConfig:
    """The device's configuration from its row alone: what `render.device_config` builds, rule for rule."""
    row = state.fingerprint
    assert row is not None
    (tenant_id, key, _networks, _device_id, mac, vendor, model, prov_username, prov_password, _overrides,
     t_language, t_timezone, t_domain, node_id, node_kind, node_sip_domain, node_host, _device_tenant, device_user,
     label, user_id, user_tenant, u_language, u_timezone, u_first, u_last, u_email,
     extensions, keys, contacts) = row[:30]
    node = (SimpleNamespace(kind=NodeKind(node_kind), sip_domain=node_sip_domain or "", host=node_host or "")
            if node_id is not None and node_kind is not None else None)
    tenant = SimpleNamespace(id=tenant_id, provisioning_key=key, default_language=t_language, timezone=t_timezone,
                             domain=t_domain or "", node=node)
    defaults = tenant_defaults(tenant)
    own_user = device_user is not None and user_id is not None and user_tenant == tenant_id
    accounts: list[Account] = []
    key_list: list[Key] = []
    contact_list: list[Contact] = []
    if own_user:
        defaults["language"] = u_language or defaults["language"]
        defaults["timezone"] = u_timezone or defaults["timezone"]
        display_name = f"{u_first} {u_last}".strip() or u_email
        ext_rows = _json(extensions)
        key_rows = _json(keys)
        contact_rows = _json(contacts)
        if not state.sorted_rows:
            ext_rows.sort(key=lambda r: r[0])
            key_rows.sort(key=lambda r: r[0])
            contact_rows.sort(key=lambda r: (r[1], r[0]))
        for i, (number, sip_username, sip_password) in enumerate(ext_rows, 1):
            accounts.append(Account(i, number, sip_username, sip_password, clean(display_name, 80),
                                    clean(f"{number} {u_first}".strip(), 40)))
        by_number = {a.number: a.index for a in accounts}
        for position, kind, value, key_label, target_exists in key_rows:
            if kind == "blf" and not target_exists:
                continue  # a presence key watches an extension of the phone's own company only
            key_list.append(Key(position, kind, clean(value, 64), clean(key_label, 40),
                                by_number.get(value, 2 if kind == "line2" and len(accounts) > 1 else 1)))
        if not key_rows and accounts:
            key_list.append(Key(1, "line", accounts[0].number, "", 1))
        pictures = state.pictures or {}
        for (_id, name, number, ref_id, ref_tenant, ref_active, ref_first, ref_last, ref_email, *_picture,
             ref_number) in contact_rows:
            ref = ref_id is not None and ref_tenant is not None
            if ref and (ref_tenant != tenant_id or not ref_active):
                continue  # only colleagues of the phone's own company, as the directory offers them
            ref_name = (f"{ref_first} {ref_last}".strip() or ref_email) if ref else ""
            number = number or (ref_number or "" if ref else "")
            contact_list.append(Contact(clean(name or ref_name, 120), clean(number, 32),
                                        clean(ref_first if ref else name, 80), clean(ref_last if ref else "", 80),
                                        pictures.get(ref_id) if ref else None))
    return DeviceConfig(mac=mac, vendor=vendor, model=model, accounts=tuple(accounts), keys=tuple(key_list),
                        contacts=tuple(contact_list), options=options_from(defaults, state.overrides or {}),
                        base_url=base_url(public_url, tenant), prov_username=prov_username or "",
                        prov_password=prov_password or "", label=clean(label, 80))
