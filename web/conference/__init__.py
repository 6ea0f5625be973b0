"""Conférence personnelle: turn the user's own bridge on, its PINs, size and six options (saved as
desired state, then applied through the control daemon), and who is in the room right now, with kick
and mute for the owner (the daemon resolves the room from the user, never from the request)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, StringField
from wtforms.validators import Length, Optional

from clusterpbx.control.commands import CommandError, ControlClient
from clusterpbx.control.conference import (
    DEFAULT_OPTIONS,
    MEMBERS_MAX,
    MEMBERS_MIN,
    OPTIONS,
    ConferenceErrors,
    ConferenceInput,
    ConferenceRefused,
    dial_code,
    pin_bounds,
    save_conference,
)
from clusterpbx.control.models import PersonalConference

from ..db import get_db
from ..settings.apply import apply_now

bp = Blueprint("conference", __name__, url_prefix="/conference")

# The guide's six options with their (i) help text, in the guide's order.
OPTION_TEXTS = {
    "announce_count": (_l("Announce the number of participants"),
                       _l("When someone joins, they hear how many people are already in the conference.")),
    "announce_join_leave": (_l("Announce when a participant joins or leaves"),
                            _l("Each caller records their name on arrival; everyone hears it when they join "
                               "and when they leave.")),
    "music_on_hold": (_l("Music on hold"),
                      _l("Music plays while you are alone in the conference.")),
    "star_menu": (_l("Hear the options when pressing the * key"),
                  _l("Pressing * during the conference reads out the menu (mute, leave, number of "
                     "participants...).")),
    "wait_for_admin": (_l("Wait for the administrator to start"),
                       _l("Participants wait, with music, until someone joins with the admin PIN (or you call "
                          "from your own phone); the conference ends when the administrator leaves.")),
    "listen_only": (_l("Listen-only mode (users only)"),
                    _l("Participants who join with the user PIN are muted and cannot unmute themselves; "
                       "the administrator can still speak.")),
}


class ConferenceForm(FlaskForm):
    enabled = BooleanField()
    admin_pin = StringField(validators=[Length(max=40)])
    user_pin = StringField(validators=[Length(max=40)])
    max_members = IntegerField(validators=[Optional()])
    announce_count = BooleanField()
    announce_join_leave = BooleanField()
    music_on_hold = BooleanField()
    star_menu = BooleanField()
    wait_for_admin = BooleanField()
    listen_only = BooleanField()


def _client() -> ControlClient:
    return ControlClient.from_settings(current_app.config["CLUSTERPBX"])


def refusal_message(exc: ConferenceRefused) -> str:
    field = {"admin_pin": _("Admin PIN"), "user_pin": _("User PIN"),
             "max_members": _("Maximum number of users (including Admin)"),
             "enabled": _("Enable my personal conference")}.get(exc.field, exc.field)
    p = exc.params
    text = {
        "pin_required": _("enter a PIN to turn the conference on."),
        "pin_digits_only": _("the PIN must contain digits only."),
        "pin_length": _("the PIN must contain between %(min)s and %(max)s digits.", min=p.get("min", "4"),
                        max=p.get("max", "20")),
        "pins_equal": _("the user PIN must differ from the admin PIN."),
        "members_range": _("between %(min)s and %(max)s.", min=p.get("min", "2"), max=p.get("max", "100")),
        "no_extension": _("you have no extension yet; ask your telephony administrator."),
    }.get(exc.code, _("This value cannot be used."))
    return f"{field}: {text}"


def _participants() -> list[dict[str, Any]] | None:
    try:
        people: list[dict[str, Any]] = _client().call("conference_participants",
                                                      user_id=current_user.user.id)["participants"]
    except CommandError:
        return None
    return people


@bp.route("/", methods=["GET", "POST"])
@login_required
def index() -> Any:
    db = get_db()
    user = current_user.user
    conf = db.get(PersonalConference, user.id) or PersonalConference(user_id=user.id)
    form = ConferenceForm()
    status = 200
    if form.is_submitted():
        if not form.validate():
            if form.max_members.errors:  # not a whole number
                flash(refusal_message(ConferenceRefused("max_members", "members_range", min=str(MEMBERS_MIN),
                                                        max=str(MEMBERS_MAX))), "error")
            else:
                flash(_("The form could not be read; please try again."), "error")
            status = 400
        elif request.form.get("action") == "reset":
            # Back to the defaults on screen only; "Apply" saves them (the guide's two buttons).
            for name, value in DEFAULT_OPTIONS.items():
                getattr(form, name).data = value
            flash(_("Options reset to their defaults. Press Apply to save them."), "info")
        else:
            data = ConferenceInput(
                enabled=form.enabled.data, admin_pin=form.admin_pin.data or "", user_pin=form.user_pin.data or "",
                max_members=form.max_members.data,
                **{name: bool(getattr(form, name).data) for name in OPTIONS})
            try:
                save_conference(db, user, data)
            except ConferenceErrors as refused:
                for exc in refused.errors:
                    flash(refusal_message(exc), "error")
                status = 400
            else:
                apply_now(user.id)
                return redirect(url_for("conference.index"))
    else:
        form.enabled.data = bool(conf.enabled)
        form.admin_pin.data = conf.admin_pin or ""
        form.user_pin.data = conf.user_pin or ""
        form.max_members.data = conf.max_members if conf.max_members is not None else 15
        for name in OPTIONS:
            value = getattr(conf, name)
            getattr(form, name).data = DEFAULT_OPTIONS[name] if value is None else bool(value)
    low, high = pin_bounds(user.tenant)
    participants = _participants() if conf.enabled and user.extensions else []
    return render_template("conference/index.html", form=form, conf=conf, code=dial_code(user),
                           options=OPTION_TEXTS, pin_min=low, pin_max=high, members_min=MEMBERS_MIN,
                           members_max=MEMBERS_MAX, participants=participants), status


@bp.route("/participant", methods=["POST"])
@login_required
def participant() -> Any:
    if not FlaskForm().validate_on_submit():
        flash(_("The form could not be read; please try again."), "error")
        return redirect(url_for("conference.index"))
    pid = (request.form.get("participant") or "")[:128]
    action = request.form.get("action")
    user_id = current_user.user.id
    try:
        if action == "kick":
            _client().call("conference_kick", user_id=user_id, participant_id=pid)
            flash(_("The participant was removed from the conference."), "success")
        elif action in ("mute", "unmute"):
            _client().call("conference_mute", user_id=user_id, participant_id=pid, muted=action == "mute")
            flash(_("Participant muted.") if action == "mute" else _("Participant unmuted."), "success")
        else:
            flash(_("The form could not be read; please try again."), "error")
    except CommandError as exc:
        if exc.kind == "invalid":
            flash(_("This participant is no longer in your conference."), "error")
        else:
            flash(_("The telephone system cannot be reached right now. Try again in a moment."), "error")
    return redirect(url_for("conference.index"))
