"""Issue 19: outbound calls from the database. The tenant's outbound trunk (and the SMS trunk of the `pbx`
SMS provider, `trunk` in sms_config) reach the snapshot, so the generated Asterisk dialplan dials an
allowed outside number through the trunk, also for forwards and follow-me, and still refuses a number
outside the user's destination groups; FreeSWITCH bridges the allowed prefixes to the gateway."""

from __future__ import annotations

import logging
import re
import xml.etree.ElementTree as ET
from typing import Any

import pytest

from clusterpbx.control.admin import Actor, resource
from clusterpbx.control.models import NodeKind, PbxNode, Tenant, User
from clusterpbx.dialplan import keys
from clusterpbx.dialplan.asterisk import ctx
from clusterpbx.dialplan.from_db import node_snapshot
from clusterpbx.dialplan.render import render_node
from tests.dialplan.tracer import Dialplan, Tracer

MONTREAL = "15145550123"
PARIS = "33123456789"


def company(db: Any, world: Any, kind: NodeKind = NodeKind.ASTERISK, trunk: str = "acme-trunk") -> dict[str, Any]:
    node = PbxNode(name=f"pbx-{kind.value}", kind=kind, host="127.0.0.1", port=5038, username="admin",
                   secret="s3cret", sip_domain="pbx.acme.test")
    db.add(node)
    db.commit()
    tenant = world.tenant("acme.test")
    tenant.node_id = node.id
    db.commit()
    caller = world.user(tenant, email="alice@acme.test", extension="201")
    internal = world.user(tenant, email="bob@acme.test", extension="202")
    op = Actor.command_line("test")
    group = resource("destination_groups").create(db, op, {"tenant_id": tenant.id, "name": "Local Montréal",
                                                           "prefixes": "1514\n1438"})
    resource("users").update(db, op, caller.id, {"destination_groups": [group.id]})
    if trunk:
        resource("tenants").update(db, op, tenant.id, {"outbound_trunk": trunk})
    db.commit()
    return {"node": node, "tenant": tenant, "caller": caller, "internal": internal}


def endpoint(user: User) -> str:
    return user.extensions[0].sip_username


def asterisk_dialplan(db: Any, node: PbxNode) -> tuple[Dialplan, Any]:
    snapshot = node_snapshot(db, node)
    (t,) = snapshot.tenants
    return Dialplan.parse(render_node(snapshot)["extensions_clusterpbx.conf"]), t


def test_the_trunk_reaches_the_snapshot(db, world):
    c = company(db, world)
    (t,) = node_snapshot(db, c["node"]).tenants
    assert t.outbound_trunk == "acme-trunk"
    assert t.sms_trunk is None  # the pbx SMS provider without a trunk: messages to numbers stay on the PBX


def test_allowed_outside_number_goes_out_through_the_trunk_and_others_are_refused(db, world):
    c = company(db, world)
    dialplan, t = asterisk_dialplan(db, c["node"])
    tr = Tracer(dialplan).call(ctx(t), MONTREAL, endpoint=endpoint(c["caller"]))
    assert [d.data for d in tr.find("Dial")] == [f"PJSIP/{MONTREAL}@acme-trunk"]
    assert tr.find("Playback") == []
    # A number outside the caller's groups, or a caller without groups: still refused, trunk or not.
    for who, number in ((c["caller"], PARIS), (c["internal"], MONTREAL)):
        tr = Tracer(dialplan).call(ctx(t), number, endpoint=endpoint(who))
        assert tr.find("Dial") == [], (who.email, number)
        assert tr.find("Playback")[0].data.startswith("cannot-complete-as-dialed")
        assert [h.data for h in tr.find("Hangup")][:1] == ["21"]
    # The operator clears the trunk: every outside number is refused again.
    resource("tenants").update(db, Actor.command_line(), c["tenant"].id, {"outbound_trunk": ""})
    db.commit()
    dialplan, t = asterisk_dialplan(db, c["node"])
    assert t.outbound_trunk is None
    tr = Tracer(dialplan).call(ctx(t), MONTREAL, endpoint=endpoint(c["caller"]))
    assert tr.find("Dial") == []


def test_forward_and_follow_me_to_an_outside_number_use_the_trunk(db, world):
    c = company(db, world)
    dialplan, t = asterisk_dialplan(db, c["node"])
    ext = c["caller"].extensions[0].number
    forward = keys.FeatureSettings(ext, astdb_prefix=t.astdb_prefix, forward_always=MONTREAL)
    astdb = {f"{f}/{k}": v for f, k, v in keys.asterisk_feature_entries(forward) if v is not None}
    tr = Tracer(dialplan, astdb=astdb, follow_local=True).call(ctx(t), ext, endpoint=endpoint(c["internal"]))
    (leg,) = tr.legs
    assert [d.data for d in leg.find("Dial")] == [f"PJSIP/{MONTREAL}@acme-trunk"]

    follow = keys.FeatureSettings(ext, astdb_prefix=t.astdb_prefix, followme_enabled=True,
                                  followme_numbers=(MONTREAL, PARIS))
    astdb = {f"{f}/{k}": v for f, k, v in keys.asterisk_feature_entries(follow) if v is not None}
    tr = Tracer(dialplan, astdb=astdb, follow_local=True).call(ctx(t), ext, endpoint=endpoint(c["internal"]))
    # the user's own phone and each number through the follow-me context (which waits the delay, then
    # dials the number's leg with the forwarding user's rights)
    fm = ctx(t, "fm")
    assert [d.data for d in tr.find("Dial")] == [f"PJSIP/{ext}&Local/{MONTREAL}@{fm}&Local/{PARIS}@{fm},20"]
    (montreal,), (paris,) = (leg.legs for leg in tr.legs)
    assert [d.data for d in montreal.find("Dial")] == [f"PJSIP/{MONTREAL}@acme-trunk"]
    assert paris.find("Dial") == []  # not in the forwarding user's groups
    assert [h.data for h in paris.find("Hangup")] == ["21"]  # refused silently: no prompt on a leg
    assert paris.find("Playback") == []


def test_freeswitch_bridges_the_allowed_prefixes_to_the_gateway(db, world):
    c = company(db, world, kind=NodeKind.FREESWITCH, trunk="gw.acme")
    text = render_node(node_snapshot(db, c["node"]))["dialplan_clusterpbx.xml"]
    root = ET.fromstring(text)
    ext = c["caller"].extensions[0].number
    for prefix in ("1438", "1514"):
        for kind in ("own", "fwd"):  # the phones' context and the forward / follow-me legs' context
            (x,) = [e for e in root.iter("extension") if e.get("name") == f"cpbx-out-{ext}-{prefix}-{kind}"]
            conditions = x.findall("condition")
            assert conditions[-1].get("expression") == rf"^(\+?{prefix}\d*)$"  # "+" first or not
            bridges = [a.get("data") for a in conditions[-1].findall("action") if a.get("application") == "bridge"]
            assert bridges == ["sofia/gateway/gw.acme/$1"]
    assert not any(e.get("name", "").startswith("cpbx-out-202-") for e in root.iter("extension"))


def test_sms_trunk_of_the_pbx_provider_reaches_the_dialplan(db, world):
    c = company(db, world)
    tenant = c["tenant"]
    tenants = resource("tenants")
    tenants.update(db, Actor.command_line(), tenant.id, {"sms_provider": "pbx", "sms_config": "trunk=sms-trunk"})
    db.commit()
    snapshot = node_snapshot(db, c["node"])
    assert snapshot.tenants[0].sms_trunk == "sms-trunk"
    assert "MessageSend(pjsip:PJSIP/${CPBX_NUM}@sms-trunk" in render_node(snapshot)["extensions_clusterpbx.conf"]
    # Another provider sends through its own service: no SIP trunk for the phones' messages.
    tenants.update(db, Actor.command_line(), tenant.id, {"sms_provider": "twilio"})
    db.commit()
    assert node_snapshot(db, c["node"]).tenants[0].sms_trunk is None


@pytest.mark.parametrize(("column", "stored"), [
    ("outbound_trunk", "evil\nexten => _X.,1,System(true)"),
    ("outbound_trunk", "evil trunk"),
    ("sms_config", {"trunk": "evil\nexten => _X.,1,System(true)"}),
    ("sms_config", {"trunk": {"host": "evil"}}),
])
def test_a_trunk_the_dialplan_cannot_use_is_left_out(db, world, caplog, column, stored):
    c = company(db, world)
    tenant = db.get(Tenant, c["tenant"].id)
    setattr(tenant, column, stored)
    db.commit()
    with caplog.at_level(logging.WARNING, logger="clusterpbx.dialplan"):
        snapshot = node_snapshot(db, c["node"])
    assert snapshot.tenants[0].sms_trunk is None
    if column == "outbound_trunk":
        assert snapshot.tenants[0].outbound_trunk is None
    files = render_node(snapshot)  # the node's other tenants and calls keep their configuration
    assert "System(" not in files["extensions_clusterpbx.conf"] and "evil" not in files["extensions_clusterpbx.conf"]
    assert "not a PJSIP endpoint or gateway name" in caplog.text


@pytest.mark.parametrize("stored", [["trunk", "x"], "trunk=x", 7, None])
def test_sms_settings_that_are_not_key_value_pairs_mean_no_sms_trunk(db, world, stored):
    c = company(db, world)
    tenant = db.get(Tenant, c["tenant"].id)
    tenant.sms_config = stored
    db.commit()
    snapshot = node_snapshot(db, c["node"])
    assert (snapshot.tenants[0].sms_trunk, snapshot.tenants[0].outbound_trunk) == (None, "acme-trunk")
    assert "extensions_clusterpbx.conf" in render_node(snapshot)


def test_prefixes_with_a_plus_render_and_dial_out(db, world):
    """Destination groups accept "+33" (a number dialled as +33...): it used to fail the whole node's
    configuration (every tenant of the node) with "allowed prefix: invalid value"."""
    c = company(db, world)
    op = Actor.command_line("test")
    group = resource("destination_groups").create(db, op, {"tenant_id": c["tenant"].id, "name": "France",
                                                           "prefixes": "+33"})
    groups = [g.id for g in c["caller"].destination_groups] + [group.id]
    resource("users").update(db, op, c["caller"].id, {"destination_groups": groups})
    db.commit()
    dialplan, t = asterisk_dialplan(db, c["node"])
    tr = Tracer(dialplan).call(ctx(t), f"+{PARIS}", endpoint=endpoint(c["caller"]))
    assert [d.data for d in tr.find("Dial")] == [f"PJSIP/+{PARIS}@acme-trunk"]
    tr = Tracer(dialplan).call(ctx(t), f"+{PARIS}", endpoint=endpoint(c["internal"]))
    assert tr.find("Dial") == []

    fs = PbxNode(name="pbx-fs", kind=NodeKind.FREESWITCH, host="127.0.0.1", port=8021, secret="ClueCon")
    db.add(fs)
    db.commit()
    c["tenant"].node_id = fs.id
    db.commit()
    root = ET.fromstring(render_node(node_snapshot(db, fs))["dialplan_clusterpbx.xml"])
    ext = c["caller"].extensions[0].number
    # the group's "+33" is the prefix 33, a "+" first or not (as the portal compares)
    (x,) = [e for e in root.iter("extension") if e.get("name") == f"cpbx-out-{ext}-33-own"]
    condition = x.findall("condition")[-1]
    assert condition.get("expression") == r"^(\+?33\d*)$"
    assert re.fullmatch(condition.get("expression"), f"+{PARIS}")
    assert not re.fullmatch(condition.get("expression"), f"+1{PARIS}")
