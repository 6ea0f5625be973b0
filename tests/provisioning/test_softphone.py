"""Mon softphone: settings shown, password only on request, and the QR code decoding to a single-use
provisioning URL that never contains the password (second use refused)."""

from __future__ import annotations

import base64
import html as htmllib
import io
import re
import time
import xml.etree.ElementTree as ET
from urllib.parse import parse_qs, urlsplit

import zxingcpp
from PIL import Image

from clusterpbx.provisioning.softphone import issue_token, redeem_token


def page(resp):
    return htmllib.unescape(resp.get_data(as_text=True))


def decode_qr(html: str) -> str:
    data = re.search(r'src="data:image/png;base64,([^"]+)"[^>]*id="linphone-qr"', html).group(1)
    image = Image.open(io.BytesIO(base64.b64decode(data)))
    results = zxingcpp.read_barcodes(image)
    assert len(results) == 1
    return results[0].text


def setup(world, **kw):
    tenant = world.tenant("demo.clusterpbx.test")
    user = world.user(tenant, extension="201", first_name="Marie", last_name="Tremblay", **kw)
    return tenant, user


def test_settings_and_password_on_request(client, auth, db, world):
    _t, user = setup(world)
    ext = user.extensions[0]
    auth.login(user.email)
    html = page(client.get("/softphone/"))
    for text in ("Paramètres de mon softphone", "Nom d'utilisateur", "Serveur/Domaine", "Plus de paramètres",
                 ext.sip_username, "demo.clusterpbx.test", "UDP", "5060", "Linphone", "MicroSIP", "Zoiper",
                 "X-Lite", "abandonné", "Ekiga"):
        assert text in html, text
    assert ext.sip_password not in html
    shown = page(client.post("/softphone/", data={"csrf_token": auth.csrf("/softphone/"), "action": "reveal"}))
    assert f'<code id="sip-password">{ext.sip_password}</code>' in shown
    # Without a valid CSRF token nothing is revealed.
    assert ext.sip_password not in page(client.post("/softphone/", data={"action": "reveal"}))


def test_qr_is_a_single_use_url_without_the_password(client, auth, db, world, app):
    _t, user = setup(world)
    ext = user.extensions[0]
    auth.login(user.email)
    url = decode_qr(page(client.get("/softphone/")))
    assert url.startswith(app.config["CLUSTERPBX"].public_url.rstrip("/") + "/prov/softphone/linphone?t=")
    assert ext.sip_password not in url and ext.sip_username not in url
    path = urlsplit(url)
    first = client.get(f"{path.path}?{path.query}")
    assert first.status_code == 200
    root = ET.fromstring(first.data)
    entries = {e.get("name"): e.text for e in root.iter("{http://www.linphone.org/xsds/lpconfig.xsd}entry")}
    assert entries["username"] == ext.sip_username and entries["passwd"] == ext.sip_password
    assert entries["domain"] == "demo.clusterpbx.test"
    second = client.get(f"{path.path}?{path.query}")
    assert second.status_code == 404 and ext.sip_password.encode() not in second.data


def test_zoiper_token_url(client, auth, db, world, app):
    app.config["CLUSTERPBX"].extra["zoiper_provider_id"] = "4fab2ee7179e8dfada45e900766f520d"
    _t, user = setup(world)
    ext = user.extensions[0]
    auth.login(user.email)
    html = page(client.get("/softphone/"))
    link = re.search(r'href="(https://oem\.zoiper\.com/qr-howto\.php\?[^"]+)"', html).group(1)
    query = parse_qs(urlsplit(link).query, keep_blank_values=True)
    assert query["u"] == query["p"] == query["a"] == [""]  # no credential in the QR page's URL
    token = query["t"][0]
    resp = client.get("/prov/softphone/zoiper", query_string={"t": token})
    assert resp.status_code == 200
    root = ET.fromstring(resp.data)
    assert root.findtext("accounts/account/password") == ext.sip_password
    assert root.findtext("accounts/account/authentication_username") == ext.sip_username
    assert client.get("/prov/softphone/zoiper", query_string={"t": token}).status_code == 404
    # A Linphone token is not a Zoiper token, and a forged one is refused.
    other = issue_token(app.config["SECRET_KEY"], user.id, user.session_version, "linphone")
    assert client.get("/prov/softphone/zoiper", query_string={"t": other}).status_code == 404
    assert client.get("/prov/softphone/zoiper", query_string={"t": other[:-2] + "xx"}).status_code == 404


def test_token_voided_by_password_change_and_expiry(app, db, world):
    _t, user = setup(world)
    secret = app.config["SECRET_KEY"]
    token = issue_token(secret, user.id, user.session_version, "linphone")
    user.session_version += 1
    db.commit()
    assert redeem_token(db, secret, token, "linphone", "127.0.0.1") is None
    fresh = issue_token(secret, user.id, user.session_version, "linphone")
    time.sleep(1.1)
    assert redeem_token(db, secret, fresh, "linphone", "127.0.0.1", max_minutes=0) is None
    assert redeem_token(db, secret, fresh, "linphone", "127.0.0.1").id == user.id
    assert redeem_token(db, secret, fresh, "linphone", "127.0.0.1") is None
