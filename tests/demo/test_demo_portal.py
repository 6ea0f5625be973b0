"""The demo company looks lived in on the screens that need no PBX: weeks of call history with costs,
the guide's phone buttons, sign-up open with admin approval, and "Connexion avec Gmail" working end to
end against the demo's local OpenID provider, labelled as such."""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import urlsplit

import pytest
import requests
from sqlalchemy import func, select

from clusterpbx.control.demo import DEMO_PASSWORD, seed_lived_in
from clusterpbx.control.models import CallRecord, PhoneKey, QueueMembership, User, utcnow
from tests.demo.conftest import PUBLIC_URL, page

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
MARIE = "marie.tremblay@demo.clusterpbx.test"


def test_every_demo_user_has_weeks_of_varied_history_and_a_rerun_adds_nothing(demo, db):
    users = db.scalars(select(User).where(User.tenant_id == demo.id)).all()
    now = utcnow()
    for user in users:
        rows = db.scalars(select(CallRecord).where(CallRecord.user_id == user.id)).all()
        assert rows, user.email
        assert min(r.started_at for r in rows) < now - dt.timedelta(days=14)
        assert max(r.started_at for r in rows) > now - dt.timedelta(days=3)
        assert all(r.started_at < now for r in rows)
        assert {r.call_type for r in rows} == {"internal", "incoming", "outgoing"}, user.email
    statuses = set(db.scalars(select(CallRecord.status).where(CallRecord.tenant_id == demo.id)))
    assert {"answered", "no_answer"} <= statuses
    # Costs where the demo's rates apply: answered outgoing calls to long distance.
    costly = db.scalars(select(CallRecord).where(CallRecord.tenant_id == demo.id, CallRecord.cost > 0)).all()
    assert costly and all(r.call_type == "outgoing" and r.dialed_number.startswith("1") for r in costly)
    before = db.scalar(select(func.count()).select_from(CallRecord))
    keys_before = db.scalar(select(func.count()).select_from(PhoneKey))
    assert seed_lived_in(db, demo) is False  # `clusterpbx run` a second time
    db.commit()
    assert db.scalar(select(func.count()).select_from(CallRecord)) == before
    assert db.scalar(select(func.count()).select_from(PhoneKey)) == keys_before


def test_call_details_show_calls_from_weeks_ago(demo, db, client, auth):
    auth.login(MARIE, DEMO_PASSWORD)
    start = (dt.date.today() - dt.timedelta(days=21)).isoformat()
    end = (dt.date.today() - dt.timedelta(days=14)).isoformat()
    html = page(client.get(f"/calls/?start={start}&end={end}"))
    marie = db.scalar(select(User).where(User.email == MARIE))
    old = [r for r in db.scalars(select(CallRecord).where(CallRecord.user_id == marie.id))
           if r.started_at.date() <= dt.date.today() - dt.timedelta(days=15)]
    assert old
    assert any(r.dialed_number in html or r.caller_number in html for r in old)
    assert re.search(r"\b\d+ appels?\b", html)


def test_phone_shows_the_guides_buttons_key_one_the_main_line(demo, db, client, auth):
    marie = db.scalar(select(User).where(User.email == MARIE))
    keys = db.scalars(select(PhoneKey).where(PhoneKey.user_id == marie.id).order_by(PhoneKey.position)).all()
    assert (keys[0].position, keys[0].kind, keys[0].value) == (1, "line", "201")
    assert {k.kind for k in keys[1:]} >= {"blf", "speed"}  # Marie may use presence keys
    auth.login(MARIE, DEMO_PASSWORD)
    html = page(client.get("/phone/"))
    first_row = html.split('name="kind"', 1)[1].split("</tr>", 1)[0]
    assert re.search(r'<option value="line" selected', first_row), first_row
    assert 'value="201"' in first_row
    assert "Présence / Décrocher" in html and "Appel rapide" in html or "Numéro abrégé" in html
    # Every demo user's phone starts with the main line.
    firsts = db.execute(select(PhoneKey.kind, func.count()).where(PhoneKey.position == 1)
                        .group_by(PhoneKey.kind)).all()
    assert firsts == [("line", db.scalar(select(func.count()).select_from(User).where(User.tenant_id == demo.id)))]


def test_queue_agents_are_asked_into_every_state(demo, db):
    states = {(m.logged_in, m.paused, m.pause_reason) for m in db.scalars(select(QueueMembership))}
    assert (True, False, "") in states and (False, False, "") in states
    assert any(logged and paused and reason for logged, paused, reason in states)


def test_sign_up_is_open_with_admin_approval(demo, db, client):
    html = page(client.get("/login"))
    assert 'href="/signup"' in html
    assert client.get("/signup").status_code == 200
    csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', client.get("/signup").get_data(as_text=True))
    resp = client.post("/signup", data={
        "csrf_token": csrf.group(1), "email": "nouveau@demo.clusterpbx.test", "first_name": "Nora",
        "last_name": "Nouvelle", "password": "Bienvenue-2026", "confirm_password": "Bienvenue-2026"})
    assert resp.status_code == 302, page(resp)
    db.expire_all()
    new = db.scalar(select(User).where(User.email == "nouveau@demo.clusterpbx.test"))
    assert new is not None and new.tenant_id == demo.id
    assert not new.approved and not new.email_confirmed  # confirmed by mail, then approved by the admin


def _gmail_start(client) -> str:
    resp = client.get("/login/google")
    assert resp.status_code == 302, page(resp)
    return str(resp.headers["Location"])


def test_gmail_button_says_it_is_the_demo_provider(demo, client):
    html = page(client.get("/login", headers={"Accept-Language": "fr"}))
    assert "Connexion avec Gmail (démo : fournisseur local)" in html and 'href="/login/google"' in html


def test_gmail_login_against_the_demo_provider_signs_in_the_matching_demo_user(demo, db, client, demo_provider):
    authorize = _gmail_start(client)
    assert authorize.startswith(demo_provider.url + "/authorize?")
    chooser = requests.get(authorize, timeout=10)
    assert chooser.status_code == 200
    assert "ce n'est pas Google" in chooser.text and MARIE in chooser.text
    resp = requests.post(authorize, data={"account": "demo-google-marie"}, allow_redirects=False, timeout=10)
    assert resp.status_code == 302, resp.text
    callback = str(resp.headers["Location"])
    assert callback.startswith(PUBLIC_URL + "/login/google/callback?")
    parts = urlsplit(callback)
    done = client.get(f"{parts.path}?{parts.query}")
    assert done.status_code == 302 and done.headers["Location"].endswith("/home")
    home = page(client.get("/home"))
    assert "Marie Tremblay" in home
    db.expire_all()
    marie = db.scalar(select(User).where(User.email == MARIE))
    assert marie.google_subject == "demo-google-marie"
    assert marie.google_picture  # fetched server-side from the provider, as from Google


def test_gmail_login_with_an_account_matching_nobody_is_refused(demo, db, client):
    authorize = _gmail_start(client)
    resp = requests.post(authorize, data={"account": "demo-google-stranger"}, allow_redirects=False, timeout=10)
    parts = urlsplit(str(resp.headers["Location"]))
    refused = client.get(f"{parts.path}?{parts.query}")
    assert refused.status_code == 403
    assert "Aucun compte du portail" in page(refused) or "No portal account" in page(refused)
    with client.session_transaction() as s:
        assert "_user_id" not in s
