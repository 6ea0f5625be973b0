"""Forms (issue 25): each error is its own element and reads apart from the next, a file over the upload
limit comes back to its form with the reason in the user's language, errors show inside the portal, the
guide's SMS example number is accepted, and a queue's buttons are not worded like the portal's logout."""

from __future__ import annotations

import html as htmllib
import io
import re

import pytest

from clusterpbx.control.sms import SmsRefused, normalise_number
from tests.admin_web.scene import build, post


def text_content(html: str) -> str:
    """What a browser's textContent gives: the tags dropped and nothing added between elements."""
    return htmllib.unescape(re.sub(r"<[^>]+>", "", html))


def test_admin_form_errors_do_not_run_together(client, auth, db, world):
    s = build(db, world)
    auth.login(s.admin_a.email)
    form = {"email": "pas-une-adresse", "first_name": "Zoé", "last_name": "Zabal", "department": "", "language": "fr",
            "timezone": "", "role": "user", "active": "y", "approved": "y", "password": "", "extension": "1",
            "sip_password": "", "vm_pin": ""}
    resp = post(client, "/admin/users/new", form)
    assert resp.status_code == 400
    summary = resp.get_data(as_text=True).split('id="form-errors"', 1)[1].split("</div>", 1)[0]
    items = re.findall(r"<li>(.*?)</li>", summary, re.S)
    assert len(items) >= 2
    flat = text_content(summary)
    # Every message ends before the next field's name begins ("valide.Poste" was one word to a reader).
    assert not re.search(r"[.!?][A-ZÉ]", flat), flat


def test_upload_over_the_limit_returns_to_the_form_with_the_reason(client, auth, world):
    user = world.user(world.tenant())
    auth.login(user.email)
    token = auth.csrf("/profile/")
    big = io.BytesIO(b"\x89PNG" + b"x" * (6 * 1024 * 1024))
    resp = client.post("/profile/upload", data={"csrf_token": token, "image": (big, "photo.png")},
                       content_type="multipart/form-data", headers={"Referer": "http://localhost/profile/"})
    assert resp.status_code == 303 and resp.headers["Location"].endswith("/profile/")
    page = htmllib.unescape(client.get("/profile/").get_data(as_text=True))
    assert "Le fichier est trop volumineux (5 Mo au maximum)" in page
    assert 'class="menu"' in page  # inside the portal, menu and all


def test_upload_over_the_limit_in_english_without_a_referrer(client, auth, world):
    user = world.user(world.tenant(), language="en")
    auth.login(user.email)
    token = auth.csrf("/profile/")
    resp = client.post("/profile/upload", data={"csrf_token": token,
                                                "image": (io.BytesIO(b"x" * (6 * 1024 * 1024)), "a.png")},
                       content_type="multipart/form-data")
    # /profile/upload cannot be fetched: back to the screen's own page.
    assert resp.status_code == 303 and resp.headers["Location"].endswith("/profile/")
    assert "The file is too large (5 MB at most)" in client.get("/profile/").get_data(as_text=True)


def test_error_pages_show_inside_the_portal_when_signed_in(client, auth, world):
    assert 'class="menu"' not in client.get("/no-such-page").get_data(as_text=True)
    auth.login(world.user(world.tenant()).email)
    resp = client.get("/no-such-page")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 404 and 'class="menu"' in html and "Cette page n'existe pas" in html


@pytest.mark.parametrize("raw", ["5141231234", "514 123-1234", "(514) 123-1234", "+1 514 123 1234"])
def test_the_guides_sms_example_number_is_accepted(raw):
    assert normalise_number(raw, "CA") == "+15141231234"


@pytest.mark.parametrize("raw", ["0612345678", "1234567890", "514123123", "+3361234"])
def test_numbers_of_the_wrong_shape_are_still_refused(raw):
    with pytest.raises(SmsRefused):
        normalise_number(raw, "CA")


def test_queue_buttons_are_not_the_portals_logout(client, auth, db, world):
    from clusterpbx.control.models import Queue, QueueMembership

    tenant = world.tenant()
    me = world.user(tenant)
    queue = Queue(tenant_id=tenant.id, name="soutien", label="Soutien", number="800")
    db.add(queue)
    db.flush()
    db.add(QueueMembership(queue_id=queue.id, user_id=me.id))
    db.commit()
    auth.login(me.email)
    html = htmllib.unescape(client.get("/queues/").get_data(as_text=True))
    buttons = [text_content(b).strip() for b in re.findall(r"<button[^>]*>(.*?)</button>", html, re.S)]
    assert "Se connecter à la file — Soutien" in buttons
    assert buttons.count("Déconnexion") == 1  # the menu's logout only
