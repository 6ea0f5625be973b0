"""The one module that picks the adapters: which `PbxPort` implementation serves a node, and with what
address. Web workers never load the adapters (docs/architecture.md): only this module names `ami/` and
`esl/`, and imports each only when a node of its kind starts."""

from __future__ import annotations

from collections.abc import Callable

from ..models import NodeKind, PbxNode
from ..port import NodeAddress, PbxPort

PortFactory = Callable[[PbxNode, NodeAddress], PbxPort]


def default_port_factory(node: PbxNode, address: NodeAddress) -> PbxPort:
    """The production adapters, imported here only, and only the node's own (greenswitch loads gevent)."""
    if node.kind is NodeKind.ASTERISK:
        from clusterpbx.ami.adapter import AsteriskAdapter

        port: PbxPort = AsteriskAdapter(address)
        return port
    from clusterpbx.esl.adapter import FreeSwitchAdapter

    port = FreeSwitchAdapter(address)
    return port


def node_address(node: PbxNode, timeout: float) -> NodeAddress:
    return NodeAddress(host=node.host, port=node.port, username=node.username, secret=node.secret,
                       spool_path=node.spool_path, sip_domain=node.sip_domain, timeout=timeout,
                       extra={str(k): str(v) for k, v in (node.options or {}).items()})
