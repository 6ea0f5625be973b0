"""Translated messages for refused settings (one place, so every screen words a rule the same way)."""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from clusterpbx.control.callsettings import SettingRefused

FIELD_NAMES = {
    "followme_numbers": _l("Follow me"),
    "forward_always": _l("Call forward (always)"),
    "forward_busy": _l("Call forward when busy"),
    "forward_noanswer": _l("Call forward on no answer"),
    "followme_delay": _l("Delay for the devices to ring"),
    "forward_noanswer_delay": _l("Ring time before forwarding"),
    "language": _l("Language"),
    "ooo_last_day": _l("Last day"),
    "email_address": _l("Notification e-mail"),
    "delete_after_email": _l("Delete the voicemail after notification"),
    "pin": _l("Voicemail password"),
    "number": _l("Number to call"),
}


def refusal_message(exc: SettingRefused) -> str:
    p = exc.params
    text = {
        "control_characters": _("%(number)s contains characters that are not allowed.", number=p.get("number", "")),
        "invalid_number": _("%(number)s is not a valid phone number.", number=p.get("number", "")),
        "internal_only": _("%(number)s is outside your company: your allowed destinations are internal calls "
                           "only.", number=p.get("number", "")),
        "not_allowed": _("%(number)s is not in your allowed destinations: %(rule)s.", number=p.get("number", ""),
                         rule=p.get("rule", "")),
        "too_many": _("At most 10 numbers."),
        "followme_needs_number": _("Enter at least one number to turn follow me on."),
        "delay_range": _("Delays must be between 5 and 120 seconds."),
        "invalid_language": _("Choose Français or English."),
        "last_day_before_start": _("The last day cannot be before the start."),
        "last_day_in_past": _("This absence is already over: choose a last day from today on, or turn the "
                              "out-of-office message off."),
        "own_extension": _("%(number)s is your own extension: calls would come back to you in a loop.",
                           number=p.get("number", "")),
        "invalid_email": _("This e-mail address is not valid."),
        "delete_needs_email": _("Deleting after notification needs the e-mail notification turned on."),
        "pin_mismatch": _("The PIN and its confirmation do not match."),
        "pin_digits_only": _("The PIN must contain digits only."),
        "pin_length": _("The PIN must contain between %(min)s and %(max)s digits.", min=p.get("min", "4"),
                        max=p.get("max", "20")),
        "pin_trivial": _("This PIN is too easy to guess (same digit repeated, or your extension)."),
    }.get(exc.code, _("This value cannot be used."))
    return f"{FIELD_NAMES.get(exc.field, exc.field)}: {text}"
