"""Validation and escaping of user-typed values before they reach a generated PBX config file.

Identifiers (SIP usernames, slugs, trunk names, PINs, numbers) are validated and rejected;
free text (display names) is reduced to a safe character set so it can never start a new line,
section, comment or field in an Asterisk ``.conf`` file.
"""

from __future__ import annotations

import re
import unicodedata


class RenderError(ValueError):
    """The snapshot holds a value that cannot be rendered safely."""


_SIP_USER = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}")
_SLUG = re.compile(r"[a-z0-9][a-z0-9\-]{0,31}")
_EXT = re.compile(r"[0-9]{2,10}")
_DIGITS = re.compile(r"[0-9]{1,20}")
_FEATURE_CODE = re.compile(r"[*#0-9]{1,8}")
_TRUNK = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}")
_DOMAIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9\-.]{0,251}[A-Za-z0-9])?")
_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9\-.]{0,251}[A-Za-z0-9])?")
# Printable ASCII without whitespace, quotes, backslash and ';' (the comment character).
_PASSWORD = re.compile(r"[A-Za-z0-9!#$%&()*+,\-./:<=>?@\[\]^_`{|}~]{4,128}")
_QUEUE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-]{0,63}")
# Characters kept in free text: letters and digits of any script, space and a few punctuation
# marks that mean nothing to Asterisk's config parser or to its Dial/CallerID syntax.
_TEXT_PUNCT = set(" .'-_@+&/()!?")


def _check(pattern: re.Pattern[str], value: str, what: str) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise RenderError(f"{what}: invalid value {value!r}")
    return value


def sip_username(value: str) -> str:
    return _check(_SIP_USER, value, "SIP username")


def slug(value: str) -> str:
    return _check(_SLUG, value, "tenant slug")


def extension(value: str) -> str:
    return _check(_EXT, value, "extension")


def digits(value: str, what: str = "digits") -> str:
    return _check(_DIGITS, value, what)


def pin(value: str, what: str = "PIN") -> str:
    """A PIN may be empty (no PIN); otherwise digits only."""
    if value == "":
        return value
    return _check(_DIGITS, value, what)


def feature_code(value: str, what: str = "feature code") -> str:
    return _check(_FEATURE_CODE, value, what)


def trunk(value: str) -> str:
    return _check(_TRUNK, value, "trunk name")


_TRUNK_HOST = re.compile(r"(?=[A-Za-z0-9.\-]{1,253}:)[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?"
                         r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?)*:([0-9]{1,5})")


def trunk_host(value: str) -> str | None:
    """``host:port`` of an SMS trunk given as a SIP host with its port (control/sms.py trunk_problem), or
    None when `value` is a trunk name."""
    m = _TRUNK_HOST.fullmatch(value) if isinstance(value, str) else None
    return value if m is not None and 0 < int(m.group(1)) < 65536 else None


def sms_trunk(value: str) -> str:
    """An SMS trunk: a PJSIP endpoint or sofia gateway name, or a SIP host with its port."""
    return trunk_host(value) or trunk(value)


def domain(value: str) -> str:
    return _check(_DOMAIN, value, "domain")


def email(value: str) -> str:
    return _check(_EMAIL, value, "e-mail address")


def password(value: str, what: str = "password") -> str:
    return _check(_PASSWORD, value, what)


def queue_name(value: str) -> str:
    return _check(_QUEUE, value, "queue name")


def text(value: str, max_length: int = 64) -> str:
    """Free text such as a display name, reduced to characters that are inert in config files.

    Anything else (newlines, ';', ',', '[', ']', '=', '>', '<', '"', '|', '\\', '$', control
    characters...) becomes a space; runs of spaces collapse. Unicode letters are kept.
    """
    out = []
    for ch in unicodedata.normalize("NFC", value or ""):
        cat = unicodedata.category(ch)
        if ch in _TEXT_PUNCT or (cat[0] in ("L", "N", "M") and ch.isprintable()):
            out.append(ch)
        else:
            out.append(" ")
    cleaned = re.sub(r" +", " ", "".join(out)).strip()
    return cleaned[:max_length].strip()
