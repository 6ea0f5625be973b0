"""Détails d'appels: the signed-in user's call records (filters, search, sorting, keyset pages, chart,
streamed CSV export, click-to-call and recordings)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
from typing import Any
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    stream_with_context,
    url_for,
)
from flask_babel import format_datetime
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from clusterpbx.control import calllog
from clusterpbx.control.callsettings import SettingRefused, check_click_to_call
from clusterpbx.control.commands import CommandError, ControlClient
from clusterpbx.control.models import CallRecord, PbxNode, Role

from ..db import get_db
from ..redirects import safe_redirect_target
from ..settings.messages import refusal_message
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


WHEN_FORMAT = "yyyy-MM-dd HH:mm:ss"  # the portal's one date format, in the user's time zone


@bp.app_template_filter("when")
def when(value: dt.datetime | None) -> str:
    """`{{ x|when }}`: a UTC time shown in the user's zone and the portal's one format."""
    return format_datetime(value, WHEN_FORMAT) if value else ""


CHART_DAYS = 31  # without dates, the chart shows the last month; a longer period shows its last 92 days
CHART_MAX_DAYS = 92


def _date(name: str, errors: list[str]) -> dt.date | None:
    value = request.args.get(name, "").strip()
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        message = _("Dates must be written as YYYY-MM-DD.")
        if message not in errors:
            errors.append(message)
        return None


def query_errors() -> list[str]:
    """What is wrong with the page's filters, worded for the user (the page and the export agree)."""
    errors: list[str] = []
    start, end = _date("start", errors), _date("end", errors)
    if start and end and start > end:
        errors.append(_("The start date (%(start)s) is after the end date (%(end)s): no call can match. "
                        "Swap the two dates.", start=start.isoformat(), end=end.isoformat()))
    return errors


def build_query(scope_tenant: bool = False) -> calllog.CallQuery:
    user = current_user.user
    sort = request.args.get("sort", "started_at")
    if sort not in calllog.SORTABLE:
        sort = "started_at"
    tenant_wide = scope_tenant and user.role in (Role.TENANT_ADMIN, Role.OPERATOR)
    ignored: list[str] = []
    return calllog.CallQuery(
        user_id=None if tenant_wide else user.id, tenant_id=user.tenant_id,
        timezone=user.timezone or user.tenant.timezone, start=_date("start", ignored), end=_date("end", ignored),
        search=request.args.get("q", "")[:100], sort=sort, descending=request.args.get("dir", "desc") != "asc",
        cursor=request.args.get("after", "")[:200], missed=request.args.get("missed") == "1")


def other_party(record: CallRecord, mine: set[str]) -> str:
    """The number to call back: the caller of a call received, the number dialed of a call placed."""
    if record.caller_number and record.caller_number not in mine and record.call_type != "outgoing":
        return record.caller_number
    if record.dialed_number and record.dialed_number not in mine:
        return record.dialed_number
    return ""


def chart_days(q: calllog.CallQuery) -> list[calllog.DayFigures]:
    """One entry per day of the period, days without calls included (zero), in the user's zone."""
    today = dt.datetime.now(ZoneInfo(q.timezone)).date()
    end = q.end or max(today, q.start or today)
    start = q.start or end - dt.timedelta(days=CHART_DAYS - 1)
    start = max(start, end - dt.timedelta(days=CHART_MAX_DAYS - 1))
    period = dataclasses.replace(q, start=start, end=end, cursor="")
    found = {d.day: d for d in calllog.daily_figures(get_db(), period)}
    days = []
    day = start
    while day <= end:
        days.append(found.get(day) or calllog.DayFigures(day, 0, 0, 0, 0, 0))
        day += dt.timedelta(days=1)
    return days


@bp.route("/")
@login_required
def index() -> Any:
    errors = query_errors()
    for message in errors:
        flash(message, "error")
    q = build_query()
    if errors:
        result = calllog.Page([])
    else:
        try:
            result = calllog.page(get_db(), q)
        except calllog.InvalidQuery:
            flash(_("This page link is no longer valid; showing the first page."), "error")
            q.cursor = ""
            result = calllog.page(get_db(), q)
    args = {k: v for k, v in request.args.items() if k in ("start", "end", "q", "sort", "dir", "missed")}
    mine = {e.number for e in current_user.user.extensions}
    return render_template("calls/index.html", page=result, q=q, columns=COLUMNS, args=args,
                           status=STATUS, recording=RECORDING, kind=KIND, hms=calllog.hms,
                           caller_display=calllog.caller_display,
                           chart="" if errors else chart_svg(chart_days(q)), errors=errors,
                           other_party=lambda r: other_party(r, mine), tz=q.timezone)


@bp.route("/export.csv")
@login_required
def export() -> Response:
    if query_errors():
        # Never a silent export of everything: back to the page, which says what is wrong.
        args = {k: v for k, v in request.args.items() if k in ("start", "end", "q", "sort", "dir", "missed")}
        return redirect(url_for("calls.index", **args))  # type: ignore[return-value]
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


@bp.route("/export/count")
@login_required
def export_count() -> Response:
    """How many rows /export.csv with the same arguments writes: the page shows "N of M rows" while the
    download runs (a streamed export has no Content-Length, so the browser alone cannot show a share)."""
    if query_errors():
        return jsonify(rows=0)
    return jsonify(rows=calllog.export_count(get_db(), build_query(scope_tenant=request.args.get("scope") == "tenant")))


@bp.route("/call", methods=["POST"])
@login_required
def click_to_call() -> Any:
    number = request.form.get("number", "")
    back = safe_redirect_target(request.form.get("next"), "")
    back = back if back.startswith("/calls") else url_for("calls.index")
    try:
        number = check_click_to_call(get_db(), current_user.user, number)
    except SettingRefused as exc:
        flash(refusal_message(exc), "error")
        return redirect(back)
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
    return redirect(back)


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
