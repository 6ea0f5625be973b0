"""Conférence personnelle's commands: who is in the user's room, kick, mute. The room always comes
from the user, never from the request (control/conference.py names it)."""

from __future__ import annotations

from typing import Any

from ..conference import room_name
from .core import ControlDaemon
from .registry import command
from .runner import NodeRunner


async def _own_room(daemon: ControlDaemon, user_id: int) -> tuple[NodeRunner, str]:
    return await daemon.for_user(user_id, room_name)


@command
async def cmd_conference_participants(daemon: ControlDaemon, user_id: int) -> dict[str, Any]:
    runner, room = await _own_room(daemon, user_id)
    people = await runner.port.conference_participants(room)
    return {"room": room, "participants": [
        {"id": p.participant_id, "number": p.caller_number, "name": p.caller_name, "admin": p.admin,
         "muted": p.muted, "listen_only": p.listen_only} for p in people]}


async def _own_participant(daemon: ControlDaemon, user_id: int, participant_id: str) -> tuple[NodeRunner, str, str]:
    runner, room = await _own_room(daemon, user_id)
    pid = str(participant_id)
    # Only someone in the owner's room right now: an id from another room is "not found".
    if not any(p.participant_id == pid for p in await runner.port.conference_participants(room)):
        raise LookupError("no such participant")
    return runner, room, pid


@command
async def cmd_conference_kick(daemon: ControlDaemon, user_id: int, participant_id: str) -> dict[str, Any]:
    runner, room, pid = await _own_participant(daemon, user_id, participant_id)
    await runner.port.conference_kick(room, pid)
    return {"room": room, "kicked": pid}


@command
async def cmd_conference_mute(daemon: ControlDaemon, user_id: int, participant_id: str, muted: bool) -> dict[str, Any]:
    runner, room, pid = await _own_participant(daemon, user_id, participant_id)
    await runner.port.conference_mute(room, pid, bool(muted))
    return {"room": room, "participant": pid, "muted": bool(muted)}
