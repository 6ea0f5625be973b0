"""Token authentication (missing, wrong, revoked, expired, disabled user, cookie only), JSON errors on
every kind of failure, rate limiting, the OpenAPI description and the `clusterpbx api token` CLI."""

from __future__ import annotations

import datetime as dt

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from clusterpbx.control import apitokens
from clusterpbx.control.models import ApiToken, Role, User, utcnow
from tests.api.conftest import Api, integration_token, user_token


@pytest.fixture
def me(db, world):
    tenant = world.tenant("acme.test")
    return world.user(tenant, email="jane@acme.test", extension="201")


def test_missing_and_malformed_authorization_are_401(api, me):
    for headers in ({}, {"Authorization": "Basic amFuZTpzZWNyZXQ="}, {"Authorization": "Bearer"},
                    {"Authorization": "Bearer    "}, {"Authorization": "cpbx_abc"}):
        resp = api.get("/api/v1/me", headers=headers)
        assert resp.status_code == 401, headers
        assert resp.is_json and resp.get_json()["errors"][""]
        assert resp.headers["WWW-Authenticate"].startswith("Bearer")


def test_wrong_token_is_401_and_good_token_works(api, db, me):
    token = user_token(db, me)
    assert api.as_(token + "x").get("/api/v1/me").status_code == 401
    assert api.as_("cpbx_" + "A" * 43).get("/api/v1/me").status_code == 401
    resp = api.as_(token).get("/api/v1/me")
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["email"] == "jane@acme.test" and body["extensions"] == ["201"] and body["role"] == "user"
    # Only the hash is stored; last use is recorded.
    row = db.scalar(select(ApiToken).where(ApiToken.user_id == me.id))
    db.refresh(row)
    assert token not in (row.token_hash, row.prefix) and row.token_hash == apitokens.hash_token(token)
    assert row.last_used_at is not None and token.startswith(row.prefix)


def test_revoked_and_expired_tokens_are_401(api, db, me):
    revoked = user_token(db, me, "revoked")
    row = db.scalar(select(ApiToken).where(ApiToken.name == "revoked"))
    assert api.as_(revoked).get("/api/v1/me").status_code == 200
    apitokens.revoke(db, row)
    db.commit()
    assert api.as_(revoked).get("/api/v1/me").status_code == 401
    _row, expired = apitokens.create_user_token(db, me, "old", expires_at=utcnow() - dt.timedelta(seconds=1))
    db.commit()
    assert api.as_(expired).get("/api/v1/me").status_code == 401
    _row, later = apitokens.create_user_token(db, me, "later", expires_at=utcnow() + dt.timedelta(days=1))
    db.commit()
    assert api.as_(later).get("/api/v1/me").status_code == 200


def test_disabled_user_token_stops_working_and_role_follows_the_user(api, db, me):
    token = user_token(db, me)
    assert api.as_(token).get("/api/v1/users").status_code == 403
    me.role = Role.TENANT_ADMIN
    db.commit()
    assert api.as_(token).get("/api/v1/users").status_code == 200
    me.active = False
    db.commit()
    assert api.as_(token).get("/api/v1/me").status_code == 401


def test_session_cookie_alone_is_refused(client, auth, me):
    assert auth.login(me.email).status_code == 302
    assert client.get("/home").status_code == 200  # signed in on the portal
    resp = client.get("/api/v1/me")
    assert resp.status_code == 401 and resp.is_json
    # And no CSRF token is needed (nor would one help) for a token request: bearer only.
    resp = client.patch("/api/v1/me/call-settings", json={"dnd": True})
    assert resp.status_code == 401


def test_no_csrf_needed_with_a_token(api, db, me):
    resp = api.as_(user_token(db, me)).patch("/api/v1/me/call-settings", {"dnd": True})
    assert resp.status_code == 200, resp.data
    assert resp.get_json()["dnd"] is True


def test_integration_token_acts_with_its_role_and_has_no_me(api, db, world):
    acme = world.tenant("acme.test")
    world.tenant("globex.test")
    token = integration_token(db, Role.TENANT_ADMIN, acme)
    integ = api.as_(token)
    assert integ.get("/api/v1/me").status_code == 403
    tenants = integ.get("/api/v1/tenants").get_json()["items"]
    assert [t["domain"] for t in tenants] == ["acme.test"]
    ops = api.as_(integration_token(db, Role.OPERATOR, None, "ops"))
    assert {t["domain"] for t in ops.get("/api/v1/tenants").get_json()["items"]} == {"acme.test", "globex.test"}
    with pytest.raises(apitokens.TokenRefused):
        apitokens.create_integration_token(db, "x", Role.USER, acme)
    with pytest.raises(apitokens.TokenRefused):
        apitokens.create_integration_token(db, "x", Role.TENANT_ADMIN, None)


def test_errors_are_json_never_html(api, db, world):
    tenant = world.tenant("acme.test")
    ops = api.as_(integration_token(db, Role.OPERATOR, None))
    cases = [
        (ops.get("/api/v1/no/such/route"), 404),
        (ops.get("/api/nothing"), 404),
        (ops.request("PUT", "/api/v1/tenants"), 405),
        (ops.request("PUT", f"/api/v1/tenants/{tenant.id}"), 405),
        (ops.post("/api/v1/tenants", raw="{not json"), 400),
        (ops.post("/api/v1/tenants", raw="[1, 2]"), 400),
        (ops.post("/api/v1/tenants", raw='{"name": NaN}'), 400),
        (ops.post("/api/v1/tenants", raw="[" * 100000 + "]" * 100000), 400),
        (ops.post("/api/v1/tenants", raw="name=x", content_type="application/x-www-form-urlencoded"), 400),
        (ops.post("/api/v1/tenants", {"name": "X", "domain": "x.test", "bogus": 1}), 400),
        (ops.post("/api/v1/tenants", {"name": 12, "domain": "x.test"}), 400),
        (ops.post("/api/v1/tenants", {"name": "X", "domain": "x.test", "pw_min_length": "8"}), 400),
        (ops.post("/api/v1/tenants", {"name": "X", "domain": "x.test", "pw_min_length": 10**30}), 400),
        (ops.post("/api/v1/tenants", {"name": "X\u0000", "domain": "x.test"}), 400),
        (ops.post("/api/v1/tenants", {"name": "X", "domain": "x.test", "provisioning_key": "k"}), 400),
        (ops.patch(f"/api/v1/tenants/{tenant.id}", {"node_id": 10**12}), 400),
        (ops.get("/api/v1/users?page=abc"), 400),
        (ops.get("/api/v1/users?per_page=100000"), 400),
        (ops.get("/api/v1/users?search=%00"), 400),
        (ops.get("/api/v1/audit?since=yesterday"), 400),
        (ops.get("/api/v1/audit?since=0001-01-01T00:00:00%2B14:00"), 400),
        (ops.get("/api/v1/audit?until=9999-12-31"), 400),
    ]
    for resp, status in cases:
        assert resp.status_code == status, (resp.request.path, resp.status_code, resp.data[:300])
        assert resp.mimetype == "application/json", resp.request.path
        assert isinstance(resp.get_json()["errors"], dict)
    unknown = ops.post("/api/v1/tenants", {"name": "X", "domain": "x.test", "bogus": 1}).get_json()
    assert unknown == {"errors": {"bogus": "Unknown field."}}
    readonly = ops.post("/api/v1/tenants", {"name": "X", "domain": "x.test", "provisioning_key": "k"}).get_json()
    assert readonly == {"errors": {"provisioning_key": "This field is read-only."}}
    refused = ops.post("/api/v1/tenants", {"name": "X", "domain": "not a domain"})
    assert refused.status_code == 400 and "domain" in refused.get_json()["errors"]
    created = ops.post("/api/v1/tenants", {"name": "X", "domain": "x.test"})
    assert created.status_code == 201 and created.headers["Location"].endswith(f"/api/v1/tenants/{created.json['id']}")


def test_rate_limit_is_json_429(app, db, me):
    app.config["API_RATE_LIMIT"] = "3/minute"
    api = Api(app.test_client(), user_token(db, me))
    statuses = [api.get("/api/v1/me").status_code for _ in range(5)]
    assert statuses[:3] == [200, 200, 200] and statuses[3:] == [429, 429]
    resp = api.get("/api/v1/me")
    assert resp.is_json and resp.get_json()["errors"][""].startswith("Too many requests")


def test_openapi_description(client, world):
    world.tenant("acme.test")
    resp = client.get("/api/openapi.json")
    assert resp.status_code == 200 and resp.is_json
    spec = resp.get_json()
    assert spec["openapi"].startswith("3.1")
    assert spec["components"]["securitySchemes"]["bearer"] == {
        "type": "http", "scheme": "bearer", "description": "a ClusterPBX API token (cpbx_...)"}
    assert spec["security"] == [{"bearer": []}]
    paths = spec["paths"]
    for p in ("/api/v1/tenants", "/api/v1/users/{id}", "/api/v1/devices", "/api/v1/audit", "/api/v1/me",
              "/api/v1/me/call-records", "/api/v1/me/live-calls", "/api/v1/me/call-settings",
              "/api/v1/me/queues", "/api/v1/me/queues/{queue_id}/pause", "/api/v1/me/voicemail/{message_id}/audio",
              "/api/v1/me/click-to-call"):
        assert p in paths, p
    assert set(paths["/api/v1/users/{id}"]) >= {"get", "patch", "delete"}
    schemas = spec["components"]["schemas"]
    # Generated from the Fields: SECRET writeOnly and never in the output, read_only readOnly, CHOICE enum,
    # REFERENCES arrays of integers, required list, unknown fields refused.
    users_in = schemas["UsersCreate"]
    assert users_in["properties"]["password"]["writeOnly"] is True
    assert "password" not in schemas["Users"]["properties"]
    assert schemas["Users"]["properties"]["created_at"]["readOnly"] is True
    assert "created_at" not in users_in["properties"]
    assert users_in["properties"]["role"]["enum"] == ["user", "tenant_admin", "operator"]
    assert users_in["properties"]["queues"]["type"] == "array"
    assert users_in["properties"]["queues"]["items"]["type"] == "integer"
    assert "email" in users_in["required"] and users_in["additionalProperties"] is False
    assert "required" not in schemas["UsersUpdate"]
    assert schemas["Errors"]["properties"]["errors"]["type"] == "object"


def test_cli_create_list_revoke(sqlite_url, tmp_path, monkeypatch):
    from clusterpbx.cli import cli
    from clusterpbx.control.db import make_engine, make_session_factory

    monkeypatch.setenv("CLUSTERPBX_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("CLUSTERPBX_INSTANCE_PATH", str(tmp_path / "inst"))
    engine = make_engine(sqlite_url)
    db = make_session_factory(engine)()
    try:
        from tests.conftest import World

        w = World(db)
        tenant = w.tenant("acme.test")
        w.user(tenant, email="jane@acme.test", extension="201")
        runner = CliRunner()
        out = runner.invoke(cli, ["api", "token", "create", "--user", "jane@acme.test", "--name", "laptop"])
        assert out.exit_code == 0, out.output
        personal = out.output.strip()
        assert personal.startswith("cpbx_")
        out = runner.invoke(cli, ["api", "token", "create", "--integration", "crm", "--name", "crm",
                                  "--tenant", "acme.test", "--role", "tenant_admin"])
        assert out.exit_code == 0, out.output
        integ = out.output.strip()
        refused = runner.invoke(cli, ["api", "token", "create", "--integration", "x", "--name", "x",
                                      "--role", "tenant_admin"])
        assert refused.exit_code != 0 and "tenant" in refused.output
        listed = runner.invoke(cli, ["api", "token", "list"]).output
        assert "laptop" in listed and "user jane@acme.test" in listed and "integration tenant_admin in acme.test" in listed
        assert personal not in listed and integ not in listed  # never printed again
        db.expire_all()
        r = apitokens.resolve(db, integ)
        assert r is not None and r.actor.role is Role.TENANT_ADMIN and r.actor.tenant_id == tenant.id
        token_id = db.scalar(select(ApiToken.id).where(ApiToken.name == "laptop"))
        assert runner.invoke(cli, ["api", "token", "revoke", str(token_id)]).exit_code == 0
        db.expire_all()
        assert apitokens.resolve(db, personal) is None
        assert "revoked" in runner.invoke(cli, ["api", "token", "list"]).output
        assert db.scalar(select(User).where(User.email == "jane@acme.test")) is not None
    finally:
        db.close()
        engine.dispose()
