"""Identity fixtures: a real SMTP server (aiosmtpd) and the local OpenID provider, both on ephemeral
loopback ports, and the portal configured to use them."""

from __future__ import annotations

import email
import email.policy
import re
import threading
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from tests.identity.oidc_provider import CLIENT_ID, CLIENT_SECRET, Provider

PUBLIC_URL = "http://localhost"  # the Flask test client's default host


class Inbox:
    """What the SMTP server received, as parsed messages."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self._cond = threading.Condition()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd's name)
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self._cond:
            self.messages.append(msg)  # type: ignore[arg-type]
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
            self._cond.notify_all()
        return "250 Message accepted"

    def wait(self, count: int = 1, timeout: float = 10.0) -> list[EmailMessage]:
        """Block until `count` messages arrived in total (mail leaves off the request, in a thread)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.messages) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"expected {count} message(s), got {len(self.messages)}")
                self._cond.wait(left)
            return list(self.messages)

    def settle(self, delay: float = 0.5) -> list[EmailMessage]:
        """Everything received after a pause: for asserting that nothing (more) was sent."""
        time.sleep(delay)
        with self._cond:
            return list(self.messages)


class EphemeralController(Controller):
    # Controller checks the server by connecting to self.port; with port 0 learn the real port first.
    def _trigger_server(self) -> None:
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


@pytest.fixture
def smtp() -> Iterator[Inbox]:
    inbox = Inbox()
    controller = EphemeralController(inbox, hostname="127.0.0.1", port=0)
    controller.start()
    inbox.port = controller.port  # type: ignore[attr-defined]
    yield inbox
    controller.stop()


@pytest.fixture
def provider() -> Iterator[Provider]:
    p = Provider(redirect_uri=PUBLIC_URL + "/login/google/callback").start()
    yield p
    p.stop()


def identity_settings(database_url: str, tmp_path: Path, smtp: Inbox, provider: Provider) -> dict[str, Any]:
    return {"database_url": database_url, "instance_path": str(tmp_path / "instance"),
            "session_cookie_secure": False, "ratelimit_storage_url": "memory://",
            "public_url": PUBLIC_URL, "smtp_host": "127.0.0.1", "smtp_port": smtp.port,  # type: ignore[attr-defined]
            "smtp_starttls": False, "smtp_from": "Portail <portail@acme.test>",
            "google_client_id": CLIENT_ID, "google_client_secret": CLIENT_SECRET,
            "google_discovery_url": provider.discovery_url, "google_picture_hosts": "127.0.0.1",
            "google_timeout": 5.0,
            # The local OpenID provider and SMTP server are on loopback over http: allowed explicitly.
            "outbound_allow_http": True, "outbound_allow_private": True}


@pytest.fixture
def app(database_url: str, tmp_path: Path, smtp: Inbox, provider: Provider) -> Iterator[Any]:
    from clusterpbx.web import create_app

    app = create_app({"TESTING": True, "SETTINGS": identity_settings(database_url, tmp_path, smtp, provider)})
    yield app
    app.extensions["clusterpbx.mailer"].shutdown(wait=True)
    app.extensions["clusterpbx.engine"].dispose()


def csrf_of(client: Any, path: str) -> str:
    html = client.get(path).get_data(as_text=True)
    m = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html)
    assert m, f"no CSRF token on {path}"
    return m.group(1)


def text_part(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def html_part(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("html",))
    assert part is not None
    return str(part.get_content())


def link_in(msg: EmailMessage, path_prefix: str) -> str:
    m = re.search(re.escape(PUBLIC_URL + path_prefix) + r"\S+", text_part(msg))
    assert m, text_part(msg)
    return m.group(0)


def local(url: str) -> str:
    """A portal URL as the test client requests it (path and query)."""
    assert url.startswith(PUBLIC_URL)
    return url[len(PUBLIC_URL):]


def page(resp: Any) -> str:
    """A response's HTML with entities decoded (French apostrophes arrive as &#39;)."""
    import html

    return html.unescape(resp.get_data(as_text=True))
