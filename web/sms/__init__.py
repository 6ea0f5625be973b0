"""SMS: compose a text (and an optional MMS image) to a mobile phone, one-way, as the guide says; the
user's own history with each message's delivery status. Messages are saved first (queued), then the
control daemon sends them through the tenant's provider. Also the two URLs providers call: the signed,
expiring MMS image and the delivery-status callback."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import StringField, SubmitField, TextAreaField

from clusterpbx.control import sms
from clusterpbx.control.commands import CommandError, ControlClient, DaemonUnavailable
from clusterpbx.control.images import ImageRejected
from clusterpbx.control.models import SmsMessage

from .. import csrf
from ..db import get_db
from ..limiter import SMS_PER_USER, limiter, user_key

bp = Blueprint("sms", __name__, url_prefix="/sms")

STATUS_LABELS = {"queued": _l("Queued"), "sent": _l("Sent"), "delivered": _l("Delivered"), "failed": _l("Failed")}


class SmsForm(FlaskForm):
    to = StringField()
    body = TextAreaField()
    image = FileField()
    send = SubmitField()


def refusal_message(exc: sms.SmsRefused) -> str:
    p = exc.params
    return {
        "disabled": _("Sending SMS is not enabled for your company: ask your telephony administrator."),
        "control_characters": _("The message contains characters that are not allowed.")
        if exc.field == "body" else _("The phone number contains characters that are not allowed."),
        "too_long": _("The message is too long (%(max)s characters at most).", max=p.get("max", "")),
        "too_long_bytes": _("The message is too long for your company's SMS service: %(max)s characters at most, "
                            "and accented letters, symbols and emoji count as two or more.", max=p.get("max", "")),
        "number_required": _("Enter the phone number to send to."),
        "invalid_number": _("%(number)s is not a valid phone number.", number=p.get("number", "")),
        "premium_number": _("%(number)s is a premium-rate number: messages cannot be sent to it.",
                            number=p.get("number", "")),
        "internal_only": _("%(number)s is outside your company: your allowed destinations are internal calls "
                           "only.", number=p.get("number", "")),
        "not_allowed": _("%(number)s is not in your allowed destinations: %(rule)s.", number=p.get("number", ""),
                         rule=p.get("rule", "")),
        "no_extension": _("You have no extension to send from: ask your telephony administrator."),
        "mms_unsupported": _("Your company's SMS service cannot send images (MMS): send the text only."),
        "empty": _("Write a message (or choose an image)."),
        "quota_reached": _("Your company has reached its quota of %(quota)s messages this month: no more can be "
                           "sent until next month.", quota=p.get("quota", "")),
    }.get(exc.code, _("This message cannot be sent."))


def delivery_error_message(code: str) -> str:
    """Why a message failed, in the user's language (the code comes from control.sms.ERROR_CODES)."""
    return {
        "disabled": _("Sending SMS is not enabled for your company: ask your telephony administrator."),
        "misconfigured": _("Your company's SMS service is not set up correctly: ask your telephony administrator."),
        "pbx_refused": _("The telephone system refused the message."),
        "unreachable": _("The SMS service cannot be reached right now."),
        "timeout": _("The SMS service did not answer in time."),
        "refused": _("The SMS service refused the message."),
        "too_long": _("The message is too long for the SMS service."),
        "invalid_number": _("The SMS service says this number is not valid."),
        "destination_not_supported": _("The SMS service cannot send messages to this country or network."),
        "blocked_by_recipient": _("The recipient has blocked messages from this number."),
        "unreachable_recipient": _("The recipient's phone could not be reached (switched off or out of coverage)."),
        "landline": _("This number is a landline: it cannot receive text messages."),
        "filtered": _("The recipient's carrier filtered the message."),
        "undelivered": _("The message could not be delivered to the recipient."),
        "expired": _("The message could not be sent within 24 hours and was abandoned."),
    }.get(code, _("The message could not be sent."))


def image_message(code: str) -> str:
    return {
        "empty": _("The image file is empty."),
        "too_large": _("The image is too large (5 MB at most)."),
        "too_many_pixels": _("The image has too many pixels (24 megapixels at most)."),
        "format": _("This file is not an image in an accepted format (PNG, JPEG, GIF or WebP)."),
    }.get(code, _("This image cannot be used."))


def _page(form: SmsForm, status: int = 200) -> Any:
    db = get_db()
    user = current_user.user
    tenant = user.tenant
    return render_template("sms/index.html", form=form, messages=sms.history(db, user), labels=STATUS_LABELS,
                           usage=sms.month_usage(db, tenant), quota=tenant.sms_monthly_quota,
                           counter=sms.segments(form.body.data or ""), limit=sms.body_limit(tenant),
                           delivery_error=delivery_error_message), status


@bp.route("/", methods=["GET"])
@login_required
def index() -> Any:
    return _page(SmsForm())


@bp.route("/", methods=["POST"])
@login_required
@limiter.shared_limit(SMS_PER_USER, scope="sms", key_func=lambda: user_key("sms", current_user.user.id))
def send() -> Any:
    form = SmsForm()
    if not form.validate_on_submit():
        flash(_("The form expired: please try again."), "error")
        return _page(form, 400)
    settings = current_app.config["CLUSTERPBX"]
    image = form.image.data.read(settings.max_upload_bytes + 1) if form.image.data else None
    try:
        msg = sms.send_sms(get_db(), current_user.user, form.to.data or "", form.body.data or "", image or None,
                           max_image_bytes=settings.max_upload_bytes)
    except sms.SmsRefused as exc:
        flash(refusal_message(exc), "error")
        return _page(form, 400)
    except ImageRejected as exc:
        flash(image_message(exc.code), "error")
        return _page(form, 400)
    try:
        result = ControlClient.from_settings(settings).call("sms_send", message_id=msg.id)
    except DaemonUnavailable:
        result = {"status": "queued"}
    except CommandError as exc:
        result = {"status": "queued", "error": str(exc)}
    status = result.get("status")
    if status in ("sent", "delivered"):
        flash(_("Message sent to %(number)s.", number=msg.to_number), "success")
    elif status == "failed":
        flash(_("The message to %(number)s could not be sent: %(error)s", number=msg.to_number,
                error=delivery_error_message(str(result.get("error_code") or "failed"))), "error")
    else:
        flash(_("The message is saved but not sent yet: the telephone system does not answer right now. "
                "It will be sent automatically as soon as it does."), "warning")
    return redirect(url_for("sms.index"))


@bp.route("/<int:message_id>/image")
@login_required
def image(message_id: int) -> Response:
    msg = sms.own_message(get_db(), current_user.user, message_id)
    if msg is None or msg.image is None:
        abort(404)  # someone else's message is "not found", like a missing one
    return Response(msg.image, mimetype="image/jpeg", headers={"Cache-Control": "private, no-store",
                                                               "Content-Disposition": "inline"})


@bp.route("/media/<int:message_id>/<int:expires>/<sig>.jpg")
def media(message_id: int, expires: int, sig: str) -> Response:
    """The MMS image for the provider: no login, a signature over the id and expiry instead."""
    secret = current_app.config["CLUSTERPBX"].secret_key
    if len(sig) > 64 or not sms.media_signature_ok(secret, message_id, expires, sig):
        abort(404)
    msg = get_db().get(SmsMessage, message_id)
    if msg is None or msg.image is None:
        abort(404)
    return Response(msg.image, mimetype="image/jpeg", headers={"Cache-Control": "private, no-store"})


@bp.route("/status/<int:message_id>", methods=["POST"])
@csrf.exempt
@limiter.limit("120 per minute")
def status_callback(message_id: int) -> Any:
    """Delivery reports from Twilio (X-Twilio-Signature) or the webhook gateway (HMAC header)."""
    public = current_app.config["CLUSTERPBX"].public_url.rstrip("/")
    url = public + sms.callback_path(message_id)  # exactly the StatusCallback the daemon gave the provider
    raw = request.get_data(cache=True)
    form = {k: request.form.getlist(k) for k in request.form} if request.mimetype.endswith("urlencoded") else {}
    outcome = sms.handle_status_callback(get_db(), message_id, url=url, form=form, raw_body=raw,
                                         headers=request.headers)
    if outcome == "forbidden":
        return Response("forbidden\n", status=403, mimetype="text/plain")
    if outcome == "not_found":
        abort(404)
    return Response("", status=204)
