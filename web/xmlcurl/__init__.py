"""Live configuration for FreeSWITCH's mod_xml_curl (directory, dialplan, configuration sections),
rendered from the database at request time. Authenticated with HTTP basic (node name, ESL password),
which mod_xml_curl sends pre-emptively (`gateway-credentials`)."""

from __future__ import annotations

import hmac
import logging
from typing import Any

from flask import Blueprint, Response, request
from sqlalchemy import select

from clusterpbx.control.models import NodeKind, PbxNode
from clusterpbx.dialplan.freeswitch import xml_curl_response
from clusterpbx.dialplan.from_db import node_snapshot

from .. import csrf
from ..db import get_db

bp = Blueprint("xmlcurl", __name__, url_prefix="/freeswitch")
log = logging.getLogger("clusterpbx.web.xmlcurl")


@bp.route("/xml-curl/<node_name>", methods=["POST"])
@csrf.exempt
def xml_curl(node_name: str) -> Any:
    db = get_db()
    node = db.scalar(select(PbxNode).where(PbxNode.name == node_name, PbxNode.kind == NodeKind.FREESWITCH))
    auth = request.authorization
    if (node is None or auth is None or auth.type != "basic" or auth.username != node.name
            or not hmac.compare_digest((auth.password or "").encode(), node.secret.encode())):
        log.warning("xml_curl: refused request for node %r from %s", node_name, request.remote_addr)
        return Response("unauthorized\n", 401, mimetype="text/plain",
                        headers={"WWW-Authenticate": 'Basic realm="clusterpbx-xml-curl"'})
    document = xml_curl_response(node_snapshot(db, node), request.form.to_dict())
    return Response(document, 200, mimetype="text/xml")
