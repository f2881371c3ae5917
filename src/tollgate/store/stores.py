"""All the stores of one database, opened together from the settings."""

from __future__ import annotations

from dataclasses import dataclass

from tollgate.store.interfaces import (
    AuditStore,
    ClientStore,
    Database,
    KeyStore,
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
    audit: AuditStore

    async def close(self) -> None:
        await self.database.close()
