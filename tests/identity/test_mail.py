"""control.mail against a real local SMTP server: multipart/alternative messages, STARTTLS with a
verified certificate and login, a refused login, and the outbox used when no SMTP server is configured."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import ipaddress
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import AuthResult
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from clusterpbx.control.config import Settings
from clusterpbx.control.mail import Mail, MailError, build_message, send
from tests.identity.conftest import EphemeralController, Inbox

MAIL = Mail(to="lea@acme.test", subject="Sujet éèà", text="Bonjour Léa,\n\nLien : https://x/y\n",
            html="<p>Bonjour Léa,</p>", language="fr")


def _self_signed(tmp: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp / "cert.pem", tmp / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@pytest.fixture
def tls_smtp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Inbox]:
    cert, key = _self_signed(tmp_path)
    # The portal verifies the server's certificate with the system's trust store: make ours trusted.
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    inbox = Inbox()

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = data.login == b"portail" and data.password == b"s3cret"
        return AuthResult(success=ok, handled=False)

    controller = EphemeralController(inbox, hostname="127.0.0.1", port=0, tls_context=server_ctx,
                                     require_starttls=True, authenticator=authenticator, auth_require_tls=True)
    controller.start()
    inbox.port = controller.port  # type: ignore[attr-defined]
    yield inbox
    controller.stop()


def settings(tmp_path: Path, **kw: Any) -> Settings:
    return Settings(instance_path=str(tmp_path), public_url="https://portail.acme.test", **kw)


def test_message_is_multipart_alternative_with_text_first(tmp_path):
    msg = build_message(settings(tmp_path), MAIL)
    assert msg.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    assert msg["From"] == "ClusterPBX <no-reply@portail.acme.test>"
    assert msg["Content-Language"] == "fr" and msg["Auto-Submitted"] == "auto-generated"
    assert msg["Message-ID"].endswith("@portail.acme.test>")


def test_plain_smtp(tmp_path, smtp):
    send(settings(tmp_path, smtp_host="127.0.0.1", smtp_port=smtp.port, smtp_starttls=False), MAIL)
    [msg] = smtp.wait(1)
    assert msg["Subject"] == "Sujet éèà"
    assert msg.get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n") == MAIL.text


def test_starttls_and_login(tmp_path, tls_smtp):
    conf = settings(tmp_path, smtp_host="127.0.0.1", smtp_port=tls_smtp.port, smtp_starttls=True,
                    smtp_username="portail", smtp_password="s3cret", smtp_from="Portail <portail@acme.test>")
    send(conf, MAIL)
    [msg] = tls_smtp.wait(1)
    assert msg["To"] == "lea@acme.test" and tls_smtp.envelopes[0] == ("portail@acme.test", ["lea@acme.test"])


def test_refused_login_raises(tmp_path, tls_smtp):
    conf = settings(tmp_path, smtp_host="127.0.0.1", smtp_port=tls_smtp.port, smtp_starttls=True,
                    smtp_username="portail", smtp_password="wrong")
    with pytest.raises(MailError):
        send(conf, MAIL)


def test_unreachable_server_raises(tmp_path):
    conf = settings(tmp_path, smtp_host="127.0.0.1", smtp_port=9, smtp_starttls=False, smtp_timeout=2.0)
    with pytest.raises(MailError):
        send(conf, MAIL)


def test_without_smtp_host_the_message_goes_to_the_outbox(tmp_path, caplog):
    send(settings(tmp_path), MAIL)
    [eml] = (tmp_path / "outbox").glob("*.eml")
    msg = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    assert msg["Subject"] == MAIL.subject and msg["To"] == MAIL.to
    assert "smtp_host is not set" in caplog.text
