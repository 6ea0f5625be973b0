"""The SMS screen: the guide's form in French and English, refusals shown clearly, the message saved even
when the daemon is away, each user seeing only their own history."""

from __future__ import annotations

import html as htmllib
import io

import pytest
from PIL import Image
from sqlalchemy import func, select

from clusterpbx.control import sms
from clusterpbx.control.models import DestinationGroup, DestinationPrefix, SmsMessage


def page(client, path="/sms/"):
    resp = client.get(path)
    return resp, htmllib.unescape(resp.get_data(as_text=True))


@pytest.fixture
def people(db, world, app):
    t = world.tenant("acme.test", sms_provider="twilio", sms_monthly_quota=5)
    g = DestinationGroup(tenant_id=t.id, name="Local Montréal", prefixes=[DestinationPrefix(prefix="514")])
    db.add(g)
    a = world.user(t, email="a@acme.test")
    b = world.user(t, email="b@acme.test", language="en")
    a.destination_groups.append(g)
    b.destination_groups.append(g)
    db.commit()
    app.config["CLUSTERPBX"].control_url = "http://127.0.0.1:9"  # no daemon listening
    return a, b


def post(client, auth, **data):
    token = auth.csrf("/sms/")
    return client.post("/sms/", data={"csrf_token": token, **data}, content_type="multipart/form-data",
                       follow_redirects=True)


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
def test_the_guides_form_in_french(client, auth, people):
    auth.login("a@acme.test")
    resp, text = page(client)
    assert resp.status_code == 200
    for words in ("Composez un SMS", "Téléphone:", "Message:", "Fichier (MMS):", "Envoyer",
                  "Attention, il s'agit d'une fonction à sens unique, le destinataire ne peut répondre.",
                  "0 caractères · 0 SMS (GSM-7, 160 caractères par SMS)",
                  "Messages envoyés par votre entreprise ce mois-ci : 0 sur 5.",
                  "Vous n'avez encore envoyé aucun message."):
        assert words in text
    assert 'src="/static/sms.js"' in text and "<script>" not in text


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_form_in_english(client, auth, people):
    auth.login("b@acme.test", language="en")
    _resp, text = page(client)
    for words in ("Compose an SMS", "Phone:", "Message:", "File (MMS):", "Send",
                  "Beware: this is a one-way feature, the recipient cannot reply."):
        assert words in text


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
def test_saved_and_queued_when_the_daemon_is_away(client, auth, db, people):
    auth.login("a@acme.test")
    resp = post(client, auth, to="514 907-9050", body="Patron, on vous attend dans la salle \"Etcetera\"")
    text = htmllib.unescape(resp.get_data(as_text=True))
    assert resp.status_code == 200
    assert "Le message est enregistré mais pas encore envoyé" in text
    assert "+15149079050" in text and "En attente" in text and "Patron, on vous attend" in text
    msg = db.scalar(select(SmsMessage))
    assert (msg.status, msg.user_id) == ("queued", people[0].id)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(("to", "body", "words"), [
    ("4165551234", "hi", "+14165551234 ne fait pas partie de vos destinations possibles : Local Montréal (514)."),
    ("12", "hi", "12 n'est pas un numéro de téléphone valide."),
    ("5149079050", "bad\x1b[0m", "Le message contient des caractères qui ne sont pas permis."),
    ("5149079050", "", "Écrivez un message (ou choisissez une image)."),
])
def test_refusals_are_shown_and_nothing_is_stored(client, auth, db, people, to, body, words):
    auth.login("a@acme.test")
    token = auth.csrf("/sms/")
    resp = client.post("/sms/", data={"csrf_token": token, "to": to, "body": body})
    assert resp.status_code == 400
    assert words in htmllib.unescape(resp.get_data(as_text=True))
    assert db.scalar(select(func.count()).select_from(SmsMessage)) == 0


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_image_refusals(client, auth, db, app, people):
    auth.login("a@acme.test")
    token = auth.csrf("/sms/")
    resp = client.post("/sms/", data={"csrf_token": token, "to": "5149079050", "body": "x",
                                      "image": (io.BytesIO(b"<svg xmlns='http://www.w3.org/2000/svg'/>"), "a.png")})
    assert resp.status_code == 400
    assert "n'est pas une image" in htmllib.unescape(resp.get_data(as_text=True))
    big = io.BytesIO()
    Image.effect_noise((1400, 1400), 100).convert("RGB").save(big, format="PNG")
    app.config["CLUSTERPBX"].max_upload_bytes = big.tell() - 1
    resp = client.post("/sms/", data={"csrf_token": token, "to": "5149079050", "body": "x",
                                      "image": (io.BytesIO(big.getvalue()), "big.png")})
    assert resp.status_code == 400
    assert "L'image est trop volumineuse" in htmllib.unescape(resp.get_data(as_text=True))
    assert db.scalar(select(func.count()).select_from(SmsMessage)) == 0


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
def test_quota_refusal_on_the_page(client, auth, db, people):
    people[0].tenant.sms_monthly_quota = 1
    db.commit()
    auth.login("a@acme.test")
    post(client, auth, to="5149079050", body="un")
    resp = client.post("/sms/", data={"csrf_token": auth.csrf("/sms/"), "to": "5149079050", "body": "deux"})
    assert resp.status_code == 400
    assert "Votre entreprise a atteint son quota de 1 messages ce mois-ci" in htmllib.unescape(resp.get_data(as_text=True))


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
def test_another_users_messages_are_invisible(client, auth, db, people):
    a, b = people
    png = io.BytesIO()
    Image.new("RGB", (10, 10)).save(png, format="PNG")
    theirs = sms.send_sms(db, b, "5149079050", "secret de B", png.getvalue())
    auth.login("a@acme.test")
    _resp, text = page(client)
    assert "secret de B" not in text and "Vous n'avez encore envoyé aucun message." in text
    assert client.get(f"/sms/{theirs.id}/image").status_code == 404
    auth.logout()
    auth.login("b@acme.test", language="en")
    _resp, text = page(client)
    assert "secret de B" in text
    assert client.get(f"/sms/{theirs.id}/image").status_code == 200


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_login_required(client, people):
    assert client.get("/sms/").status_code == 302


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
def test_provider_error_reaches_the_user_and_the_message_is_kept(client, auth, db, app, engine, people):
    from tests.daemon_harness import daemon_for_app
    from tests.fakes import FakePbx

    from .gateway import gateway

    tenant = people[0].tenant
    with gateway() as gw, daemon_for_app(app, engine, FakePbx()) as daemon:
        daemon.settings = app.config["CLUSTERPBX"]
        gw.status, gw.answer = 400, {"code": 21610, "message": "Attempt to send to unsubscribed recipient"}
        tenant.sms_config = {"account_sid": "AC1", "auth_token": "t", "from": "+15145550000", "api_base": gw.url}
        db.commit()
        auth.login("a@acme.test")
        text = htmllib.unescape(post(client, auth, to="5149079050", body="Bonjour").get_data(as_text=True))
        assert len(gw.requests) == 1
    # Twilio's 21610 is worded for the user, in French, not passed on raw.
    assert ("Le message au +15149079050 n'a pas pu être envoyé : Le destinataire a bloqué les messages de ce "
            "numéro.") in text
    assert "Twilio refused" not in text and "21610" not in text
    assert "Échec" in text and "Bonjour" in text
    db.expire_all()
    msg = db.scalar(select(SmsMessage))
    assert (msg.status, msg.body) == ("failed", "Bonjour")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_screen_and_the_api_share_one_sms_allowance(client, auth, db, world, app):
    """20 messages a minute per user, whichever way they are sent: a user who has used the screen's
    allowance gets no second one through the API (and the reverse)."""
    from tests.api.conftest import Api, user_token

    t = world.tenant("limits.test", sms_provider="twilio", sms_monthly_quota=1000)
    g = DestinationGroup(tenant_id=t.id, name="Local", prefixes=[DestinationPrefix(prefix="514")])
    db.add(g)
    me = world.user(t, email="me@limits.test", language="en")
    other = world.user(t, email="other@limits.test", language="en")
    me.destination_groups.append(g)
    other.destination_groups.append(g)
    db.commit()
    app.config["CLUSTERPBX"].control_url = "http://127.0.0.1:9"  # queued: no daemon needed
    auth.login("me@limits.test", language="en")
    screen = [post(client, auth, to="5145550199", body=f"screen {i}").status_code for i in range(10)]
    api = Api(app.test_client()).as_(user_token(db, me))
    through_api = [api.post("/api/v1/me/sms", {"to": "+15145550199", "body": f"api {i}"}).status_code
                   for i in range(11)]
    assert screen == [200] * 10
    assert through_api == [202] * 10 + [429]
    assert post(client, auth, to="5145550199", body="one more").status_code == 429
    assert db.scalar(select(func.count()).select_from(SmsMessage).where(SmsMessage.user_id == me.id)) == 20
    # Another user of the company has their own allowance.
    assert Api(app.test_client()).as_(user_token(db, other)).post(
        "/api/v1/me/sms", {"to": "+15145550199", "body": "x"}).status_code == 202
