"""Voicemail delete and mark-heard on the real Asterisk 22 of the lab (issue 19 item 6), through the AMI
user docs/operators.md gives (write class `user`, as lab/asterisk.sh configures it): a message left by
app_voicemail in a mailbox of the generated configuration, the message lamp of the user's SIPp phone
(MWI NOTIFY), then AsteriskAdapter.voicemail_delete / voicemail_move (what the portal's "Messagerie
vocale" screen calls): the file goes, the lamp goes off. With write class `user` missing, Asterisk
answered "Permission denied": the portal said the voicemail was unreachable, the file and the lamp stayed."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from pathlib import Path

import pytest

from clusterpbx.ami.adapter import AsteriskAdapter
from clusterpbx.control.port import ExtensionFeatures, MailboxFolder
from tests.real import asterisk_calls as ac

pytestmark = pytest.mark.real
BOX = f"204@cpbx-{ac.SLUG}"


async def leave_message(adapter: AsteriskAdapter, folder: Path) -> None:
    """201 leaves a message in 204's box: a Local call into the company's dialplan (204 is out of office:
    straight to app_voicemail) that plays a recording into it and hangs up once it is being recorded."""
    before = len(list(folder.glob("msg*.txt")))
    await adapter._action({"Action": "Originate", "Channel": f"Local/204@cpbx-{ac.SLUG}", "Application": "Playback",
                           "Data": "demo-congrats", "CallerID": '"Amélie Roy" <201>', "Async": "true"})
    await asyncio.sleep(14)  # greeting, instructions, then about 3 s of message
    await adapter._action({"Action": "Hangup", "Channel": f"/^Local\\/204@cpbx-{ac.SLUG}-.*;1$/"})
    for _ in range(50):
        if len(list(folder.glob("msg*.txt"))) > before:
            return
        await asyncio.sleep(0.2)
    raise AssertionError("app_voicemail kept no message")


async def lamp(phone: ac.Phone, state: str, timeout: float = 8.0) -> bool:
    """Whether the phone was told 'Messages-Waiting: <state>' since its last mark()."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        phone.watch()
        if phone.did(f"MWI Messages-Waiting: {state}"):
            return True
        await asyncio.sleep(0.1)
    return False


def test_delete_and_mark_heard_remove_the_file_and_turn_the_lamp_off(asterisk_lab, sipp, tmp_path):
    spool = Path(asterisk_lab["CPBX_LAB_AST_SPOOL"])
    inbox = spool / "voicemail" / f"cpbx-{ac.SLUG}" / "204" / "INBOX"

    async def scenario() -> None:
        async with ac.company(asterisk_lab, tmp_path) as (adapter, _records):
            adapter.address = dataclasses.replace(adapter.address, spool_path=str(spool))
            for old in inbox.parent.glob("*/msg*"):
                old.unlink()
            await adapter.voicemail_refresh(BOX)
            await adapter.write_features(f"{ac.PREFIX}204", ExtensionFeatures(out_of_office=True))
            with ac.phones(sipp, asterisk_lab, {"204": "answer"}) as devices:
                phone = devices["204"]
                # 1. A new message lights the lamp; deleting it from the portal removes it and the lamp.
                phone.mark()
                await leave_message(adapter, inbox)
                assert await lamp(phone, "yes"), phone.seen
                (message,) = await adapter.voicemail_messages(BOX)
                assert message.folder is MailboxFolder.INBOX and "<201>" in message.caller_id
                assert (await adapter.mailbox_counts(BOX)).new == 1
                phone.mark()
                await adapter.voicemail_delete(BOX, [message.message_id])
                assert not list(inbox.glob("msg*")), list(inbox.iterdir())
                assert await adapter.voicemail_messages(BOX) == []
                counts = await adapter.mailbox_counts(BOX)
                assert (counts.new, counts.old) == (0, 0)
                assert await lamp(phone, "no"), phone.seen

                # 2. Marked heard (moved to Old): kept, and the lamp goes off.
                phone.mark()
                await leave_message(adapter, inbox)
                assert await lamp(phone, "yes"), phone.seen
                (message,) = await adapter.voicemail_messages(BOX)
                phone.mark()
                await adapter.voicemail_move(BOX, [message.message_id], MailboxFolder.OLD)
                (heard,) = await adapter.voicemail_messages(BOX)
                assert heard.folder is MailboxFolder.OLD and heard.message_id == message.message_id
                assert list((inbox.parent / "Old").glob("msg*.txt")) and not list(inbox.glob("msg*"))
                counts = await adapter.mailbox_counts(BOX)
                assert (counts.new, counts.old) == (0, 1)
                assert await lamp(phone, "no"), phone.seen
                await adapter.voicemail_delete(BOX, [heard.message_id])
                assert not list((inbox.parent / "Old").glob("msg*"))

    asyncio.run(scenario())
