"""A tenant admin manages their tenant but never an operator's means of calling: an operator's phone
carries the operator's SIP password in its configuration, and queue membership routes calls to them.
And one tenant cannot claim another's e-mail domains (a sign-up's domain picks its tenant)."""

from __future__ import annotations

import pytest

from clusterpbx.control.admin import Actor, Forbidden, Invalid, resource
from clusterpbx.control.models import Device, QueueMembership, Tenant


def test_a_tenant_admin_cannot_give_a_phone_to_an_operator(db, setup):
    devices = resource("devices")
    with pytest.raises(Invalid) as err:
        devices.create(db, setup.adm, {"mac": "00:15:65:aa:bb:cc", "vendor": "yealink", "model": "T46S",
                                       "prov_password": "mine-to-know", "user_id": setup.operator.id})
    assert "user_id" in err.value.errors
    db.rollback()
    assert db.query(Device).count() == 0
    # Nor move a phone of theirs to the operator, nor touch the operator's own phone.
    mine = devices.create(db, setup.adm, {"mac": "00:15:65:aa:bb:cd", "vendor": "yealink", "model": "T46S",
                                          "user_id": setup.user_a.id})
    db.commit()
    with pytest.raises(Invalid):
        devices.update(db, setup.adm, mine.id, {"user_id": setup.operator.id})
    db.rollback()
    theirs = devices.create(db, setup.op, {"tenant_id": setup.a.id, "mac": "00:15:65:aa:bb:ce",
                                           "vendor": "yealink", "model": "T46S", "user_id": setup.operator.id})
    db.commit()
    for change in ({"prov_password": "now-i-know"}, {"label": "x"}):
        with pytest.raises(Forbidden):
            devices.update(db, setup.adm, theirs.id, change)
        db.rollback()
    with pytest.raises(Forbidden):
        devices.delete(db, setup.adm, theirs.id)
    db.rollback()
    # The operator may.
    devices.update(db, setup.op, theirs.id, {"label": "Bureau"})
    db.commit()
    assert db.get(Device, theirs.id).label == "Bureau"


def test_a_tenant_admin_neither_adds_nor_removes_an_operator_as_agent(db, setup):
    queues = resource("queues")
    q = queues.create(db, setup.adm, {"name": "support", "agents": [setup.user_a.id]})
    db.commit()
    with pytest.raises(Invalid) as err:
        queues.update(db, setup.adm, q.id, {"agents": [setup.user_a.id, setup.operator.id]})
    assert "agents" in err.value.errors
    db.rollback()
    queues.update(db, setup.op, q.id, {"agents": [setup.user_a.id, setup.operator.id]})
    db.commit()
    with pytest.raises(Invalid):
        queues.update(db, setup.adm, q.id, {"agents": [setup.user_a.id]})
    db.rollback()
    # Changing the other agents while keeping the operator is fine.
    queues.update(db, setup.adm, q.id, {"agents": [setup.operator.id], "label": "Soutien"})
    db.commit()
    agents = {m.user_id for m in db.query(QueueMembership).filter_by(queue_id=q.id)}
    assert agents == {setup.operator.id}


def test_e_mail_domains_are_the_operators_and_never_shared(db, setup):
    tenants = resource("tenants")
    with pytest.raises(Invalid) as err:
        tenants.update(db, setup.adm, setup.a.id, {"email_domains": "acme.test, other.test"})
    assert "email_domains" in err.value.errors
    db.rollback()
    with pytest.raises(Invalid) as err:
        tenants.update(db, setup.op, setup.a.id, {"email_domains": "acme.test, other.test"})
    assert "email_domains" in err.value.errors
    db.rollback()
    tenants.update(db, setup.op, setup.a.id, {"email_domains": "acme.test, acme-corp.test"})
    db.commit()
    assert db.get(Tenant, setup.a.id).email_domains == "acme.test,acme-corp.test"
    with pytest.raises(Invalid):
        tenants.update(db, Actor.command_line(), setup.b.id, {"email_domains": "acme-corp.test"})
