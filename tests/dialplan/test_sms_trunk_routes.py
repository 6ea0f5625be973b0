"""A phone's SMS to an outside number on Asterisk (issue 19 item 12, found on the real Asterisk 22:
tests/real/test_sms_real.py): the generated `messages` context matches numbers written with a "+" first
(`_X.` alone never matched them) and sends to an SMS trunk given as host:port with the sender's own
endpoint (such a trunk got no route at all: from_db left it out)."""

from __future__ import annotations

import dataclasses

from clusterpbx.dialplan.asterisk import render_asterisk
from tests.dialplan.sample import acme
from tests.dialplan.tracer import Dialplan, Tracer

SENDER = {"MESSAGE(from)": '"Alice" <sip:acme101-desk@pbx1.example.com>'}


def dialplan_with(sms_trunk: str, prefixes: tuple[str, ...] = ("0", "00", "+33")) -> Dialplan:
    snap = acme("asterisk")
    tenant = snap.tenants[0]
    alice = dataclasses.replace(tenant.extensions[0], allowed_prefixes=prefixes)
    tenant = dataclasses.replace(tenant, sms_trunk=sms_trunk, extensions=(alice, *tenant.extensions[1:]))
    snap = dataclasses.replace(snap, tenants=(tenant, *snap.tenants[1:]))
    return Dialplan.parse(render_asterisk(snap)["extensions_clusterpbx.conf"])


def sent(dialplan: Dialplan, number: str) -> list[str]:
    t = Tracer(dialplan)
    t.call("cpbx-acme-messages", number, channeltype="Message", variables=SENDER)
    return [e.data for e in t.find("MessageSend")]


def test_a_plus_number_is_routed_and_checked_like_any_other():
    dialplan = dialplan_with("sms-provider")
    assert sent(dialplan, "+33612345678") == ['pjsip:PJSIP/+33612345678@sms-provider,"Alice" '
                                              "<sip:acme101-desk@pbx1.example.com>"]
    assert sent(dialplan, "+14155550100") == []  # not among the sender's allowed prefixes


def test_a_host_and_port_trunk_is_sent_to_with_the_senders_endpoint():
    dialplan = dialplan_with("sms.example.net:5080")
    assert sent(dialplan, "0612345678") == [
        'pjsip:acme101-desk/sip:0612345678@sms.example.net:5080,"Alice" <sip:acme101-desk@pbx1.example.com>']
    assert sent(dialplan, "+33612345678")[0].startswith("pjsip:acme101-desk/sip:+33612345678@sms.example.net:5080,")


def test_the_portals_host_and_port_sms_trunk_reaches_the_generated_dialplan(db, world):
    from clusterpbx.control.models import NodeKind, PbxNode
    from clusterpbx.dialplan.from_db import node_snapshot

    node = PbxNode(name="n1", kind=NodeKind.ASTERISK, host="127.0.0.1", port=5038)
    db.add(node)
    db.flush()
    tenant = world.tenant("sms.test")
    tenant.node_id = node.id
    tenant.sms_provider, tenant.sms_config = "pbx", {"trunk": "sms.example.net:5080"}
    db.commit()
    world.user(tenant, extension="201")
    (snap_tenant,) = node_snapshot(db, db.get(PbxNode, node.id)).tenants
    assert snap_tenant.sms_trunk == "sms.example.net:5080"
    tenant.sms_config = {"trunk": "sms.example.net:99999"}  # written behind the portal's back: left out
    db.commit()
    (snap_tenant,) = node_snapshot(db, db.get(PbxNode, node.id)).tenants
    assert snap_tenant.sms_trunk is None
