"""Nothing unchecked reaches an ESL command line: a space, a newline or an unexpected character in any
value is refused with InvalidValue before a single byte is sent (a raw server records every byte)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from clusterpbx.control.port import ExtensionFeatures, MailboxFolder, PhoneVendor
from clusterpbx.control.validation import InvalidValue
from clusterpbx.esl.adapter import FreeSwitchAdapter

from .conftest import adapter_for, run, settle
from .rawserver import RawServer

BAD_WORDS = ("10 01", "1001\n\napi fsctl shutdown", "1001\r", "1001;x", "1001'x", "1001|x", "1001/x", "",
             "1001\u2028x", "1001\x00")
BAD_NUMBERS = ("06 12\n34", "0612x", "0612;1", "06|12", "*'#", "")
Op = Callable[[FreeSwitchAdapter, str], Awaitable[object]]

WORD_OPS: dict[str, Op] = {
    "queue_login.queue": lambda a, v: a.queue_login(v, "PJSIP/1001"),
    "queue_login.interface": lambda a, v: a.queue_login("support@default", "PJSIP/" + v),
    "queue_login.agent": lambda a, v: a.queue_login("support@default", v),
    "queue_logout": lambda a, v: a.queue_logout("support@default", v),
    "queue_pause.interface": lambda a, v: a.queue_pause("support@default", v, "ok"),
    "queue_resume": lambda a, v: a.queue_resume(v, "PJSIP/1001"),
    "queue_members": lambda a, v: a.queue_members(v or "x y"),
    "conference_participants": lambda a, v: a.conference_participants(v or "x y"),
    "conference_kick.room": lambda a, v: a.conference_kick(v, "1"),
    "conference_kick.id": lambda a, v: a.conference_kick("3000", v),
    "conference_mute.id": lambda a, v: a.conference_mute("3000", v, True),
    "write_features.extension": lambda a, v: a.write_features(v, ExtensionFeatures()),
    "read_features": lambda a, v: a.read_features(v),
    "voicemail_messages": lambda a, v: a.voicemail_messages(v),
    "voicemail_audio.id": lambda a, v: a.voicemail_audio("1000", v),
    "voicemail_delete.id": lambda a, v: a.voicemail_delete("1000", [v]),
    "voicemail_move.id": lambda a, v: a.voicemail_move("1000", [v], MailboxFolder.OLD),
    "voicemail_refresh": lambda a, v: a.voicemail_refresh(v),
    "mailbox_counts": lambda a, v: a.mailbox_counts(v),
    "resync_phone": lambda a, v: a.resync_phone(v, PhoneVendor.OTHER),
    "click_to_call.endpoint": lambda a, v: a.click_to_call(v, "1002"),
    "send_message.from": lambda a, v: a.send_message(v, "1002", "hi"),
    "send_message.trunk": lambda a, v: a.send_message("1001", "1002", "hi", trunk=v or "a b"),
}
NUMBER_OPS: dict[str, Op] = {
    "click_to_call.number": lambda a, v: a.click_to_call("1001", v),
    "click_to_call.caller_id": lambda a, v: a.click_to_call("1001", "1002", caller_id=v or "x"),
    "send_message.to": lambda a, v: a.send_message("1001", v, "hi"),
    "write_features.forward": lambda a, v: a.write_features("1001", ExtensionFeatures(forward_always=v or "x")),
    "write_features.followme": lambda a, v: a.write_features("1001", ExtensionFeatures(followme_numbers=(v or "x",))),
}
TEXT_OPS: dict[str, Op] = {
    "queue_pause.reason": lambda a, v: a.queue_pause("support@default", "PJSIP/1001", v),
}
BAD_TEXTS = ("line one\nline two", "x\r\napi fsctl shutdown", "tab\there", "nul\x00")
# An SMS text may hold line feeds (sent escaped, as the two characters \n); nothing else.
BAD_BODIES = ("x\r\napi fsctl shutdown", "x\rY", "tab\there", "nul\x00", "x\u2028y", " ", "é" * 1001)


def _all_refused(raw: RawServer, cases: list[tuple[str, Op, str]]) -> None:
    async def go() -> None:
        a = adapter_for(raw.port)
        await a.start()
        try:
            await settle(a)
            before = bytes(raw.received)
            for label, op, value in cases:
                with pytest.raises(InvalidValue):
                    await op(a, value)
                    pytest.fail(f"{label} accepted {value!r}")
            await asyncio.sleep(0.1)
            assert bytes(raw.received) == before, "bytes reached the wire"
        finally:
            await a.stop()

    run(go())


def test_bad_words_never_reach_the_wire(raw: RawServer) -> None:
    _all_refused(raw, [(k, op, v) for k, op in WORD_OPS.items() for v in BAD_WORDS])


def test_bad_numbers_never_reach_the_wire(raw: RawServer) -> None:
    _all_refused(raw, [(k, op, v) for k, op in NUMBER_OPS.items() for v in BAD_NUMBERS])


def test_bad_texts_never_reach_the_wire(raw: RawServer) -> None:
    cases = [(k, op, v) for k, op in TEXT_OPS.items() for v in BAD_TEXTS]
    body: Op = lambda a, v: a.send_message("1001", "1002", v)  # noqa: E731
    _all_refused(raw, cases + [("send_message.body", body, v) for v in BAD_BODIES])


def test_good_values_do_reach_the_wire(raw: RawServer) -> None:
    async def go() -> None:
        a = adapter_for(raw.port)
        await a.start()
        try:
            await a.send_message("1001", "+33 6 12 34 56 78", "Bonjour, ça va ?")
        except Exception as exc:  # the raw server answers +OK, not "Sent"
            assert "chat" in str(exc)
        finally:
            await a.stop()
        assert "api chat sip|1001@127.0.0.1|internal/+33612345678@127.0.0.1|Bonjour, ça va ?|text/plain" in raw.commands

    run(go())
