"""A password login, whole: throttle, check the password, start a session, audit."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from tollgate.clock import Clock, SystemClock
from tollgate.errors import AccountDisabled, InvalidGrant, TooManyRequests
from tollgate.events import ClientInfo, Counted, Event, EventBus
from tollgate.services.accounts import Accounts
from tollgate.services.audit import AuditTrail
from tollgate.services.grants import Grants, TokenPair
from tollgate.services.mfa import SecondFactors
from tollgate.services.names import storable
from tollgate.services.throttle import Throttle
from tollgate.store.interfaces import SessionStore

# Addresses the account logged in from this recently may still try when it is locked.
TRUSTED_ADDRESS_DAYS = 30


@dataclass(eq=False)
class Login:
    # What it uses, given by the composition root (services/container.py).
    _sessions: SessionStore
    _accounts: Accounts
    _grants: Grants
    _throttle: Throttle
    _audit: AuditTrail
    _events: EventBus
    _clock: Clock = field(default_factory=SystemClock)
    # Issue 18: with a second factor, the password alone yields an mfa_token, not tokens.
    _factors: SecondFactors | None = None

    async def with_password(
        self,
        username: str,
        password: str,
        scope: str | None,
        client: ClientInfo,
        jkt: str | None = None,
    ) -> TokenPair:
        """`jkt`: the DPoP key of the request's proof; the session is bound to it."""
        # Issue 17: a verified address and the username share one lockout.
        account = await self._accounts.login_key(username)
        ip = client.ip or "unknown"

        async def trusted_address() -> bool:
            if not storable(account):
                return False
            since = self._clock.now() - timedelta(days=TRUSTED_ADDRESS_DAYS)
            return await self._sessions.seen_from(account, ip, since)

        try:
            await self._throttle.before_login(account, ip, trusted_address)
        except TooManyRequests:
            await self._events.publish(Counted("login_throttled"))
            raise
        try:
            user = await self._accounts.authenticate(username, password)
        except InvalidGrant as failure:
            locked = await self._throttle.login_failed(account, ip)
            now = self._clock.now()
            await self._audit.record(
                Event(
                    "login_failed", now, user_id=failure.user_id, username=username, client=client
                )
            )
            if locked:
                await self._audit.record(
                    Event(
                        "account_locked",
                        now,
                        user_id=failure.user_id,
                        username=username,
                        client=client,
                        detail="too many failed logins; only known addresses may try",
                    )
                )
            raise
        except AccountDisabled:
            await self._audit.record(
                Event("login_refused_disabled", self._clock.now(), username=username, client=client)
            )
            raise
        await self._throttle.login_succeeded(account, ip)
        if self._factors is not None:
            await self._factors.demand(user, scope, client, jkt)  # MfaRequired, or returns
        # The audit row goes in with the session, in one transaction.
        return await self._grants.start_session(
            user, scope, client, records=("login_succeeded",), jkt=jkt
        )
