"""The generator fed from the database: `clusterpbx dialplan render` and the live mod_xml_curl endpoint."""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ET

from click.testing import CliRunner
from sqlalchemy import select

from clusterpbx.control.demo import seed_demo
from clusterpbx.control.models import CallSettings, PbxNode, Tenant
from clusterpbx.dialplan.from_db import node_snapshot
from clusterpbx.dialplan.render import render_node


def test_demo_company_renders_for_asterisk(db):
    seed_demo(db)
    db.commit()
    node = db.scalar(select(PbxNode).where(PbxNode.name == "demo-asterisk"))
    files = render_node(node_snapshot(db, node))
    assert "extensions_clusterpbx.conf" in files and "pjsip_clusterpbx.conf" in files
    pjsip = files["pjsip_clusterpbx.conf"]
    assert "[201]" in pjsip or "201" in pjsip
    # Hostile names typed in the portal cannot break out of a config line.
    assert "\n[evil]" not in pjsip


def test_hostile_display_name_stays_inside_its_line(db):
    seed_demo(db)
    db.commit()
    tenant = db.scalar(select(Tenant))
    user = tenant.users[0]
    user.first_name = "Evil\n[evil]\nexten => _X.,1,System(rm -rf /)"
    db.commit()
    node = db.scalar(select(PbxNode).where(PbxNode.name == "demo-asterisk"))
    files = render_node(node_snapshot(db, node))
    for name, text in files.items():
        for line in text.splitlines():
            assert not line.lstrip().startswith("[evil"), (name, line)
            assert not (line.lstrip().startswith(("exten", "same")) and "System(" in line), (name, line)
            assert "<action" not in line or "System" not in line


def test_cli_render_writes_files(sqlite_url, tmp_path, monkeypatch):
    from clusterpbx.cli import cli
    from clusterpbx.control.db import make_engine, make_session_factory

    monkeypatch.setenv("CLUSTERPBX_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("CLUSTERPBX_INSTANCE", str(tmp_path / "i"))
    with make_session_factory(make_engine(sqlite_url))() as s:
        seed_demo(s)
        s.commit()
    out = tmp_path / "out"
    r = CliRunner().invoke(cli, ["dialplan", "render", "--node", "demo-asterisk", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert (out / "extensions_clusterpbx.conf").exists()
    r = CliRunner().invoke(cli, ["dialplan", "render", "--node", "nope", "--out", str(out)])
    assert r.exit_code != 0 and "no node named" in r.output


def _fs_setup(db):
    seed_demo(db)
    db.commit()
    fs = db.scalar(select(PbxNode).where(PbxNode.name == "demo-freeswitch"))
    tenant = db.scalar(select(Tenant))
    tenant.node_id = fs.id
    db.commit()
    return fs, tenant


def auth(user, pw):
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{pw}".encode()).decode()}


def test_xml_curl_directory_lookup(client, db):
    fs, tenant = _fs_setup(db)
    form = {"hostname": "fs", "section": "directory", "tag_name": "domain", "key_name": "name",
            "key_value": tenant.domain, "action": "sip_auth", "user": "201", "domain": tenant.domain}
    r = client.post("/freeswitch/xml-curl/demo-freeswitch", data=form, headers=auth("demo-freeswitch", "ClueCon"))
    assert r.status_code == 200 and r.mimetype == "text/xml"
    doc = ET.fromstring(r.data)
    assert doc.tag == "document" and doc.find(".//user[@id='201']") is not None


def test_xml_curl_unknown_user_not_found_and_auth(client, db):
    fs, tenant = _fs_setup(db)
    form = {"hostname": "fs", "section": "directory", "tag_name": "domain", "key_name": "name",
            "key_value": tenant.domain, "action": "sip_auth", "user": "999", "domain": tenant.domain}
    r = client.post("/freeswitch/xml-curl/demo-freeswitch", data=form, headers=auth("demo-freeswitch", "ClueCon"))
    assert b'status="not found"' in r.data
    assert client.post("/freeswitch/xml-curl/demo-freeswitch", data=form,
                       headers=auth("demo-freeswitch", "bad")).status_code == 401
    assert client.post("/freeswitch/xml-curl/demo-freeswitch", data=form).status_code == 401


def test_settings_change_reaches_the_dialplan_snapshot(db):
    fs, tenant = _fs_setup(db)
    user = tenant.users[0]
    db.get(CallSettings, user.id).dnd = True
    db.commit()
    snap = node_snapshot(db, fs)
    assert snap.tenants[0].extensions[0].number == user.extensions[0].number


def test_pbx_names_match_the_generated_configuration(db):
    from clusterpbx.control.models import NodeKind, Queue
    from clusterpbx.control.pbxnames import PbxNames

    seed_demo(db)
    db.commit()
    tenant = db.scalar(select(Tenant))
    queue = db.scalar(select(Queue).where(Queue.name == "support"))
    ext = tenant.users[0].extensions[0]
    ast = db.scalar(select(PbxNode).where(PbxNode.name == "demo-asterisk"))
    names = PbxNames.for_tenant(db, tenant)
    files = render_node(node_snapshot(db, ast))
    assert f"[{names.queue(queue)}]" in files["queues_clusterpbx.conf"]
    assert f"[{names.voicemail_context}]" in files["voicemail_clusterpbx.conf"]
    # *45 logs the extension in as exactly the member the daemon adds.
    agent = names.member(ext).replace(ext.number, "${CPBX_FROM}", 1)
    assert f"AddQueueMember({names.queue(queue)},{agent})" in files["extensions_clusterpbx.conf"]
    fs = db.scalar(select(PbxNode).where(PbxNode.name == "demo-freeswitch"))
    tenant.node_id = fs.id
    db.commit()
    db.expire_all()
    fs_names = PbxNames.for_tenant(db, tenant)
    assert fs_names.kind is NodeKind.FREESWITCH
    fs_files = render_node(node_snapshot(db, fs))
    everything = "".join(fs_files.values())
    assert f'name="{fs_names.queue(queue)}"' in everything
    assert f'name="{fs_names.member(ext)}"' in everything
