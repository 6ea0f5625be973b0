"""Translated messages for refused settings (one place, so every screen words a rule the same way)."""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString

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


# The refusals of a call setting by code, once, for the screens (in the user's language) and the REST API
# (web/api/me_routes.py, in English): the same rule is worded the same way everywhere.
REFUSALS: dict[str, LazyString] = {
    "control_characters": _l("%(number)s contains characters that are not allowed."),
    "invalid_number": _l("%(number)s is not a valid phone number."),
    "internal_only": _l("%(number)s is outside your company: your allowed destinations are internal calls only."),
    "not_allowed": _l("%(number)s is not in your allowed destinations: %(rule)s."),
    "too_many": _l("At most 10 numbers."),
    "followme_needs_number": _l("Enter at least one number to turn follow me on."),
    "delay_range": _l("Delays must be between 5 and 120 seconds."),
    "invalid_language": _l("Choose Français (fr) or English (en)."),
    "last_day_before_start": _l("The last day cannot be before the start."),
    "last_day_in_past": _l("This absence is already over: choose a last day from today on, or turn the "
                           "out-of-office message off."),
    "own_extension": _l("%(number)s is your own extension: calls would come back to you in a loop."),
    "invalid_email": _l("This e-mail address is not valid."),
    "delete_needs_email": _l("Deleting after notification needs the e-mail notification turned on."),
    "pin_mismatch": _l("The PIN and its confirmation do not match."),
    "pin_digits_only": _l("The PIN must contain digits only."),
    "pin_length": _l("The PIN must contain between %(min)s and %(max)s digits."),
    "pin_trivial": _l("This PIN is too easy to guess (same digit repeated, or your extension)."),
}


def refusal_text(exc: SettingRefused) -> str:
    """The refusal's text in the current locale, its values filled in."""
    text = REFUSALS.get(exc.code)
    if text is None:
        return _("This value cannot be used.")
    return str(text) % {"number": "", "rule": "", "min": "4", "max": "20", **exc.params}


def refusal_message(exc: SettingRefused) -> str:
    return f"{FIELD_NAMES.get(exc.field, exc.field)}: {refusal_text(exc)}"
