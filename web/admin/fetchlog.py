"""Journal du provisionnement: every request phones (or anyone) made to /prov/, with its outcome, so an
operator sees a phone that cannot authenticate, a scanner, or a phone throttled behind a NAT."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from zoneinfo import ZoneInfo

from flask import render_template, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from clusterpbx.control import validation
from clusterpbx.control.admin import Page
from clusterpbx.control.admin import fetchlog as service
from clusterpbx.control.admin.fetchlog import OUTCOMES

from .. import id_arg
from ..db import get_db
from . import actor, bp, call, operator_tenant_choices

PER_PAGE = 50
OUTCOME_LABELS = {
    "served": _l("Configuration served"),
    "challenge": _l("Credentials asked (normal)"),
    "stale": _l("Credentials expired, asked again (normal)"),
    "bad_credentials": _l("Wrong credentials"),
    "unknown_mac": _l("Unknown MAC address"),
    "unknown_file": _l("Unknown file for this phone"),
    "bad_key": _l("Wrong provisioning key"),
    "network": _l("Address outside the allowed networks"),
    "bad_path": _l("Invalid file name"),
    "bad_token": _l("Invalid or used softphone link"),
    "no_extension": _l("Softphone user without extension"),
    "rate_limited": _l("Too many failures (throttled)"),
    "error": _l("Error"),
}


@bp.route("/provisioning/")
def fetches() -> Any:
    a = actor()
    outcome = request.args.get("outcome", "")
    outcome = outcome if outcome in OUTCOMES else ""
    raw_mac = request.args.get("mac", "").strip()
    try:
        mac = validation.mac_address(raw_mac) if raw_mac else ""
        mac_error = False
    except validation.InvalidValue:
        mac, mac_error = "", True
    # An address is digits, hex, dots and colons: anything else (a NUL byte PostgreSQL refuses, say) goes.
    address = re.sub(r"[^0-9A-Fa-f:.]", "", request.args.get("address", ""))[:64]
    tenant_id = id_arg(request.args.get("tenant")) if a.is_operator else None
    page_no = id_arg(request.args.get("page")) or 1
    db = get_db()
    page = call(service.search, db, a, outcome=outcome, mac=mac, address=address, tenant_id=tenant_id,
                page=page_no, per_page=PER_PAGE) if not mac_error else Page([], 0, 1, PER_PAGE)
    db.rollback()
    zone = ZoneInfo(current_user.user.timezone or current_user.user.tenant.timezone or "UTC")
    rows = [{"at": r.at.replace(tzinfo=dt.UTC).astimezone(zone).strftime("%Y-%m-%d %H:%M:%S") if r.at else "",
             "outcome": r.outcome, "label": OUTCOME_LABELS.get(r.outcome, r.outcome or "—"), "result": r.result,
             "mac": r.mac, "address": r.address, "path": r.path,
             "failed": r.outcome not in ("served", "challenge", "stale")} for r in page.items]
    last = max(1, -(-page.total // page.per_page))
    args = {k: v for k, v in request.args.items() if k in ("outcome", "mac", "address", "tenant") and v}
    return render_template("admin/fetches.html", rows=rows, page=page, last=last, args=args,
                           outcomes=[(o, OUTCOME_LABELS[o]) for o in OUTCOMES], mac_error=mac_error,
                           tenants=operator_tenant_choices(), zone=str(zone))
