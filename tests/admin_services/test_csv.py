"""CSV import and export of users and phones: a dry run lists every error by line and writes
nothing; a file with one bad line writes nothing either; an export imports back identically;
spreadsheet formulas are neutralised; the command line does the same."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from clusterpbx.control.admin import Actor, Forbidden, NotFound, resource
from clusterpbx.control.admin.csvio import export_devices, export_users, import_devices, import_users
from clusterpbx.control.models import AuditEntry, Device, Role, User

MIXED = """email,first_name,last_name,extension,language,role,destination_groups,queues,active
good1@acme.test,Good,One,401,fr,user,Local,support,yes
not-an-email,Bad,Email,402,fr,user,,,
good2@acme.test,Good,Two,401,en,user,,,
good3@acme.test,Bad,Lang,403,de,user,,,
good4@acme.test,Bad,Ext,4x4,fr,user,,,
good5@acme.test,Bad,Role,405,fr,operator,,,
good6@acme.test,Bad,Group,406,fr,user,Nowhere;Local,,
good1@acme.test,Repeat,Email,407,fr,user,,,
user@acme.test,Taken,Ext,100,fr,,,,
good8@acme.test,Bad,Bool,408,fr,user,,,maybe
good9@acme.test,Fine,Nine,409,en,tenant_admin,,support,no
"""


def _users(db):
    return db.scalar(select(func.count()).select_from(User))


@pytest.fixture
def refs(db, setup):
    actor = Actor.command_line()
    group = resource("destination_groups").create(db, actor, {"tenant_id": setup.a.id, "name": "Local",
                                                              "prefixes": "1514"})
    queue = resource("queues").create(db, actor, {"tenant_id": setup.a.id, "name": "support"})
    db.commit()
    return group, queue


@pytest.mark.parametrize("dry_run", [True, False])
def test_mixed_file_lists_every_bad_line_and_writes_nothing(db, setup, refs, dry_run):
    before_users, before_audit = _users(db), db.scalar(select(func.count()).select_from(AuditEntry))
    report = import_users(db, setup.adm, setup.a.id, MIXED, dry_run=dry_run)
    got = [(e.line, e.field, e.message, e.params) for e in report.errors]
    assert got == [
        (3, "email", "Enter a valid e-mail address.", {}),
        (4, "extension", "This extension repeats line %(line)d.", {"line": 2}),
        (5, "language", "Choose one of the proposed values.", {}),
        (6, "extension", "An extension is 2 to 10 digits.", {}),
        (7, "role", "Only an operator may grant the operator role.", {}),
        (8, "destination_groups", "Unknown name: %(name)s.", {"name": "Nowhere"}),
        (9, "email", "This e-mail address repeats line %(line)d.", {"line": 2}),
        (10, "extension", "This extension is already taken in this tenant.", {}),
        (11, "active", "Enter yes or no.", {}),
    ]
    assert report.errors[5].text == "destination_groups: Unknown name: Nowhere."
    assert not report.ok
    db.commit()
    assert _users(db) == before_users
    assert db.scalar(select(func.count()).select_from(AuditEntry)) == before_audit


def test_good_file_dry_run_then_import(db, setup, refs):
    group, queue = refs
    good = "\n".join(line for i, line in enumerate(MIXED.splitlines()) if i in (0, 1, 11)) + "\n"
    before = _users(db)
    report = import_users(db, setup.adm, setup.a.id, good, dry_run=True)
    assert report.ok and (report.created, report.updated) == (2, 0)
    db.commit()
    assert _users(db) == before
    report = import_users(db, setup.adm, setup.a.id, good, dry_run=False)
    db.commit()
    assert report.ok and report.created == 2 and _users(db) == before + 2
    u1 = db.scalar(select(User).where(User.email == "good1@acme.test"))
    u9 = db.scalar(select(User).where(User.email == "good9@acme.test"))
    assert u1.tenant_id == setup.a.id and u1.primary_extension.number == "401"
    assert [g.id for g in u1.destination_groups] == [group.id]
    assert resource("users").serialize(u1)["queues"] == [queue.id]
    assert u9.role is Role.TENANT_ADMIN and not u9.active and u9.language == "en"
    assert u1.password_hash == ""  # no password column: the user gets one through the reset link
    entries = db.scalars(select(AuditEntry).where(AuditEntry.object_type == "users", AuditEntry.action == "create",
                                                  AuditEntry.actor_id == setup.admin_a.id)).all()
    assert {e.after["email"] for e in entries} == {"good1@acme.test", "good9@acme.test"}


def test_export_reimports_identically(db, setup, refs):
    group, queue = refs
    r = resource("users")
    r.update(db, setup.op, setup.user_a.id, {"destination_groups": [group.id], "queues": [queue.id],
                                             "department": "=HYPERLINK(\"http://evil\")", "can_use_blf": True,
                                             "timezone": "Europe/Paris"})
    db.commit()
    text = export_users(db, setup.adm, setup.a.id)
    lines = text.splitlines()
    assert lines[0] == ("email,first_name,last_name,department,language,timezone,role,active,extension,"
                        "can_use_blf,record_calls,destination_groups,queues")
    row = next(line for line in lines if line.startswith("user@acme.test"))
    assert "'=HYPERLINK" in row and ",yes," in row and ",Local,support" in row
    assert len(lines) == 1 + 3  # admin, operator, user of acme; nobody of other.test
    assert "other.test" not in text
    snapshot = {u.email: r.serialize(u) for u in db.scalars(select(User).where(User.tenant_id == setup.a.id))}
    # Into the same tenant: nothing changes.
    report = import_users(db, setup.op, setup.a.id, text, dry_run=False)
    assert report.ok and (report.created, report.updated, report.unchanged) == (0, 0, 3)
    # Into an empty tenant (e-mails and extensions rewritten): the same users come out.
    new_tenant = resource("tenants").create(db, setup.op, {"name": "Copy", "domain": "copy.test"})
    for name in ("Local",):
        resource("destination_groups").create(db, setup.op, {"tenant_id": new_tenant.id, "name": name})
    resource("queues").create(db, setup.op, {"tenant_id": new_tenant.id, "name": "support"})
    moved = text.replace("@acme.test", "@copy.test")
    report = import_users(db, setup.op, new_tenant.id, moved, dry_run=False)
    assert report.ok and report.created == 3, report.by_line()
    assert export_users(db, setup.op, new_tenant.id) == moved
    copied = db.scalar(select(User).where(User.email == "user@copy.test"))
    assert copied.department == '=HYPERLINK("http://evil")'
    assert {k: v for k, v in r.serialize(copied).items() if k not in ("id", "tenant_id", "email",
                                                                      "destination_groups", "queues",
                                                                      "created_at")} == \
        {k: v for k, v in snapshot["user@acme.test"].items() if k not in ("id", "tenant_id", "email",
                                                                          "destination_groups", "queues",
                                                                          "created_at")}


def test_scope_of_import_and_export(db, setup):
    with pytest.raises(NotFound):
        export_users(db, setup.adm, setup.b.id)
    with pytest.raises(NotFound):
        import_users(db, setup.adm, setup.b.id, "email\nx@other.test\n", dry_run=True)
    with pytest.raises(Forbidden):
        export_devices(db, setup.usr, setup.a.id)
    # A line naming an account of another tenant cannot take it over (its address is in that tenant's
    # domain, refused before any "already exists" could tell the account is there).
    report = import_users(db, setup.adm, setup.a.id, "email,first_name\nuser@other.test,Pwned\n", dry_run=False)
    assert [(e.line, e.field, e.message) for e in report.errors] == [
        (2, "email", "This address's e-mail domain belongs to another tenant.")]
    assert setup.user_b.first_name != "Pwned"
    # Nor change the operator's account.
    report = import_users(db, setup.adm, setup.a.id, "email,first_name\nop@acme.test,Pwned\n", dry_run=False)
    assert [(e.line, e.message) for e in report.errors] == [(2, "You may not change this account.")]


@pytest.mark.parametrize("text,expected", [
    ("first_name\nX\n", [(1, "The column %(column)s is missing.", {"column": "email"})]),
    ("email,shoe_size\nx@acme.test,42\n", [(1, "Unknown column: %(column)s.", {"column": "shoe_size"})]),
    ("email\n", [(1, "The file has no lines to import.", {})]),
    ("email\nx@acme.test,extra\n", [(2, "The file is not valid CSV.", {})]),
])
def test_file_level_errors(db, setup, text, expected):
    report = import_users(db, setup.adm, setup.a.id, text, dry_run=True)
    assert [(e.line, e.message, e.params) for e in report.errors] == expected


DEVICES = """mac,vendor,model,label,owner,prov_username
00:15:65:aa:bb:01,yealink,T46S,Accueil,user@acme.test,
00-15-65-AA-BB-02,yealink,T99,,,
zz:15:65:aa:bb:03,yealink,T46S,,,
00:15:65:aa:bb:04,nokia,3310,,,
00:15:65:aa:bb:01,yealink,T48S,,,
00:15:65:aa:bb:06,snom,D785,,user@other.test,
0015.65aa.bb07,grandstream,gxp2170,@SUM(A1),admin@acme.test,
"""


def test_devices_import_export(db, setup):
    report = import_devices(db, setup.adm, setup.a.id, DEVICES, dry_run=True)
    assert [(e.line, e.field, e.message) for e in report.errors] == [
        (3, "model", "Unknown model for this vendor."),
        (4, "mac", "Enter a MAC address such as 00:15:65:12:34:56."),
        (5, "vendor", "Choose one of the proposed values."),
        (6, "mac", "This MAC address repeats line %(line)d."),
        (7, "owner", "No user of this tenant has this e-mail address."),
    ]
    assert db.scalar(select(func.count()).select_from(Device)) == 0
    good = "\n".join(line for i, line in enumerate(DEVICES.splitlines()) if i in (0, 1, 7)) + "\n"
    report = import_devices(db, setup.adm, setup.a.id, good, dry_run=False)
    db.commit()
    assert report.ok and report.created == 2
    phone = db.scalar(select(Device).where(Device.mac == "001565aabb07"))
    assert (phone.vendor, phone.model, phone.label, phone.user_id) == ("grandstream", "GXP2170", "@SUM(A1)",
                                                                       setup.admin_a.id)
    assert phone.prov_username == "001565aabb07" and len(phone.prov_password) >= 20
    text = export_devices(db, setup.adm, setup.a.id)
    assert text.splitlines() == [
        "mac,vendor,model,label,owner,prov_username",
        "001565aabb01,yealink,T46S,Accueil,user@acme.test,001565aabb01",
        "001565aabb07,grandstream,GXP2170,'@SUM(A1),admin@acme.test,001565aabb07",
    ]
    password = phone.prov_password
    report = import_devices(db, setup.adm, setup.a.id, text, dry_run=False)
    assert report.ok and (report.created, report.updated, report.unchanged) == (0, 0, 2)
    assert phone.prov_password == password
    assert export_devices(db, setup.adm, setup.a.id) == text
    # The other tenant has its own (empty) list; a MAC of tenant A cannot be imported there.
    assert export_devices(db, setup.admin_b and Actor.of(setup.admin_b), setup.b.id).splitlines() == [
        "mac,vendor,model,label,owner,prov_username"]
    report = import_devices(db, Actor.of(setup.admin_b), setup.b.id, "mac,vendor,model\n001565aabb01,yealink,T46S\n",
                            dry_run=False)
    assert [(e.line, e.field, e.message) for e in report.errors] == [
        (2, "mac", "A phone with this MAC address already exists.")]


def _cli(tmp_path, database_url):
    from clusterpbx.cli import cli

    runner = CliRunner()
    env = {"CLUSTERPBX_DATABASE_URL": database_url, "CLUSTERPBX_INSTANCE": str(tmp_path / "inst")}

    def run(*args, input=None):
        return runner.invoke(cli, list(args), env=env, input=input, catch_exceptions=False)
    return run


def test_command_line_import_export(db, setup, refs, tmp_path, database_url):
    run = _cli(tmp_path, database_url)
    src = tmp_path / "users.csv"
    src.write_text(MIXED, encoding="utf-8")
    r = run("user", "import", str(src), "--domain", "acme.test", "--dry-run")
    assert r.exit_code == 1
    for line in (3, 4, 5, 6, 8, 9, 10, 11):
        assert f"line {line}: " in r.output
    assert "8 line(s) in error; nothing was imported" in r.output
    assert "line 8: destination_groups: Unknown name: Nowhere." in r.output
    assert "line 7: " not in r.output  # the command line is an operator: it may grant the role
    db.expire_all()
    assert db.scalar(select(User).where(User.email == "good1@acme.test")) is None
    out = tmp_path / "out.csv"
    r = run("user", "export", "--domain", "acme.test", "-o", str(out))
    assert r.exit_code == 0, r.output
    assert out.read_text().splitlines()[0].startswith("email,first_name")
    r = run("user", "import", str(out), "--domain", "acme.test", "--dry-run")
    assert r.exit_code == 0 and "0 to create, 0 to update, 3 unchanged" in r.output
    dev = tmp_path / "dev.csv"
    dev.write_text("mac,vendor,model\n00:15:65:00:00:99,yealink,T46S\n", encoding="utf-8")
    r = run("device", "import", str(dev), "--domain", "acme.test")
    assert r.exit_code == 0 and "imported 1 phone(s): 1 created" in r.output
    r = run("device", "export", "--domain", "acme.test")
    assert r.output.splitlines()[1] == "001565000099,yealink,T46S,,,001565000099"
    entry = db.scalars(select(AuditEntry).where(AuditEntry.object_type == "devices")).one()
    assert entry.actor_label == "command line" and entry.actor_id is None


def test_one_table_of_csv_kinds_for_the_screen_the_api_and_the_services():
    """csvio.KINDS is the one table: each kind is an administration resource with its own two services,
    and the screen and the API reach the services only through it (no second table)."""
    from pathlib import Path

    from clusterpbx.control.admin import csvio

    assert {name: (k.import_csv, k.export_csv) for name, k in csvio.KINDS.items()} == {
        "users": (import_users, export_users), "devices": (import_devices, export_devices)}
    for name, kind in csvio.KINDS.items():
        assert kind.name == name and resource(name).name == name and kind.label
    root = Path(__file__).resolve().parents[2]
    for path in ("web/api/extras.py", "web/admin/csvpages.py"):
        source = (root / path).read_text(encoding="utf-8")
        assert "csvio.KINDS" in source, path
        assert not any(f"{verb}_{kind}" in source for verb in ("import", "export") for kind in csvio.KINDS), (
            f"{path} names a CSV service itself: use csvio.KINDS")
