"""The voicemail spool reader on the recorded real message (fixtures spool/) and on damaged files."""

from __future__ import annotations

import asyncio
import datetime as dt
import shutil
from pathlib import Path

import pytest

from clusterpbx.ami import spool
from clusterpbx.ami.adapter import AsteriskAdapter
from clusterpbx.control.port import MailboxFolder, PbxRefused

from .capture import ASTERISK
from .conftest import address

REAL = ASTERISK / "spool" / "default" / "103" / "INBOX" / "msg0000.txt"


def test_real_message_metadata() -> None:
    fields = spool.parse_message_txt(REAL.read_text())
    assert fields["msg_id"] == "1795797635-00000000"
    assert fields["callerid"] == '"Bob Sales" <101>'
    assert fields["callerchan"] == "PJSIP/101-00000002"


def test_real_spool_through_the_adapter(tmp_path: Path) -> None:
    shutil.copytree(ASTERISK / "spool", tmp_path / "voicemail")
    adapter = AsteriskAdapter(address(1, tmp_path))

    async def body() -> None:
        (msg,) = await adapter.voicemail_messages("103")
        assert (msg.message_id, msg.mailbox, msg.folder, msg.caller_id, msg.duration_seconds) == (
            "1795797635-00000000", "103", MailboxFolder.INBOX, '"Bob Sales" <101>', 25)
        assert msg.received_at == dt.datetime(2026, 11, 27, 16, 40, 35)
        audio = await adapter.voicemail_audio("103", msg.message_id)
        assert audio == (ASTERISK / "spool/default/103/INBOX/msg0000.wav").read_bytes()
        assert await adapter.voicemail_messages("102") == []
        with pytest.raises(PbxRefused):
            await adapter.voicemail_audio("103", "1795797635-00000001")
    asyncio.run(body())


def test_the_fixture_layout_without_a_voicemail_directory_is_accepted() -> None:
    assert spool.voicemail_root(str(ASTERISK / "spool")) == ASTERISK / "spool"


def test_damaged_and_odd_files(tmp_path: Path) -> None:
    inbox = tmp_path / "voicemail" / "default" / "201" / "INBOX"
    old = tmp_path / "voicemail" / "default" / "201" / "Old"
    inbox.mkdir(parents=True)
    old.mkdir(parents=True)
    # Latin-1 caller name, comments, a junk line, spaces around '=', no msg_id, a bad duration.
    (inbox / "msg0000.txt").write_bytes(
        b"; comment\n[message]\norigmailbox=201\ncallerid = \"Fran\xe7ois C\xf4t\xe9\" <205>\njunk line\n"
        b"origtime=1795797000\nduration=abc\n")
    # No origtime: the origdate is used; a second section is ignored.
    (inbox / "msg0001.txt").write_text(
        "[message]\ncallerid=<514>\norigdate=Fri, 27 Nov 2026 16:40:35 +0000\nmsg_id=77-1\nduration=4.6\n"
        "[other]\nmsg_id=not-this-one\n")
    # Nothing useful at all: the file time stands in.
    (old / "msg0000.txt").write_text("garbage\x00\x01\n")
    (old / "msg0000.wav").write_bytes(b"RIFF....")
    (inbox / "README").write_text("not a message")
    msgs = spool.read_mailbox(spool.voicemail_root(str(tmp_path)), "default", "201", "201")
    assert [(m.message.folder, m.message.caller_id, m.message.duration_seconds) for m in msgs] == [
        (MailboxFolder.INBOX, '"François Côté" <205>', 0), (MailboxFolder.INBOX, "<514>", 4),
        (MailboxFolder.OLD, "", 0)]
    assert msgs[0].message.message_id == "1795797000-INBOX-msg0000"
    assert msgs[0].message.received_at == dt.datetime.fromtimestamp(1795797000, dt.UTC).replace(tzinfo=None)
    assert msgs[1].message.message_id == "77-1"
    assert msgs[1].message.received_at == dt.datetime(2026, 11, 27, 16, 40, 35)
    assert msgs[2].audio_path() == old / "msg0000.wav" and msgs[0].audio_path() is None


def test_no_spool_path_is_a_clear_error() -> None:
    adapter = AsteriskAdapter(address(1))
    with pytest.raises(PbxRefused, match="spool"):
        asyncio.run(adapter.voicemail_messages("103"))


def test_web_workers_can_use_the_pure_modules_without_panoramisk() -> None:
    import subprocess
    import sys
    code = ("import sys; import clusterpbx.ami, clusterpbx.ami.translate, clusterpbx.ami.validate, "
            "clusterpbx.ami.spool, clusterpbx.ami.cdr; assert 'panoramisk' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
