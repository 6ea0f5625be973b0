"""Messagerie vocale: the user's voice messages (through the control daemon, which alone reads the
PBX): list, play, mark heard, delete, download one (WAV) or several (zip)."""

from __future__ import annotations

import base64
import datetime as dt
import io
import zipfile
from typing import Any

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from clusterpbx.control.commands import CommandError, ControlClient

bp = Blueprint("voicemail", __name__, url_prefix="/voicemail")
SORTS = {"date": "received_at", "caller": "caller", "duration": "duration"}


def _client() -> ControlClient:
    return ControlClient.from_settings(current_app.config["CLUSTERPBX"])


def _unavailable() -> None:
    flash(_("Your voicemail cannot be reached right now (the telephone system does not answer). "
            "Try again in a moment."), "error")


def _ids() -> list[str]:
    return [i for i in request.form.getlist("message")[:500] if i and len(i) <= 128]


@bp.route("/")
@login_required
def index() -> Any:
    try:
        messages = _client().call("voicemail_list", user_id=current_user.user.id)["messages"]
    except CommandError:
        _unavailable()
        messages = None
    sort = request.args.get("sort", "date")
    descending = request.args.get("dir", "desc") != "asc"
    if messages:
        for m in messages:
            m["received"] = dt.datetime.fromisoformat(m["received_at"])
            m["new"] = m["folder"] == "INBOX"
        messages.sort(key=lambda m: m[SORTS.get(sort, "received_at")], reverse=descending)
    return render_template("voicemail/index.html", messages=messages, sort=sort, descending=descending)


@bp.route("/<message_id>/audio")
@login_required
def audio(message_id: str) -> Response:
    if len(message_id) > 128:
        abort(404)
    try:
        data = base64.b64decode(_client().call("voicemail_audio", user_id=current_user.user.id,
                                               message_id=message_id)["audio"])
    except CommandError as exc:
        abort(404 if exc.kind == "invalid" else 503)
    download = request.args.get("download") == "1"
    return Response(data, mimetype="audio/wav", headers={
        "Content-Disposition": f'{"attachment" if download else "inline"}; filename="voicemail-{message_id}.wav"',
        "Cache-Control": "private, no-store"})


@bp.route("/action", methods=["POST"])
@login_required
def action() -> Any:
    ids = _ids()
    what = request.form.get("action")
    if not ids:
        flash(_("Tick at least one message."), "error")
        return redirect(url_for("voicemail.index"))
    client = _client()
    user_id = current_user.user.id
    try:
        if what == "delete":
            n = client.call("voicemail_delete", user_id=user_id, message_ids=ids)["deleted"]
            flash(_("%(num)d message(s) deleted.", num=n), "success")
        elif what == "heard":
            client.call("voicemail_mark_heard", user_id=user_id, message_ids=ids)
            flash(_("Marked as heard."), "success")
        elif what == "download":
            if len(ids) == 1:
                return redirect(url_for("voicemail.audio", message_id=ids[0], download=1))
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
                for i, mid in enumerate(ids, 1):
                    audio = base64.b64decode(client.call("voicemail_audio", user_id=user_id,
                                                         message_id=mid)["audio"])
                    zf.writestr(f"voicemail-{i:03d}.wav", audio)
            return Response(buf.getvalue(), mimetype="application/zip", headers={
                "Content-Disposition": 'attachment; filename="voicemail.zip"', "Cache-Control": "no-store"})
        else:
            abort(400)
    except CommandError as exc:
        if exc.kind == "invalid":
            flash(_("One of these messages no longer exists."), "error")
        else:
            _unavailable()
    return redirect(url_for("voicemail.index"))
