"""The HTTP endpoint that mod_json_cdr posts to: authenticated, idempotent, clear on garbage."""

from __future__ import annotations

import base64

from sqlalchemy import func, select

from clusterpbx.control.models import CallRecord, NodeKind, PbxNode
from tests.esl_cdr.test_json_cdr import CDR


def basic(user, password):
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def setup(db, world):
    node = PbxNode(name="fs1", kind=NodeKind.FREESWITCH, host="127.0.0.1", port=8021, secret="ClueCon")
    db.add(node)
    db.flush()
    tenant = world.tenant()
    tenant.node_id = node.id
    db.commit()
    world.user(tenant, extension="1000")
    world.user(tenant, extension="1001")
    return node


def post_all(client, headers):
    codes = []
    for f in sorted((CDR / "json_cdr_bodies").glob("*.json")):
        uuid = f.name.split("_", 1)[1][:-5]
        codes.append(client.post(f"/cdr/freeswitch/fs1?uuid={uuid}", data=f.read_bytes(), headers={
            **headers, "Content-Type": "application/json"}).status_code)
    return codes


def test_posts_are_ingested_once(client, db, world):
    setup(db, world)
    assert set(post_all(client, basic("fs1", "ClueCon"))) == {200}
    assert set(post_all(client, basic("fs1", "ClueCon"))) == {200}  # FreeSWITCH retried everything
    rows = db.scalars(select(CallRecord).order_by(CallRecord.id)).all()
    # Three answered 1000->1001 calls, each for the caller and the callee; 1002 has no user here.
    assert len(rows) == 3 * 2 + 1
    assert {r.call_type for r in rows} == {"internal", "outgoing"}


def test_wrong_or_missing_credentials_refused(client, db, world):
    setup(db, world)
    assert set(post_all(client, basic("fs1", "wrong"))) == {401}
    assert set(post_all(client, {})) == {401}
    assert client.post("/cdr/freeswitch/nope", data=b"{}", headers=basic("nope", "x")).status_code == 401
    assert db.scalar(select(func.count()).select_from(CallRecord)) == 0


def test_garbage_gets_400(client, db, world):
    setup(db, world)
    r = client.post("/cdr/freeswitch/fs1", data=b"{not json", headers=basic("fs1", "ClueCon"))
    assert r.status_code == 400 and b"invalid record" in r.data
