"""The outbox's sender (issue 17): each server process sends due mail through SMTP,
retrying with exponential backoff while the server is down or refuses it.

Mail is claimed from the store with a lease, so workers and replicas never send one at
the same time; a process that dies mid-send leaves the mail to be sent again when the
lease ends (the receiver may then see it twice, with one Message-ID). Mail is rows: a
restart loses none. A mail still unsent when it expires (its link would be dead) is
given up, with a `mail_failed` audit row, as is one the server refuses permanently.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import secrets
from datetime import timedelta

from tollgate.clock import Clock
from tollgate.events import Event, EventBus
from tollgate.mail.sealing import MailSealingError, open_body
from tollgate.mail.smtp import MailNotSent, MailRefused, SmtpSender
from tollgate.metrics import Metrics
from tollgate.settings import Settings
from tollgate.store.interfaces import MailOutbox
from tollgate.store.records import MailRecord, StoreError

log = logging.getLogger("tollgate.mail")

BATCH = 20
LEASE_SECONDS = 120


def warn_without_mail(settings: Settings) -> None:
    """What a server says at start when it sends no mail."""
    if not settings.mail_enabled:
        log.warning(
            "TOLLGATE_SMTP_URL is not set: no mail is sent (password reset and email "
            "verification answer 503 mail_unavailable)"
        )


class MailDelivery:
    def __init__(
        self,
        outbox: MailOutbox,
        sender: SmtpSender,
        settings: Settings,
        metrics: Metrics,
        events: EventBus,
        clock: Clock,
    ) -> None:
        self._outbox = outbox
        self._sender = sender
        self._interval = settings.mail_interval
        self._first_retry = settings.mail_first_retry
        self._max_backoff = settings.mail_max_backoff
        self._metrics = metrics
        self._events = events
        self._clock = clock
        self._secret = settings.secret_key

    async def run(self) -> None:
        """Send due mail forever (the app's lifespan runs and cancels this)."""
        while True:
            try:
                claimed = await self.send_due()
            except StoreError:
                log.warning("mail: the database is unavailable; trying again")
                claimed = 0
            if claimed < BATCH:
                await asyncio.sleep(self._interval)

    async def send_due(self) -> int:
        """Send the mail due now, once each; how many were claimed."""
        now = self._clock.now()
        due = await self._outbox.claim(now, now + timedelta(seconds=LEASE_SECONDS), BATCH)
        for index, mail in enumerate(due):
            try:
                await self._send(mail)
            except asyncio.CancelledError:
                # Shutting down: what this process claimed is due again at once, for the
                # next process (else it would wait for its lease to end).
                for left in due[index:]:
                    await asyncio.shield(
                        self._outbox.failed(left.id, self._clock.now(), "interrupted")
                    )
                raise
        self._metrics.mail_backlog.set(await self._outbox.backlog())
        return len(due)

    async def _send(self, mail: MailRecord) -> None:
        now = self._clock.now()
        if mail.expires_at <= now:
            await self._give_up(mail, f"expired unsent after {mail.attempts} attempts")
            return
        try:
            opened = dataclasses.replace(
                mail,
                text=open_body(mail.text, self._secret, mail.id),
                html=open_body(mail.html, self._secret, mail.id),
            )
        except MailSealingError as exc:
            log.warning("mail: %s", exc)
            await self._give_up(mail, str(exc))
            return
        try:
            await self._sender.send(opened)
        except MailRefused as exc:
            log.warning("mail: the SMTP server refused a %s mail: %s", mail.kind, exc)
            await self._give_up(mail, str(exc))
            return
        except MailNotSent as exc:
            log.warning("mail: %s to the SMTP server failed: %s", mail.kind, exc)
            self._metrics.mail_failures.inc()
            await self._outbox.failed(mail.id, now + self._backoff(mail), str(exc))
            return
        event = Event("mail_sent", self._clock.now(), user_id=mail.user_id, detail=mail.kind)
        await self._outbox.remove(mail.id, [event.audit_record()])
        self._metrics.mail_sent.labels(kind=mail.kind).inc()
        await self._events.publish(event)

    async def _give_up(self, mail: MailRecord, why: str) -> None:
        event = Event(
            "mail_failed",
            self._clock.now(),
            user_id=mail.user_id,
            detail=f"{mail.kind}: {why}; last error: {mail.last_error}",
        )
        await self._outbox.remove(mail.id, [event.audit_record()])
        self._metrics.mail_given_up.labels(kind=mail.kind).inc()
        await self._events.publish(event)

    def _backoff(self, mail: MailRecord) -> timedelta:
        """Exponential, capped, with jitter so a returning SMTP server is not hit by every
        replica at once."""
        seconds = min(self._first_retry * 2**mail.attempts, self._max_backoff)
        return timedelta(seconds=seconds * (0.8 + secrets.randbelow(201) / 1000))
