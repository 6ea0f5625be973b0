"""The endpoint FreeSWITCH's mod_json_cdr posts call records to (one POST per call leg).

Authenticated with HTTP basic: the node's name and its ESL password (json_cdr.conf's `cred`).
Ingestion is idempotent, so FreeSWITCH's retries and the error-directory catch-up never duplicate.
"""

from __future__ import annotations

import hmac
import logging
from typing import Any

from flask import Blueprint, Response, request
from sqlalchemy import select

from clusterpbx.control import callrecords
from clusterpbx.control.models import NodeKind, PbxNode
from clusterpbx.esl.json_cdr import InvalidCdr, report_from_body

from .. import csrf
from ..db import get_db

bp = Blueprint("cdr", __name__, url_prefix="/cdr")
log = logging.getLogger("clusterpbx.web.cdr")


def _plain(text: str, status: int, **headers: str) -> Response:
    return Response(text + "\n", status=status, mimetype="text/plain", headers=headers)


@bp.route("/freeswitch/<node_name>", methods=["POST"])
@csrf.exempt
def freeswitch(node_name: str) -> Any:
    db = get_db()
    node = db.scalar(select(PbxNode).where(PbxNode.name == node_name, PbxNode.kind == NodeKind.FREESWITCH))
    auth = request.authorization
    if (node is None or auth is None or auth.type != "basic" or auth.username != node.name
            or not hmac.compare_digest((auth.password or "").encode(), node.secret.encode())):
        log.warning("json_cdr: refused post for node %r from %s", node_name, request.remote_addr)
        return _plain("unauthorized", 401, **{"WWW-Authenticate": 'Basic realm="clusterpbx-cdr"'})
    try:
        report = report_from_body(request.get_data(cache=False))
    except InvalidCdr as exc:
        return _plain(f"invalid record: {exc}", 400)
    if report is not None:
        directory = callrecords.Directory.load(db, node.id)
        callrecords.ingest(db, node.id, [report], directory)
        db.commit()
    return _plain("OK", 200)
