"""The stores on PostgreSQL, through asyncpg directly: one pooled statement per call.

The schema is Alembic's (store/migrations); opening the stores does not migrate.
"""

from __future__ import annotations

from tollgate.settings import Settings
from tollgate.store.postgres.audit import PostgresAuditStore
from tollgate.store.postgres.clients import PostgresClientStore
from tollgate.store.postgres.codes import PostgresAuthorizationCodeStore
from tollgate.store.postgres.consents import PostgresConsentStore
from tollgate.store.postgres.factors import PostgresSecondFactorStore
from tollgate.store.postgres.keys import PostgresKeyStore
from tollgate.store.postgres.mail import PostgresMailOutbox, PostgresMailTokenStore
from tollgate.store.postgres.pool import Connections, PostgresDatabase, open_pool
from tollgate.store.postgres.proofs import PostgresProofReplayStore
from tollgate.store.postgres.scopes import PostgresScopeStore
from tollgate.store.postgres.security_events import PostgresSecurityEventStore
from tollgate.store.postgres.sessions import PostgresSessionStore
from tollgate.store.postgres.users import PostgresUserStore
from tollgate.store.records import StoreUnavailable
from tollgate.store.stores import Stores


async def open_postgres(settings: Settings) -> Stores:
    """Every store on one pool. StoreUnavailable if the server cannot be reached."""
    connections = Connections(await open_pool(settings))
    try:
        await connections.fetchval("SELECT 1")  # a wrong URL fails at start, not later
    except StoreUnavailable:
        await connections.close()
        raise
    return Stores(
        database=PostgresDatabase(connections),
        users=PostgresUserStore(connections),
        sessions=PostgresSessionStore(connections),
        keys=PostgresKeyStore(connections),
        clients=PostgresClientStore(connections),
        codes=PostgresAuthorizationCodeStore(connections),
        consents=PostgresConsentStore(connections),
        scopes=PostgresScopeStore(connections),
        proofs=PostgresProofReplayStore(connections),
        security_events=PostgresSecurityEventStore(connections),
        factors=PostgresSecondFactorStore(connections),
        audit=PostgresAuditStore(connections),
        mail_tokens=PostgresMailTokenStore(connections),
        outbox=PostgresMailOutbox(connections),
    )


__all__ = ["open_postgres"]
