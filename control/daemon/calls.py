"""Détails d'appels' click-to-call: the user's own phone rings first, then the number is dialled in the
user's tenant, within the destinations the user may call."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..callsettings import SettingRefused, check_click_to_call
from ..models import Extension, User
from ..pbxnames import PbxNames
from ..validation import InvalidValue, phone_number
from .core import ControlDaemon
from .registry import command


@command
async def cmd_click_to_call(daemon: ControlDaemon, user_id: int, number: str) -> dict[str, Any]:
    number = phone_number(number)

    def endpoint_of(db: Session, user: User) -> tuple[str, str, str]:
        ext = user.primary_extension
        if ext is None:
            raise LookupError("the user has no extension")
        # The user's allowed destinations, whoever sent the command (the portal and the API check
        # first, for a worded refusal; this is the check no other way in can skip).
        try:
            check_click_to_call(db, user, number)
        except SettingRefused as exc:
            raise InvalidValue("number", exc.code) from None
        names = PbxNames.for_tenant(db, user.tenant)
        # What the user's own phone shows while it rings first: whom it is about to call (the colleague's
        # name for an extension of the company), as PBX portals do, never "Anonymous".
        callee = db.scalar(select(Extension).where(Extension.tenant_id == user.tenant_id,
                                                   Extension.number == number))
        name = callee.user.display_name if callee is not None and callee.user is not None else ""
        shown = f'"{name}" <{number}>' if name and not set(name) & set('"<>') else number
        # The user's phone in its tenant's namespace, and the number dialled in the tenant's context.
        return names.endpoint(ext.sip_username), names.context, shown

    runner, (endpoint, context, shown) = await daemon.for_user(user_id, endpoint_of)
    await runner.port.click_to_call(endpoint, number, caller_id=shown, context=context)
    return {"endpoint": endpoint, "number": number}
