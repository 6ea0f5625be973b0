"""``ami.protocol.parse_message`` (the one-pass parser behind ``SafeAMIProtocol.data_received``) gives what
panoramisk's ``Message.from_line`` gives with every value stripped, on every message Asterisk sent in the
recorded captures and on hostile ones, and reaches the adapter through the real protocol."""

from __future__ import annotations

from typing import Any

import pytest
from panoramisk.message import Message

from clusterpbx.ami.protocol import SafeAMIProtocol, parse_message

from .capture import ASTERISK, server_bytes


def reference(part: str) -> Message | None:
    """The former path: panoramisk's parse, then each string value stripped (bare "\\n" endings)."""
    message = Message.from_line(part.strip())
    if message is None:
        return None
    for key, value in list(message.items()):
        if isinstance(value, str) and value != value.strip():
            message[key] = value.strip()
        elif isinstance(value, list):
            message[key] = [v.strip() for v in value]
    return message


def as_pairs(message: Message | None) -> Any:
    return None if message is None else list(message.items())


def captured_parts() -> list[str]:
    parts = []
    for path in sorted(ASTERISK.glob("*.txt")):
        text = server_bytes(path.name).decode("utf-8", "replace")
        if text.startswith("Asterisk Call Manager/"):
            text = text.split("\r\n", 1)[1]
        parts += [p for p in text.split("\r\n\r\n") if p.strip()]
    return parts


HOSTILE = [
    "Response: Error\r\nActionID: 1\r\nMessage: Permission denied\n",  # bare \n ending (fixtures README)
    "Event: Newchannel\r\nCallerIDName:   spaced  \r\nUniqueid: 1.1",
    "Response: Follows\r\nActionID: 2\r\nOutput: line 1\r\nOutput: line 2 \r\n--END COMMAND--",
    "Response: Fail\r\nActionID: 3\r\n\r\nbody after a blank line",
    "Response: Success\r\nResult: 200%20result%3D1%20\r\nResult: 2%0A",
    "Event: VarSet\r\nVariable: X\r\nValue: a: b: c\r\nvalue: lower case wins\r\nNoColonHere\r\n: empty key",
    "Event: UserEvent\r\nContent: forged content\r\nX: \u00e9t\u00e9 \r\n",
    "Privilege: call,all\r\nUniqueid: 1.2",  # neither Event nor Response: not a message
    "Event: Dup\r\nChanVariable: A=1\r\nChanVariable: B=2 \r\nChanVariable: C=3",
    "\r\n\r\nEvent: Leading\r\nX: y",
    "Event: Newchannel\r\nUNIQUEID: 1.1\r\nuniqueid: 1.2\r\nChannel: PJSIP/201-1",  # one name, two spellings
    "Event: Hangup\r\nContent: x\r\nEVENT: Other",  # the event name spelt twice
    "event: lower\r\nResponse: Success",  # not "Event": the message is a Response
    "",
]


@pytest.mark.parametrize("part", HOSTILE)
def test_hostile_messages_parse_as_panoramisk_with_values_stripped(part: str) -> None:
    assert as_pairs(parse_message(part)) == as_pairs(reference(part))


def test_every_captured_message_parses_as_before() -> None:
    parts = captured_parts()
    assert len(parts) > 500
    for part in parts:
        got, want = parse_message(part), reference(part)
        assert as_pairs(got) == as_pairs(want), part[:200]
        if got is not None and want is not None:
            # what handle_message and the adapter read: ids, attribute access, case-insensitive lookup
            assert (got.id, got.action_id, got.success, got.event, got.get("EVENT")) == \
                   (want.id, want.action_id, want.success, want.event, want.get("EVENT"))
            assert got.manager is None
            for key in [*want, "No-Such-Header"]:  # get(), direct on the store, as Mapping.get answers
                for variant in (key, key.upper(), key.lower()):
                    assert got.get(variant) == want.get(variant)
                    assert got.get(variant, "default") == want.get(variant, "default")
                    attr = variant.replace("-", "_")
                    if not hasattr(Message, attr):  # message.<header> (not a method such as items)
                        assert getattr(got, attr) == getattr(want, attr)


def test_the_protocol_delivers_stripped_values_from_any_cutting_of_reads() -> None:
    got: list[Message] = []
    proto = SafeAMIProtocol()
    proto.connection_made(None)  # type: ignore[arg-type]
    proto.factory = type("F", (), {"dispatch": staticmethod(got.append)})()
    proto.data_received(b"Asterisk Call Manager/11.0.0\r\n")
    stream = (b"Event: Hangup\r\nCause-txt: Normal Clearing\n\r\n\r\n"
              b"Event: Newchannel\r\nCallerIDName: \xc3\xa9 \r\n\r\n")
    for i in range(len(stream)):
        proto.data_received(stream[i:i + 1])
    assert proto.version == "11.0.0"
    assert [(m.event, m.get("cause-txt"), m.get("CallerIDName")) for m in got] == \
           [("Hangup", "Normal Clearing", None), ("Newchannel", None, "é")]
