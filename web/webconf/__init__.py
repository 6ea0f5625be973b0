"""Conférence en ligne: "Accéder à la conférence" gives the user their web meeting at the tenant's
provider (control/webconf.py), with the invitation link to copy and an e-mail invitation form, and
the user's usage this month (per-minute fees may apply, the guide says)."""

from __future__ import annotations

import logging
import re
from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_limiter.util import get_remote_address
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import TextAreaField
from wtforms.validators import Length

from clusterpbx.control.mail import Mail, MailError, send
from clusterpbx.control.validation import InvalidValue, has_control_chars, normalise_email
from clusterpbx.control.webconf import (
    PROVIDER_LABELS,
    Meeting,
    WebconfError,
    current_meeting,
    invitation_url,
    open_meeting,
    refresh_user_usage,
    usage,
)

from ..db import get_db
from ..identity.mailer import Content
from ..limiter import MEETINGS_PER_USER, limiter, user_key

bp = Blueprint("webconf", __name__, url_prefix="/webconf")
log = logging.getLogger("clusterpbx.web.webconf")

MAX_RECIPIENTS = 10
DEFAULT_INVITE_LIMIT = "30 per hour"
_SEPARATORS = re.compile(r"[,;\s]+")


def _per_user(scope: str) -> Any:
    """Rate-limit key: the signed-in user (whatever their address), else the client address."""
    def key() -> str:
        if current_user.is_authenticated:
            return user_key(scope, current_user.user.id)
        return f"{scope}:ip:{get_remote_address()}"
    return key


class InviteForm(FlaskForm):
    addresses = TextAreaField(validators=[Length(max=4000)])


class ActionForm(FlaskForm):
    pass


def error_message(exc: WebconfError) -> str:
    return {
        "not_configured": _("Online conferences are not set up for your company yet: ask your telephony "
                            "administrator."),
        "auth_failed": _("The conference service refused the portal's credentials: ask your telephony "
                         "administrator to check them."),
        "rate_limited": _("The conference service is receiving too many requests: try again in a few minutes."),
        "unavailable": _("The conference service cannot be reached right now: try again in a few minutes."),
        "timeout": _("The conference service did not answer in time: try again in a few minutes."),
    }.get(exc.code, _("The conference service gave an unexpected answer: try again later, or ask your "
                      "telephony administrator."))


def _provider_label() -> str:
    tenant = current_user.user.tenant
    return PROVIDER_LABELS.get(tenant.webconf_provider or "jitsi", tenant.webconf_provider or "")


def _billed_by() -> str:
    value = str((current_user.user.tenant.webconf_config or {}).get("billed_by") or "ClusterPBX")
    return "".join(c for c in value if not has_control_chars(c))[:80]


def _page(meeting: Meeting | None = None, invite_form: InviteForm | None = None, invite_errors: list[str] | None = None,
          status: int = 200) -> Any:
    db = get_db()
    user = current_user.user
    link = meeting.invite_url if meeting is not None else None
    if link is None:
        try:
            link = invitation_url(db, user)
        except WebconfError:
            link = None
    return render_template("webconf/index.html", meeting=meeting, invite_link=link,
                           invite_form=invite_form or InviteForm(), action_form=ActionForm(),
                           invite_errors=invite_errors or [], usage=usage(db, user), provider=_provider_label(),
                           billed_by=_billed_by(), max_recipients=MAX_RECIPIENTS), status


@bp.route("/")
@login_required
def index() -> Any:
    return _page()


@bp.route("/open", methods=["POST"])
@login_required
@limiter.shared_limit(MEETINGS_PER_USER, scope="webconf-open", key_func=_per_user("webconf-open"))
def open_() -> Any:
    form = ActionForm()
    if not form.validate_on_submit():
        flash(_("The form could not be read; please try again."), "error")
        return redirect(url_for("webconf.index"))
    try:
        meeting = open_meeting(get_db(), current_user.user)
    except WebconfError as exc:
        get_db().rollback()
        log.warning("user %s: web meeting not opened: %s", current_user.user.id, exc)
        flash(error_message(exc), "error")
        return _page(status=502)
    return _page(meeting=meeting)


@bp.route("/usage", methods=["POST"])
@login_required
@limiter.limit("6 per minute", key_func=_per_user("webconf-usage"))
def refresh() -> Any:
    form = ActionForm()
    if form.validate_on_submit():
        try:
            refresh_user_usage(get_db(), current_user.user)
            flash(_("Your usage is up to date."), "success")
        except WebconfError as exc:
            get_db().rollback()
            flash(error_message(exc), "error")
    return redirect(url_for("webconf.index"))


def parse_addresses(raw: str) -> tuple[list[str], list[str]]:
    """The addresses typed (separated by commas, semicolons, spaces or lines), normalised; and the
    entries refused. A control character anywhere other than a line break refuses everything."""
    errors: list[str] = []
    if any(has_control_chars(c) for c in raw if c not in "\r\n\t"):
        return [], [_("The addresses contain invisible control characters.")]
    addresses: list[str] = []
    for item in (s for s in _SEPARATORS.split(raw) if s):
        try:
            address = normalise_email(item)
        except InvalidValue:
            errors.append(_("Not a valid e-mail address: %(address)s", address=item[:120]))
            continue
        if address not in addresses:
            addresses.append(address)
    if not addresses and not errors:
        errors.append(_("Enter at least one e-mail address."))
    if len(addresses) > MAX_RECIPIENTS:
        errors.append(_("At most %(count)d addresses at a time.", count=MAX_RECIPIENTS))
    return addresses, errors


def _invite_cost() -> int:
    addresses, errors = parse_addresses(request.form.get("addresses", "")[:4000])
    return 0 if errors else max(1, len(addresses))


def _invite_limit() -> str:
    if not current_user.is_authenticated:
        return DEFAULT_INVITE_LIMIT
    return str((current_user.user.tenant.webconf_config or {}).get("invite_limit") or DEFAULT_INVITE_LIMIT)


def invitation_mail(to: str, link: str, language: str) -> Mail:
    user = current_user.user
    name = "".join(c for c in user.display_name if not has_control_chars(c))[:120]
    with force_locale(language):
        content = Content(
            subject=_("Invitation to a web conference from %(name)s", name=name),
            greeting=_("Hello,"),
            paragraphs=[_("%(name)s (%(company)s) invites you to a web conference.", name=name,
                          company=user.tenant.name),
                        _("To join, open this link:")],
            action_label=_("Join the conference"), action_url=link,
            after=[_("You received this message because %(email)s entered your address in the ClusterPBX "
                     "portal.", email=user.email)])
        values = {"c": content, "lang": language, "signature": _("The ClusterPBX portal")}
        return Mail(to=to, subject=content.subject, language=language,
                    text=render_template("email/message.txt", **values),
                    html=render_template("email/message.html", **values))


@bp.route("/invite", methods=["POST"])
@login_required
@limiter.limit(_invite_limit, key_func=_per_user("webconf-invite"), cost=_invite_cost)
def invite() -> Any:
    form = InviteForm()
    if not form.validate_on_submit():
        return _page(invite_form=form, invite_errors=[_("The form could not be read; please try again.")],
                     status=400)
    addresses, errors = parse_addresses(form.addresses.data or "")
    if errors:
        return _page(invite_form=form, invite_errors=errors, status=400)
    db = get_db()
    user = current_user.user
    if current_meeting(db, user) is None:
        return _page(invite_form=form, invite_errors=[_("Click «Access the conference» first: the invitation "
                                                         "needs your conference's link.")], status=400)
    try:
        link = invitation_url(db, user)
    except WebconfError as exc:
        return _page(invite_form=form, invite_errors=[error_message(exc)], status=502)
    assert link is not None
    settings = current_app.config["CLUSTERPBX"]
    language = str(user.language or "fr")
    sent: list[str] = []
    for address in addresses:
        try:
            send(settings, invitation_mail(address, link, language))
            sent.append(address)
        except MailError as exc:
            log.warning("invitation from user %s to %s not sent: %s", user.id, address, exc)
    if len(sent) < len(addresses):
        failed = [a for a in addresses if a not in sent]
        return _page(invite_form=form, invite_errors=[
            _("The invitation could not be sent to: %(addresses)s. Try again later.", addresses=", ".join(failed))],
            status=502)
    flash(_("Invitation sent to %(addresses)s.", addresses=", ".join(sent)), "success")
    return redirect(url_for("webconf.index"))


TITLE = _l("Online conference")
