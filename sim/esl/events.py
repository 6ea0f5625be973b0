"""FreeSWITCH event objects for the sim ESL server: the common header block, templates, and the plain/json/xml wire forms.

Serialisation follows switch_event_serialize / _serialize_json / _xmlize of FreeSWITCH 1.10 byte for byte.
"""

from __future__ import annotations

import json
import re
import time
import uuid as uuidlib
from dataclasses import dataclass, field

from .templates import TEMPLATES

# switch_event.c EVENT_NAMES, in enum order; ALL is last (event commands accept any of these, case-insensitively).
EVENT_NAMES: tuple[str, ...] = (
    "CUSTOM", "CLONE", "CHANNEL_CREATE", "CHANNEL_DESTROY", "CHANNEL_STATE", "CHANNEL_CALLSTATE", "CHANNEL_ANSWER",
    "CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE", "CHANNEL_EXECUTE", "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_HOLD",
    "CHANNEL_UNHOLD", "CHANNEL_BRIDGE", "CHANNEL_UNBRIDGE", "CHANNEL_PROGRESS", "CHANNEL_PROGRESS_MEDIA",
    "CHANNEL_OUTGOING", "CHANNEL_PARK", "CHANNEL_UNPARK", "CHANNEL_APPLICATION", "CHANNEL_ORIGINATE", "CHANNEL_UUID",
    "API", "LOG", "INBOUND_CHAN", "OUTBOUND_CHAN", "STARTUP", "SHUTDOWN", "PUBLISH", "UNPUBLISH", "TALK", "NOTALK",
    "SESSION_CRASH", "MODULE_LOAD", "MODULE_UNLOAD", "DTMF", "MESSAGE", "PRESENCE_IN", "NOTIFY_IN", "PRESENCE_OUT",
    "PRESENCE_PROBE", "MESSAGE_WAITING", "MESSAGE_QUERY", "ROSTER", "CODEC", "BACKGROUND_JOB", "DETECTED_SPEECH",
    "DETECTED_TONE", "PRIVATE_COMMAND", "HEARTBEAT", "TRAP", "ADD_SCHEDULE", "DEL_SCHEDULE", "EXE_SCHEDULE",
    "RE_SCHEDULE", "RELOADXML", "NOTIFY", "PHONE_FEATURE", "PHONE_FEATURE_SUBSCRIBE", "SEND_MESSAGE", "RECV_MESSAGE",
    "REQUEST_PARAMS", "CHANNEL_DATA", "GENERAL", "COMMAND", "SESSION_HEARTBEAT", "CLIENT_DISCONNECTED",
    "SERVER_DISCONNECTED", "SEND_INFO", "RECV_INFO", "RECV_RTCP_MESSAGE", "SEND_RTCP_MESSAGE", "CALL_SECURE", "NAT",
    "RECORD_START", "RECORD_STOP", "PLAYBACK_START", "PLAYBACK_STOP", "CALL_UPDATE", "FAILURE", "SOCKET_DATA",
    "MEDIA_BUG_START", "MEDIA_BUG_STOP", "CONFERENCE_DATA_QUERY", "CONFERENCE_DATA", "CALL_SETUP_REQ",
    "CALL_SETUP_RESULT", "CALL_DETAIL", "DEVICE_STATE", "TEXT", "SHUTDOWN_REQUESTED", "ALL",
)
_EVENT_SET = frozenset(EVENT_NAMES)

# switch_utils.h SWITCH_URL_UNSAFE: the characters switch_url_encode escapes besides controls and non-ASCII bytes
_URL_UNSAFE = frozenset(b'\r\n #%&+:;<=>?@[\\]^`{|}"')

COMMON_HEADERS = (
    "Core-UUID", "FreeSWITCH-Hostname", "FreeSWITCH-Switchname", "FreeSWITCH-IPv4", "FreeSWITCH-IPv6",
    "Event-Date-Local", "Event-Date-GMT", "Event-Date-Timestamp", "Event-Calling-File", "Event-Calling-Function",
    "Event-Calling-Line-Number", "Event-Sequence",
)


def event_name_ok(name: str) -> str | None:
    """The canonical event name for a word of an event/nixevent command, or None (switch_name_event)."""
    up = name.upper()
    return up if up in _EVENT_SET else None


def url_encode(value: str) -> str:
    out = []
    for b in value.encode("utf-8"):
        if b < 0x20 or b > 0x7E or b in _URL_UNSAFE:
            out.append(f"%{b:02X}")
        else:
            out.append(chr(b))
    return "".join(out)


@dataclass
class FsEvent:
    """An event as FreeSWITCH holds it: ordered headers (a name may repeat) and an optional body."""

    headers: list[tuple[str, str]] = field(default_factory=list)
    body: str | None = None

    def get(self, name: str, default: str | None = None) -> str | None:
        low = name.lower()
        for k, v in self.headers:
            if k.lower() == low:
                return v
        return default

    def set(self, name: str, value: str, append: bool = False) -> None:
        """Replace the first header of that name in place; append it only if asked (templates fix the list)."""
        for i, (k, _) in enumerate(self.headers):
            if k == name:
                self.headers[i] = (k, value)
                return
        if append:
            self.headers.append((name, value))

    @property
    def name(self) -> str:
        return self.get("Event-Name") or ""

    @property
    def subclass(self) -> str | None:
        return self.get("Event-Subclass")

    def plain(self) -> bytes:
        parts = [f"{k}: {url_encode(v)}\n" for k, v in self.headers]
        if self.body is not None:
            body = self.body.encode("utf-8")
            return ("".join(parts) + f"Content-Length: {len(body)}\n\n").encode() + body
        return ("".join(parts) + "\n").encode()

    def json(self) -> bytes:
        # built by hand so a repeated header stays repeated, as cJSON does
        items = [f"{json.dumps(k, ensure_ascii=False)}:{json.dumps(v, ensure_ascii=False)}" for k, v in self.headers]
        if self.body is not None:
            items.append(f'"Content-Length":"{len(self.body.encode())}"')
            items.append(f'"_body":{json.dumps(self.body, ensure_ascii=False)}')
        return ("{" + ",".join(items) + "}").encode("utf-8")

    def xml(self) -> bytes:
        lines = ["<event>", "  <headers>"]
        for k, v in self.headers:
            lines.append(f"    <{k}>{url_encode(v)}</{k}>")
        lines.append("  </headers>")
        if self.body is not None:
            lines.append(f"  <body>{_xml_escape(self.body)}</body>")
        lines.append("</event>")
        return ("\n".join(lines) + "\n").encode("utf-8")

    def frame(self, fmt: str) -> bytes:
        """The whole ESL frame (Content-Length first, as mod_event_socket writes events)."""
        payload = self.json() if fmt == "json" else self.xml() if fmt == "xml" else self.plain()
        kind = fmt if fmt in ("json", "xml") else "plain"
        return f"Content-Length: {len(payload)}\nContent-Type: text/event-{kind}\n\n".encode() + payload


def _xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")


@dataclass
class EventFactory:
    """Stamps the common header block (core uuid, host, dates, sequence) the way switch_event_prep does."""

    hostname: str = "sim"
    ipv4: str = "127.0.0.1"
    ipv6: str = "::1"
    core_uuid: str = field(default_factory=lambda: str(uuidlib.uuid4()))
    sequence: int = 0

    def _common(self, now: float) -> dict[str, str]:
        self.sequence += 1
        us = int(now * 1_000_000)
        return {
            "Core-UUID": self.core_uuid,
            "FreeSWITCH-Hostname": self.hostname,
            "FreeSWITCH-Switchname": self.hostname,
            "FreeSWITCH-IPv4": self.ipv4,
            "FreeSWITCH-IPv6": self.ipv6,
            "Event-Date-Local": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now)),
            "Event-Date-GMT": time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(now)),
            "Event-Date-Timestamp": str(us),
            "Event-Sequence": str(self.sequence),
        }

    def make(self, name: str, headers: list[tuple[str, str]] | None = None, *, subclass: str | None = None,
             calling: tuple[str, str, int] = ("mod_event_socket.c", "api_exec", 1572),
             body: str | None = None) -> FsEvent:
        now = time.time()
        common = self._common(now)
        out: list[tuple[str, str]] = []
        if subclass:
            out.append(("Event-Subclass", subclass))
        out.append(("Event-Name", name))
        for k in COMMON_HEADERS:
            if k == "Event-Calling-File":
                out.append((k, calling[0]))
            elif k == "Event-Calling-Function":
                out.append((k, calling[1]))
            elif k == "Event-Calling-Line-Number":
                out.append((k, str(calling[2])))
            else:
                out.append((k, common[k]))
        out.extend(headers or [])
        return FsEvent(out, body)

    def from_template(self, key: str, ctx: dict[str, str], overrides: dict[str, str] | None = None,
                      drop: tuple[str, ...] = ()) -> FsEvent:
        """Build an event from a recorded template: placeholders filled from ctx, then named headers overridden.

        Headers the template lacks but overrides name are not added: the recorded header list is the contract.
        """
        now = time.time()
        common = self._common(now)
        ctx = {"t_us": str(int(now * 1_000_000)), "t_s": str(int(now)),
               "date_local": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now)),
               "core_uuid": self.core_uuid, "hostname": self.hostname, "ipv4": self.ipv4, "ipv6": self.ipv6, **ctx}
        overrides = overrides or {}
        out: list[tuple[str, str]] = []
        for name, value in TEMPLATES[key]:
            if name in drop:
                continue
            if name in common:
                value = common[name]
            elif name in overrides:
                value = overrides[name]
            else:
                value = _PLACEHOLDER.sub(lambda m: ctx.get(m.group(1), ""), value)
            out.append((name, value))
        return FsEvent(out)


def new_uuid() -> str:
    return str(uuidlib.uuid4())
