"""HTTP Digest (RFC 7616, MD5, qop=auth) for the provisioning endpoint. Nonces are stateless: a time
stamp and a random part signed with the app secret, valid for a few minutes (then `stale=true`)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping

REALM = "clusterpbx-provisioning"
NONCE_TTL = 300


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()


def _sign(secret: str, stamp: str, rand: str) -> str:
    return hmac.new(secret.encode(), f"{stamp}:{rand}:{REALM}".encode(), hashlib.sha256).hexdigest()[:32]


def make_nonce(secret: str, now: float | None = None) -> str:
    stamp = str(int(time.time() if now is None else now))
    rand = secrets.token_hex(8)
    return f"{stamp}.{rand}.{_sign(secret, stamp, rand)}"


def nonce_state(secret: str, nonce: str, now: float | None = None, ttl: int = NONCE_TTL) -> str:
    """'ok', 'stale' (ours but expired) or 'bad' (not ours)."""
    try:
        stamp, rand, mac = nonce.split(".")
        issued = int(stamp)
    except ValueError:
        return "bad"
    if not hmac.compare_digest(mac, _sign(secret, stamp, rand)):
        return "bad"
    age = (time.time() if now is None else now) - issued
    return "ok" if -5 <= age <= ttl else "stale"


def challenge(secret: str, stale: bool = False) -> str:
    header = f'Digest realm="{REALM}", qop="auth", algorithm=MD5, nonce="{make_nonce(secret)}"'
    return header + (", stale=true" if stale else "")


def expected_response(username: str, password: str, method: str, params: Mapping[str, str]) -> str:
    ha1 = _md5(f"{username}:{REALM}:{password}")
    ha2 = _md5(f"{method}:{params.get('uri', '')}")
    if params.get("qop"):
        return _md5(f"{ha1}:{params.get('nonce', '')}:{params.get('nc', '')}:{params.get('cnonce', '')}:"
                    f"{params.get('qop')}:{ha2}")
    return _md5(f"{ha1}:{params.get('nonce', '')}:{ha2}")


def verify(params: Mapping[str, str], *, method: str, path: str, username: str, password: str,
           secret: str, now: float | None = None) -> str:
    """'ok', 'stale' (right password, expired nonce: challenge again) or 'bad'."""
    if not password or params.get("realm") != REALM or params.get("qop", "auth") != "auth":
        return "bad"
    if not hmac.compare_digest(str(params.get("username", "")).encode(), username.encode()):
        return "bad"
    # The digest covers the URI it names; it must be the one actually requested.
    uri = str(params.get("uri", ""))
    if uri.split("?", 1)[0] != path:
        return "bad"
    given = str(params.get("response", ""))
    if not hmac.compare_digest(given.encode(), expected_response(username, password, method, params).encode()):
        return "bad"
    return nonce_state(secret, str(params.get("nonce", "")), now)


def client_header(username: str, password: str, method: str, uri: str, www_authenticate: str,
                  nc: int = 1) -> str:
    """What a phone sends back (used by the tests and the bench)."""
    import re

    fields = dict(re.findall(r'(\w+)="?([^",]*)"?', www_authenticate))
    cnonce = secrets.token_hex(8)
    params = {"uri": uri, "nonce": fields["nonce"], "nc": f"{nc:08x}", "cnonce": cnonce, "qop": "auth"}
    response = expected_response(username, password, method, params)
    return (f'Digest username="{username}", realm="{fields["realm"]}", nonce="{fields["nonce"]}", uri="{uri}", '
            f'response="{response}", qop=auth, nc={nc:08x}, cnonce="{cnonce}", algorithm=MD5')
