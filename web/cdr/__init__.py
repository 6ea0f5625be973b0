"""The endpoint FreeSWITCH's mod_json_cdr posts call records to (one POST per call leg).

Authenticated with HTTP basic (web/nodeauth.py). Ingestion is idempotent, so FreeSWITCH's retries and
the error-directory catch-up never duplicate a call.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request

from clusterpbx.control import callrecords
from clusterpbx.esl.json_cdr import InvalidCdr, report_from_body

from .. import csrf
from ..db import get_db
from ..nodeauth import freeswitch_node

bp = Blueprint("cdr", __name__, url_prefix="/cdr")


@bp.route("/freeswitch/<node_name>", methods=["POST"])
@csrf.exempt
def freeswitch(node_name: str) -> Any:
    node = freeswitch_node(node_name, "clusterpbx-cdr")
    if isinstance(node, Response):
        return node
    try:
        report = report_from_body(request.get_data(cache=False))
    except InvalidCdr as exc:
        return Response(f"invalid record: {exc}\n", 400, mimetype="text/plain")
    if report is not None:
        db = get_db()
        parties = (report.source_endpoint, report.destination_endpoint, report.dialed_number)
        callrecords.ingest(db, node.id, [report], callrecords.Directory.load(db, node.id, parties))
        db.commit()
    return Response("OK\n", 200, mimetype="text/plain")
