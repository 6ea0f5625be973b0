"""Commands about the PBX nodes themselves: `ping` (the daemon's view, `clusterpbx control --status`),
`reload_node` (after `clusterpbx dialplan apply`) and `test_node` (the administrator's "Tester la
connexion")."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from ..models import PbxNode
from ..port import PbxError
from .core import ControlDaemon
from .registry import command
from .wiring import node_address


@command
async def cmd_ping(daemon: ControlDaemon) -> dict[str, Any]:
    return {"holder": daemon.holder, "leader": daemon.is_leader, "cluster": daemon.cluster, "address": daemon.address,
            "nodes": {r.name: {"connected": r.port.connected, "events": r.projector.stats.events}
                      for r in daemon.nodes.values()}}


@command
async def cmd_reload_node(daemon: ControlDaemon, node: str, files: list[str] | None = None) -> dict[str, Any]:
    """`files`: the generated files that changed (only their modules are reloaded); none: all."""
    runner = next((r for r in daemon.nodes.values() if r.name == node), None)
    if runner is None:
        raise LookupError(f"no running node named {node!r}")
    names = [str(f)[:200] for f in (files or [])][:50]
    await runner.port.reload_configuration(names)
    return {"node": node, "files": names}


@command
async def cmd_test_node(daemon: ControlDaemon, node_id: int) -> dict[str, Any]:
    """The admin's "test connection": a short-lived connection with the node's stored credentials,
    through the same adapter factory, logged in and closed again. Answers within the portal's
    command timeout with ok and a message (never the secret)."""
    budget = max(1.0, daemon.timeout * 0.8)
    node = await daemon.db.read(lambda db: db.get(PbxNode, int(node_id)))
    if node is None:
        raise LookupError("no such node")
    address = node_address(node, max(0.5, budget / 3))
    where = f"{node.kind.value} {node.host}:{node.port}"
    try:
        adapter = daemon.port_factory(node, address)
    except Exception as exc:  # an invalid option, a missing adapter
        return {"ok": False, "message": f"{where}: {exc}"}
    try:
        await asyncio.wait_for(adapter.start(), timeout=budget * 0.75)
    except PbxError as exc:
        return {"ok": False, "message": f"{where}: {exc}"}
    except TimeoutError:
        return {"ok": False, "message": f"{where}: no answer within {budget * 0.75:.1f} s"}
    except Exception as exc:
        return {"ok": False, "message": f"{where}: {type(exc).__name__}: {exc}"}
    finally:
        with contextlib.suppress(BaseException):
            await asyncio.wait_for(adapter.stop(), timeout=budget * 0.25)
    return {"ok": True, "message": f"{where}: logged in"}
