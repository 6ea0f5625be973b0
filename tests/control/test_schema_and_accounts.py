"""The migrations produce exactly the models' schema; accounts, import and seed behave."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select

from clusterpbx.control import validation
from clusterpbx.control.accounts import (
    AccountError,
    NewUser,
    add_node,
    create_tenant,
    create_user,
    import_users_csv,
)
from clusterpbx.control.demo import ACME_USERS, DEMO_USERS, seed_demo
from clusterpbx.control.models import Base, CallSettings, Device, Extension, Queue, QueueMembership, User


def test_migrations_match_models(engine):
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"include_object": lambda o, n, t, r, c: n != "apscheduler_jobs"})
        diff = compare_metadata(ctx, Base.metadata)
    assert diff == []


def test_seed_is_idempotent(db):
    seed_demo(db)
    db.commit()
    counts = [db.scalar(select(func.count()).select_from(m)) for m in (User, Extension, Queue, QueueMembership,
                                                                       Device)]
    seed_demo(db)
    db.commit()
    again = [db.scalar(select(func.count()).select_from(m)) for m in (User, Extension, Queue, QueueMembership,
                                                                      Device)]
    assert counts == again
    assert counts[0] == len(DEMO_USERS) + len(ACME_USERS) and counts[2] == 2  # Acme: a second tenant, no queue


def test_create_user_makes_extension_and_settings(db):
    t = create_tenant(db, "Acme", "acme.test")
    u = create_user(db, t, NewUser("Jane@Acme.test", "Jane", "Doe", "Passw0rd-X", "301"))
    db.commit()
    assert u.email == "jane@acme.test"
    assert u.extensions[0].number == "301" and len(u.extensions[0].sip_password) >= 20
    assert db.get(CallSettings, u.id) is not None


def test_create_user_refusals(db):
    t = create_tenant(db, "Acme", "acme.test")
    create_user(db, t, NewUser("a@acme.test", password="Passw0rd-X", extension="301"))
    with pytest.raises(AccountError, match="already exists"):
        create_user(db, t, NewUser("A@acme.test", password="Passw0rd-X"))
    with pytest.raises(AccountError, match="already taken"):
        create_user(db, t, NewUser("b@acme.test", password="Passw0rd-X", extension="301"))
    with pytest.raises(AccountError, match="policy"):
        create_user(db, t, NewUser("c@acme.test", password="short"))
    with pytest.raises(AccountError, match="first_name"):
        create_user(db, t, NewUser("d@acme.test", first_name="Evil\r\nAction: Originate", password="Passw0rd-X"))
    with pytest.raises(AccountError, match="e-mail"):
        create_user(db, t, NewUser("not-an-email", password="Passw0rd-X"))


def test_tenant_and_node_refusals(db):
    with pytest.raises(AccountError):
        create_tenant(db, "X", "not a domain")
    with pytest.raises(AccountError):
        add_node(db, "bad name", "asterisk", "127.0.0.1")
    with pytest.raises(AccountError):
        add_node(db, "n1", "kamailio", "127.0.0.1")
    n = add_node(db, "n1", "freeswitch", "127.0.0.1")
    assert n.port == 8021


CSV_MIXED = """email,first_name,last_name,extension,language
ok1@acme.test,Ok,One,401,fr
bad-email,No,Good,402,fr
ok2@acme.test,Ok,Two,401,en
ok3@acme.test,Ok,Three,403,de
ok4@acme.test,Ok,Four,4x4,fr
ok5@acme.test,Ok,Five,405,en
"""


def test_import_dry_run_lists_every_error_by_line_and_writes_nothing(db):
    t = create_tenant(db, "Acme", "acme.test")
    db.commit()
    for dry in (True, False):
        report = import_users_csv(db, t, CSV_MIXED, dry_run=dry)
        assert [line for line, _ in report.errors] == [3, 4, 5, 6]
        assert "repeats line 2" in report.errors[1][1]
        assert db.scalar(select(func.count()).select_from(User)) == 0


def test_import_good_file(db):
    t = create_tenant(db, "Acme", "acme.test")
    good = "email,first_name,extension\nx@acme.test,X,501\ny@acme.test,Y,502\n"
    assert import_users_csv(db, t, good, dry_run=True).ok
    assert db.scalar(select(func.count()).select_from(User)) == 0
    report = import_users_csv(db, t, good, dry_run=False)
    assert report.ok and report.created == 2


@pytest.mark.parametrize("value", ["514\r\n", "5 14; rm -rf", "${SHELL}", "", "1" * 40, "514\x00"])
def test_phone_number_refusals(value):
    with pytest.raises(validation.InvalidValue):
        validation.phone_number(value)


def test_phone_number_normalises_what_people_type():
    assert validation.phone_number("(514) 907-9050") == "5149079050"
    assert validation.phone_number("+1 514.907.9050") == "+15149079050"


@pytest.mark.parametrize(("raw", "clean"), [("00:15:65:AA:bb:01", "001565aabb01"), ("001565AABB01", "001565aabb01"),
                                            ("00-15-65-aa-bb-01", "001565aabb01")])
def test_mac_normalisation(raw, clean):
    assert validation.mac_address(raw) == clean


@pytest.mark.parametrize("raw", ["../../etc/passwd", "001565aabb0", "001565aabb01x", "zz1565aabb01"])
def test_mac_refusals(raw):
    with pytest.raises(validation.InvalidValue):
        validation.mac_address(raw)


def test_display_name_and_pin():
    assert validation.display_name("  Vallée  ") == "Vallée"
    with pytest.raises(validation.InvalidValue):
        validation.display_name("a\u2028b")
    assert validation.pin("1234") == "1234"
    for bad in ("123", "12a4", "1" * 21):
        with pytest.raises(validation.InvalidValue):
            validation.pin(bad)
