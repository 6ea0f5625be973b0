"""Provisioning and tenants (issue 21: tenants are namespaces): two companies on one PBX node, both with
an extension 201. A phone's files carry only its own company's users, its own company's SIP domain and
registrar settings, and presence keys that point to its own company's extensions."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from clusterpbx.control.models import Device, NodeKind, PbxNode, PersonalContact, PhoneKey, SyncState
from clusterpbx.provisioning.render import device_config, render_all
from clusterpbx.web.softphone import account_for

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
PUBLIC = "https://portal.example.com"


def two_companies(db, world, kind: NodeKind, node_domain: str = "pbx.example.net"):
    node = PbxNode(name="n1", kind=kind, host="10.0.0.5", port=8021 if kind is NodeKind.FREESWITCH else 5038,
                   sip_domain=node_domain)
    db.add(node)
    db.commit()
    out = {}
    for domain in ("demo.example.com", "acme.example.com"):
        t = world.tenant(domain, node_id=node.id)
        u201 = world.user(t, email=f"u201@{domain}", first_name=domain.split(".")[0].title(), last_name="Un",
                          extension="201", can_use_blf=True)
        u202 = world.user(t, email=f"u202@{domain}", first_name=domain.split(".")[0].title(), last_name="Deux",
                          extension="202")
        device = Device(tenant_id=t.id, user_id=u201.id, mac=f"0015651a2b{len(out):02x}", vendor="snom",
                        model="D785", overrides={})
        db.add(device)
        db.add_all([PhoneKey(user_id=u201.id, position=1, kind="line", value="201", label="",
                             sync_state=SyncState.APPLIED),
                    PhoneKey(user_id=u201.id, position=2, kind="blf", value="202", label="Deux",
                             sync_state=SyncState.APPLIED)])
        db.add(PersonalContact(user_id=u201.id, ref_user_id=u202.id, name=u202.display_name, number=""))
        db.commit()
        out[domain.split(".")[0]] = (t, u201, u202, device)
    return node, out


def text_of(db, device) -> str:
    return "\n".join(r.body.decode() for r in render_all(db, device, PUBLIC).values())


def test_freeswitch_each_companys_phone_registers_in_its_own_domain(db, world):
    node, c = two_companies(db, world, NodeKind.FREESWITCH)
    acme, acme_201, _acme_202, acme_phone = c["acme"]
    demo, demo_201, _demo_202, demo_phone = c["demo"]
    assert acme_201.primary_extension.sip_username != demo_201.primary_extension.sip_username
    for tenant, user, phone in ((acme, acme_201, acme_phone), (demo, demo_201, demo_phone)):
        o = device_config(db, phone, PUBLIC).options
        # The company's directory domain (its users are not in the node's domain), reached through the node.
        assert (o.sip_server, o.outbound_proxy) == (tenant.domain, "pbx.example.net")
        text = text_of(db, phone)
        assert f"{user.primary_extension.sip_username}" in text and f"@{tenant.domain}" in text
        softphone = account_for(user)
        assert (softphone.domain, softphone.server) == (tenant.domain, "pbx.example.net")
    # A device override still wins.
    acme_phone.overrides = {"outbound_proxy": "sbc.example.com"}
    db.commit()
    assert device_config(db, acme_phone, PUBLIC).options.outbound_proxy == "sbc.example.com"
    # Asterisk has no per-tenant domains: both companies' phones keep the node's registrar.
    node.kind = NodeKind.ASTERISK
    acme_phone.overrides = {}
    db.commit()
    for _t, _u, _u2, phone in c.values():
        o = device_config(db, phone, PUBLIC).options
        assert (o.sip_server, o.outbound_proxy) == ("pbx.example.net", "")


def test_a_phone_has_only_its_own_companys_users(db, world):
    _node, c = two_companies(db, world, NodeKind.FREESWITCH)
    acme, acme_201, acme_202, acme_phone = c["acme"]
    demo, demo_201, demo_202, demo_phone = c["demo"]
    # Rows no screen lets anyone write, as a bad import or a user moved between companies would leave
    # them: Acme's 201 has Démo's 202 in their contacts and a presence key on 205, which only Démo has.
    world.user(demo, email="u205@demo.example.com", first_name="Seule", last_name="Demo", extension="205")
    db.add(PersonalContact(user_id=acme_201.id, ref_user_id=demo_202.id, name="Zz " + demo_202.display_name,
                           number=""))
    db.add(PhoneKey(user_id=acme_201.id, position=3, kind="blf", value="205", label="Seule",
                    sync_state=SyncState.APPLIED))
    db.commit()
    cfg = device_config(db, acme_phone, PUBLIC)
    assert [a.username for a in cfg.accounts] == [acme_201.primary_extension.sip_username]
    assert [c.name for c in cfg.contacts] == [acme_202.display_name]
    assert [(k.kind, k.value) for k in cfg.keys] == [("line", "201"), ("blf", "202")]
    text = text_of(db, acme_phone)
    assert "Zz " not in text and "Seule" not in text and "sip:205@" not in text
    assert f"blf sip:202@{acme.domain}" in text  # the presence key watches Acme's 202, in Acme's domain
    for secret in (demo_201.primary_extension.sip_password, demo_202.primary_extension.sip_password):
        assert secret not in text
    # A phone recorded in one company for a user of the other gets no one's line.
    demo_phone.user_id = acme_201.id
    db.commit()
    cfg = device_config(db, demo_phone, PUBLIC)
    assert cfg.accounts == () and cfg.contacts == () and cfg.keys == ()
    assert acme_201.primary_extension.sip_password not in text_of(db, demo_phone)
    assert db.scalar(select(Device.tenant_id).where(Device.id == demo_phone.id)) == demo.id
