"""A phone's Digest challenge, and its authenticated fetch, answered in front of Flask.

A boot storm is two requests per phone: a known phone past its first boot asks for its file without
credentials and gets `401` with a fresh nonce, then asks again with its Digest response and gets the
file. Neither needs a session, a template of the portal or a request context: this WSGI layer
(installed in front of the app when the provision blueprint is registered) reads the tenant and device
row (one statement, provisioning/state.py), checks the rate limits, the tenant key, the source networks,
the file name, the phone's first-boot state and its Digest response exactly as the endpoint does,
records the fetch in the log and answers: the challenge, or the file, built from the row just read as
the endpoint builds it and kept with it (web/provision/cache.py: served again only for exactly the same
data). Anything else (an unknown key or MAC, a first boot, a wrong or stale response, a query string, a
limit reached, an error) goes on to the Flask endpoint unchanged, which answers it as before.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from werkzeug.datastructures import Authorization
from werkzeug.utils import get_content_type

from clusterpbx.provisioning import digest
from clusterpbx.provisioning.model import clean
from clusterpbx.provisioning.render import classify
from clusterpbx.provisioning.state import device_state
from clusterpbx.provisioning.vendors import VENDORS

if TYPE_CHECKING:
    from flask import Flask

log = logging.getLogger("clusterpbx.web.provision")

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]
BODY = b"unauthorized\n"


class ChallengeFastPath:
    def __init__(self, app: Flask, inner: WsgiApp, endpoint: Any) -> None:
        """`endpoint` is the endpoint's module (web/provision/__init__.py): its checks and stores are used as
        they are (MIN_KEY_LENGTH, over_limit, in_networks, fetch_log, config_cache)."""
        self.app = app
        self.inner = inner
        self.endpoint = endpoint

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith("/prov/") and environ.get("REQUEST_METHOD") == "GET" and not environ.get("QUERY_STRING"):
            try:
                answer = self._answer(environ, path)
            except Exception:  # noqa: BLE001 - the endpoint answers it (and reports the error) as usual
                log.debug("provisioning fast path: left to the endpoint", exc_info=True)
                answer = None
            if answer is not None:
                status, headers, body = answer
                start_response(status, headers)
                return [body]
        return self.inner(environ, start_response)

    def _answer(self, environ: dict[str, Any], path: str) -> tuple[str, list[tuple[str, str]], bytes] | None:
        """The response (status, headers, body), or None to leave the request to the endpoint."""
        ep = self.endpoint
        parts = path.split("/", 3)  # "", "prov", key, filename
        if len(parts) != 4 or parts[2] == "softphone" or len(parts[2]) < ep.MIN_KEY_LENGTH or not parts[3]:
            return None
        key, filename = parts[2], parts[3]
        req = classify(filename, environ.get("HTTP_USER_AGENT", ""))
        if req.kind != "device":
            return None
        address = environ.get("REMOTE_ADDR") or "unknown"
        settings = self.app.config["CLUSTERPBX"]
        if ep.over_limit(settings, address, req.mac):
            return None
        header = environ.get("HTTP_AUTHORIZATION")
        auth = Authorization.from_header(header) if header is not None else None
        if header is not None and (auth is None or auth.type != "digest"):
            return None
        state = device_state(ep.read_engine(self.app), key, req.mac, full=auth is not None)
        if (state is None or state.device_id is None or not state.prov_password
                or not hmac.compare_digest(state.tenant_key.encode(), key.encode())
                or not ep.in_networks(address, state.networks)):
            return None
        vendor = VENDORS.get(state.vendor)
        name = vendor.canonical(filename, state.mac, state.model) if vendor is not None else None
        if vendor is None or name is None or (req.vendor is not None and req.vendor is not vendor):
            return None
        overrides = state.overrides or {}
        policy = overrides.get("require_digest")
        armed = bool(policy) if policy is not None else bool(dict(overrides.get("_prov") or {}).get("armed"))
        if not armed:
            return None  # first boot: the endpoint serves the file with the tenant key alone (and closes it)
        secret = self.app.config["SECRET_KEY"]
        log_row = {"address": address, "path": clean(filename, 255), "mac": state.mac, "device_id": state.device_id,
                   "tenant_id": state.tenant_id}
        if auth is None:
            ep.fetch_log(self.app).add(outcome="challenge", result=401, **log_row)
            return "401 UNAUTHORIZED", [("Content-Type", "text/plain; charset=utf-8"),
                                        ("Content-Length", str(len(BODY))),
                                        ("WWW-Authenticate", digest.challenge(secret)), *SECURITY_HEADERS], BODY
        if state.fingerprint is None or digest.verify(
                auth.parameters, method="GET", path=path,
                username=state.prov_username, password=state.prov_password, secret=secret) != "ok":
            return None  # a wrong or stale response: the endpoint refuses it and counts it
        # From the cache, or built now from the row just read (a first boot since the process started, a
        # fetch landing on the other worker) as the endpoint builds it.
        rendered = ep.rendered_file(self.app, state, vendor, name)
        ep.fetch_log(self.app).add(outcome="served", result=200, **log_row)
        return "200 OK", [("Content-Type", get_content_type(rendered.mimetype, "utf-8")),
                          ("Content-Length", str(len(rendered.body))), ("Cache-Control", "no-store"),
                          *SECURITY_HEADERS], rendered.body


# What web/__init__.py's after_request adds to every response.
SECURITY_HEADERS = [
    ("X-Content-Type-Options", "nosniff"), ("X-Frame-Options", "DENY"), ("Referrer-Policy", "same-origin"),
    ("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                                "object-src 'none'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"),
]
