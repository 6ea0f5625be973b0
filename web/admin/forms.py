"""Flask-WTF forms built at request time from a resource's `Field` descriptions, and the conversion
of what was posted into the typed dict the admin services expect.

The form only parses (whole numbers, listed choices, visible references, required values); every rule
of substance is the service's, whose `Invalid` errors come back next to the same fields.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.widgets import CheckboxInput, ListWidget, NumberInput, PasswordInput

from clusterpbx.control.admin import Actor, Field, FieldType, Resource

# How the choice values of the services read on screen.
CHOICE_LABELS = {
    "fr": _l("French"), "en": _l("English"), "user": _l("User"), "tenant_admin": _l("Telephony administrator"),
    "operator": _l("Operator"), "asterisk": "Asterisk", "freeswitch": "FreeSWITCH", "none": _l("None"),
    "pbx": _l("The PBX"), "twilio": "Twilio", "voipms": "VoIP.ms", "jitsi": "Jitsi", "bigbluebutton": "BigBlueButton",
}


def choice_label(value: str) -> str:
    label = CHOICE_LABELS.get(value)
    return str(label) if label is not None else value


# Attributes of a WTForms form that a field name must not shadow.
_RESERVED = set(dir(FlaskForm)) | {"csrf_token", "meta"}


def attr_name(name: str) -> str:
    return f"field_{name}" if name in _RESERVED or name.startswith("_") else name


@dataclass
class FormSpec:
    """What the screen shows for one resource and actor: editable fields, read-only ones, options."""

    editable: list[Field]
    shown_read_only: list[Field]
    options: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    closed_refs: set[str] = field(default_factory=set)  # references whose list the actor may not read


def spec_for(res: Resource, actor: Actor, options: dict[str, list[tuple[str, str]]],
             closed_refs: set[str], view_only: bool = False) -> FormSpec:
    editable: list[Field] = []
    read_only: list[Field] = []
    for f in res.fields:
        # A tenant admin's objects always belong to their tenant: the tenant is shown, not chosen.
        fixed_tenant = f.name == "tenant_id" and not actor.is_operator
        if (view_only or f.read_only or (f.operator_only and not actor.is_operator) or f.name in closed_refs
                or fixed_tenant):
            if f.type is not FieldType.SECRET:
                read_only.append(f)
        else:
            editable.append(f)
    return FormSpec(editable, read_only, options, closed_refs)


def build_form(spec: FormSpec, *, creating: bool, initial: dict[str, Any] | None = None,
               posted: bool = False) -> FlaskForm:
    """A FlaskForm subclass with one WTForms field per editable `Field`; CSRF comes with FlaskForm."""

    class AdminForm(FlaskForm):
        pass

    for f in spec.editable:
        kw: dict[str, Any] = {"label": _(f.label)}
        render: dict[str, Any] = {}
        if f.max_length:
            render["maxlength"] = f.max_length
        if f.required and f.type not in (FieldType.BOOLEAN, FieldType.REFERENCES) and not (
                f.type is FieldType.SECRET and not creating):
            render["required"] = True
        kw["render_kw"] = render or None
        wt: Any
        if f.type is FieldType.TEXT:
            wt = TextAreaField(**kw)
        elif f.type is FieldType.INTEGER:
            wt = StringField(widget=NumberInput(min=f.minimum, max=f.maximum), **kw)
        elif f.type is FieldType.BOOLEAN:
            wt = BooleanField(**kw)
        elif f.type is FieldType.CHOICE:
            choices = [(c, choice_label(c)) for c in f.choices]
            if not f.required:
                choices = [("", "—"), *choices]
            wt = SelectField(choices=_choices(choices), validate_choice=False, **kw)
        elif f.type is FieldType.SECRET:
            # Write-only: never filled from the object; kept only when a failed post is shown again.
            render["autocomplete"] = "new-password"
            kw["render_kw"] = render
            wt = PasswordField(widget=PasswordInput(hide_value=not posted), **kw)
        elif f.type is FieldType.REFERENCE:
            wt = SelectField(choices=_choices([("", "—"), *spec.options.get(f.name, [])]), validate_choice=False,
                             **kw)
        elif f.type is FieldType.REFERENCES:
            wt = SelectMultipleField(choices=_choices(spec.options.get(f.name, [])), validate_choice=False,
                                     widget=ListWidget(prefix_label=False), option_widget=CheckboxInput(), **kw)
        else:
            wt = StringField(**kw)
        setattr(AdminForm, attr_name(f.name), wt)

    data = None
    if initial is not None:
        data = {attr_name(f.name): initial_value(f, initial.get(f.name)) for f in spec.editable
                if f.type is not FieldType.SECRET}
    if posted:
        return AdminForm()
    return AdminForm(formdata=None, data=data)


def _choices(pairs: list[tuple[str, str]]) -> list[SelectChoice]:
    return [SelectChoice(value, label) for value, label in pairs]


def initial_value(f: Field, value: Any) -> Any:
    if value is None:
        return [] if f.type is FieldType.REFERENCES else ""
    if f.type is FieldType.BOOLEAN:
        return bool(value)
    if f.type is FieldType.REFERENCES:
        return [str(v) for v in value]
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def convert(spec: FormSpec, form: FlaskForm, *, creating: bool) -> tuple[dict[str, Any], dict[str, str]]:
    """Typed values for the service, and the parsing errors (field name -> translated message)."""
    data: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for f in spec.editable:
        raw = getattr(form, attr_name(f.name)).data
        if f.type is FieldType.BOOLEAN:
            data[f.name] = bool(raw)
            continue
        if f.type is FieldType.REFERENCES:
            allowed = {v for v, _label in spec.options.get(f.name, [])}
            chosen = [str(v) for v in (raw or [])]
            if any(v not in allowed for v in chosen):
                errors[f.name] = _("Choose among the listed values.")
                continue
            data[f.name] = [int(v) for v in chosen]
            continue
        text = (raw or "") if isinstance(raw, str) else ("" if raw is None else str(raw))
        if f.type is not FieldType.SECRET and f.type is not FieldType.TEXT:
            text = text.strip()
        if f.type is FieldType.SECRET and not text:
            if creating and f.required:
                errors[f.name] = _("This field is required.")
            continue  # empty secret on update: unchanged
        if not text:
            if f.required:
                errors[f.name] = _("This field is required.")
            elif f.type is not FieldType.CHOICE:  # an empty choice ("—") keeps the default or current value
                data[f.name] = None if f.type in (FieldType.INTEGER, FieldType.REFERENCE) else ""
            continue
        if f.max_length is not None and len(text) > f.max_length:
            errors[f.name] = _("At most %(n)d characters.", n=f.max_length)
            continue
        if f.type is FieldType.INTEGER:
            try:
                number = int(text)
            except ValueError:
                errors[f.name] = _("Enter a whole number.")
                continue
            if f.minimum is not None and number < f.minimum or f.maximum is not None and number > f.maximum:
                errors[f.name] = _("Enter a number between %(min)s and %(max)s.",
                                   min=f.minimum if f.minimum is not None else "…",
                                   max=f.maximum if f.maximum is not None else "…")
                continue
            data[f.name] = number
        elif f.type is FieldType.CHOICE:
            if text not in f.choices:
                errors[f.name] = _("Choose among the listed values.")
                continue
            data[f.name] = text
        elif f.type is FieldType.REFERENCE:
            if text not in {v for v, _label in spec.options.get(f.name, [])}:
                errors[f.name] = _("Choose among the listed values.")
                continue
            data[f.name] = int(text)
        else:
            data[f.name] = text
    return data, errors
