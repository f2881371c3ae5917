"""Registered OAuth 2.0 clients; deleting one deletes its codes and consents (ON DELETE
CASCADE)."""

from __future__ import annotations

from tollgate.store.postgres import rows
from tollgate.store.postgres.pool import Connections
from tollgate.store.records import ClientRecord

_SELECT = f"SELECT {rows.columns(rows.CLIENT)} FROM clients"
_INSERT = (
    f"INSERT INTO clients ({rows.columns(rows.CLIENT)}) VALUES ({rows.placeholders(rows.CLIENT)})"
)


class PostgresClientStore:
    def __init__(self, connections: Connections) -> None:
        self._db = connections

    async def add(self, client: ClientRecord) -> None:
        await self._db.execute(
            _INSERT,
            *rows.client_params(client),
        )

    async def by_id(self, client_id: str) -> ClientRecord | None:
        return await self._db.one(rows.client, f"{_SELECT} WHERE client_id = $1", client_id)

    async def list(self) -> list[ClientRecord]:
        return await self._db.all(rows.client, f"{_SELECT} ORDER BY created_at")

    async def delete_by_name(self, name: str) -> bool:
        return await self._db.execute("DELETE FROM clients WHERE name = $1", name) == 1
