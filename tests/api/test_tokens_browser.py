"""Browser test of the "API tokens" page (French), with a screenshot into docs/screenshots/: the token
shown once is then used over real HTTP against the served API."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from tests.conftest import PASSWORD
from tests.e2e.conftest import browser_page, live_server, screenshot  # noqa: F401 - fixtures

pytestmark = pytest.mark.browser


def _get(url: str, token: str) -> tuple[int, dict]:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})  # noqa: S310 - loopback
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 - a loopback test server
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_api_tokens_page(live_server, browser_page, world, db):  # noqa: F811 - fixtures
    tenant = world.tenant("demo.clusterpbx.test")
    user = world.user(tenant, email="marie.tremblay@demo.clusterpbx.test", first_name="Marie",
                      last_name="Tremblay", extension="201")
    page = browser_page
    page.goto(live_server + "/login")
    page.fill("#email", user.email)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.goto(live_server + "/api-tokens/")
    assert page.locator("h1").inner_text() == "Jetons d'API"
    page.fill("#name", "Script de rapports")
    page.select_option("#expires", "90")
    page.click("form[action$='/api-tokens/'] button[type=submit]")
    token = page.locator("#new-token").inner_text().strip()
    assert token.startswith("cpbx_")
    screenshot(page, "api_tokens")
    status, body = _get(live_server + "/api/v1/me", token)
    assert status == 200 and body["email"] == user.email
    page.goto(live_server + "/api-tokens/")
    assert token not in page.content() and "Script de rapports" in page.content()
    page.click("text=Révoquer")
    assert "Jeton révoqué." in page.content()
    status, body = _get(live_server + "/api/v1/me", token)
    assert status == 401 and "errors" in body
