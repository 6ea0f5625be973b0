"""Mon softphone: the user's SIP username, password (shown on request), server/domain, "Plus de
paramètres" (transport, port, proxy, codecs), where to get a free softphone today, and a QR code that
provisions Linphone (and Zoiper, through its OEM page) with a single-use URL that never holds the password."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import segno
from flask import Blueprint, current_app, render_template, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm

from clusterpbx.control.models import Tenant, User
from clusterpbx.provisioning.model import Options, options_from
from clusterpbx.provisioning.render import tenant_defaults
from clusterpbx.provisioning.softphone import TOKEN_MINUTES, SoftphoneAccount, issue_token

from ..db import get_db

bp = Blueprint("softphone", __name__, url_prefix="/softphone")

# The guide's list, with what became of each, then the ones to use today (checked November 2026).
CURRENT = [
    ("Linphone", "https://www.linphone.org/", _l("Windows, macOS, Linux, Android, iOS; free and open source. "
                                                  "Scan the QR code above to set it up.")),
    ("MicroSIP", "https://www.microsip.org/", _l("Windows; free and open source.")),
    ("Zoiper", "https://www.zoiper.com/", _l("Windows, macOS, Linux, Android, iOS; free version available.")),
]
FROM_GUIDE = [
    ("X-Lite", _l("discontinued, replaced by Bria, which is not free")),
    ("QuteCom", _l("discontinued")),
    ("Twinkle", _l("Linux only, still available from its project page, rarely updated")),
    ("Ekiga", _l("no longer maintained")),
]


def tenant_options(tenant: Tenant) -> Options:
    return options_from(tenant_defaults(tenant), {})


def account_for(user: User) -> SoftphoneAccount | None:
    ext = user.primary_extension
    if ext is None:
        return None
    o = tenant_options(user.tenant)
    return SoftphoneAccount(username=ext.sip_username, password=ext.sip_password, domain=o.sip_server,
                            server=o.outbound_proxy or o.sip_server, port=o.sip_port, transport=o.transport,
                            display_name=user.display_name, codecs=o.codecs)


def _qr(data: str) -> str:
    return str(segno.make(data, error="m").png_data_uri(scale=5, border=4))


@bp.route("/", methods=["GET", "POST"])
@login_required
def index() -> Any:
    user: User = current_user.user
    form = FlaskForm()
    # "Show the password" is a POST (with CSRF) so the password is never in a page fetched by GET.
    reveal = request.method == "POST" and form.validate_on_submit() and request.form.get("action") == "reveal"
    account = account_for(user)
    options = tenant_options(user.tenant)
    settings = current_app.config["CLUSTERPBX"]
    public = settings.public_url.rstrip("/")
    linphone_url = zoiper_page = linphone_qr = ""
    if account is not None:
        secret = current_app.config["SECRET_KEY"]
        linphone_url = f"{public}/prov/softphone/linphone?" + urlencode(
            {"t": issue_token(secret, user.id, user.session_version, "linphone")})
        linphone_qr = _qr(linphone_url)
        provider = str(settings.extra.get("zoiper_provider_id", ""))
        if provider:
            # Zoiper's OEM page shows the QR; Zoiper then calls our token URL with the token.
            zoiper_page = "https://oem.zoiper.com/qr-howto.php?" + urlencode(
                {"provider_id": provider, "u": "", "p": "", "a": "",
                 "t": issue_token(secret, user.id, user.session_version, "zoiper")})
    get_db().commit()
    return render_template("softphone/index.html", form=form, account=account, reveal=reveal, options=options,
                           linphone_qr=linphone_qr, zoiper_page=zoiper_page, minutes=TOKEN_MINUTES,
                           current=CURRENT, from_guide=FROM_GUIDE,
                           token_url=f"{public}/prov/softphone/zoiper?t=")
