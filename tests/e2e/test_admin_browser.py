"""Browser test of the administration screens, in French then English: a tenant admin creates a user
(a first attempt refused with the error next to the field), imports a CSV whose dry run reports a bad
line, imports the corrected file and reads the audit log. Screenshots: docs/screenshots/admin-*.png."""

from __future__ import annotations

import pytest

from clusterpbx.control.models import DestinationGroup, Queue, Role, User
from tests.conftest import PASSWORD
from tests.e2e.conftest import screenshot

pytestmark = pytest.mark.browser

CSV = ("email,first_name,last_name,extension,language\r\n"
       "{p}.gaston@demo.clusterpbx.test,Gaston,Lagaffe,{e1},fr\r\n"
       "pas-une-adresse,Jules,Dubois,{e2},fr\r\n")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_tenant_admin_screens(app, live_server, browser_page, world, db):
    tenant = world.tenant("demo.clusterpbx.test")
    db.add_all([DestinationGroup(tenant_id=tenant.id, name="Local Montréal"),
                DestinationGroup(tenant_id=tenant.id, name="Sans frais"),
                Queue(tenant_id=tenant.id, name="soutien", label="Soutien", number="600")])
    db.commit()
    admin = world.user(tenant, email="admin@demo.clusterpbx.test", first_name="Admin", last_name="Démo",
                       extension="210", role=Role.TENANT_ADMIN)
    for i, (first, last) in enumerate([("Marie", "Tremblay"), ("JP", "Vallée"), ("Mamadou", "Koné")]):
        world.user(tenant, email=f"{first.lower()}@demo.clusterpbx.test", first_name=first, last_name=last,
                   extension=str(201 + i))
    page = browser_page
    page.goto(live_server + "/login")
    page.fill("#email", admin.email)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/home")
    steps = {
        "fr": dict(admin="Administration", users="Utilisateurs", add="Ajouter", save="Enregistrer",
                   csv="Import et export CSV", check="Vérifier le fichier", confirm="Confirmer l'importation",
                   audit="Journal des modifications", email_error="Entrez une adresse courriel valide.",
                   saved="Créé.", imported="1 ligne importée.", first="Sophie", prefix="sophie", ext=("230", "231", "232")),
        "en": dict(admin="Administration", users="Users", add="Add", save="Save", csv="CSV import and export",
                   check="Check the file", confirm="Confirm the import", audit="Audit log",
                   email_error="Enter a valid e-mail address.", saved="Created.", imported="1 line imported.",
                   first="Liam", prefix="liam", ext=("240", "241", "242")),
    }
    for lang, t in steps.items():
        if lang == "en":
            page.get_by_role("button", name="English").click()
        page.get_by_role("link", name=t["admin"], exact=True).first.click()
        page.wait_for_url("**/admin/")
        if lang == "fr":
            screenshot(page, "admin-overview-fr")
        page.get_by_role("navigation", name="Administration").get_by_role("link", name=t["users"]).click()
        page.wait_for_url("**/admin/users/")
        screenshot(page, f"admin-users-{lang}")

        # Create a user: a bad address first (error beside the field, typed values kept), then fixed.
        page.get_by_role("link", name=t["add"], exact=True).first.click()
        page.wait_for_url("**/admin/users/new")
        page.fill("#f-email", f"{t['prefix']}@")
        page.fill("#f-first_name", t["first"])
        page.fill("#f-last_name", "Bouchard" if lang == "fr" else "Smith")
        page.fill("#f-extension", t["ext"][0])
        page.check("#f-can_use_blf")
        page.get_by_label("Local Montréal").check()
        page.get_by_role("button", name=t["save"]).click()
        page.locator("#err-email").wait_for()
        assert page.locator("#err-email").inner_text() == t["email_error"]
        assert page.input_value("#f-first_name") == t["first"]
        assert page.is_checked("#f-can_use_blf") and page.get_by_label("Local Montréal").is_checked()
        assert page.evaluate("document.activeElement.id") == "form-errors"
        screenshot(page, f"admin-user-error-{lang}")
        page.fill("#f-email", f"{t['prefix']}@demo.clusterpbx.test")
        page.get_by_role("button", name=t["save"]).click()
        page.get_by_text(t["saved"], exact=True).wait_for()
        screenshot(page, f"admin-user-form-{lang}")
        created = db.query(User).filter_by(email=f"{t['prefix']}@demo.clusterpbx.test").one()
        assert created.can_use_blf and [g.name for g in created.destination_groups] == ["Local Montréal"]
        assert created.active and created.approved and created.language == "fr"

        # CSV import: the dry run names the bad line and writes nothing; the corrected file goes in.
        page.get_by_role("link", name=t["csv"]).first.click()
        page.wait_for_url("**/admin/csv/users/import")
        bad = CSV.format(p=t["prefix"], e1=t["ext"][1], e2=t["ext"][2]).encode()
        page.set_input_files("#import-file", files=[{"name": "users.csv", "mimeType": "text/csv", "buffer": bad}])
        page.get_by_role("button", name=t["check"]).click()
        page.locator("table.import-errors").wait_for()
        rows = page.locator("table.import-errors tbody tr")
        assert rows.count() == 1 and rows.first.locator("th").inner_text() == "3"
        assert t["email_error"] in rows.first.inner_text()
        db.expire_all()
        assert db.query(User).filter_by(email=f"{t['prefix']}.gaston@demo.clusterpbx.test").first() is None
        screenshot(page, f"admin-import-errors-{lang}")
        good = bad.decode().splitlines()[:2]
        page.set_input_files("#import-file", files=[{"name": "users.csv", "mimeType": "text/csv",
                                                     "buffer": ("\r\n".join(good) + "\r\n").encode()}])
        page.get_by_role("button", name=t["check"]).click()
        page.get_by_role("button", name=t["confirm"]).click()
        page.wait_for_url("**/admin/users/")
        page.get_by_text(t["imported"]).wait_for()
        db.expire_all()
        assert db.query(User).filter_by(email=f"{t['prefix']}.gaston@demo.clusterpbx.test").one()

        # The audit log shows both, with the admin as author.
        page.get_by_role("link", name=t["audit"]).first.click()
        page.wait_for_url("**/admin/audit/")
        assert page.locator("li.audit-entry").count() >= 2
        assert "admin@demo.clusterpbx.test" in page.locator("li.audit-entry").first.inner_text()
        page.select_option("#a-type", "users")
        page.locator("form.filters button[type=submit]").click()
        page.wait_for_url("**/admin/audit/?*")
        screenshot(page, f"admin-audit-{lang}")
