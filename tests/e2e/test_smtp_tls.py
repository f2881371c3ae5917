"""The SMTP sender against a real SMTP server process: STARTTLS (required, with a login)
and implicit TLS, each with the server's certificate verified against
TOLLGATE_SMTP_CA_FILE; a certificate the CA did not sign is refused; the mail is plain
text with its HTML alternative."""

from __future__ import annotations

import datetime as dt
import ipaddress
import uuid
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.support.smtp import SmtpSink, html_of, text_of
from tollgate.mail.smtp import MailNotSent, SmtpSender, SmtpTarget
from tollgate.store.records import MailRecord


def certificate(folder: Path, name: str) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (its own CA): cert and key files."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / f"{name}.crt", folder / f"{name}.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


def a_mail() -> MailRecord:
    now = dt.datetime.now(dt.UTC)
    return MailRecord(
        id=uuid.uuid4().hex,
        kind="password_reset",
        recipient="minsu@example.org",
        subject="Reset your password for tollgate.test",
        text="Open http://tollgate.test/#reset=abc\n",
        html="<p><a href='http://tollgate.test/#reset=abc'>Reset</a></p>\n",
        created_at=now,
        expires_at=now + dt.timedelta(minutes=30),
    )


@pytest.mark.parametrize("tls", ["starttls", "implicit"])
async def test_mail_goes_over_verified_tls(tmp_path: Path, tls: str) -> None:
    cert, key = certificate(tmp_path, "sink")
    sink = SmtpSink(tmp_path / "mail", tls=tls, cert=cert, key=key, auth="mailer:s3cret").start()
    try:
        sender = SmtpSender(
            sink.url, "Tollgate <no-reply@tollgate.test>", "tollgate.test", 10, str(cert)
        )
        await sender.send(a_mail())
        [message] = await sink.arrived(to="minsu@example.org")
    finally:
        sink.stop()
    assert message["From"] == "Tollgate <no-reply@tollgate.test>"
    assert message["Auto-Submitted"] == "auto-generated"
    assert "#reset=abc" in text_of(message)
    assert "<a href=" in html_of(message)


async def test_a_certificate_from_another_ca_is_refused(tmp_path: Path) -> None:
    cert, key = certificate(tmp_path, "sink")
    other, _ = certificate(tmp_path, "other")
    sink = SmtpSink(tmp_path / "mail", tls="implicit", cert=cert, key=key).start()
    try:
        sender = SmtpSender(sink.url, "t@tollgate.test", "tollgate.test", 10, str(other))
        with pytest.raises(MailNotSent):
            await sender.send(a_mail())
    finally:
        sink.stop()
    assert sink.messages() == []


async def test_a_server_that_requires_starttls_refuses_plain_smtp(tmp_path: Path) -> None:
    cert, key = certificate(tmp_path, "sink")
    sink = SmtpSink(tmp_path / "mail", tls="starttls", cert=cert, key=key).start()
    try:
        plain = SmtpSender(f"smtp://127.0.0.1:{sink.port}", "t@tollgate.test", "tollgate.test", 10)
        with pytest.raises(MailNotSent):
            await plain.send(a_mail())
    finally:
        sink.stop()


def test_the_url_names_the_ports_and_the_password_never_shows() -> None:
    assert SmtpTarget.parse("smtp://relay").port == 25
    assert SmtpTarget.parse("smtp+starttls://relay").port == 587
    target = SmtpTarget.parse("smtps://user%40x:p%3Ass@relay:2465")
    assert (target.port, target.username, target.password) == (2465, "user@x", "p:ss")
    assert "p:ss" not in repr(target)
    with pytest.raises(ValueError, match="smtp"):
        SmtpTarget.parse("http://relay")
