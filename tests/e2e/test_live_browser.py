"""Appels en cours in Chromium against `clusterpbx web` (gunicorn, asgi worker): a call that starts
appears without a reload and disappears when it ends; the search box narrows the rows; a browser without
EventSource falls back to the guide's 15 s reload."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import delete

from clusterpbx.control.models import LiveCall, NodeKind, PbxNode, Role, utcnow
from tests.conftest import PASSWORD
from tests.system.live_portal import portal

pytestmark = pytest.mark.browser


def company(db, world):
    node = PbxNode(name="n1", kind=NodeKind.ASTERISK, host="127.0.0.1", port=5038)
    db.add(node)
    db.flush()
    tenant = world.tenant()
    tenant.node_id = node.id
    db.commit()
    admin = world.user(tenant, extension="2100", role=Role.TENANT_ADMIN, first_name="Marie", last_name="Tremblay")
    db.add(LiveCall(node_id=node.id, tenant_id=tenant.id, pbx_call_id="first", started_at=utcnow(),
                    source_number="2100", destination_number="5141110000", state="answered"))
    db.commit()
    return node, tenant, admin


def new_call(db, node, tenant, call_id, destination):
    db.add(LiveCall(node_id=node.id, tenant_id=tenant.id, pbx_call_id=call_id,
                    started_at=utcnow() - dt.timedelta(seconds=3), source_number="2100",
                    destination_number=destination, state="ringing"))
    db.commit()


def sign_in(page, base, email):
    page.goto(base + "/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/home")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_calls_appear_and_end_without_reload(db, world, database_url, tmp_path, browser_page):
    node, tenant, admin = company(db, world)
    with portal(database_url, tmp_path / "instance") as (base, _master):
        page = browser_page
        sign_in(page, base, admin.email)
        page.goto(base + "/live/")
        page.get_by_text("5141110000").wait_for()
        page.evaluate("window.__same_page = true")  # gone if the page reloads
        new_call(db, node, tenant, "second", "5142220000")
        row = page.locator(f'tr[data-id="{node.id}:second"]')
        row.wait_for(timeout=10_000)
        assert "Marie Tremblay (2100)" in row.inner_text() and "5142220000" in row.inner_text()
        page.fill("#q", "514222")  # the search box narrows the rows as one types
        page.locator(f'tr[data-id="{node.id}:first"]').wait_for(state="detached")
        page.fill("#q", "")
        page.locator(f'tr[data-id="{node.id}:first"]').wait_for()
        db.execute(delete(LiveCall).where(LiveCall.pbx_call_id == "second"))
        db.commit()
        row.wait_for(state="detached", timeout=10_000)
        assert page.evaluate("window.__same_page === true")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_without_eventsource_the_page_reloads_every_15_seconds(db, world, database_url, tmp_path, browser_page):
    node, tenant, admin = company(db, world)
    with portal(database_url, tmp_path / "instance") as (base, _master):
        page = browser_page
        page.add_init_script("delete window.EventSource;")
        # The page's timers on Playwright's clock, moved by the test: 15 s of the page's time without
        # waiting them out.
        page.clock.install()
        sign_in(page, base, admin.email)
        page.goto(base + "/live/")
        page.get_by_text("5141110000").wait_for()
        page.evaluate("window.__same_page = true")
        new_call(db, node, tenant, "second", "5142220000")
        page.clock.run_for(14_000)
        page.wait_for_timeout(500)  # what the page would do next, it does now
        assert page.locator(f'tr[data-id="{node.id}:second"]').count() == 0  # no stream: not before the reload
        assert page.evaluate("window.__same_page === true")
        page.clock.run_for(1_500)
        page.locator(f'tr[data-id="{node.id}:second"]').wait_for(timeout=10_000)
        assert page.evaluate("window.__same_page === undefined")  # it came with a reload, at 15 s
