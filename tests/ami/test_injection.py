"""Injection attempts through every operation: CR/LF and other control characters, over-long strings,
shell and dialplan metacharacters where a number or a name is expected. Each is refused with
InvalidValue before any byte is sent, which a raw server recording everything it receives proves."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from clusterpbx.ami import validate
from clusterpbx.ami.adapter import AsteriskAdapter
from clusterpbx.control.port import ExtensionFeatures, MailboxFolder, PhoneVendor
from clusterpbx.control.validation import InvalidValue

from .conftest import address
from .rawserver import RawAmiServer

INJECT = "\r\nAction: Originate\r\nChannel: Local/666@evil\r\n"
BAD_NUMBERS = ["102\r\nAction: Hangup", "102\n", "102\x00", "1" * 40, "102&PJSIP/103", "102,30,tT",
               "${SHELL}", "102;rm -rf /", "$(reboot)", "10`id`2", "102|103", "+33 6 12 34 56 78\r",
               "102\u202e", ""]
BAD_NAMES = ["support\r\nAction: QueueRemove", "x" * 200, "sup port", "support;evil", "../etc", "a\tb", "${X}", ""]

Op = Callable[[AsteriskAdapter], Awaitable[Any]]


def operations() -> list[tuple[str, Op]]:
    ops: list[tuple[str, Op]] = []
    for n in BAD_NUMBERS:
        ops += [
            (f"click_to_call number {n!r}", lambda a, n=n: a.click_to_call("101", n)),
            (f"send_message to {n!r}", lambda a, n=n: a.send_message("101", n, "hi")),
            (f"forward {n!r}", lambda a, n=n: a.write_features("101", ExtensionFeatures(forward_always=n or "x"))),
            (f"followme {n!r}", lambda a, n=n: a.write_features("101", ExtensionFeatures(followme_numbers=(n,)))),
            (f"extension {n!r}", lambda a, n=n: a.read_features(n)),
            (f"mailbox {n!r}", lambda a, n=n: a.mailbox_counts(n)),
        ]
    for s in BAD_NAMES:
        ops += [
            (f"queue {s!r}", lambda a, s=s: a.queue_login(s, "PJSIP/104")),
            (f"queue_members {s!r}", lambda a, s=s: a.queue_members(s or "x y")),
            (f"interface {s!r}", lambda a, s=s: a.queue_logout("support", s)),
            (f"room {s!r}", lambda a, s=s: a.conference_kick(s, "PJSIP/105-00000007")),
            (f"participant {s!r}", lambda a, s=s: a.conference_mute("500", s, True)),
            (f"endpoint {s!r}", lambda a, s=s: a.resync_phone(s, PhoneVendor.YEALINK)),
            (f"click endpoint {s!r}", lambda a, s=s: a.click_to_call(s, "102")),
            (f"trunk {s!r}", lambda a, s=s: a.send_message("101", "102", "hi", s or "a b")),
            (f"message id {s!r}", lambda a, s=s: a.voicemail_delete("103", [s])),
        ]
    ops += [
        ("member name CRLF", lambda a: a.queue_login("support", "PJSIP/104", "Erin" + INJECT)),
        ("member name too long", lambda a: a.queue_login("support", "PJSIP/104", "E" * 81)),
        ("pause reason CRLF", lambda a: a.queue_pause("support", "PJSIP/104", "lunch" + INJECT)),
        ("caller id CRLF", lambda a: a.click_to_call("101", "102", '"Portal" <999>' + INJECT)),
        ("caller id quote", lambda a: a.click_to_call("101", "102", '"Por"tal" <999>')),
        ("caller id number", lambda a: a.click_to_call("101", "102", "Portal <9;9>")),
        ("body CR", lambda a: a.send_message("101", "102", "hi\rAction: Originate")),
        ("body NUL", lambda a: a.send_message("101", "102", "hi\x00")),
        ("body too long", lambda a: a.send_message("101", "102", "x" * 1601)),
        ("mailbox context", lambda a: a.voicemail_refresh("103@default\r\nAction: Logoff")),
        ("move folder", lambda a: a.voicemail_move("103", ["1-2"], "INBOX\r\n")),  # type: ignore[arg-type]
    ]
    return ops


OPS = operations()


def test_every_injection_is_refused_before_any_byte_is_sent() -> None:
    async def body() -> list[str]:
        server = RawAmiServer()
        await server.start()
        adapter = AsteriskAdapter(address(server.port))
        await adapter.start()
        # Let the login-time requests (the PJSIP contact cache) be answered, then freeze what was
        # received (waiting for the adapter's own task, not a fixed pause a busy machine outlasts).
        deadline = asyncio.get_running_loop().time() + 30
        while (adapter._tasks or not server.actions("PJSIPShowContacts")) \
                and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.01)
        assert server.actions("PJSIPShowContacts") and not adapter._tasks
        before = bytes(server.received)
        not_refused = []
        for label, op in OPS:
            try:
                await asyncio.wait_for(op(adapter), 1.0)
            except (InvalidValue, ValueError):
                continue
            except Exception as exc:  # noqa: BLE001 - anything else means it got through validation
                not_refused.append(f"{label}: {type(exc).__name__}: {exc}")
            else:
                not_refused.append(f"{label}: accepted")
        await asyncio.sleep(0.05)
        assert bytes(server.received) == before
        assert b"666" not in server.received and b"Originate" not in server.received
        await adapter.stop()
        await server.stop()
        return not_refused

    assert asyncio.run(body()) == []


def test_mailbox_folder_must_be_a_known_folder() -> None:
    with pytest.raises(ValueError):
        MailboxFolder("INBOX\r\n")


@pytest.mark.parametrize("value", ["a\r\nb", "\n", "x\x1b[31m", "a\u2029b", "z" * 1001])
def test_the_wire_level_check_refuses_what_slipped_through(value: str) -> None:
    with pytest.raises(InvalidValue):
        validate.check_headers({"Action": "Ping", "Value": value})


@pytest.mark.parametrize(("raw", "clean"), [("06 12 34 56 78", "0612345678"), ("+1 (514) 555-1234", "+15145551234"),
                                            ("*97", "*97"), ("102#", "102#")])
def test_numbers_people_type_are_cleaned(raw: str, clean: str) -> None:
    assert validate.dial_number(raw) == clean


@pytest.mark.parametrize(("raw", "clean"), [("Portal <999>", '"Portal" <999>'), ('"JP Vallée" <202>', '"JP Vallée" <202>'),
                                            ("5145551234", "<5145551234>")])
def test_caller_ids_are_rebuilt(raw: str, clean: str) -> None:
    assert validate.caller_id(raw) == clean
