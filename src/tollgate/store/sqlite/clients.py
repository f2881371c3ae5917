"""Registered OAuth 2.0 clients: one hop per operation. Deleting one deletes its codes and
consents too (ON DELETE CASCADE)."""

from __future__ import annotations

import sqlite3

from tollgate.store.records import ClientRecord
from tollgate.store.sqlite.codecs import CLIENT_COLUMNS, Row, client_from_row, client_params
from tollgate.store.sqlite.connection import ConnectionThread

INSERT_CLIENT = f"INSERT INTO clients ({CLIENT_COLUMNS}) VALUES ({', '.join('?' * 10)})"
CLIENT_BY_ID = f"SELECT {CLIENT_COLUMNS} FROM clients WHERE client_id = ?"
ALL_CLIENTS = f"SELECT {CLIENT_COLUMNS} FROM clients ORDER BY created_at"
DELETE_CLIENT = "DELETE FROM clients WHERE name = ?"


def _add(connection: sqlite3.Connection, params: Row) -> None:
    connection.execute(INSERT_CLIENT, params)


def _by_id(connection: sqlite3.Connection, client_id: str) -> ClientRecord | None:
    row = connection.execute(CLIENT_BY_ID, (client_id,)).fetchone()
    return None if row is None else client_from_row(row)


def _all(connection: sqlite3.Connection) -> list[ClientRecord]:
    return [client_from_row(row) for row in connection.execute(ALL_CLIENTS).fetchall()]


def _delete(connection: sqlite3.Connection, name: str) -> bool:
    return connection.execute(DELETE_CLIENT, (name,)).rowcount > 0


class SqliteClientStore:
    def __init__(self, thread: ConnectionThread) -> None:
        self._thread = thread

    async def add(self, client: ClientRecord) -> None:
        await self._thread.write(_add, client_params(client))

    async def by_id(self, client_id: str) -> ClientRecord | None:
        return await self._thread.call(_by_id, client_id)

    async def list(self) -> list[ClientRecord]:
        return await self._thread.call(_all)

    async def delete_by_name(self, name: str) -> bool:
        return await self._thread.write(_delete, name)
