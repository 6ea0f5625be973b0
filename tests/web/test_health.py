"""The operators' health page: node link state and pending changes; hidden from users."""

from __future__ import annotations

from clusterpbx.control.models import CallSettings, NodeHealth, NodeKind, PbxNode, Role, SyncState, utcnow


def test_health_page(client, auth, db, world):
    node = PbxNode(name="pbx-east", kind=NodeKind.ASTERISK, host="10.0.0.5", port=5038)
    other = PbxNode(name="pbx-west", kind=NodeKind.FREESWITCH, host="10.0.0.6", port=8021)
    db.add_all([node, other])
    db.flush()
    db.add(NodeHealth(node_id=node.id, connected=True, since=utcnow(), last_event_at=utcnow()))
    tenant = world.tenant()
    tenant.node_id = node.id
    db.commit()
    admin = world.user(tenant, role=Role.TENANT_ADMIN)
    user = world.user(tenant)
    # New users' settings start pending (the daemon pushes them); mark all applied, then one change.
    from clusterpbx.control.models import VoicemailSettings

    for row in db.query(CallSettings).all() + db.query(VoicemailSettings).all():
        row.sync_state = SyncState.APPLIED
    db.get(CallSettings, user.id).sync_state = SyncState.PENDING
    db.commit()
    auth.login(user.email)
    assert client.get("/health/").status_code == 404
    auth.logout()
    auth.login(admin.email)
    html = client.get("/health/").get_data(as_text=True)
    assert "pbx-east" in html and "connecté" in html and "pbx-west" not in html  # own tenant's node only
    import re

    pending = re.findall(r"<td>(\d+)</td>\s*</tr>", html)
    assert pending == ["1"], html[html.find("<tbody>"):html.find("</tbody>")]


def test_operator_sees_every_node(client, auth, db, world):
    db.add_all([PbxNode(name="a1", kind=NodeKind.ASTERISK, host="h", port=1),
                PbxNode(name="f1", kind=NodeKind.FREESWITCH, host="h", port=2)])
    db.commit()
    op = world.user(world.tenant(), role=Role.OPERATOR)
    auth.login(op.email)
    html = client.get("/health/").get_data(as_text=True)
    assert "a1" in html and "f1" in html and "déconnecté" in html
