"""Ask the control daemon to apply a user's saved settings now, and say what happened."""

from __future__ import annotations

from flask import current_app, flash
from flask_babel import gettext as _

from clusterpbx.control.commands import CommandError, ControlClient, apply_wait


def apply_now(user_id: int) -> bool:
    """True if the PBX took the change; otherwise it stays pending and the daemon applies it later."""
    settings = current_app.config["CLUSTERPBX"]
    client = ControlClient.from_settings(settings)
    try:
        result = client.call("apply_user", user_id=user_id, wait=apply_wait(settings))
    except CommandError:
        flash(_("Saved. The telephone system cannot be reached right now: your change is pending and will "
                "be applied automatically as soon as it is back."), "warning")
        return False
    if result.get("in_progress"):
        flash(_("Saved. It is being applied on the telephone system now."), "info")
        return False
    if result.get("pending"):
        flash(_("Saved. The telephone system did not accept the change yet: it is pending and will be "
                "applied automatically."), "warning")
        return False
    flash(_("Saved and applied on the telephone system."), "success")
    return True
