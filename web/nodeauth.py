"""HTTP basic authentication of a PBX node calling the portal (mod_json_cdr, mod_xml_curl): the user is
the node's name in ClusterPBX, the password its ESL password."""

from __future__ import annotations

import hmac
import logging

from flask import Response, request
from sqlalchemy import select

from clusterpbx.control.models import NodeKind, PbxNode

from .db import get_db

log = logging.getLogger("clusterpbx.web.nodeauth")


def freeswitch_node(node_name: str, realm: str) -> PbxNode | Response:
    """The authenticated FreeSWITCH node, or the 401 response to send (logged, nothing revealed)."""
    node = get_db().scalar(select(PbxNode).where(PbxNode.name == node_name, PbxNode.kind == NodeKind.FREESWITCH))
    auth = request.authorization
    if (node is None or auth is None or auth.type != "basic" or auth.username != node.name
            or not hmac.compare_digest((auth.password or "").encode(), node.secret.encode())):
        log.warning("%s: refused request for node %r from %s", realm, node_name, request.remote_addr)
        return Response("unauthorized\n", 401, mimetype="text/plain",
                        headers={"WWW-Authenticate": f'Basic realm="{realm}"'})
    return node
