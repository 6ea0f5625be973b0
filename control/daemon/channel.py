"""The daemon's side of the command channel (control/commands.py is the client's): JSON lines over TCP
with the shared secret. A request names a command of the registry (registry.py) and its arguments; the
reply is `{"ok": true, "result": ...}` or `{"ok": false, "error": ..., "message": ...}`.

In cluster mode a command about a node another daemon owns is forwarded once to that daemon (the same
request, secret included) and its reply passed back (control/cluster.py)."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .. import cluster as clustering
from ..commands import MAX_REPLY, check_secret
from ..db import AsyncDb
from ..port import PbxError
from ..validation import InvalidValue
from .registry import COMMANDS


def advertised_address(host: str, port: int) -> str:
    """The "host:port" other daemons reach a command channel bound to host at: the machine's name when
    it listens on every address."""
    if host in ("", "0.0.0.0", "::"):  # noqa: S104 (a comparison, not a bind)
        host = socket.getfqdn()
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


@dataclass
class CommandChannel:
    """Answers one request per connection. `context` is what every handler gets first (the daemon);
    `owns(node_id)`: whether this daemon runs that node now (cluster mode's routing)."""

    context: Any
    secret: str
    timeout: float
    db: AsyncDb
    holder: str
    cluster: bool
    owns: Callable[[int], bool]

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await asyncio.wait_for(reader.readline(), timeout=10)
            reply = await self.handle(line)
        except (TimeoutError, ValueError, asyncio.LimitOverrunError) as exc:
            reply = {"ok": False, "error": "invalid", "message": str(exc)}
        try:
            writer.write(json.dumps(reply).encode() + b"\n")
            await writer.drain()
        finally:
            writer.close()

    async def handle(self, line: bytes) -> dict[str, Any]:
        try:
            request = json.loads(line)
        except ValueError:
            return {"ok": False, "error": "invalid", "message": "not JSON"}
        if not isinstance(request, dict) or not check_secret(self.secret, request.get("secret")):
            return {"ok": False, "error": "forbidden", "message": "bad secret"}
        name = request.get("command")
        handler = COMMANDS.get(name) if isinstance(name, str) else None
        if not isinstance(name, str) or not name.isidentifier() or handler is None:
            return {"ok": False, "error": "invalid", "message": f"unknown command {name!r}"}
        args = request.get("args") or {}
        routed = await self.route(name, args, request)
        if routed is not None:
            return routed
        try:
            result = await asyncio.wait_for(handler(self.context, **args), timeout=self.timeout * 2)
        except PbxError as exc:
            return {"ok": False, "error": type(exc).__name__, "message": str(exc)}
        except InvalidValue as exc:
            return {"ok": False, "error": "invalid", "message": f"{exc.field}: {exc.code}"}
        except (TypeError, LookupError) as exc:
            return {"ok": False, "error": "invalid", "message": str(exc)}
        except TimeoutError:
            return {"ok": False, "error": "PbxTimeout", "message": "the PBX did not answer in time"}
        return {"ok": True, "result": result}

    async def route(self, name: str, args: Any, request: dict[str, Any]) -> dict[str, Any] | None:
        """In cluster mode, the reply of the daemon that owns the command's node when it is not this one
        (the same request, secret included, forwarded once); None: run the command here."""
        if not self.cluster or name == "ping" or not isinstance(args, dict):
            return None
        target = await self.db.read(lambda db: clustering.command_node(db, name, args))
        if target is None or self.owns(target.node_id):
            return None
        unowned = {"ok": False, "error": "daemon_unavailable",
                   "message": f"no control daemon owns node {target.node_name} right now; try again shortly"}
        owner = None if request.get("forwarded") else await self.db.read(
            lambda db: clustering.owner_of(db, target.node_id))
        if owner is None or owner.holder == self.holder:
            return unowned if target.required else None
        return await self.forward(owner, target, request)

    async def forward(self, owner: clustering.Owner, target: clustering.Target,
                       request: dict[str, Any]) -> dict[str, Any]:
        where = f"the control daemon owning node {target.node_name} ({owner.address})"
        payload = json.dumps({**request, "forwarded": True}).encode() + b"\n"
        try:
            host, port = clustering.split_address(owner.address)
            async with asyncio.timeout(self.timeout * 2):  # as long as this daemon's own commands may take
                reader, writer = await asyncio.open_connection(host, port, limit=MAX_REPLY)
                try:
                    writer.write(payload)
                    await writer.drain()
                    line = await reader.readline()
                finally:
                    writer.close()
        except TimeoutError:
            return {"ok": False, "error": "daemon_unavailable", "message": f"{where} did not answer in time"}
        except (OSError, ValueError) as exc:
            return {"ok": False, "error": "daemon_unavailable", "message": f"{where} is not reachable ({exc})"}
        try:
            reply = json.loads(line)
        except ValueError:
            reply = None
        if not isinstance(reply, dict):
            return {"ok": False, "error": "daemon_unavailable", "message": f"{where} sent an unreadable reply"}
        return reply

