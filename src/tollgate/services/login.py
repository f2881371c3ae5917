"""A password login, whole: throttle, check the password, start a session, audit."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tollgate.errors import AccountDisabled, InvalidGrant, TooManyRequests
from tollgate.services.accounts import Accounts
from tollgate.services.audit import Audit
from tollgate.services.grants import ClientInfo, Grants, TokenPair
from tollgate.services.names import storable, username_key
from tollgate.services.throttle import Throttle
from tollgate.store import sessions as session_store
from tollgate.store.models import utcnow

# Addresses the account logged in from this recently may still try when it is locked.
TRUSTED_ADDRESS_DAYS = 30


class Login:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        accounts: Accounts,
        grants: Grants,
        throttle: Throttle,
        audit: Audit,
    ) -> None:
        self._db = sessionmaker
        self._accounts = accounts
        self._grants = grants
        self._throttle = throttle
        self._audit = audit

    async def with_password(
        self, username: str, password: str, scope: str | None, client: ClientInfo
    ) -> TokenPair:
        account = username_key(username)
        ip = client.ip or "unknown"

        async def trusted_address() -> bool:
            if not storable(account):
                return False
            since = utcnow() - timedelta(days=TRUSTED_ADDRESS_DAYS)
            async with self._db() as db:
                return await session_store.user_seen_from(db, account, ip, since)

        try:
            await self._throttle.before_login(account, ip, trusted_address)
        except TooManyRequests:
            self._audit.count("login_throttled")
            raise
        try:
            user = await self._accounts.authenticate(username, password)
        except InvalidGrant as failure:
            locked = await self._throttle.login_failed(account, ip)
            await self._audit.record(
                "login_failed", user_id=failure.user_id, username=username, client=client
            )
            if locked:
                await self._audit.record(
                    "account_locked",
                    user_id=failure.user_id,
                    username=username,
                    client=client,
                    detail="too many failed logins; only known addresses may try",
                )
            raise
        except AccountDisabled:
            await self._audit.record("login_refused_disabled", username=username, client=client)
            raise
        await self._throttle.login_succeeded(account, ip)
        pair = await self._grants.start_session(user, scope, client)
        await self._audit.record(
            "login_succeeded",
            user_id=user.id,
            username=user.username,
            session_id=pair.session_id,
            client=client,
        )
        return pair
