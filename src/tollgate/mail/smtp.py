"""Sending one mail through the operator's SMTP server, with aiosmtplib.

`TOLLGATE_SMTP_URL`: `smtp://[user:pass@]host[:25]` (no TLS: a relay on the same host or
network), `smtp+starttls://...[:587]` (RFC 3207 STARTTLS, required), `smtps://...[:465]`
(implicit TLS, RFC 8314). Certificates are verified (against `TOLLGATE_SMTP_CA_FILE`
when set, else the system's CAs).
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from urllib.parse import unquote, urlsplit

import aiosmtplib

from tollgate.store.records import MailRecord

DEFAULT_PORTS = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}


class MailNotSent(Exception):
    """The SMTP server could not be reached or refused the mail for now; try again later."""


class MailRefused(MailNotSent):
    """The SMTP server refused the mail for good (a 5xx answer, RFC 5321 §4.2.1)."""


@dataclass(frozen=True)
class SmtpTarget:
    hostname: str
    port: int
    username: str | None
    password: str | None
    implicit_tls: bool
    start_tls: bool

    @classmethod
    def parse(cls, url: str) -> SmtpTarget:
        parts = urlsplit(url)
        if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
            raise ValueError("TOLLGATE_SMTP_URL must be smtp://, smtp+starttls:// or smtps://host")
        return cls(
            hostname=parts.hostname,
            port=parts.port or DEFAULT_PORTS[parts.scheme],
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            implicit_tls=parts.scheme == "smtps",
            start_tls=parts.scheme == "smtp+starttls",
        )

    def __repr__(self) -> str:  # never the password, in a log line or a traceback
        scheme = "smtps" if self.implicit_tls else "smtp+starttls" if self.start_tls else "smtp"
        return f"SmtpTarget({scheme}://{self.hostname}:{self.port})"


def message(mail: MailRecord, sender: str, domain: str) -> EmailMessage:
    """The mail as sent: plain text, with the HTML as its alternative (RFC 2046 §5.1.4)."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = mail.recipient
    msg["Subject"] = mail.subject
    msg["Date"] = formatdate(mail.created_at.timestamp(), usegmt=True)
    # Derived from the outbox id: a mail sent twice (a lease ran out) is one message.
    msg["Message-ID"] = make_msgid(idstring=mail.id, domain=domain)
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies
    msg.set_content(mail.text)
    msg.add_alternative(mail.html, subtype="html")
    return msg


class SmtpSender:
    def __init__(
        self, url: str, sender: str, domain: str, timeout: float, ca_file: str | None = None
    ) -> None:
        self._target = SmtpTarget.parse(url)
        self._sender = sender
        self._domain = domain
        self._timeout = timeout
        self._tls = ssl.create_default_context(cafile=ca_file)

    @property
    def target(self) -> SmtpTarget:
        return self._target

    async def send(self, mail: MailRecord) -> None:
        target = self._target
        try:
            await aiosmtplib.send(
                message(mail, self._sender, self._domain),
                hostname=target.hostname,
                port=target.port,
                username=target.username,
                password=target.password,
                use_tls=target.implicit_tls,
                # smtp://: never (a plain relay); smtp+starttls://: required.
                start_tls=target.start_tls,
                tls_context=self._tls if target.implicit_tls or target.start_tls else None,
                timeout=self._timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            if all(e.code >= 500 for e in exc.recipients):
                raise MailRefused(f"{type(exc).__name__}: {exc}") from exc
            raise MailNotSent(f"{type(exc).__name__}: {exc}") from exc
        except aiosmtplib.SMTPResponseException as exc:
            kind = MailRefused if exc.code >= 500 else MailNotSent
            raise kind(f"{type(exc).__name__}: {exc.code} {exc.message}") from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise MailNotSent(f"{type(exc).__name__}: {exc}") from exc
