"""One rule for every "come back here afterwards" target (`next=`): a path on this site, nothing else.

The check reads the target the way a browser would read a Location header (WHATWG URL parsing): tabs,
CR and LF vanish wherever they are, leading and trailing spaces and control characters are dropped, and
a backslash counts as a slash. The result is resolved against this site's own origin and accepted only
if it stays there; only its path, query and fragment are returned, never starting with "//" (which a
browser would read as another host)."""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

from flask import has_request_context, request

_TAB_NEWLINE = re.compile(r"[\t\r\n]")
_C0_AND_SPACE = "".join(chr(c) for c in range(0x21))
_BASE = "https://clusterpbx.invalid/"


def safe_redirect_target(target: object, fallback: str) -> str:
    """`target` if it is a path on this site (normalised as a browser would), else `fallback`."""
    if not isinstance(target, str) or not target or len(target) > 2048:
        return fallback
    text = _TAB_NEWLINE.sub("", target).strip(_C0_AND_SPACE).replace("\\", "/")
    if not text or text.startswith("//") or any(ord(c) < 0x20 or ord(c) == 0x7F for c in text):
        return fallback  # "//host" (however many slashes) names another host for a browser
    base = request.host_url if has_request_context() else _BASE
    own = urlsplit(base)
    try:
        parts = urlsplit(urljoin(base, text))
    except ValueError:  # e.g. an invalid IPv6 literal
        return fallback
    if (parts.scheme, parts.netloc) != (own.scheme, own.netloc) or parts.username or parts.password:
        return fallback
    path = parts.path or "/"
    if not path.startswith("/") or path.startswith("//"):
        return fallback
    out = path + (f"?{parts.query}" if parts.query else "") + (f"#{parts.fragment}" if parts.fragment else "")
    return out
