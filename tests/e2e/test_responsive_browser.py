"""Every portal screen at a phone's width (390 px) and a laptop's (1280 px): the page itself never scrolls
sideways (a wide table scrolls inside its own box), and the menu is reachable (behind its button on a
phone). Screenshots of the main screens at both widths go to docs/screenshots/ (`<screen>-390-fr.png`,
`<screen>-1280-fr.png`)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from clusterpbx.control.demo import DEMO_PASSWORD, seed_demo
from clusterpbx.control.models import CallRecord, LiveCall, PbxNode, Tenant, User, utcnow
from tests.e2e.conftest import screenshot

pytestmark = pytest.mark.browser

WIDTHS = (390, 1280)

# The screens of an end user (the guide's menu) and their names for the screenshots (None: no screenshot).
USER_SCREENS = [
    ("/home", "home"), ("/profile/", None), ("/calls/?start={month}&end={today}", "calls"),
    ("/voicemail/", None), ("/live/", "live"), ("/softphone/", None), ("/phone/", "phone"),
    ("/queues/", "queues"), ("/directory/", "directory"), ("/sms/", "sms"), ("/webconf/", None),
    ("/conference/", "conference"), ("/settings/advanced", "settings-advanced"), ("/settings/account", None),
    ("/settings/voicemail", "settings-voicemail"), ("/api-tokens/", None), ("/guide/user", None),
    ("/guide/voicemail", None),
]
PUBLIC_SCREENS = [("/login", "login"), ("/signup", None), ("/password/forgot", None)]

# Lists the elements sticking out of the viewport, to say what overflows when the check fails.
OVERFLOW_JS = """() => {
  const w = window.innerWidth, out = [];
  for (const el of document.querySelectorAll('body *')) {
    const r = el.getBoundingClientRect();
    if (r.right > w + 1 && r.width > 0) {
      let p = el.parentElement, clipped = false;
      while (p && p !== document.body) {
        const s = getComputedStyle(p);
        if (/(auto|scroll|hidden)/.test(s.overflowX)) { clipped = true; break; }
        p = p.parentElement;
      }
      if (!clipped) out.push(el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
                             (el.className && typeof el.className === 'string' ? '.' + el.className.split(' ').join('.') : '') +
                             ' right=' + Math.round(r.right));
    }
  }
  return {scroll: document.documentElement.scrollWidth, inner: w, out: out.slice(0, 8)};
}"""


def seed(db: Any) -> tuple[User, User]:
    tenant = seed_demo(db)
    db.commit()
    marie = db.query(User).filter_by(email="marie.tremblay@demo.clusterpbx.test").one()
    admin = db.query(User).filter_by(email="operateur@demo.clusterpbx.test").one()
    node = db.get(PbxNode, tenant.node_id)
    tz = tenant.timezone
    assert isinstance(tenant, Tenant) and tz
    now = utcnow()
    for i in range(30):
        db.add(CallRecord(
            tenant_id=tenant.id, user_id=marie.id, node_id=node.id, pbx_call_id=f"r{i}",
            caller_name="Centre de services partagés du Québec — comptes fournisseurs" if i % 4 == 0 else "JP Vallée",
            caller_number="5145550199" if i % 2 else "202", dialed_number="201" if i % 2 else "18005551234",
            callee="Marie Tremblay", started_at=now - dt.timedelta(hours=5 * i), duration_seconds=37 + i,
            status="answered" if i % 3 else "no_answer", call_type="incoming" if i % 2 else "outgoing",
            cost=Decimal("0.00")))
    db.add(LiveCall(node_id=node.id, tenant_id=tenant.id, pbx_call_id="live-1", started_at=now - dt.timedelta(seconds=75),
                    state="answered", source_number="201", destination_number="5142842020",
                    source_uri="sip:201@demo.clusterpbx.test;transport=tls", destination_uri="sip:5142842020@trunk.example.net",
                    source_ip="203.0.113.45", destination_ip="198.51.100.20"))
    db.commit()
    return marie, admin


def check_page(page: Any, width: int, url: str, problems: list[str]) -> None:
    state = page.evaluate(OVERFLOW_JS)
    if state["scroll"] > state["inner"]:
        problems.append(f"{url} at {width}px scrolls sideways: {state}")
    toggle = page.locator("button.menu-toggle")
    if not toggle.count():
        return  # the login, sign-up and error pages have no menu
    home_link = page.locator("#menu-items a").first
    if width < 800:
        assert toggle.is_visible() and toggle.get_attribute("aria-expanded") == "false", url
        assert not home_link.is_visible(), f"{url}: the menu should be folded on a phone"
        toggle.click()
        assert toggle.get_attribute("aria-expanded") == "true" and home_link.is_visible(), url
        if url == "/home":
            screenshot(page, "menu-390-fr")
        state = page.evaluate(OVERFLOW_JS)
        if state["scroll"] > state["inner"]:
            problems.append(f"{url} at {width}px, menu open, scrolls sideways: {state}")
        toggle.click()
        assert not home_link.is_visible()
    else:
        assert not toggle.is_visible() and home_link.is_visible(), url


def visit(page: Any, base: str, url: str, width: int, name: str | None, problems: list[str]) -> None:
    resp = page.goto(base + url)
    assert resp is not None and resp.status < 400, f"{url}: {resp.status if resp else 'no response'}"
    page.wait_for_load_state("load")
    check_page(page, width, url, problems)
    if width >= 1280 and url.startswith("/calls/?"):
        # At a laptop's width the call details fit without scrolling their own box: no column cut off,
        # and a date stays on one line.
        box = page.evaluate("""() => { const w = document.querySelector('.table-wrap');
            const d = document.querySelector('table.calls td.when');
            const r = document.createRange(); r.selectNodeContents(d);
            const cols = [...document.querySelectorAll('table.calls tbody tr:first-child td')].map(
                c => Math.round(c.getBoundingClientRect().width));
            return {scroll: w.scrollWidth, client: w.clientWidth, dateLines: r.getClientRects().length, cols}; }""")
        if box["scroll"] > box["client"] or box["dateLines"] != 1:
            problems.append(f"{url} at {width}px: the call table does not fit its box: {box}")
    if name:
        screenshot(page, f"{name}-{width}-fr")


def login(page: Any, base: str, email: str) -> None:
    page.goto(base + "/login")
    page.fill("#email", email)
    page.fill("#password", DEMO_PASSWORD)
    page.click("form[novalidate] button[type=submit]")
    page.wait_for_url("**/home")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_every_screen_fits_a_phone_and_a_laptop(live_server, browser_page, db):
    marie, admin = seed(db)
    page = browser_page
    today = dt.date.today()
    problems: list[str] = []
    fill = {"month": (today - dt.timedelta(days=6)).isoformat(), "today": today.isoformat()}
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 844 if width < 800 else 800})
        page.context.clear_cookies()
        for url, name in PUBLIC_SCREENS:
            visit(page, live_server, url, width, name, problems)
        login(page, live_server, marie.email)
        for url, name in USER_SCREENS:
            visit(page, live_server, url.format(**fill), width, name, problems)
        page.context.clear_cookies()
        login(page, live_server, admin.email)
        visit(page, live_server, "/admin/", width, None, problems)
        links = page.eval_on_selector_all(".admin-nav a", "els => els.map(a => a.getAttribute('href'))")
        assert len(links) >= 5
        for href in links:
            visit(page, live_server, href, width, "admin-users" if href.rstrip("/").endswith("/users") else None, problems)
        visit(page, live_server, "/admin/users/new", width, None, problems)
        visit(page, live_server, f"/admin/users/{marie.id}", width, None, problems)
        visit(page, live_server, "/health/", width, None, problems)
        visit(page, live_server, "/calls/", width, None, problems)
        visit(page, live_server, "/live/", width, None, problems)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_menu_without_javascript_stays_open(live_server, db):
    """Without JavaScript the menu button stays hidden and the menu stays open above the page."""
    from playwright.sync_api import sync_playwright

    from tests import components
    from tests.e2e.conftest import CHROMIUM_ARGS

    marie, _admin = seed(db)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=components.chromium_path(), args=CHROMIUM_ARGS, headless=True)
        context = browser.new_context(viewport={"width": 390, "height": 844}, java_script_enabled=False)
        page = context.new_page()
        login(page, live_server, marie.email)
        assert not page.locator("button.menu-toggle").is_visible()
        assert page.locator("#menu-items a").first.is_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        context.close()
        browser.close()
