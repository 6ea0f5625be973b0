"""The identity e-mails: composed in the recipient's language, rendered as plain text and HTML, with
absolute links built from the configured public_url, and sent off the request so that the response
time does not tell whether a message left."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, current_app, has_request_context, render_template, request, url_for
from flask_babel import force_locale
from flask_babel import gettext as _

from clusterpbx.control.config import Settings
from clusterpbx.control.mail import Mail, MailError, send
from clusterpbx.control.models import User

log = logging.getLogger("clusterpbx.web.mail")


def init_app(app: Flask) -> None:
    app.extensions["clusterpbx.mailer"] = ThreadPoolExecutor(max_workers=2, thread_name_prefix="clusterpbx-mail")


def absolute_url(endpoint: str, **values: Any) -> str:
    """public_url + the endpoint's path. Never the Host header: whoever sends the request controls it,
    and a reset link pointing at their host would hand them the token."""
    path = url_for(endpoint, **values)
    root = request.script_root if has_request_context() else ""
    if root and path.startswith(root):
        path = path[len(root):]
    return str(current_app.config["CLUSTERPBX"].public_url).rstrip("/") + path


@dataclass
class Content:
    subject: str
    greeting: str
    paragraphs: list[str]
    action_label: str = ""
    action_url: str = ""
    after: list[str] = field(default_factory=list)


def _render(to: str, language: str, content: Content) -> Mail:
    values = {"c": content, "lang": language, "signature": _("The ClusterPBX portal")}
    return Mail(to=to, subject=content.subject, language=language,
                text=render_template("email/message.txt", **values),
                html=render_template("email/message.html", **values))


def _greeting(user: User) -> str:
    name = user.first_name or user.display_name
    return _("Hello %(name)s,", name=name)


def signup_confirmation(user: User, link: str, hours: int) -> Mail:
    with force_locale(user.language):
        content = Content(
            subject=_("Confirm your e-mail address"),
            greeting=_greeting(user),
            paragraphs=[_("You asked to register on the ClusterPBX portal of %(company)s with this address.",
                          company=user.tenant.name),
                        _("To confirm that the address is yours, open this link within %(hours)d hours:",
                          hours=hours)],
            action_label=_("Confirm my address"), action_url=link,
            after=[_("If you did not ask for this, ignore this message: no account will be opened.")])
        return _render(user.email, user.language, content)


def already_registered(user: User, forgot_link: str, login_link: str) -> Mail:
    with force_locale(user.language):
        content = Content(
            subject=_("You already have an account"),
            greeting=_greeting(user),
            paragraphs=[_("Someone (perhaps you) tried to register on the ClusterPBX portal with this address, "
                          "but it already has an account. Log in at %(login)s.", login=login_link),
                        _("If you forgot your password, choose a new one here:")],
            action_label=_("Forgot your password?"), action_url=forgot_link,
            after=[_("If you did not ask for this, ignore this message: nothing was changed.")])
        return _render(user.email, user.language, content)


def password_reset(user: User, link: str, minutes: int) -> Mail:
    with force_locale(user.language):
        content = Content(
            subject=_("Choose a new password"),
            greeting=_greeting(user),
            paragraphs=[_("You asked to choose a new password for the ClusterPBX portal. Open this link within "
                          "%(minutes)d minutes; it works once:", minutes=minutes)],
            action_label=_("Choose a new password"), action_url=link,
            after=[_("Choosing a new password ends every other session of your account."),
                   _("If you did not ask for this, ignore this message: your password stays the same.")])
        return _render(user.email, user.language, content)


def deliver(mail: Mail) -> None:
    """Queue the message; a failure is logged (the person sees the same answer either way)."""
    settings: Settings = current_app.config["CLUSTERPBX"]
    executor: ThreadPoolExecutor = current_app.extensions["clusterpbx.mailer"]
    executor.submit(_send_logged, settings, mail)


def _send_logged(settings: Settings, mail: Mail) -> None:
    try:
        send(settings, mail)
    except MailError:
        log.exception("mail to %s not sent", mail.to)
    except Exception:  # a worker thread must not die silently
        log.exception("unexpected error sending mail to %s", mail.to)
