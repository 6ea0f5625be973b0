"""The Conférence en ligne screen: the guide's wording in French and English, "Accéder à la
conférence" per provider, the invitation link and e-mail invitations received by a real SMTP server,
usage shown, clear messages for provider failures, hostile input refused or inert, rate limits."""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import select

from clusterpbx.control.models import WebMeetingSession
from tests.conftest import PASSWORD

JITSI = {"domain": "meet.acme.test"}


def page(resp) -> str:
    return html.unescape(resp.get_data(as_text=True))


def csrf(client) -> str:
    m = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', client.get("/webconf/").get_data(as_text=True))
    assert m
    return m.group(1)


def login(auth, user, language="fr"):
    resp = auth.login(user.email, PASSWORD, language=language)
    assert resp.status_code == 302


def test_screen_in_french_with_the_guides_wording(client, auth, world):
    user = world.user(world.tenant(webconf_config=JITSI))
    login(auth, user)
    resp = client.get("/webconf/")
    text = page(resp)
    assert resp.status_code == 200
    assert "<h1>Conférence en ligne</h1>" in text
    assert ("L'écran «Conférence en ligne» vous permet de créer des conférences web Jitsi Meet avec partage "
            "d'écran. En cliquant sur «Accéder à la conférence», vous serez en mesure de rejoindre une conférence "
            "et d'inviter des personnes à vous rejoindre.") in text
    assert "(Des frais d'utilisation à la minute s'appliquent, selon les modalités de votre entente avec ClusterPBX.)" in text
    assert ">Accéder à la conférence</button>" in text
    menu = text[:text.index("</nav>")]
    # In the menu, before Conférence personnelle as in the guide, marked as the current page.
    assert '<a href="/webconf/" aria-current="page">Conférence en ligne</a>' in menu
    assert menu.index("Conférence en ligne") < menu.index("Conférence personnelle")
    assert "Ma consommation ce mois-ci" in text and "0 conférence" in text
    # CSP: no inline script, the copy button's code comes from a static file.
    assert re.findall(r"<script(?![^>]*\bsrc=)", text) == []
    assert '<script src="/static/webconf.js" defer></script>' in text


def test_screen_in_english(client, auth, world):
    user = world.user(world.tenant(webconf_provider="zoom", webconf_config={"billed_by": "Modulis"}), language="en")
    login(auth, user, language="en")
    text = page(client.get("/webconf/"))
    assert "<h1>Online conference</h1>" in text
    assert "create Zoom web conferences with screen sharing" in text
    assert "(Per-minute usage fees apply, according to the terms of your agreement with Modulis.)" in text
    assert ">Access the conference</button>" in text


def test_access_the_conference_with_jitsi_then_invite_link_on_the_page(client, auth, world, db):
    user = world.user(world.tenant(webconf_config=JITSI))
    login(auth, user)
    resp = client.post("/webconf/open", data={"csrf_token": csrf(client)})
    text = page(resp)
    assert resp.status_code == 200
    m = re.search(r'id="join-link" href="(https://meet\.acme\.test/cpbx-[0-9a-f]{20})" target="_blank"', text)
    assert m, text
    room_url = m.group(1)
    assert f'id="invite-link" value="{room_url}" readonly' in text
    assert "1 conférence" in text
    # The link stays on the screen afterwards; no second room.
    text = page(client.get("/webconf/"))
    assert f'value="{room_url}"' in text and 'id="join-link"' not in text
    assert db.scalars(select(WebMeetingSession)).all().__len__() == 1


def test_another_user_never_sees_my_link(client, auth, world):
    tenant = world.tenant(webconf_config=JITSI)
    me, other = world.user(tenant), world.user(tenant)
    login(auth, me)
    mine = re.search(r'id="join-link" href="([^"]+)"',
                     client.post("/webconf/open", data={"csrf_token": csrf(client)}).get_data(as_text=True)).group(1)
    auth.logout()
    login(auth, other)
    text = page(client.get("/webconf/"))
    assert mine not in text and 'id="invite-link"' not in text


def test_zoom_on_the_screen(client, auth, world, zoom):
    user = world.user(world.tenant(webconf_provider="zoom", webconf_config=zoom.config()))
    login(auth, user)
    text = page(client.post("/webconf/open", data={"csrf_token": csrf(client)}))
    assert 'id="join-link" href="https://acme.zoom.us/s/85746065432?zak=zakSecret"' in text
    assert 'id="invite-link" value="https://acme.zoom.us/j/85746065432?pwd=pwdHash"' in text
    assert '<code id="meeting-password">Ab12cd</code>' in text
    # Minutes as Zoom reports them, on demand.
    zoom.state.instances["85746065432"] = [{"uuid": "u1==", "start_time": "2026-11-27T14:00:00Z"}]
    zoom.state.past["u1=="] = {"uuid": "u1==", "start_time": "2099-01-01T00:00:00Z", "duration": 42}
    text = page(client.post("/webconf/usage", data={"csrf_token": csrf(client)}, follow_redirects=True))
    assert "Votre consommation est à jour." in text
    assert "42 minutes" in text


@pytest.mark.parametrize(("where", "status", "body", "message"), [
    ("token", 400, {"reason": "Invalid client_id or client_secret", "error": "invalid_client"},
     "Le service de conférence a refusé les identifiants du portail"),
    ("api", 503, {"message": "down"}, "Le service de conférence est injoignable pour le moment"),
    ("api", 429, {"message": "slow down"}, "Le service de conférence reçoit trop de demandes"),
])
def test_zoom_failures_are_clear_messages_not_500(client, auth, world, zoom, where, status, body, message):
    user = world.user(world.tenant(webconf_provider="zoom", webconf_config=zoom.config()))
    login(auth, user)
    zoom.state.fail[where] = (status, body)
    resp = client.post("/webconf/open", data={"csrf_token": csrf(client)})
    assert resp.status_code == 502
    text = page(resp)
    assert message in text and 'id="join-link"' not in text
    assert "invalid_client" not in text and "slow down" not in text  # provider details stay in the log


def test_zoom_timeout_message(client, auth, world, zoom):
    user = world.user(world.tenant(webconf_provider="zoom", webconf_config=zoom.config(timeout=0.3)))
    login(auth, user)
    zoom.state.delay = 1.0
    resp = client.post("/webconf/open", data={"csrf_token": csrf(client)})
    assert resp.status_code == 502
    assert "Le service de conférence n'a pas répondu à temps" in page(resp)


def test_unknown_provider_is_explained(client, auth, world):
    user = world.user(world.tenant(webconf_provider="webex"))
    login(auth, user)
    resp = client.post("/webconf/open", data={"csrf_token": csrf(client)})
    assert resp.status_code == 502
    assert "Les conférences en ligne ne sont pas encore configurées pour votre entreprise" in page(resp)


def test_open_needs_csrf(client, auth, world):
    login(auth, world.user(world.tenant(webconf_config=JITSI)))
    resp = client.post("/webconf/open", data={})
    assert resp.status_code in (302, 400)
    assert 'id="join-link"' not in page(client.get("/webconf/"))


def test_email_invitation_received_with_the_link(client, auth, world, smtp):
    user = world.user(world.tenant(name="Acme", webconf_config=JITSI), first_name="Léa", last_name="Gagnon",
                      email="lea@acme.test")
    login(auth, user)
    room_url = re.search(r'id="join-link" href="([^"]+)"', client.post(
        "/webconf/open", data={"csrf_token": csrf(client)}).get_data(as_text=True)).group(1)
    resp = client.post("/webconf/invite", data={"csrf_token": csrf(client),
                                                "addresses": "Bob@Example.com, carol@example.org\n"})
    assert resp.status_code == 302
    text = page(client.get("/webconf/"))
    assert "Invitation envoyée à bob@example.com, carol@example.org." in text
    messages = smtp.wait(2)
    assert sorted(e[1][0] for e in smtp.envelopes) == ["bob@example.com", "carol@example.org"]
    msg = messages[0]
    assert msg["Subject"] == "Invitation à une conférence web de Léa Gagnon"
    assert msg["From"] == "Portail <portail@acme.test>"
    body = msg.get_body(preferencelist=("plain",)).get_content()
    assert room_url in body and "Léa Gagnon (Acme) vous invite à une conférence web." in body
    assert f'href="{room_url}"' in msg.get_body(preferencelist=("html",)).get_content()


def test_invitation_needs_a_meeting_first(client, auth, world, smtp):
    login(auth, world.user(world.tenant(webconf_config=JITSI)))
    resp = client.post("/webconf/invite", data={"csrf_token": csrf(client), "addresses": "bob@example.com"})
    assert resp.status_code == 400
    assert "Cliquez d'abord sur «Accéder à la conférence»" in page(resp)
    assert smtp.settle(0.3) == []


@pytest.mark.parametrize("addresses", [
    "bob@example.com\r\nBcc: victim@example.org",
    "bob@example.com%0d%0aBcc:victim@example.org",
    "bob@example.com\x00",
    "<script>alert(1)</script>@example.com",
    "",
    ", ;",
    ",".join(f"p{i}@example.com" for i in range(11)),
])
def test_bad_addresses_refused_and_nothing_sent(client, auth, world, smtp, addresses):
    login(auth, world.user(world.tenant(webconf_config=JITSI)))
    client.post("/webconf/open", data={"csrf_token": csrf(client)})
    resp = client.post("/webconf/invite", data={"csrf_token": csrf(client), "addresses": addresses})
    assert resp.status_code == 400
    raw = resp.get_data(as_text=True)
    assert "<script>alert" not in raw  # echoed escaped, never as markup
    assert 'role="alert"' in raw
    assert smtp.settle(0.3) == []


def test_hostile_name_is_inert_on_the_screen_and_in_the_mail(client, auth, world, db, smtp):
    user = world.user(world.tenant(webconf_config=JITSI), first_name="Eve", last_name="X")
    user.first_name = '<img src=x onerror=alert(1)>"\''
    db.commit()
    login(auth, user)
    client.post("/webconf/open", data={"csrf_token": csrf(client)})
    client.post("/webconf/invite", data={"csrf_token": csrf(client), "addresses": "bob@example.com"})
    [msg] = smtp.wait(1)
    html_part = msg.get_body(preferencelist=("html",)).get_content()
    assert "<img src=x" not in html_part and "&lt;img src=x onerror=alert(1)&gt;" in html_part


def test_invitations_are_rate_limited_per_user(client, auth, world, smtp):
    tenant = world.tenant(webconf_config={**JITSI, "invite_limit": "3 per hour"})
    login(auth, world.user(tenant))
    client.post("/webconf/open", data={"csrf_token": csrf(client)})
    def send(addresses):
        return client.post("/webconf/invite", data={"csrf_token": csrf(client), "addresses": addresses})

    assert send("a@example.com b@example.com").status_code == 302
    assert send("c@example.com").status_code == 302
    # Each address counts, not each request: the fourth address of the hour is refused.
    assert send("d@example.com").status_code == 429
    assert len(smtp.settle(0.5)) == 3


def test_one_request_cannot_exceed_the_limit(client, auth, world, smtp):
    tenant = world.tenant(webconf_config={**JITSI, "invite_limit": "3 per hour"})
    login(auth, world.user(tenant))
    client.post("/webconf/open", data={"csrf_token": csrf(client)})
    resp = client.post("/webconf/invite", data={"csrf_token": csrf(client),
                                                "addresses": "a@example.com b@example.com c@example.com d@x.org"})
    assert resp.status_code == 429
    assert smtp.settle(0.3) == []


def test_mail_server_down_is_reported(client, auth, world, app):
    app.config["CLUSTERPBX"].smtp_port = 9  # nothing listens there
    login(auth, world.user(world.tenant(webconf_config=JITSI)))
    client.post("/webconf/open", data={"csrf_token": csrf(client)})
    resp = client.post("/webconf/invite", data={"csrf_token": csrf(client), "addresses": "bob@example.com"})
    assert resp.status_code == 502
    assert "L'invitation n'a pas pu être envoyée à : bob@example.com." in page(resp)


def test_login_required(client):
    assert client.get("/webconf/").status_code == 302
    assert client.post("/webconf/open").status_code in (302, 400)
    for path in ("/webconf/invite", "/webconf/usage"):
        assert client.post(path, data={"addresses": "a@example.com"}).status_code in (302, 400)
