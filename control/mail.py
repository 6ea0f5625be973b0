"""Outgoing e-mail over the installation's SMTP server: multipart/alternative (plain text and HTML)
messages built with `email.message.EmailMessage`, with STARTTLS or implicit TLS and optional login."""

from __future__ import annotations

import logging
import smtplib
import ssl
import time
import uuid
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from urllib.parse import urlsplit

from .config import Settings

log = logging.getLogger("clusterpbx.mail")


class MailError(RuntimeError):
    pass


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    text: str
    html: str
    language: str = "fr"


def sender_address(settings: Settings) -> str:
    if settings.smtp_from:
        return settings.smtp_from
    host = urlsplit(settings.public_url).hostname or "localhost"
    return str(Address("ClusterPBX", "no-reply", host if "." in host else "localhost.localdomain"))


def build_message(settings: Settings, mail: Mail) -> EmailMessage:
    """A multipart/alternative message; the plain text part comes first so that clients that prefer
    it (or cannot show HTML) get it."""
    msg = EmailMessage()
    msg["From"] = sender_address(settings)
    msg["To"] = mail.to
    msg["Subject"] = mail.subject
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    domain = urlsplit(settings.public_url).hostname or "clusterpbx.invalid"
    msg["Message-ID"] = make_msgid(domain=domain)
    # Automatic messages: ask auto-responders not to answer them (RFC 3834).
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(mail.text)
    msg.add_alternative(mail.html, subtype="html")
    # After the body: set_content() drops every Content-* header set before it.
    msg["Content-Language"] = mail.language
    return msg


def send(settings: Settings, mail: Mail) -> None:
    """Send one message now; raises MailError when the server refuses it or cannot be reached."""
    msg = build_message(settings, mail)
    if not settings.smtp_host:
        _write_outbox(settings, msg)
        return
    # Loading the system's CA bundle costs about 50 ms: only for a server spoken to over TLS.
    context = ssl.create_default_context() if settings.smtp_ssl or settings.smtp_starttls else None
    try:
        smtp: smtplib.SMTP
        if settings.smtp_ssl:
            smtp = smtplib.SMTP_SSL(settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout,
                                    context=context)
        else:
            smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout)
        with smtp:
            smtp.ehlo()
            if settings.smtp_starttls and not settings.smtp_ssl:
                smtp.starttls(context=context)
                smtp.ehlo()
            if settings.smtp_username:
                smtp.login(settings.smtp_username, settings.smtp_password)
            smtp.send_message(msg)
    except (OSError, smtplib.SMTPException) as exc:
        raise MailError(f"could not send mail through {settings.smtp_host}:{settings.smtp_port}: {exc}") from exc


def _write_outbox(settings: Settings, msg: EmailMessage) -> None:
    # No SMTP server configured (the demo): keep the message where an operator can read it, rather than
    # losing a sign-up or reset link silently.
    outbox = Path(settings.instance_path) / "outbox"
    outbox.mkdir(parents=True, exist_ok=True)
    path = outbox / f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}.eml"
    path.write_bytes(bytes(msg))
    log.warning("smtp_host is not set: mail to %s written to %s", msg["To"], path)
