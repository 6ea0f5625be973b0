"""Live configuration for FreeSWITCH's mod_xml_curl (directory, dialplan, configuration sections),
rendered from the database at request time. Authenticated with HTTP basic (web/nodeauth.py), which
mod_xml_curl sends pre-emptively (`gateway-credentials`)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request

from clusterpbx.dialplan.freeswitch import xml_curl_response
from clusterpbx.dialplan.from_db import node_snapshot

from .. import csrf
from ..db import get_db
from ..nodeauth import freeswitch_node

bp = Blueprint("xmlcurl", __name__, url_prefix="/freeswitch")


@bp.route("/xml-curl/<node_name>", methods=["POST"])
@csrf.exempt
def xml_curl(node_name: str) -> Any:
    node = freeswitch_node(node_name, "clusterpbx-xml-curl")
    if isinstance(node, Response):
        return node
    document = xml_curl_response(node_snapshot(get_db(), node), request.form.to_dict())
    return Response(document, 200, mimetype="text/xml")
