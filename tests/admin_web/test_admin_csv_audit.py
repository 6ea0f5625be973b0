"""CSV import (dry run listing every error by line, nothing written; then confirm) and export of users
and phones, and the audit log page with its filters and before/after diff."""

from __future__ import annotations

import base64
import datetime as dt
import io
import re

from clusterpbx.control.models import AuditEntry, Device, User
from tests.admin_web.scene import build, post, raw, text

HEADER = "email,first_name,last_name,extension,language,role\r\n"


def upload(client, kind, content, **extra):
    data = {"step": "check", "file": (io.BytesIO(content.encode("utf-8")), "import.csv"), **extra}
    return post(client, f"/admin/csv/{kind}/import", data, page=f"/admin/csv/{kind}/import",
                content_type="multipart/form-data")


def error_table(page):
    body = page.split('class="grid import-errors"', 1)[1].split("</table>", 1)[0]
    return [(int(line), re.sub(r"<[^>]+>", "", col), msg) for line, col, msg in
            re.findall(r'<tr><th scope="row">(\d+)</th><td>(.*?)</td><td>(.*?)</td></tr>', body)]


def test_csv_dry_run_lists_errors_by_line_and_writes_nothing(client, auth, db, world):
    s = build(db, world)
    auth.login(s.admin_a.email)
    users_before = db.query(User).count()
    audit_before = db.query(AuditEntry).count()
    content = (HEADER
               + "good1@acme.test,Gaston,Bon,270,fr,user\r\n"        # line 2: fine
               + "pas-une-adresse,Bad,Mail,271,fr,user\r\n"          # line 3: e-mail
               + "good2@acme.test,Gilles,Bon,1,fr,user\r\n"          # line 4: extension
               + "good3@acme.test,Gina,Bon,272,fr,operator\r\n"      # line 5: role a tenant admin may not give
               + "good1@acme.test,Again,Twice,273,fr,user\r\n")      # line 6: repeats line 2
    resp = upload(client, "users", content)
    assert resp.status_code == 400
    page = text(resp)
    rows = error_table(page)
    assert [r[0] for r in rows] == [3, 4, 5, 6]
    assert dict((r[0], r[1]) for r in rows) == {3: "email", 4: "extension", 5: "role", 6: "email"}
    messages = {r[0]: r[2] for r in rows}
    assert messages[3] == "Entrez une adresse courriel valide."
    assert messages[6] == "Cette adresse courriel répète la ligne 2."
    assert "4 erreurs : rien n'a été importé." in page
    assert "Confirmer l'importation" not in page
    db.expire_all()
    assert db.query(User).count() == users_before
    assert db.query(User).filter_by(email="good1@acme.test").first() is None
    assert db.query(AuditEntry).count() == audit_before

    # A good file: checked (still nothing written), then confirmed.
    good = HEADER + "good1@acme.test,Gaston,Bon,270,fr,user\r\ngood2@acme.test,Gilles,Bon,274,en,user\r\n"
    resp = upload(client, "users", good)
    assert resp.status_code == 200
    page = raw(resp)
    assert "Aucune erreur : 2 lignes sont prêtes à être importées." in text(resp)
    db.expire_all()
    assert db.query(User).count() == users_before
    content_b64 = re.search(r'id="content" name="content" type="hidden" value="([^"]+)"', page).group(1)
    assert base64.b64decode(content_b64).decode() == good
    csrf = re.findall(r'name="csrf_token" type="hidden" value="([^"]+)"', page)[-1]
    resp = client.post("/admin/csv/users/import", data={"step": "import", "content": content_b64,
                                                        "tenant": "", "csrf_token": csrf})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/admin/users/")
    assert "2 lignes importées." in text(client.get(resp.headers["Location"]))
    db.expire_all()
    gilles = db.query(User).filter_by(email="good2@acme.test").one()
    assert (gilles.tenant_id, gilles.language, gilles.primary_extension.number) == (s.ta.id, "en", "274")
    assert db.query(AuditEntry).filter_by(object_type="users", action="create", actor_id=s.admin_a.id).count() == 2


def test_csv_devices_and_export_scope(client, auth, db, world):
    s = build(db, world)
    auth.login(s.admin_a.email)
    content = ("mac,vendor,model,label,owner\r\n"
               "00:15:65:aa:bb:01,yealink,T46S,Accueil,alice@acme.test\r\n"
               "zz:zz,yealink,T46S,Mauvais,\r\n"
               "00:15:65:aa:bb:03,yealink,T46S,Chez Bob,bob@beta.test\r\n")
    resp = upload(client, "devices", content)
    assert resp.status_code == 400
    rows = error_table(text(resp))
    assert [(r[0], r[1]) for r in rows] == [(3, "mac"), (4, "owner")]
    db.expire_all()
    assert db.query(Device).filter_by(tenant_id=s.ta.id).count() == 0
    # Export: the admin's own tenant only; naming another tenant is 404.
    world.user(s.ta, email="formula@acme.test", first_name="=HYPERLINK(\"http://x\")", extension="280")
    assert client.get(f"/admin/csv/users/export.csv?tenant={s.tb.id}").status_code == 404
    for url in ("/admin/csv/users/export.csv", f"/admin/csv/users/export.csv?tenant={s.ta.id}"):
        resp = client.get(url)
        assert resp.status_code == 200 and resp.mimetype == "text/csv"
        assert "attachment" in resp.headers["Content-Disposition"]
        body = resp.get_data(as_text=True)
        assert "alice@acme.test" in body and "bob@beta.test" not in body
        assert "'=HYPERLINK" in body  # formula neutralised
    body = client.get("/admin/csv/devices/export.csv").get_data(as_text=True)
    assert "00:15:65:12:34:56" not in body and "001565123456" not in body
    # An import aimed at tenant B by a tenant admin is refused (404, as a tenant that does not exist),
    # never moved to their own tenant; their own tenant, named or not, is fine.
    line = "mac,vendor,model,label\r\n00:15:65:aa:bb:09,snom,D735,Salle\r\n"
    assert upload(client, "devices", line, tenant=str(s.tb.id)).status_code == 404
    resp = upload(client, "devices", line, tenant=str(s.ta.id))
    assert resp.status_code == 200
    content_b64 = re.search(r'id="content" name="content" type="hidden" value="([^"]+)"', raw(resp)).group(1)
    assert post(client, "/admin/csv/devices/import", {"step": "import", "content": content_b64,
                                                      "tenant": str(s.tb.id)},
                page="/admin/csv/devices/import").status_code == 404
    assert db.query(Device).filter_by(mac="001565aabb09").count() == 0
    resp = post(client, "/admin/csv/devices/import", {"step": "import", "content": content_b64,
                                                      "tenant": str(s.ta.id)}, page="/admin/csv/devices/import")
    assert resp.status_code == 302
    db.expire_all()
    assert db.query(Device).filter_by(mac="001565aabb09").one().tenant_id == s.ta.id


def test_operator_csv_names_the_tenant(client, auth, db, world):
    s = build(db, world)
    auth.login(s.operator.email, language="en")
    page = text(client.get("/admin/csv/users/import"))
    assert "beta.test" in page.lower() or "Beta" in page
    # One tab per kind of control/admin/csvio.py's KINDS, with its label.
    nav = raw(client.get("/admin/csv/devices/import")).split('class="tabs"', 1)[1].split("</nav>", 1)[0]
    tabs = re.findall(r'<a href="/admin/csv/(\w+)/import"[^>]*>([^<]+)</a>', nav)
    assert tabs == [("users", "Users"), ("devices", "Phones")]
    assert client.get("/admin/csv/users/export.csv").status_code == 404  # no tenant named
    body = client.get(f"/admin/csv/users/export.csv?tenant={s.tb.id}").get_data(as_text=True)
    assert "bob@beta.test" in body and "alice@acme.test" not in body
    assert client.get("/admin/csv/users/export.csv?tenant=99999").status_code == 404
    assert client.get("/admin/csv/nothing/import").status_code == 404


def test_csv_upload_edge_cases(client, auth, db, world):
    s = build(db, world)
    auth.login(s.admin_a.email)
    resp = post(client, "/admin/csv/users/import", {"step": "check"}, page="/admin/csv/users/import")
    assert "Choisissez un fichier CSV à téléverser." in text(resp)
    # Excel's cp1252 is read too; a broken confirmation payload is a 400, not a 500.
    data = {"step": "check", "file": (io.BytesIO((HEADER + "eve@acme.test,Ève,Été,290,fr,user\r\n").encode("cp1252")),
                                      "excel.csv")}
    resp = post(client, "/admin/csv/users/import", data, page="/admin/csv/users/import",
                content_type="multipart/form-data")
    assert resp.status_code == 200 and "1 ligne est prête" in text(resp)
    resp = post(client, "/admin/csv/users/import", {"step": "import", "content": "%%%not base64"},
                page="/admin/csv/users/import")
    assert resp.status_code == 400


def test_audit_filters_and_diff(client, auth, db, world):
    s = build(db, world)
    auth.login(s.admin_a.email)
    post(client, f"/admin/users/{s.user_a.id}", {"email": "alice@acme.test", "first_name": "Alicia",
                                                 "last_name": "Aubry", "active": "y", "approved": "y",
                                                 "extension": s.user_a.extensions[0].number})
    post(client, "/admin/pause_reasons/new", {"label": "Dîner"})
    page = raw(client.get("/admin/audit/"))
    # The change reads as a diff: the field's label, the old value struck, the new one inserted.
    m = re.search(r'<tr class="diff-changed"><th scope="row">Prénom</th><td class="before"><del>Alice</del></td>'
                  r'<td class="after"><ins>Alicia</ins></td></tr>', page)
    assert m, page[:3000]
    assert "Aubry" not in page.split("Alicia", 1)[1].split("</table>", 1)[0]  # unchanged fields not repeated
    assert "admin@acme.test" in page and "Dîner" in text(client.get("/admin/audit/"))
    # Filter by object type.
    page = text(client.get("/admin/audit/?type=pause_reasons"))
    assert "Dîner" in page and "Alicia" not in page
    # Filter by actor: the list offers the admin; the command line's entries are not theirs.
    page = text(client.get(f"/admin/audit/?actor={s.admin_a.id}"))
    assert "Alicia" in page and "2 modifications" in page
    # Date range in the user's time zone.
    today = dt.datetime.now(dt.UTC).date()
    assert "Alicia" in text(client.get(f"/admin/audit/?since={today - dt.timedelta(days=1)}&until={today + dt.timedelta(days=1)}"))
    assert "Aucune modification ne correspond à ces filtres." in text(
        client.get(f"/admin/audit/?since={today + dt.timedelta(days=2)}"))
    assert "Aucune modification ne correspond à ces filtres." in text(
        client.get(f"/admin/audit/?until={today - dt.timedelta(days=2)}"))
    assert "AAAA-MM-JJ" in text(client.get("/admin/audit/?since=hier"))
    # Tenant B's entries (bob's creation by the command line) never show for tenant A's admin.
    assert "bob@beta.test" not in text(client.get("/admin/audit/?type=users"))
    auth.logout()
    auth.login(s.admin_b.email)
    page = text(client.get("/admin/audit/"))
    assert "bob@beta.test" in page and "Alicia" not in page and "Dîner" not in page


def test_audit_markers_and_non_account_actors_are_translated(client, auth, db, world):
    s = build(db, world)
    auth.login(s.admin_a.email)
    # A new SIP password is logged as a marker, never the value; the command line's creations too.
    post(client, f"/admin/users/{s.user_a.id}", {"email": s.user_a.email, "active": "y", "approved": "y",
                                                 "extension": s.user_a.extensions[0].number,
                                                 "sip_password": "Brand-new-sip-9"})
    page = text(client.get("/admin/audit/?type=users"))
    assert "Brand-new-sip-9" not in page
    assert "(modifié)" in page and "(changed)" not in page
    assert "ligne de commande" in page and "command line" not in page
