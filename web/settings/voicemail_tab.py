"""Paramètres > Messagerie Vocale: out-of-office reply, e-mail notification, voicemail PIN."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, EmailField, PasswordField, StringField
from wtforms.validators import Optional

from clusterpbx.control.callsettings import (
    SettingRefused,
    SettingsRefused,
    VoicemailInput,
    change_voicemail_pin,
    save_voicemail,
)
from clusterpbx.control.models import VoicemailSettings

from ..db import get_db
from . import bp, tabs
from .apply import apply_now
from .messages import refusal_message


class VoicemailForm(FlaskForm):
    ooo_enabled = BooleanField()
    ooo_start = DateField(validators=[Optional()])
    ooo_last_day = DateField(validators=[Optional()])
    email_enabled = BooleanField()
    email_use_login = BooleanField(default=True)
    email_address = EmailField(validators=[Optional()])
    email_attach = BooleanField(default=True)
    delete_after_email = BooleanField()


class PinForm(FlaskForm):
    pin = PasswordField()
    confirm = PasswordField()
    kind = StringField()


def _render(form: VoicemailForm, pin_form: PinForm, status: int = 200) -> Any:
    user = current_user.user
    tenant = user.tenant
    vm = get_db().get(VoicemailSettings, user.id) or VoicemailSettings(user_id=user.id)
    return render_template("settings/voicemail.html", form=form, pin_form=pin_form, vm=vm, user=user,
                           pin_min=max(4, tenant.vm_pin_min_length), pin_max=min(20, tenant.vm_pin_max_length),
                           tabs=tabs()), status


@bp.route("/voicemail", methods=["GET"])
@login_required
def voicemail() -> Any:
    vm = get_db().get(VoicemailSettings, current_user.user.id) or VoicemailSettings()
    form = VoicemailForm(
        ooo_enabled=bool(vm.ooo_enabled), ooo_start=vm.ooo_start, ooo_last_day=vm.ooo_last_day,
        email_enabled=bool(vm.email_enabled), email_use_login=vm.email_use_login is not False,
        email_address=vm.email_address, email_attach=vm.email_attach is not False,
        delete_after_email=bool(vm.delete_after_email))
    return _render(form, PinForm())


@bp.route("/voicemail/options", methods=["POST"])
@login_required
def voicemail_options() -> Any:
    form = VoicemailForm()
    user = current_user.user
    if not form.validate():
        flash(_("Dates must be written as YYYY-MM-DD."), "error")
        return _render(form, PinForm(), 400)
    data = VoicemailInput(
        ooo_enabled=form.ooo_enabled.data, ooo_start=form.ooo_start.data, ooo_last_day=form.ooo_last_day.data,
        email_enabled=form.email_enabled.data, email_use_login=form.email_use_login.data,
        email_address=form.email_address.data or "", email_attach=form.email_attach.data,
        delete_after_email=form.delete_after_email.data)
    try:
        save_voicemail(get_db(), user, data)
    except SettingsRefused as refused:
        for exc in refused.errors:
            flash(refusal_message(exc), "error")
        return _render(form, PinForm(), 400)
    apply_now(user.id)
    return redirect(url_for("settings.voicemail"))


@bp.route("/voicemail/pin", methods=["POST"])
@login_required
def voicemail_pin() -> Any:
    pin_form = PinForm()
    user = current_user.user
    if not pin_form.validate():
        return _render(VoicemailForm(), pin_form, 400)
    try:
        change_voicemail_pin(get_db(), user, pin_form.pin.data or "", pin_form.confirm.data or "")
    except SettingRefused as exc:
        flash(refusal_message(exc), "error")
        return _render(VoicemailForm(), PinForm(), 400)
    apply_now(user.id)
    return redirect(url_for("settings.voicemail"))
