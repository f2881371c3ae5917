"""Composing a mail for the outbox: the template rendered with what every mail names
(the issuer, the account page, when a link expires), as a MailRecord to enqueue."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from tollgate.mail.sealing import seal_body
from tollgate.mail.templates import MailTemplates
from tollgate.settings import Settings
from tollgate.store.records import MailRecord, UserRecord

# A notification not sent within a day says nothing useful any more.
NOTICE_LIFETIME = timedelta(days=1)


def when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def duration(seconds: int) -> str:
    if seconds % 86_400 == 0:
        days = seconds // 86_400
        return f"{days} day{'s' if days != 1 else ''}"
    if seconds % 3600 == 0:
        hours = seconds // 3600
        return f"{hours} hour{'s' if hours != 1 else ''}"
    minutes = max(1, seconds // 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def site_name(settings: Settings) -> str:
    return urlsplit(settings.issuer).hostname or settings.issuer


def default_sender(settings: Settings) -> str:
    return settings.mail_from or f"Tollgate <no-reply@{site_name(settings)}>"


class Mails:
    def __init__(self, templates: MailTemplates, settings: Settings) -> None:
        self._templates = templates
        self._issuer = settings.issuer
        self._site = site_name(settings)
        self._account_page = settings.account_page_url
        self._secret = settings.secret_key

    def link(self, fragment: str, token: str) -> str:
        """A link to the account page opening one of its forms (`#reset=`, `#verify=`):
        the token is in the fragment, which browsers send to no server, so no access
        log, proxy or Referer holds it; opening the link uses nothing up."""
        return f"{self._account_page}#{fragment}={token}"

    def compose(
        self,
        kind: str,
        user: UserRecord,
        recipient: str,
        now: datetime,
        expires_at: datetime | None = None,
        **context: Any,
    ) -> MailRecord:
        expires = expires_at or now + NOTICE_LIFETIME
        rendered = self._templates.render(
            kind,
            issuer=self._issuer,
            site=self._site,
            account_page=self._account_page,
            username=user.username,
            recipient=recipient,
            expires_at=when(expires),
            expires_in=duration(int((expires - now).total_seconds())),
            **context,
        )
        mail_id = uuid.uuid4().hex
        return MailRecord(
            id=mail_id,
            kind=kind,
            recipient=recipient,
            subject=rendered.subject,
            # Sealed with TOLLGATE_SECRET_KEY when set: the body holds the link.
            text=seal_body(rendered.text, self._secret, mail_id),
            html=seal_body(rendered.html, self._secret, mail_id),
            created_at=now,
            expires_at=expires,
            user_id=user.id,
        )
