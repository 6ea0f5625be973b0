"""Validators for the values the FreeSWITCH adapter puts on an ESL command line, on top of
control.validation: one word each (no space, no newline), from a strict alphabet, checked before a
single byte is sent. ``command_line`` is the last check every command goes through."""

from __future__ import annotations

import re
from urllib.parse import quote

from clusterpbx.control import validation
from clusterpbx.control.validation import InvalidValue

# mod_event_socket reads a command line into a 2 KB-ish buffer; nothing the adapter sends is longer.
MAX_COMMAND = 2000
MAX_MESSAGE_BODY = 1000

_NAME = re.compile(r"[A-Za-z0-9_.@+\-]{1,100}")
_DB_VALUE = re.compile(r"[A-Za-z0-9_.@+*#\-]{1,200}")
_DOMAIN = re.compile(r"[A-Za-z0-9.\-]{1,253}")
_UUID = re.compile(r"[0-9A-Fa-f\-]{8,64}")
_MEMBER_ID = re.compile(r"[0-9]{1,10}")
_MAILBOX = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
_CONTEXT = re.compile(r"[A-Za-z0-9_.\-]{1,80}")
_HEADER_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_\-]{0,63}")
# PJSIP/101 (what the control daemon passes for both PBXs), user/101, sofia/internal/101
_INTERFACE_USER = re.compile(r"(?:PJSIP|SIP|user|sofia/[A-Za-z0-9_.\-]{1,40})/([A-Za-z0-9_.\-]{1,64})(?:@[A-Za-z0-9.\-]{1,253})?")


def _word(value: object, rx: re.Pattern[str], field: str, code: str) -> str:
    if not isinstance(value, str):
        raise InvalidValue(field, "not_text")
    if validation.has_control_chars(value):
        raise InvalidValue(field, "control_characters")
    if not rx.fullmatch(value):
        raise InvalidValue(field, code)
    return value


def command_line(command: str, field: str = "command") -> str:
    """The last line of defence: one ESL command line, no CR/LF or other control character (greenswitch
    would append the blank line after an embedded one and FreeSWITCH would run a second command)."""
    if not isinstance(command, str):
        raise InvalidValue(field, "not_text")
    if validation.has_control_chars(command):
        raise InvalidValue(field, "control_characters")
    if not command.strip() or len(command) > MAX_COMMAND:
        raise InvalidValue(field, "invalid_command")
    return command


def header(name: str, value: str) -> tuple[str, str]:
    _word(name, _HEADER_NAME, "header_name", "invalid_header_name")
    if validation.has_control_chars(value) or len(value) > MAX_COMMAND:
        raise InvalidValue(name, "control_characters")
    return name, value


def name(value: str, field: str = "name") -> str:
    """Queue, agent, conference room and similar object names: one word."""
    return _word(value, _NAME, field, "invalid_name")


def db_value(value: str, field: str = "value") -> str:
    """A mod_db value: one word without '/', which separates realm, key and value."""
    return _word(value, _DB_VALUE, field, "invalid_value")


def domain(value: str, field: str = "sip_domain") -> str:
    return _word(value, _DOMAIN, field, "invalid_domain")


def context(value: str, field: str = "context") -> str:
    return _word(value, _CONTEXT, field, "invalid_context")


def user(value: str, field: str = "endpoint") -> str:
    """A directory user id (the phone's SIP user name)."""
    if not isinstance(value, str) or validation.has_control_chars(value):
        raise InvalidValue(field, "control_characters")
    return validation.sip_username(value, field)


def uuid(value: str, field: str = "message_id") -> str:
    return _word(value, _UUID, field, "invalid_id")


def member_id(value: str, field: str = "participant_id") -> str:
    return _word(value, _MEMBER_ID, field, "invalid_participant")


def mailbox(value: str, default_domain: str, field: str = "mailbox") -> tuple[str, str]:
    """'1000' or '1000@example.com' -> (box, domain)."""
    if not isinstance(value, str) or validation.has_control_chars(value):
        raise InvalidValue(field, "control_characters")
    box, sep, dom = value.partition("@")
    _word(box, _MAILBOX, field, "invalid_mailbox")
    return box, domain(dom if sep else default_domain, field)


def interface_user(value: str, field: str = "interface") -> str | None:
    """The directory user of an interface such as ``PJSIP/1001``; None when it is a bare agent name."""
    if not isinstance(value, str) or validation.has_control_chars(value):
        raise InvalidValue(field, "control_characters")
    m = _INTERFACE_USER.fullmatch(value)
    return m.group(1) if m else None


def dial_number(value: str, field: str = "number") -> str:
    """Digits, * and #, an optional leading +; the spaces, dots, dashes and brackets people type are
    removed. Control characters are refused before anything is stripped."""
    if not isinstance(value, str) or validation.has_control_chars(value):
        raise InvalidValue(field, "control_characters")
    cleaned = re.sub(r"[ ().\-]", "", value)
    if cleaned.startswith("+"):
        if not re.fullmatch(r"[0-9]{1,20}", cleaned[1:]):
            raise InvalidValue(field, "invalid_number")
        return cleaned
    return validation.dial_string(cleaned, field)


def caller_id_number(value: str, field: str = "caller_id") -> str:
    """The number of a caller id given as a bare number, 'Name <number>' or '"Name" <number>'."""
    if not isinstance(value, str) or validation.has_control_chars(value):
        raise InvalidValue(field, "control_characters")
    m = re.fullmatch(r'\s*(?:"[^"<>]*"|[^"<>]*?)\s*<([^<>]*)>\s*', value)
    return validation.phone_number(m.group(1) if m else value, field)


def caller_id_name(value: str, field: str = "caller_id") -> str:
    """The name of a caller id given as 'Name <number>' or '"Name" <number>' ("" for a bare number), fit
    for a ``{var='value'}`` of an originate: the command line is split at spaces outside quotes and the
    brackets at commas, and ``${...}`` would be expanded, so quotes, commas, brackets, backslashes, ``$``
    and ``|`` become spaces."""
    if not isinstance(value, str) or validation.has_control_chars(value):
        raise InvalidValue(field, "control_characters")
    m = re.fullmatch(r'\s*(?:"([^"<>]*)"|([^"<>]*?))\s*<[^<>]*>\s*', value)
    name = validation.display_name((m.group(1) if m.group(1) is not None else m.group(2)) if m else "", field)
    return " ".join(re.sub(r"[\'\",{}\[\]<>\\$|^]", " ", name).split())


def message_body(value: str, field: str = "body") -> str:
    """An SMS text for `chat`, escaped for FreeSWITCH's argument splitter (switch_separate_string then
    cleanup_separated_string): it travels on the one command line, so a line feed goes as the two
    characters \\n (FreeSWITCH turns them back into a line feed), and `|` (the separator), `'` (paired
    quotes would be removed), `"` and the backslash itself are escaped, as are leading and trailing spaces
    (trimmed otherwise). Any other control character, and over-long texts, are refused."""
    if not isinstance(value, str):
        raise InvalidValue(field, "not_text")
    if validation.has_control_chars(value.replace("\n", "")):
        raise InvalidValue(field, "control_characters")
    if not value.strip():
        raise InvalidValue(field, "empty")
    if len(value) > MAX_MESSAGE_BODY:
        raise InvalidValue(field, "too_long")
    out = "".join("\\n" if c == "\n" else "\\" + c if c in "|'\"\\" else c for c in value)
    stripped = out.lstrip(" ")
    out = "\\s" * (len(out) - len(stripped)) + stripped
    stripped = out.rstrip(" ")
    out = stripped + "\\s" * (len(out) - len(stripped))
    if len(out) > MAX_COMMAND - 300:
        raise InvalidValue(field, "too_long")
    return out


def encoded_text(value: str, field: str = "reason") -> str:
    """Free text (a pause reason) made into one safe word for mod_db: validated, then percent-encoded."""
    return quote(validation.display_name(value, field), safe="")
