"""web/asgi.py's bridge from ASGI to the Flask app, driven through the ASGI interface itself: a form post
with its body and cookies reaches Flask as under a WSGI server, and an oversized body without a length
is refused without being kept in memory."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest

from clusterpbx.web.asgi import Portal

from ..conftest import PASSWORD


def request(portal: Portal, method: str, path: str, headers: list[tuple[bytes, bytes]] | None = None,
            chunks: list[bytes] | None = None, query: bytes = b"") -> tuple[int, dict[bytes, list[bytes]], bytes]:
    chunks = list(chunks or [b""])
    scope = {"type": "http", "method": method, "path": path, "raw_path": path.encode(), "query_string": query,
             "headers": [(b"host", b"portal.test"), (b"user-agent", b"bridge-test"), *(headers or [])],
             "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000), "scheme": "http",
             "http_version": "1.1", "root_path": ""}
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if chunks:
            body = chunks.pop(0)
            return {"type": "http.request", "body": body, "more_body": bool(chunks)}
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(portal(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    out: dict[bytes, list[bytes]] = {}
    for k, v in start["headers"]:
        out.setdefault(k.lower(), []).append(v)
    return start["status"], out, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


def cookies(headers: dict[bytes, list[bytes]]) -> bytes:
    return b"; ".join(c.split(b";", 1)[0] for c in headers.get(b"set-cookie", []))


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_form_post_reaches_flask_with_body_and_cookies(app, world):
    user = world.user(world.tenant(), extension="201")
    portal = Portal(app, threads=2)
    status, headers, body = request(portal, "GET", "/login")
    assert status == 200 and b"text/html" in headers[b"content-type"][0]
    token = re.search(rb'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', body).group(1)
    form = b"email=" + user.email.encode().replace(b"@", b"%40") + b"&password=" + PASSWORD.encode() + \
        b"&csrf_token=" + token
    jar = cookies(headers)
    # The body in two pieces, as a client may send it.
    status, headers, _ = request(portal, "POST", "/login", chunks=[form[:10], form[10:]], headers=[
        (b"content-type", b"application/x-www-form-urlencoded"), (b"content-length", str(len(form)).encode()),
        (b"cookie", jar)])
    assert status == 302 and not headers[b"location"][0].endswith(b"/login"), status
    jar = cookies(headers)
    status, _headers, body = request(portal, "GET", "/live/", headers=[(b"cookie", jar)], query=b"q=x")
    assert status == 200 and b'value="x"' in body  # signed in, and the query string read
    portal.bridge.pool.shutdown()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_oversized_body_without_length_is_refused(app):
    portal = Portal(app, threads=1)
    portal.bridge.max_body = 1000
    status, _headers, body = request(portal, "POST", "/login", chunks=[b"x" * 600, b"x" * 600],
                                     headers=[(b"content-type", b"application/x-www-form-urlencoded"),
                                              (b"transfer-encoding", b"chunked")])
    assert status == 413 and b"too large" in body
    portal.bridge.pool.shutdown()
