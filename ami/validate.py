"""Validators for the values the Asterisk adapter puts into AMI headers, on top of control.validation:
names Asterisk uses (endpoints, queues, rooms, channels, mailboxes, message ids) and the last-line check
that every header is free of CR, LF and other control characters before a single byte is written."""

from __future__ import annotations

import re
from collections.abc import Mapping

from clusterpbx.control import validation
from clusterpbx.control.validation import InvalidValue

# An AMI header value longer than this is never legitimate for what the adapter sends (Asterisk's own
# limit on a whole header line is 1025 bytes in manager.c).
MAX_HEADER_VALUE = 1000
MAX_MESSAGE_BODY = 1600

_HEADER_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_\-]{0,63}")
_NAME = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
_CONTEXT = re.compile(r"[A-Za-z0-9_.\-]{1,80}")
# PJSIP/101, SIP/101, Local/101@cpbx-acme-leg/n (the generated dialplan's queue agents).
_INTERFACE = re.compile(r"(?:PJSIP|SIP|IAX2|Local)/[A-Za-z0-9_.\-]{1,64}(?:@[A-Za-z0-9_.\-]{1,80})?(?:/n)?")
# A channel name as CoreShowChannels / ConfbridgeList give it: PJSIP/105-00000007, Local/x@ctx-00000001;1.
_CHANNEL = re.compile(r"[A-Za-z0-9]{1,16}/[A-Za-z0-9_.\-@]{1,128}(?:;[12])?")
_MESSAGE_ID = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
_MAILBOX = re.compile(r"[A-Za-z0-9_.\-]{1,32}")


def header_value(value: str, field: str = "header") -> str:
    """The last line of defence: every value goes through this right before it is serialised."""
    if not isinstance(value, str):
        raise InvalidValue(field, "not_text")
    if validation.has_control_chars(value):
        raise InvalidValue(field, "control_characters")
    if len(value) > MAX_HEADER_VALUE:
        raise InvalidValue(field, "too_long")
    return value


def header_name(name: str) -> str:
    if not isinstance(name, str) or not _HEADER_NAME.fullmatch(name):
        raise InvalidValue("header_name", "invalid_header_name")
    return name


def check_headers(headers: Mapping[str, object]) -> None:
    """Every name and value of an action (list values are repeated headers)."""
    for name, value in headers.items():
        header_name(name)
        values = value if isinstance(value, (list, tuple)) else [value]
        for v in values:
            header_value(v if isinstance(v, str) else str(v), name)


def _pattern(value: str, rx: re.Pattern[str], field: str, code: str) -> str:
    if not isinstance(value, str) or validation.has_control_chars(value):
        raise InvalidValue(field, "control_characters")
    if not rx.fullmatch(value):
        raise InvalidValue(field, code)
    return value


def endpoint(value: str, field: str = "endpoint") -> str:
    """A PJSIP endpoint name (the phone's SIP user name)."""
    if validation.has_control_chars(value):
        raise InvalidValue(field, "control_characters")
    return validation.sip_username(value, field)


def name(value: str, field: str = "name") -> str:
    """Queue, conference room, trunk and similar object names."""
    return _pattern(value, _NAME, field, "invalid_name")


def context(value: str, field: str = "context") -> str:
    return _pattern(value, _CONTEXT, field, "invalid_context")


def interface(value: str, field: str = "interface") -> str:
    return _pattern(value, _INTERFACE, field, "invalid_interface")


def channel(value: str, field: str = "participant_id") -> str:
    return _pattern(value, _CHANNEL, field, "invalid_channel")


def message_id(value: str, field: str = "message_id") -> str:
    return _pattern(value, _MESSAGE_ID, field, "invalid_message_id")


def mailbox(value: str, default_context: str, field: str = "mailbox") -> tuple[str, str]:
    """'103' or '103@default' -> (box, context)."""
    if not isinstance(value, str) or validation.has_control_chars(value):
        raise InvalidValue(field, "control_characters")
    box, sep, ctx = value.partition("@")
    _pattern(box, _MAILBOX, field, "invalid_mailbox")
    return box, context(ctx if sep else default_context, field)


def dial_number(value: str, field: str = "number") -> str:
    """What a user may dial: digits, * and #, an optional leading +; the spaces, dots, dashes and
    brackets people type are removed. Control characters are refused before anything is stripped."""
    if not isinstance(value, str) or validation.has_control_chars(value):
        raise InvalidValue(field, "control_characters")
    cleaned = re.sub(r"[ ().\-]", "", value)
    if cleaned.startswith("+"):
        if not re.fullmatch(r"[0-9]{1,20}", cleaned[1:]):
            raise InvalidValue(field, "invalid_number")
        return cleaned
    return validation.dial_string(cleaned, field)


_CALLER_ID = re.compile(r'^\s*(?:"(?P<qname>[^"<>]*)"|(?P<name>[^"<>]*?))\s*<(?P<num>[^<>]*)>\s*$')


def caller_id(value: str, field: str = "caller_id") -> str:
    """'Name <number>', '"Name" <number>' or a bare number, rebuilt in Asterisk's quoted form."""
    if validation.has_control_chars(value):
        raise InvalidValue(field, "control_characters")
    m = _CALLER_ID.match(value)
    if m is None:
        return f"<{validation.phone_number(value, field)}>"
    display = validation.display_name(m.group("qname") if m.group("qname") is not None else m.group("name") or "",
                                      field, max_length=80)
    number = validation.phone_number(m.group("num"), field) if m.group("num") else ""
    return f'"{display}" <{number}>' if display else f"<{number}>"


def caller_id_parts(value: str, field: str = "caller_id") -> tuple[str, str]:
    """(name, number) of a caller id given as for `caller_id`; the name may be empty."""
    m = _CALLER_ID.match(caller_id(value, field))
    assert m is not None  # caller_id always answers '"name" <number>' or '<number>'
    return m.group("qname") or "", m.group("num")


def variable_value(value: str) -> str:
    """A value for an Originate ``Variable`` header: Asterisk splits the header at commas and removes
    quotes and backslashes (ast_app_separate_args), so those and the brackets it pairs go escaped."""
    return re.sub(r'([\\",()\[\]])', r"\\\1", value)


def message_body(value: str, field: str = "body") -> str:
    """An SMS text: sent Base64-encoded, so line breaks are carried safely; other control characters
    and over-long texts are refused."""
    if not isinstance(value, str):
        raise InvalidValue(field, "not_text")
    if validation.has_control_chars(value.replace("\n", "")):
        raise InvalidValue(field, "control_characters")
    if not value.strip():
        raise InvalidValue(field, "empty")
    if len(value) > MAX_MESSAGE_BODY:
        raise InvalidValue(field, "too_long")
    return value
