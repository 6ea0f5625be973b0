"""Paramètres avancés: call waiting, DND, follow-me, forwards, language, allowed destinations."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, session, url_for
from flask_babel import gettext as _
from flask_babel import refresh
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import NumberRange, Optional

from clusterpbx.control.callsettings import (
    CallSettingsInput,
    SettingsRefused,
    allowed_groups,
    save_call_settings,
)
from clusterpbx.control.models import CallSettings

from ..db import get_db
from . import bp, tabs
from .apply import apply_now
from .messages import refusal_message


class AdvancedForm(FlaskForm):
    call_waiting = BooleanField()
    dnd = BooleanField()
    followme_enabled = BooleanField()
    followme_numbers = TextAreaField()
    followme_confirm = BooleanField()
    followme_delay = IntegerField(validators=[Optional(), NumberRange(5, 120)], default=20)
    forward_always = StringField()
    forward_busy = StringField()
    forward_noanswer = StringField()
    forward_noanswer_delay = IntegerField(validators=[Optional(), NumberRange(5, 120)], default=20)
    language = SelectField(choices=[SelectChoice("fr", "Français"), SelectChoice("en", "English")])


@bp.route("/advanced", methods=["GET", "POST"])
@login_required
def advanced() -> Any:
    user = current_user.user
    db = get_db()
    cs = db.get(CallSettings, user.id) or CallSettings(user_id=user.id)
    form = AdvancedForm()
    status = 200
    if form.is_submitted():
        if form.validate():
            data = CallSettingsInput(
                call_waiting=form.call_waiting.data, dnd=form.dnd.data,
                followme_enabled=form.followme_enabled.data,
                followme_numbers=[n.strip() for n in (form.followme_numbers.data or "").replace(",", "\n")
                                  .splitlines() if n.strip()],
                followme_confirm=form.followme_confirm.data, followme_delay=form.followme_delay.data or 20,
                forward_always=form.forward_always.data or "", forward_busy=form.forward_busy.data or "",
                forward_noanswer=form.forward_noanswer.data or "",
                forward_noanswer_delay=form.forward_noanswer_delay.data or 20,
                language=form.language.data or "fr")
            try:
                save_call_settings(db, user, data)
            except SettingsRefused as refused:
                for exc in refused.errors:
                    flash(refusal_message(exc), "error")
                status = 400
            else:
                # The confirmation speaks the language just chosen, not the one this request began in.
                session["lang"] = user.language
                refresh()
                apply_now(user.id)
                return redirect(url_for("settings.advanced"))
        else:
            flash(_("Delays must be between 5 and 120 seconds."), "error")
            status = 400
    else:
        form.call_waiting.data = cs.call_waiting if cs.call_waiting is not None else True
        form.dnd.data = bool(cs.dnd)
        form.followme_enabled.data = bool(cs.followme_enabled)
        form.followme_numbers.data = "\n".join(n for n in (cs.followme_numbers or "").split(",") if n)
        form.followme_confirm.data = bool(cs.followme_confirm)
        form.followme_delay.data = cs.followme_delay or 20
        form.forward_always.data = cs.forward_always
        form.forward_busy.data = cs.forward_busy
        form.forward_noanswer.data = cs.forward_noanswer
        form.forward_noanswer_delay.data = cs.forward_noanswer_delay or 20
        form.language.data = user.language
    return render_template("settings/advanced.html", form=form, cs=cs, groups=allowed_groups(user),
                           tabs=tabs()), status
