"""Outbound URLs an operator or a tenant can set (SMS providers and webhooks, Jitsi and Zoom, Google
discovery): one policy, checked when the URL is saved and again at every connection.

- **On save** (`check_url`): https only (http where the operator set `outbound_allow_http`); no user or
  password in the URL; no whitespace or control characters; a host, and, where it is an address (in any
  form a resolver accepts: 127.1, 0x7f000001, 2130706433, [::ffff:127.0.0.1]) or a name that always means
  this machine (localhost), not a loopback, link-local, private, shared, multicast, reserved or
  unspecified one unless the operator set `outbound_allow_private`. Names are not looked up on save: what
  they resolve to can change at any time, so
- **at connection time** (`session`) every request goes through a transport that checks the URL again,
  resolves the host itself, refuses the whole request if any address is not allowed, and connects to the
  very address it vetted (TLS still checks the certificate against the name), so DNS rebinding between
  the check and the connection gains nothing. Redirects are not followed by the callers, proxies from the
  environment are ignored.

The operator's switches come from the configuration (`configure`, called by `load_settings`); tests that
talk to local fake servers turn them on explicitly.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
from urllib3.util import connection

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]

_NAME_RE = re.compile(r"(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?\.)*[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?\.?")
_LOOPBACK_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")
# Carrier-grade NAT (100.64.0.0/10) is not "private" for Python before 3.11.4; named here to be sure.
_EXTRA_BLOCKED = (ipaddress.ip_network("100.64.0.0/10"), ipaddress.ip_network("192.0.0.0/24"),
                  ipaddress.ip_network("198.18.0.0/15"), ipaddress.ip_network("64:ff9b::/96"))


class UrlRefused(ValueError):
    """A URL the policy does not allow; `code` says why (scheme, credentials, malformed, private,
    unresolvable)."""

    def __init__(self, code: str, detail: str = ""):
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code


def system_resolver(host: str, port: int) -> list[str]:
    return [str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]


@dataclass(frozen=True)
class UrlPolicy:
    allow_http: bool = False
    allow_private: bool = False
    resolver: Resolver = field(default=system_resolver, compare=False)

    @classmethod
    def from_settings(cls, settings: Any) -> UrlPolicy:
        return cls(allow_http=bool(settings.outbound_allow_http), allow_private=bool(settings.outbound_allow_private))


_lock = threading.Lock()
_current = UrlPolicy()


def configure(policy: UrlPolicy) -> None:
    """The process's policy (from the configuration file and environment, see control/config.py)."""
    global _current
    with _lock:
        _current = policy


def current() -> UrlPolicy:
    return _current


@contextmanager
def configured(policy: UrlPolicy) -> Iterator[UrlPolicy]:
    """The policy for a block (tests with local fake servers), then the previous one again."""
    before = current()
    configure(policy)
    try:
        yield policy
    finally:
        configure(before)


def literal_address(host: str) -> Address | None:
    """The address a host stands for when it is written as one, in any form a resolver accepts
    (dotted, shortened, decimal, octal or hexadecimal IPv4; IPv6 in brackets or not); else None."""
    text = host.strip("[]")
    try:
        return ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        pass
    if re.fullmatch(r"[0-9a-fA-FxX.]+", text) and re.search(r"[0-9]", text):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(text))
        except OSError:
            return None
    return None


def address_allowed(ip: Address, policy: UrlPolicy) -> bool:
    if isinstance(ip, ipaddress.IPv6Address):
        mapped = ip.ipv4_mapped or ip.sixtofour
        if mapped is not None:
            return address_allowed(mapped, policy)
    if ip.is_unspecified or ip.is_multicast or ip.is_reserved:
        return False  # never a server, whatever the operator allows
    if policy.allow_private:
        return True
    return not (ip.is_loopback or ip.is_link_local or ip.is_private or not ip.is_global
                or any(ip in net for net in _EXTRA_BLOCKED if net.version == ip.version))


def check_url(url: Any, *, policy: UrlPolicy | None = None) -> str:
    """`url` if the policy allows it as a target (without looking the name up), else UrlRefused."""
    policy = policy or current()
    if not isinstance(url, str) or not url:
        raise UrlRefused("malformed", "empty")
    if any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in url) or "\\" in url:
        raise UrlRefused("malformed", "whitespace, control character or backslash")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UrlRefused("malformed", str(exc)) from None
    if parts.scheme == "http" and not policy.allow_http:
        raise UrlRefused("scheme", "http is not allowed (outbound_allow_http)")
    if parts.scheme not in ("http", "https"):
        raise UrlRefused("scheme", repr(parts.scheme))
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise UrlRefused("credentials")
    host = (parts.hostname or "").lower()
    if not host:
        raise UrlRefused("malformed", "no host")
    if port == 0:
        raise UrlRefused("malformed", "port 0")
    ip = literal_address(host)
    if ip is not None:
        if not address_allowed(ip, policy):
            raise UrlRefused("private", str(ip))
        return url
    if not _NAME_RE.fullmatch(host):
        raise UrlRefused("malformed", "host name")
    name = host.rstrip(".")
    if (name in _LOOPBACK_NAMES or name.endswith(".localhost")) and not policy.allow_private:
        raise UrlRefused("private", name)
    return url


def vetted_addresses(host: str, port: int, policy: UrlPolicy | None = None) -> list[Address]:
    """What to connect to for `host`: its addresses, all of them allowed, else UrlRefused."""
    policy = policy or current()
    ip = literal_address(host)
    if ip is not None:
        found: list[Address] = [ip]
    else:
        try:
            found = [ipaddress.ip_address(a.split("%", 1)[0]) for a in policy.resolver(host, port)]
        except (OSError, UnicodeError, ValueError) as exc:
            raise UrlRefused("unresolvable", f"{host}: {exc}") from None
    if not found:
        raise UrlRefused("unresolvable", host)
    refused = [str(a) for a in found if not address_allowed(a, policy)]
    if refused:
        raise UrlRefused("private", f"{host} -> {', '.join(refused)}")
    return found


def is_web_link(url: Any) -> bool:
    """Whether a URL may be shown as a link: http(s) with a host, nothing a browser would run."""
    if not isinstance(url, str) or any(c.isspace() or ord(c) < 0x20 for c in url):
        return False
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc) and "\\" not in url


# -- the transport: requests through checked, vetted connections ---------------------------------------------


class TargetRefused(requests.ConnectionError):
    """The policy refused the URL or the addresses its host resolves to."""

    def __init__(self, refused: UrlRefused, **kwargs: Any):
        super().__init__(f"target not allowed: {refused}", **kwargs)
        self.refused = refused


class RefusedTarget(NewConnectionError):
    """The same refusal, raised by a vetted connection (requests wraps it)."""

    def __init__(self, conn: Any, message: str, refused: UrlRefused):
        super().__init__(conn, message)
        self.refused = refused


def _transport_classes(policy: UrlPolicy) -> dict[str, Any]:
    def _new_conn(self: Any) -> socket.socket:
        try:
            addresses = vetted_addresses(self._dns_host, self.port, policy)
        except UrlRefused as exc:
            raise RefusedTarget(self, f"target not allowed: {exc}", exc) from None
        last: Exception | None = None
        for ip in addresses:
            try:
                return connection.create_connection((str(ip), self.port), self.timeout,
                                                    source_address=self.source_address,
                                                    socket_options=self.socket_options)
            except TimeoutError as exc:
                last = ConnectTimeoutError(self, f"Connection to {self.host} timed out. "
                                                 f"(connect timeout={self.timeout})")
                last.__cause__ = exc
            except OSError as exc:
                last = NewConnectionError(self, f"Failed to establish a new connection: {exc}")
        assert last is not None
        raise last

    http_conn = type("VettedHTTPConnection", (HTTPConnection,), {"_new_conn": _new_conn})
    https_conn = type("VettedHTTPSConnection", (HTTPSConnection,), {"_new_conn": _new_conn})
    return {"http": type("VettedHTTPPool", (HTTPConnectionPool,), {"ConnectionCls": http_conn}),
            "https": type("VettedHTTPSPool", (HTTPSConnectionPool,), {"ConnectionCls": https_conn})}


def mount(session: Any, policy: UrlPolicy | None = None) -> Any:
    """Make a requests session go through the policy (its own URL check, then vetted connections)."""
    policy = policy or current()
    pools = _transport_classes(policy)

    class VettedAdapter(HTTPAdapter):
        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            super().init_poolmanager(*args, **kwargs)
            self.poolmanager.pool_classes_by_scheme = pools

        def send(self, request: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                check_url(request.url, policy=policy)
            except UrlRefused as exc:
                raise TargetRefused(exc, request=request) from None
            kwargs["proxies"] = {}
            return super().send(request, *args, **kwargs)

    session.trust_env = False  # no proxy from the environment: the connection goes where it was vetted
    session.proxies = {}
    adapter = VettedAdapter()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def session(policy: UrlPolicy | None = None) -> Any:
    return mount(requests.Session(), policy)


def refusal(exc: BaseException) -> UrlRefused | None:
    """The policy's refusal behind a requests exception, if that is what it was."""
    seen: set[int] = set()
    stack: list[Any] = [exc]
    while stack:
        e = stack.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, UrlRefused):
            return e
        found = getattr(e, "refused", None)
        if isinstance(found, UrlRefused):
            return found
        stack.extend([getattr(e, "reason", None), e.__cause__, e.__context__,
                      *[a for a in getattr(e, "args", ()) if isinstance(a, BaseException)]])
    return None
