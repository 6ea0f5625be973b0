"""The demo as `clusterpbx run` sets it up: the seeded company made lived in, and the portal signing in
"with Gmail" against the demo's own OpenID provider (clusterpbx.demo_oidc) with the settings `run` uses."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from clusterpbx.control.demo import DEMO_DOMAIN, seed_demo, seed_lived_in
from clusterpbx.control.models import Tenant
from clusterpbx.demo_oidc import DemoOidcProvider

PUBLIC_URL = "http://localhost"  # the Flask test client's default host


@pytest.fixture
def demo_provider() -> Iterator[DemoOidcProvider]:
    p = DemoOidcProvider(PUBLIC_URL + "/login/google/callback", port=0).start()
    yield p
    p.stop()


@pytest.fixture
def app(database_url: str, tmp_path: Path, demo_provider: DemoOidcProvider) -> Iterator[Any]:
    from clusterpbx.web import create_app

    settings = {"database_url": database_url, "instance_path": str(tmp_path / "instance"),
                "session_cookie_secure": False, "ratelimit_storage_url": "memory://", "public_url": PUBLIC_URL,
                **demo_provider.portal_settings()}
    app = create_app({"TESTING": True, "SETTINGS": settings, "DEMO_OIDC_PROVIDER": demo_provider.url})
    yield app
    app.extensions["clusterpbx.mailer"].shutdown(wait=True)
    app.extensions["clusterpbx.engine"].dispose()


@pytest.fixture
def demo(db: Any, tmp_path: Path) -> Tenant:
    seed_demo(db, spool_path=str(tmp_path / "spool"))
    tenant = db.scalar(select(Tenant).where(Tenant.domain == DEMO_DOMAIN))
    seed_lived_in(db, tenant)
    db.commit()
    return tenant


def page(resp: Any) -> str:
    import html

    return html.unescape(resp.get_data(as_text=True))
