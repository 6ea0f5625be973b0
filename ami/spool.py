"""Reading app_voicemail's spool: ``<spool>/voicemail/<context>/<box>/<folder>/msgNNNN.{txt,wav}``. The
``.txt`` metadata is parsed leniently (comments, missing or garbled fields, any encoding), since a
half-written or hand-edited file must not hide the rest of the mailbox."""

from __future__ import annotations

import datetime as dt
import email.utils
import re
from dataclasses import dataclass
from pathlib import Path

from clusterpbx.control.port import MailboxFolder, VoicemailMessage

_MSG = re.compile(r"^msg(\d{4})\.txt$")
# Formats app_voicemail may record in (voicemail.conf "format="), most likely first.
AUDIO_SUFFIXES = (".wav", ".WAV", ".gsm", ".ulaw", ".alaw", ".g722")


@dataclass(frozen=True)
class SpoolMessage:
    message: VoicemailMessage
    txt: Path

    def audio_path(self) -> Path | None:
        for suffix in AUDIO_SUFFIXES:
            p = self.txt.with_suffix(suffix)
            if p.is_file():
                return p
        return None


def voicemail_root(spool_path: str) -> Path:
    """The node's spool directory (``/var/spool/asterisk``); a path that already ends in
    ``voicemail`` (or holds the contexts directly, like the fixtures) is accepted too."""
    root = Path(spool_path)
    return root / "voicemail" if (root / "voicemail").is_dir() else root


def parse_message_txt(text: str) -> dict[str, str]:
    """key=value lines of the [message] section; comments, other sections and junk are skipped."""
    fields: dict[str, str] = {}
    section = "message"
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in ";#":
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip().lower()
            continue
        if section != "message" or "=" not in line:
            continue
        key, _, value = line.partition("=")
        fields.setdefault(key.strip().lower(), value.strip())
    return fields


def _read_text(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")  # older files in the system's 8-bit charset


def _received_at(fields: dict[str, str], path: Path) -> dt.datetime:
    try:
        return dt.datetime.fromtimestamp(int(fields["origtime"]), dt.UTC).replace(tzinfo=None)
    except (KeyError, ValueError, OverflowError, OSError):
        pass
    try:
        parsed = email.utils.parsedate_to_datetime(fields.get("origdate", ""))
        if parsed.tzinfo is not None:
            return parsed.astimezone(dt.UTC).replace(tzinfo=None)
    except (TypeError, ValueError, IndexError):
        pass
    return dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC).replace(tzinfo=None)


def _duration(fields: dict[str, str]) -> int:
    try:
        return max(0, int(float(fields.get("duration", "0") or 0)))
    except ValueError:
        return 0


def read_mailbox(root: Path, context: str, box: str, mailbox_label: str) -> list[SpoolMessage]:
    """Every message of a mailbox, folder by folder, in Asterisk's order (msg0000 first)."""
    out: list[SpoolMessage] = []
    base = root / context / box
    for folder in MailboxFolder:
        d = base / folder.value
        if not d.is_dir():
            continue
        for txt in sorted(p for p in d.iterdir() if _MSG.match(p.name)):
            try:
                fields = parse_message_txt(_read_text(txt))
                received = _received_at(fields, txt)
            except OSError:
                continue  # removed while we listed the folder
            # Without a msg_id (files from before Asterisk 11) the origtime and file name stand in.
            mid = fields.get("msg_id") or f"{fields.get('origtime', '0')}-{folder.value}-{txt.stem}"
            out.append(SpoolMessage(VoicemailMessage(
                message_id=mid, mailbox=mailbox_label, folder=folder, caller_id=fields.get("callerid", ""),
                received_at=received, duration_seconds=_duration(fields)), txt))
    return out
