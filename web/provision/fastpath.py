"""The Digest challenge of a phone's fetch, answered in front of Flask.

Half of a boot storm's requests are the first step of Digest: a known phone, past its first boot, asks
for its file without credentials and gets `401` with a fresh nonce. Answering it needs no session, no
template, no request context: this WSGI layer (installed in front of the app when the provision
blueprint is registered) reads the tenant and device row (one statement, provisioning/state.py), checks
the rate limits, the tenant key, the source networks, the file name and the phone's first-boot state
exactly as the endpoint does, records the fetch in the log and answers. Anything else (credentials
sent, an unknown key or MAC, a first boot, a refusal, a limit reached, an error) goes on to the Flask
endpoint unchanged, which answers it as before.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

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
    def __init__(self, app: Flask, inner: WsgiApp) -> None:
        self.app = app
        self.inner = inner

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if (path.startswith("/prov/") and environ.get("REQUEST_METHOD") == "GET"
                and "HTTP_AUTHORIZATION" not in environ and not environ.get("QUERY_STRING")):
            try:
                answer = self._challenge(environ, path)
            except Exception:  # noqa: BLE001 - the endpoint answers it (and reports the error) as usual
                log.debug("provisioning fast path: left to the endpoint", exc_info=True)
                answer = None
            if answer is not None:
                start_response("401 UNAUTHORIZED", answer)
                return [BODY]
        return self.inner(environ, start_response)

    def _challenge(self, environ: dict[str, Any], path: str) -> list[tuple[str, str]] | None:
        """The response headers of the Digest challenge, or None to leave the request to the endpoint."""
        from . import MIN_KEY_LENGTH, fetch_log, in_networks, over_limit

        parts = path.split("/", 3)  # "", "prov", key, filename
        if len(parts) != 4 or parts[2] == "softphone" or len(parts[2]) < MIN_KEY_LENGTH or not parts[3]:
            return None
        key, filename = parts[2], parts[3]
        req = classify(filename, environ.get("HTTP_USER_AGENT", ""))
        if req.kind != "device":
            return None
        address = environ.get("REMOTE_ADDR") or "unknown"
        settings = self.app.config["CLUSTERPBX"]
        if over_limit(settings, address, req.mac):
            return None
        state = device_state(self.app.extensions["clusterpbx.engine"], key, req.mac, full=False)
        if (state is None or state.device_id is None or not state.prov_password
                or not hmac.compare_digest(state.tenant_key.encode(), key.encode())
                or not in_networks(address, state.networks)):
            return None
        vendor = VENDORS.get(state.vendor)
        if (vendor is None or vendor.canonical(filename, state.mac, state.model) is None
                or (req.vendor is not None and req.vendor is not vendor)):
            return None
        overrides = state.overrides or {}
        policy = overrides.get("require_digest")
        armed = bool(policy) if policy is not None else bool(dict(overrides.get("_prov") or {}).get("armed"))
        if not armed:
            return None  # first boot: the endpoint serves the file with the tenant key alone
        fetch_log(self.app).add(outcome="challenge", result=401, address=address, path=clean(filename, 255),
                                mac=state.mac, device_id=state.device_id, tenant_id=state.tenant_id)
        return [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(BODY))),
                ("WWW-Authenticate", digest.challenge(self.app.config["SECRET_KEY"])), *SECURITY_HEADERS]


# What web/__init__.py's after_request adds to every response.
SECURITY_HEADERS = [
    ("X-Content-Type-Options", "nosniff"), ("X-Frame-Options", "DENY"), ("Referrer-Policy", "same-origin"),
    ("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                                "object-src 'none'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"),
]
