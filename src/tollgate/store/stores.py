"""All the stores of one database, opened together from the settings."""

from __future__ import annotations

from dataclasses import dataclass

from tollgate.settings import Settings
from tollgate.store.interfaces import (
    AuditStore,
    AuthorizationCodeStore,
    ClientStore,
    ConsentStore,
    Database,
    KeyStore,
    MailOutbox,
    MailTokenStore,
    ProofReplayStore,
    ScopeStore,
    SecondFactorStore,
    SecurityEventStore,
    SessionStore,
    UserStore,
)


@dataclass(frozen=True)
class Stores:
    database: Database
    users: UserStore
    sessions: SessionStore
    keys: KeyStore
    clients: ClientStore
    codes: AuthorizationCodeStore
    consents: ConsentStore
    scopes: ScopeStore
    proofs: ProofReplayStore
    security_events: SecurityEventStore
    factors: SecondFactorStore
    audit: AuditStore
    # Issue 17: reset and verification tokens, and the outbox of mail to send.
    mail_tokens: MailTokenStore
    outbox: MailOutbox

    async def close(self) -> None:
        await self.database.close()


async def open_stores(settings: Settings) -> Stores:
    """The implementation for `TOLLGATE_DATABASE_URL`: plain sqlite3 on one thread per
    process, or asyncpg with one round trip per hot operation. The schema must be
    migrated already (`store.migrate`)."""
    if settings.is_sqlite:
        from tollgate.store.sqlite import open_sqlite

        return await open_sqlite(settings)
    from tollgate.store.postgres import open_postgres

    return await open_postgres(settings)
