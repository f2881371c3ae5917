"""Mail the careful service sends when something happens to an account (issue 17).

A subscriber of the event bus: each rule maps an event name to the template mailed for
it. Only verified addresses get mail (an unverified one may be anyone's). Adding a
notice is one rule here and three template files (e.g. "mfa_enrolled" → "mfa_enrolled").
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from tollgate.clock import Clock
from tollgate.events import Event, EventBus
from tollgate.services.grants import REUSE_EVENT
from tollgate.services.mailing import Mails, when
from tollgate.settings import Settings
from tollgate.store.interfaces import MailOutbox, UserStore

log = logging.getLogger("tollgate.mail")

PASSWORD_EVENTS = {
    "password_changed": "Every other session of your account ended.",
    "password_set_by_admin": "An operator set it; every session of your account ended.",
    "password_reset": "It was reset through a mailed link; every session ended.",
}

# Issue 18: what the factor events' detail (the kind of factor) says in the mail.
FACTOR_CHANGES = {
    ("mfa_enrolled", "totp"): "An authenticator app was set up as a second factor",
    ("mfa_enrolled", "webauthn"): "A passkey was added",
    ("mfa_removed", "totp"): "The authenticator app was removed as a second factor",
    ("mfa_removed", "webauthn"): "A passkey was removed",
}
OPERATOR_RESET = "An operator removed every second factor"


def notice_rules(settings: Settings) -> dict[str, str]:
    """Event name → template, as the settings turn each notice on."""
    rules: dict[str, str] = {}
    if settings.notify_password_changed:
        rules.update(dict.fromkeys(PASSWORD_EVENTS, "password_changed"))
    if settings.notify_refresh_reuse:
        rules[REUSE_EVENT] = "refresh_reuse"
    if settings.notify_factor_changed:
        rules.update(dict.fromkeys(("mfa_enrolled", "mfa_removed"), "factor_changed"))
    if settings.notify_new_sign_in:
        rules["login_succeeded"] = "new_sign_in"
    return rules


class Notifier:
    def __init__(
        self,
        rules: Mapping[str, str],
        users: UserStore,
        outbox: MailOutbox,
        mails: Mails,
        clock: Clock,
    ) -> None:
        self._rules = dict(rules)
        self._users = users
        self._outbox = outbox
        self._mails = mails
        self._clock = clock

    def subscribe(self, events: EventBus) -> None:
        events.subscribe(Event, self.notify)

    async def notify(self, event: Event) -> None:
        kind = self._rules.get(event.name)
        if kind is None or event.user_id is None:
            return
        user = await self._users.by_id(event.user_id)
        if user is None or user.email is None or not user.email_verified:
            return
        mail = self._mails.compose(
            kind,
            user,
            user.email,
            self._clock.now(),
            when=when(event.at),
            ip=event.client.ip,
            user_agent=event.client.user_agent,
            detail=_detail(event),
        )
        await self._outbox.enqueue(mail)


def _detail(event: Event) -> str:
    if event.name in PASSWORD_EVENTS:
        return PASSWORD_EVENTS[event.name]
    if event.name in ("mfa_enrolled", "mfa_removed"):
        return FACTOR_CHANGES.get((event.name, event.detail or ""), OPERATOR_RESET)
    return event.detail or ""
