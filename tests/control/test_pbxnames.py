"""control/pbxnames.py is the one naming scheme: the dialplan contexts that tell a call record's tenant
and the personal conference rooms are the names the generated configuration gives them, on both PBXs,
for two tenants sharing a node (slug clash included)."""

from __future__ import annotations

import pytest

from clusterpbx.control.callrecords import Directory
from clusterpbx.control.conference import room_name
from clusterpbx.control.models import NodeKind, PbxNode
from clusterpbx.control.pbxnames import PbxNames
from clusterpbx.dialplan import asterisk, freeswitch
from clusterpbx.dialplan.from_db import node_snapshot
from clusterpbx.dialplan.render import render_node


@pytest.mark.parametrize("kind", [NodeKind.ASTERISK, NodeKind.FREESWITCH])
def test_contexts_and_rooms_are_the_generated_configurations_names(db, world, kind):
    node = PbxNode(name="n1", kind=kind, host="127.0.0.1", port=5038 if kind is NodeKind.ASTERISK else 8021,
                   username="u", secret="s", sip_domain="pbx.test")
    db.add(node)
    db.flush()
    acme, other = world.tenant("acme.test"), world.tenant("acme.example")  # both slug "acme"
    for t in (acme, other):
        t.node_id = node.id
    db.commit()
    alice = world.user(acme, extension="201")
    bob = world.user(other, extension="201")

    names = PbxNames.of_node(db, node)
    assert names[acme.id] == PbxNames.for_tenant(db, acme)
    assert names[acme.id].context != names[other.id].context  # the clash gets the tenant id
    snapshot = node_snapshot(db, node)
    directory = Directory.load(db, node.id)
    for rendered, (tenant, user) in zip(snapshot.tenants, ((acme, alice), (other, bob)), strict=True):
        mine = names[tenant.id]
        assert mine.contexts() == [asterisk.ctx(rendered, part) for part in asterisk.CONTEXT_PARTS]
        assert mine.context == freeswitch.context_name(rendered)
        assert mine.conference_room("201") == room_name(db, user) == f"{asterisk.ctx(rendered)}-201"
        assert all(directory.tenant_of(context=c) == tenant.id for c in mine.contexts())
    files = "\n".join(render_node(snapshot).values())
    if kind is NodeKind.ASTERISK:
        assert f"ConfBridge({names[acme.id].context}-${{ARG1}})" in files
    else:
        assert f'context name="{names[acme.id].context}"' in files
