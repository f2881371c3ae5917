"""Build every service once from the settings; the app and the CLI share this wiring."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from tollgate.keys.keyring import Keyring
from tollgate.metrics import Metrics
from tollgate.services.accounts import Accounts
from tollgate.services.audit import Audit
from tollgate.services.auth_cache import AuthCache
from tollgate.services.clients import Clients
from tollgate.services.grants import Grants
from tollgate.services.login import Login
from tollgate.services.names import ReservedNames
from tollgate.services.password_policy import PasswordPolicy
from tollgate.services.passwords import PasswordHasher
from tollgate.services.sessions import Sessions
from tollgate.services.throttle import Throttle
from tollgate.services.token_control import TokenControl
from tollgate.settings import Settings
from tollgate.store import migrate
from tollgate.store.engine import create_engine, create_sessionmaker
from tollgate.tokens.checking import TokenChecker
from tollgate.tokens.issuing import TokenIssuer


@dataclass
class Services:
    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    keyring: Keyring
    checker: TokenChecker
    accounts: Accounts
    grants: Grants
    sessions: Sessions
    clients: Clients
    token_control: TokenControl
    throttle: Throttle
    audit: Audit
    login: Login
    metrics: Metrics
    schema_head: str | None
    auth_cache: AuthCache

    @classmethod
    def build(cls, settings: Settings, hasher: PasswordHasher | None = None) -> Services:
        engine = create_engine(settings)
        sessionmaker = create_sessionmaker(engine)
        keyring = Keyring(
            sessionmaker,
            settings.signing_alg,
            settings.secret_key,
            settings.key_reload_interval,
            settings.jwks_max_age,
        )
        checker = TokenChecker(keyring, settings)
        policy = PasswordPolicy(settings.password_min_length, settings.password_min_score)
        metrics = Metrics(settings.prometheus_multiproc_dir)
        count_connections(engine, metrics)
        audit = Audit(sessionmaker, metrics.event)
        cache = AuthCache(settings.auth_cache_seconds, settings.auth_cache_entries)
        throttle = Throttle(settings)
        accounts = Accounts(
            sessionmaker,
            hasher or PasswordHasher(),
            policy,
            settings.default_scope,
            audit,
            ReservedNames(settings.reserved_names),
            on_revoke=cache.revoked,
        )
        grants = Grants(
            sessionmaker,
            TokenIssuer(keyring, settings),
            checker,
            settings,
            on_reuse=audit.refresh_reuse,
            on_refresh=audit.count,
            on_revoke=cache.revoked,
        )
        return cls(
            settings=settings,
            engine=engine,
            sessionmaker=sessionmaker,
            keyring=keyring,
            checker=checker,
            accounts=accounts,
            grants=grants,
            sessions=Sessions(sessionmaker, checker, audit, cache),
            clients=Clients(sessionmaker),
            token_control=TokenControl(sessionmaker, checker, settings, audit, cache.revoked),
            throttle=throttle,
            audit=audit,
            login=Login(sessionmaker, accounts, grants, throttle, audit),
            metrics=metrics,
            schema_head=migrate.head_revision(),
            auth_cache=cache,
        )

    async def start(self) -> None:
        """Bring the database to the current schema and make sure a signing key exists."""
        await migrate.upgrade(self.engine)
        made = await self.keyring.ensure_signing_key()
        if made is not None:
            detail = f"{made.kid} {made.alg} signs from {made.activates_at:%Y-%m-%d %H:%M:%S} UTC"
            await self.audit.record("key_rotated", detail=detail)

    async def close(self) -> None:
        await self.engine.dispose()


def count_connections(engine: AsyncEngine, metrics: Metrics) -> None:
    """Keep the pool gauge current from SQLAlchemy's own pool events."""

    def checked_out(*_: Any) -> None:
        metrics.db_connections.inc()

    def checked_in(*_: Any) -> None:
        metrics.db_connections.dec()

    event.listen(engine.sync_engine.pool, "checkout", checked_out)
    event.listen(engine.sync_engine.pool, "checkin", checked_in)
