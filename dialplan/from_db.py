"""Build the renderers' NodeSnapshot from the database: the only place where the dialplan generator
meets the ORM, so rendering itself stays a pure function."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from clusterpbx.control import validation
from clusterpbx.control.models import (
    Device,
    PbxNode,
    PersonalConference,
    Queue,
    QueueMembership,
    Tenant,
    User,
    VoicemailSettings,
)
from clusterpbx.control.pbxnames import astdb_prefix, tenant_slugs

from . import model, sanitize

log = logging.getLogger("clusterpbx.dialplan")


def node_snapshot(db: Session, node: PbxNode) -> model.NodeSnapshot:
    # The slugs (and so every PBX-side name) come from control.pbxnames, which the daemon uses too.
    slugs = tenant_slugs(db, node.id)
    tenants = [_tenant(db, t, slugs[t.id])
               for t in db.scalars(select(Tenant).where(Tenant.node_id == node.id).order_by(Tenant.id))]
    return model.NodeSnapshot(
        node=model.Node(kind=node.kind.value, name=node.name, domain=node.sip_domain or node.host),
        tenants=tuple(tenants),
    )


def _tenant(db: Session, t: Tenant, tenant_slug: str) -> model.Tenant:
    users = db.scalars(select(User).where(User.tenant_id == t.id, User.active.is_(True)).order_by(User.id)).all()
    extensions = []
    conferences = []
    for u in users:
        vm = db.get(VoicemailSettings, u.id)
        prefixes = tuple(sorted({p.prefix for g in u.destination_groups for p in g.prefixes}))
        devices = tuple(model.Device(sip_username=f"{d.mac}", sip_password=d.prov_password or d.mac)
                        for d in db.scalars(select(Device).where(Device.user_id == u.id).order_by(Device.id))
                        if d.prov_password)
        for ext in u.extensions:
            email = None
            if vm and vm.email_enabled:
                email = u.email if vm.email_use_login else (vm.email_address or None)
            extensions.append(model.Extension(
                number=ext.number, display_name=u.display_name, sip_username=ext.sip_username,
                sip_password=ext.sip_password, mailbox=ext.mailbox or None, voicemail_pin=ext.vm_pin,
                email=email, email_attach=bool(vm.email_attach) if vm else True,
                email_delete=bool(vm.delete_after_email) if vm else False,
                language="en" if u.language == "en" else "fr", allowed_prefixes=prefixes,
                record_calls=bool(u.record_calls or t.record_calls), devices=devices))
        conf = db.get(PersonalConference, u.id)
        if conf is not None and conf.enabled and u.extensions:
            conferences.append(model.PersonalConference(
                owner=u.extensions[0].number, enabled=True, admin_pin=conf.admin_pin, user_pin=conf.user_pin,
                max_members=conf.max_members, options=model.ConferenceOptions(
                    announce_count=conf.announce_count, announce_join_leave=conf.announce_join_leave,
                    music_on_hold=conf.music_on_hold, star_menu=conf.star_menu,
                    wait_for_admin=conf.wait_for_admin, listen_only_users=conf.listen_only)))
    queues = []
    for q in db.scalars(select(Queue).where(Queue.tenant_id == t.id).order_by(Queue.name)):
        members = tuple(sorted(
            u.extensions[0].number for u in db.scalars(
                select(User).join(QueueMembership, QueueMembership.user_id == User.id)
                .where(QueueMembership.queue_id == q.id)) if u.extensions))
        strategy = q.strategy if q.strategy in ("ringall", "leastrecent", "fewestcalls", "random", "rrmemory",
                                                "linear", "wrandom") else "ringall"
        queues.append(model.Queue(name=q.name, number=q.number, strategy=strategy,  # type: ignore[arg-type]
                                  members=members))
    return model.Tenant(
        name=t.name, slug=tenant_slug, domain=t.domain, astdb_prefix=astdb_prefix(tenant_slug),
        conference_prefix=t.conference_prefix,
        outbound_trunk=_trunk(t, "outbound trunk", t.outbound_trunk),
        sms_trunk=_sms_trunk_checked(t),
        recording_enabled=t.record_calls, extensions=tuple(extensions), queues=tuple(queues),
        conferences=tuple(conferences))


def _sms_trunk(t: Tenant) -> Any:
    """The SMS trunk lives in the settings of the `pbx` SMS provider (docs/sms.md); the other providers
    send through their own service, so phones' messages to outside numbers have no trunk then."""
    if t.sms_provider != "pbx" or not isinstance(t.sms_config, dict):
        return None
    return t.sms_config.get("trunk")


def _sms_trunk_checked(t: Tenant) -> str | None:
    """The SMS trunk as the portal accepts it (control/sms.py trunk_problem): a name, or a SIP host with its
    port, which the Asterisk dialplan sends to with the sender's endpoint (it got no route before)."""
    value = _sms_trunk(t)
    if isinstance(value, str) and sanitize.trunk_host(value):
        return value
    return _trunk(t, "SMS trunk", value)


def _trunk(t: Tenant, what: str, value: Any) -> str | None:
    """A trunk name the renderers accept, or None (no trunk). The generated dialplans name a PJSIP
    endpoint or a sofia gateway; anything else (an SMS trunk given as host:port, a value written behind
    the portal's back) is left out with a warning rather than failing the whole node's configuration."""
    if not value:
        return None
    try:
        return validation.trunk_name(value)
    except validation.InvalidValue:
        log.warning("tenant %s: %s %r is not a PJSIP endpoint or gateway name; left out of the generated "
                    "dialplan", t.domain, what, value)
        return None
