"""Web conference fixtures: the local Zoom server, the SMTP server of the identity tests, and the
portal configured to send mail through it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from clusterpbx.control import urlpolicy
from clusterpbx.control.webconf import forget_zoom_tokens
from tests.identity.conftest import Inbox, smtp  # noqa: F401 (the fixture, reused)
from tests.webconf.zoom_server import ZoomServer


@pytest.fixture
def zoom() -> Iterator[ZoomServer]:
    forget_zoom_tokens()
    server = ZoomServer().start()
    # The local Zoom is on loopback over http: allowed explicitly (outbound_allow_http/_private).
    with urlpolicy.configured(urlpolicy.UrlPolicy(allow_http=True, allow_private=True)):
        yield server
    server.stop()
    forget_zoom_tokens()


@pytest.fixture
def app(database_url: str, tmp_path: Path, smtp: Inbox) -> Iterator[Any]:  # noqa: F811
    from clusterpbx.web import create_app

    app = create_app({"TESTING": True, "SETTINGS": {
        "database_url": database_url, "instance_path": str(tmp_path / "instance"), "session_cookie_secure": False,
        "ratelimit_storage_url": "memory://", "public_url": "http://localhost", "smtp_host": "127.0.0.1",
        "smtp_port": smtp.port, "smtp_starttls": False, "smtp_from": "Portail <portail@acme.test>",  # type: ignore[attr-defined]
        "smtp_timeout": 5.0, "outbound_allow_http": True, "outbound_allow_private": True}})
    yield app
    app.extensions["clusterpbx.engine"].dispose()
