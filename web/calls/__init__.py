"""Détails d'appels: the signed-in user's call records (filters, search, sorting, keyset pages, chart,
streamed CSV export, click-to-call and recordings)."""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    stream_with_context,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from clusterpbx.control import calllog
from clusterpbx.control.commands import CommandError, ControlClient
from clusterpbx.control.models import CallRecord, PbxNode, Role

from ..db import get_db
from ..redirects import safe_redirect_target
from .chart import chart_svg

bp = Blueprint("calls", __name__, url_prefix="/calls")

STATUS = {"answered": _l("Call answered"), "no_answer": _l("No answer"), "busy": _l("Busy"),
          "failed": _l("Failed")}
RECORDING = {"none": _l("Call not recorded"), "recorded": _l("Call recorded")}
KIND = {"incoming": _l("Incoming"), "outgoing": _l("Outgoing"), "internal": _l("Internal")}
COLUMNS = [("caller", _l("Caller")), ("caller_number", _l("Caller number")), ("dialed_number", _l("Dialed number")),
           ("callee", _l("Callee")), ("started_at", _l("Start")), ("duration", _l("Duration")),
           ("status", _l("Status")), ("recording", _l("Recording status")), ("call_type", _l("Call type")),
           ("cost", _l("User cost"))]


def _date(name: str) -> dt.date | None:
    value = request.args.get(name, "").strip()
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        flash(_("Dates must be written as YYYY-MM-DD."), "error")
        return None


def build_query(scope_tenant: bool = False) -> calllog.CallQuery:
    user = current_user.user
    sort = request.args.get("sort", "started_at")
    if sort not in calllog.SORTABLE:
        sort = "started_at"
    tenant_wide = scope_tenant and user.role in (Role.TENANT_ADMIN, Role.OPERATOR)
    return calllog.CallQuery(
        user_id=None if tenant_wide else user.id, tenant_id=user.tenant_id,
        timezone=user.timezone or user.tenant.timezone, start=_date("start"), end=_date("end"),
        search=request.args.get("q", "")[:100], sort=sort, descending=request.args.get("dir", "desc") != "asc",
        cursor=request.args.get("after", "")[:200])


@bp.route("/")
@login_required
def index() -> Any:
    q = build_query()
    try:
        result = calllog.page(get_db(), q)
    except calllog.InvalidQuery:
        flash(_("This page link is no longer valid; showing the first page."), "error")
        q.cursor = ""
        result = calllog.page(get_db(), q)
    figures = calllog.daily_figures(get_db(), q) if (q.start or q.end) else []
    args = {k: v for k, v in request.args.items() if k in ("start", "end", "q", "sort", "dir")}
    return render_template("calls/index.html", page=result, q=q, columns=COLUMNS, args=args,
                           status=STATUS, recording=RECORDING, kind=KIND, hms=calllog.hms,
                           caller_display=calllog.caller_display, chart=chart_svg(figures) if figures else "",
                           tz=q.timezone)


@bp.route("/export.csv")
@login_required
def export() -> Response:
    q = build_query(scope_tenant=request.args.get("scope") == "tenant")
    lang = current_user.user.language
    # Excel in French locales splits columns on ';' (the list separator), in English on ','.
    delimiter = ";" if lang == "fr" else ","
    labels = {**{k: str(v) for k, v in STATUS.items()}, **{k: str(v) for k, v in KIND.items()},
              **{"rec_" + k: str(v) for k, v in RECORDING.items()}}
    header = [str(label) for _key, label in COLUMNS]
    db = current_app.extensions["clusterpbx.sessions"]()

    def generate() -> Any:
        try:
            yield from calllog.export_csv(db, q, header, labels, delimiter)
        finally:
            db.close()

    name = f"calls-{dt.date.today().isoformat()}.csv"
    return Response(stream_with_context(generate()), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"',
                             "Cache-Control": "no-store"})


@bp.route("/call", methods=["POST"])
@login_required
def click_to_call() -> Any:
    number = request.form.get("number", "")
    try:
        ControlClient.from_settings(current_app.config["CLUSTERPBX"]).call(
            "click_to_call", user_id=current_user.user.id, number=number)
    except CommandError as exc:
        if exc.kind == "invalid":
            flash(_("This number cannot be called."), "error")
        else:
            flash(_("The telephone system cannot be reached right now; try again in a moment."), "error")
    else:
        flash(_("Your phone is ringing: pick it up to call %(number)s.", number=number), "success")
    back = safe_redirect_target(request.form.get("next"), "")
    return redirect(back if back.startswith("/calls") else url_for("calls.index"))


@bp.route("/<int:record_id>/recording")
@login_required
def recording(record_id: int) -> Any:
    db = get_db()
    rec = db.get(CallRecord, record_id)
    user = current_user.user
    # 404 for another user's record as for a missing one: ids reveal nothing.
    if rec is None or rec.user_id != user.id or rec.recording_status != "recorded" \
            or not user.tenant.allow_recording_download or rec.node_id is None:
        abort(404)
    node = db.get(PbxNode, rec.node_id)
    root = os.path.realpath(os.path.join(node.spool_path, "monitor")) if node and node.spool_path else ""
    path = os.path.realpath(os.path.join(root, rec.recording_path)) if root else ""
    if not root or not path.startswith(root + os.sep) or not os.path.isfile(path):
        abort(404)
    return send_file(path, mimetype="audio/wav", as_attachment=request.args.get("download") == "1",
                     download_name=f"call-{record_id}.wav")
