"""What a phone's configuration is made of, independent of the vendor: accounts, keys, phonebook and
options. Vendor modules turn a `DeviceConfig` into files; `from_db` builds it from the database."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

KEY_KINDS = ("line", "line2", "blf", "speed")


def clean(value: object, max_length: int = 200) -> str:
    """A value safe on one line of any config format: control characters (CR, LF, TAB, NUL, bidi
    overrides...) become spaces, so a label can never start a new key or line."""
    text = str(value)
    if not text.isprintable():  # printable: no character of those categories (most values: a fast path)
        text = "".join(" " if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") else c for c in text)
    return text.strip()[:max_length]


_PARAM_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.\-]{0,119}")
_SAFE_TOKEN = re.compile(r"[^A-Za-z0-9_.:@*#+\-/]")


def token(value: object) -> str:
    """A value used as a URI part or number (extension, host, user name): only a strict alphabet survives."""
    return _SAFE_TOKEN.sub("", str(value))[:255]


@dataclass(frozen=True)
class Account:
    index: int  # 1-based account (line) number on the phone
    number: str
    username: str
    password: str
    display_name: str
    label: str


@dataclass(frozen=True)
class Key:
    position: int  # 1-based, in the user's order
    kind: str  # line | line2 | blf | speed
    value: str
    label: str
    account: int = 1  # for line keys: which account the key shows


@dataclass(frozen=True)
class Contact:
    name: str
    number: str
    first_name: str = ""
    last_name: str = ""
    photo_png: bytes | None = None


@dataclass(frozen=True)
class Options:
    """Tenant-wide settings with the device's overrides applied."""

    sip_server: str
    sip_port: int = 5060
    transport: str = "udp"  # udp | tcp | tls
    outbound_proxy: str = ""
    language: str = "fr"
    timezone: str = "America/Montreal"
    ntp_server: str = "pool.ntp.org"
    codecs: tuple[str, ...] = ("G722", "PCMU", "PCMA", "opus")
    pickup_prefix: str = "**"
    expansion_modules: int = 0
    # Raw vendor parameters the operator set (the template); always written last so that the user's
    # keys can never wipe them.
    params: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DeviceConfig:
    mac: str
    vendor: str
    model: str
    accounts: tuple[Account, ...]
    keys: tuple[Key, ...]
    contacts: tuple[Contact, ...]
    options: Options
    base_url: str  # https://portal/prov/<tenant key>/ (ends with a slash)
    prov_username: str = ""
    prov_password: str = ""
    label: str = ""

    def url_with_credentials(self, name: str) -> str:
        """base_url + name with the provisioning credentials in it, for files a phone fetches outside its
        provisioning client (remote phonebooks), which then answers the Digest challenge with them."""
        if not self.prov_password or "://" not in self.base_url:
            return f"{self.base_url}{name}"
        scheme, rest = self.base_url.split("://", 1)
        return f"{scheme}://{self.prov_username}:{self.prov_password}@{rest}{name}"

    @property
    def display_name(self) -> str:
        return self.accounts[0].display_name if self.accounts else self.label


@dataclass(frozen=True)
class Rendered:
    body: bytes
    mimetype: str


def options_from(tenant_defaults: dict[str, Any], overrides: dict[str, Any]) -> Options:
    """Tenant values first, then the device's overrides; unknown or malformed values are ignored."""
    merged = {**tenant_defaults, **{k: v for k, v in (overrides or {}).items() if not str(k).startswith("_")}}
    transport = str(merged.get("transport", "udp")).lower()
    if transport not in ("udp", "tcp", "tls"):
        transport = "udp"
    try:
        port = int(merged.get("sip_port") or (5061 if transport == "tls" else 5060))
    except (TypeError, ValueError):
        port = 5060
    codecs = merged.get("codecs") or ("G722", "PCMU", "PCMA", "opus")
    if isinstance(codecs, str):
        codecs = [c.strip() for c in codecs.split(",")]
    params = merged.get("params") or {}
    try:
        modules = max(0, min(6, int(merged.get("expansion_modules") or 0)))
    except (TypeError, ValueError):
        modules = 0
    return Options(
        sip_server=token(merged.get("sip_server", "")),
        sip_port=port if 0 < port < 65536 else 5060,
        transport=transport,
        outbound_proxy=token(merged.get("outbound_proxy", "")),
        language=str(merged.get("language", "fr"))[:5] if str(merged.get("language", "fr"))[:2] in ("fr", "en")
        else "fr",
        timezone=token(merged.get("timezone", "America/Montreal")) or "America/Montreal",
        ntp_server=token(merged.get("ntp_server", "pool.ntp.org")) or "pool.ntp.org",
        codecs=tuple(token(c) for c in codecs if token(c)),
        pickup_prefix=re.sub(r"[^0-9*#]", "", str(merged.get("pickup_prefix", "**")))[:8],
        expansion_modules=modules,
        # Parameter names become XML element or attribute names: only a strict alphabet is accepted.
        params={str(k): clean(v, 500) for k, v in params.items() if _PARAM_NAME.fullmatch(str(k))}
        if isinstance(params, dict) else {},
    )
