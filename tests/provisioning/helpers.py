"""Shared builders for the provisioning tests: a tenant, its user with keys, and a desk phone."""

from __future__ import annotations

from clusterpbx.control.models import Device, PhoneKey, SyncState


def phone_setup(world, db, *, vendor: str = "yealink", model: str = "T46S", mac: str = "0015651a2b3c", **tenant_kw):
    tenant = world.tenant("acme.test", **tenant_kw)
    user = world.user(tenant, first_name="Marie", last_name="Tremblay", extension="201", can_use_blf=True)
    world.user(tenant, first_name="JP", last_name="Vallée", extension="219")
    db.add_all([PhoneKey(user_id=user.id, position=1, kind="line", value="201", label="", sync_state=SyncState.APPLIED),
                PhoneKey(user_id=user.id, position=2, kind="blf", value="219", label="JP & co",
                         sync_state=SyncState.APPLIED)])
    device = Device(tenant_id=tenant.id, user_id=user.id, mac=mac, vendor=vendor, model=model, overrides={})
    db.add(device)
    db.commit()
    return tenant, user, device
