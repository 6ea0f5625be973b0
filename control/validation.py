"""The one validation module for what reaches a PBX or a file: numbers, extensions, names, PINs.

Every value that may end up in an AMI header, an ESL command line or a generated config is
checked here against a strict pattern; CR, LF and every other control character are refused.
"""

from __future__ import annotations

import re
import unicodedata

from email_validator import EmailNotValidError, validate_email


class InvalidValue(ValueError):
    """A value failed validation; `code` names the rule for a translated message."""

    def __init__(self, field: str, code: str):
        super().__init__(f"{field}: {code}")
        self.field = field
        self.code = code


_NUMBER = re.compile(r"\+?[0-9]{1,20}")
_EXTENSION = re.compile(r"[0-9]{2,10}")
_DIAL_STRING = re.compile(r"[0-9*#+]{1,32}")
_PIN = re.compile(r"[0-9]+")
_SIP_USER = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
_MAC = re.compile(r"[0-9a-f]{12}")
# The same rule as dialplan/sanitize.py's trunk names: what the generated dialplans accept.
_TRUNK = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}")


def normalise_email(value: str, field: str = "email") -> str:
    """An e-mail address as stored and compared: syntax checked (no DNS lookup), normalised, lower case."""
    try:
        return validate_email(value.strip(), check_deliverability=False, test_environment=True).normalized.lower()
    except EmailNotValidError:
        raise InvalidValue(field, "email") from None


def has_control_chars(value: str) -> bool:
    return any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in value)


def phone_number(value: str, field: str = "number") -> str:
    """A dialable number: optional +, then digits. Spaces, dots and dashes people type are removed."""
    if has_control_chars(value):
        raise InvalidValue(field, "control_characters")
    cleaned = re.sub(r"[\s().\-]", "", value)
    if not _NUMBER.fullmatch(cleaned):
        raise InvalidValue(field, "invalid_number")
    return cleaned


def extension(value: str, field: str = "extension") -> str:
    if has_control_chars(value) or not _EXTENSION.fullmatch(value):
        raise InvalidValue(field, "invalid_extension")
    return value


def dial_string(value: str, field: str = "number") -> str:
    """Digits plus * and # (feature codes), nothing else."""
    if has_control_chars(value) or not _DIAL_STRING.fullmatch(value):
        raise InvalidValue(field, "invalid_number")
    return value


def pin(value: str, min_length: int = 4, max_length: int = 20, field: str = "pin") -> str:
    if not _PIN.fullmatch(value):
        raise InvalidValue(field, "digits_only")
    if not (min_length <= len(value) <= max_length):
        raise InvalidValue(field, "length")
    return value


def display_name(value: str, field: str = "name", max_length: int = 80) -> str:
    """A person's or a label's name: any printable text, no control characters, trimmed."""
    value = value.strip()
    if has_control_chars(value):
        raise InvalidValue(field, "control_characters")
    if len(value) > max_length:
        raise InvalidValue(field, "too_long")
    return value


def sip_username(value: str, field: str = "username") -> str:
    if not _SIP_USER.fullmatch(value):
        raise InvalidValue(field, "invalid_username")
    return value


def trunk_name(value: str, field: str = "trunk") -> str:
    """An Asterisk PJSIP endpoint or a FreeSWITCH sofia gateway: letters, digits, '-', '_' and '.' (a
    letter or digit first), 64 at most; no spaces, no control characters."""
    if not isinstance(value, str) or not _TRUNK.fullmatch(value):
        raise InvalidValue(field, "invalid_trunk")
    return value


def mac_address(value: str, field: str = "mac") -> str:
    """Normalise aa:bb:cc:dd:ee:ff / AA-BB-... / aabbccddeeff to 12 lowercase hex digits."""
    cleaned = re.sub(r"[:\-.]", "", value.strip()).lower()
    if not _MAC.fullmatch(cleaned):
        raise InvalidValue(field, "invalid_mac")
    return cleaned
