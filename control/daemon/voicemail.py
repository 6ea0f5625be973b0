"""Messagerie vocale's commands: the user's own messages, listed, played, deleted, marked heard. The
mailbox always comes from the user, never from the request."""

from __future__ import annotations

import base64
from typing import Any

from sqlalchemy.orm import Session

from ..models import User
from ..pbxnames import PbxNames
from ..port import MailboxFolder
from .core import ControlDaemon
from .registry import command
from .runner import NodeRunner


async def _mailboxes(daemon: ControlDaemon, user_id: int) -> tuple[NodeRunner, list[str]]:
    def boxes(db: Session, user: User) -> list[str]:
        names = PbxNames.for_tenant(db, user.tenant)
        return [names.mailbox(e) for e in user.extensions if e.mailbox]

    return await daemon.for_user(user_id, boxes)


@command
async def cmd_voicemail_list(daemon: ControlDaemon, user_id: int) -> dict[str, Any]:
    """The user's own messages: the mailbox comes from the user, never from the request."""
    runner, boxes = await _mailboxes(daemon, user_id)
    out = []
    for box in boxes:
        for m in await runner.port.voicemail_messages(box):
            out.append({"id": m.message_id, "mailbox": box, "folder": m.folder.value, "caller": m.caller_id,
                        "received_at": m.received_at.isoformat(), "duration": m.duration_seconds})
    return {"messages": out}


async def _own_message(daemon: ControlDaemon, user_id: int, message_id: str) -> tuple[NodeRunner, str]:
    runner, boxes = await _mailboxes(daemon, user_id)
    for box in boxes:
        if any(m.message_id == message_id for m in await runner.port.voicemail_messages(box)):
            return runner, box
    raise LookupError("no such message")


@command
async def cmd_voicemail_audio(daemon: ControlDaemon, user_id: int, message_id: str) -> dict[str, Any]:
    runner, box = await _own_message(daemon, user_id, str(message_id))
    audio = await runner.port.voicemail_audio(box, str(message_id))
    if len(audio) > 24 << 20:
        raise LookupError("message too large")
    return {"audio": base64.b64encode(audio).decode()}


@command
async def cmd_voicemail_delete(daemon: ControlDaemon, user_id: int, message_ids: list[str]) -> dict[str, Any]:
    deleted = 0
    for mid in [str(m) for m in message_ids][:500]:
        runner, box = await _own_message(daemon, user_id, mid)
        await runner.port.voicemail_delete(box, [mid])
        deleted += 1
    runner, boxes = await _mailboxes(daemon, user_id)
    for box in boxes:
        await runner.port.voicemail_refresh(box)  # the phone's message-waiting light
    return {"deleted": deleted}


@command
async def cmd_voicemail_mark_heard(daemon: ControlDaemon, user_id: int, message_ids: list[str]) -> dict[str, Any]:
    moved = 0
    for mid in [str(m) for m in message_ids][:500]:
        runner, box = await _own_message(daemon, user_id, mid)
        await runner.port.voicemail_move(box, [mid], MailboxFolder.OLD)
        moved += 1
    runner, boxes = await _mailboxes(daemon, user_id)
    for box in boxes:
        await runner.port.voicemail_refresh(box)
    return {"moved": moved}
