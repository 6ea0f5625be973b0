"""A tenant's SMS and web-conference providers and their settings: edited as key=value lines by an
operator, secrets never shown back (nor kept in the audit log), the providers those of control/sms.py and
control/webconf.py."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from clusterpbx.control.admin import Invalid, resource
from clusterpbx.control.admin.tenants import MASK
from clusterpbx.control.models import AuditEntry, Tenant

TWILIO = "account_sid=AC123\nauth_token=tok-very-secret\nfrom=+15145550100\ntimeout=3"


def test_operator_sets_twilio_and_the_token_is_never_shown_back(db, setup):
    tenants = resource("tenants")
    tenants.update(db, setup.op, setup.a.id, {"sms_provider": "twilio", "sms_config": TWILIO})
    db.commit()
    tenant = db.get(Tenant, setup.a.id)
    assert tenant.sms_provider == "twilio"
    assert tenant.sms_config == {"account_sid": "AC123", "auth_token": "tok-very-secret",
                                 "from": "+15145550100", "timeout": "3"}
    shown = tenants.serialize(tenant)["sms_config"]
    assert "tok-very-secret" not in shown and f"auth_token={MASK}" in shown
    audit = db.scalars(select(AuditEntry).where(AuditEntry.object_type == "tenants")).all()
    assert audit and not any("tok-very-secret" in repr(e.before) + repr(e.after) for e in audit)
    # Submitting what was shown (mask included) keeps the token; a changed line changes only that key.
    tenants.update(db, setup.op, setup.a.id, {"sms_config": shown.replace("from=+15145550100", "from=MG42")})
    db.commit()
    db.refresh(tenant)
    assert tenant.sms_config["auth_token"] == "tok-very-secret" and tenant.sms_config["from"] == "MG42"
    # A line dropped is a key removed.
    tenants.update(db, setup.op, setup.a.id, {"sms_config": "account_sid=AC123"})
    db.commit()
    db.refresh(tenant)
    assert tenant.sms_config == {"account_sid": "AC123"}


def test_json_values_stay_structured(db, setup):
    tenants = resource("tenants")
    tenants.update(db, setup.op, setup.a.id, {
        "webconf_provider": "zoom",
        "webconf_config": 'account_id=A1\nclient_id=C1\nclient_secret=S1\n'
                          'meeting_settings={"waiting_room": false}'})
    db.commit()
    tenant = db.get(Tenant, setup.a.id)
    assert tenant.webconf_provider == "zoom"
    assert tenant.webconf_config["meeting_settings"] == {"waiting_room": False}
    assert f"client_secret={MASK}" in tenants.serialize(tenant)["webconf_config"]


@pytest.mark.parametrize("text", ["no equals sign", "Bad-Key=1", "a=1\na=2", 'meeting_settings={"open": '])
def test_malformed_settings_are_refused_and_nothing_changes(db, setup, text):
    tenants = resource("tenants")
    with pytest.raises(Invalid) as err:
        tenants.update(db, setup.op, setup.a.id, {"webconf_config": text})
    assert set(err.value.errors) == {"webconf_config"}
    db.rollback()
    assert db.get(Tenant, setup.a.id).webconf_config == {}


def test_only_implemented_providers_are_offered(db, setup):
    tenants = resource("tenants")
    for bad in ("bigbluebutton", "none", "voipms"):
        with pytest.raises(Invalid):
            tenants.update(db, setup.op, setup.a.id, {"webconf_provider": bad, "sms_provider": bad})
        db.rollback()
    fields = {f.name: f for f in tenants.fields}
    assert tuple(fields["sms_provider"].choices) == ("pbx", "twilio", "webhook")
    assert tuple(fields["webconf_provider"].choices) == ("jitsi", "zoom")


def test_a_tenant_admin_sees_the_settings_but_cannot_change_them(db, setup):
    tenants = resource("tenants")
    tenants.update(db, setup.op, setup.a.id, {"sms_config": TWILIO})
    db.commit()
    shown = tenants.serialize(tenants.get(db, setup.adm, setup.a.id))["sms_config"]
    # Sending back the form unchanged is fine; changing the settings is not.
    tenants.update(db, setup.adm, setup.a.id, {"name": "Acme Inc", "sms_config": shown})
    with pytest.raises(Invalid) as err:
        tenants.update(db, setup.adm, setup.a.id, {"sms_config": shown + "\nurl=https://evil.test"})
    assert "sms_config" in err.value.errors
