"""Registered OAuth 2.0 clients: resource servers that introspect or revoke tokens."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tollgate.errors import InvalidClient, InvalidInput, NotFound
from tollgate.services.names import storable
from tollgate.store.models import Client

# Compared against when the client id is unknown, so both failures cost the same.
_NO_SUCH_CLIENT = hashlib.sha256(b"no such client").hexdigest()


@dataclass(frozen=True)
class NewClient:
    client_id: str
    client_secret: str
    name: str


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


class Clients:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._db = sessionmaker

    async def register(self, name: str) -> NewClient:
        """A new client; its secret is shown once and stored only as a hash."""
        if not 1 <= len(name) <= 128:
            raise InvalidInput({"name": "A client name needs 1 to 128 characters."})
        client = NewClient(
            client_id=f"tgc_{secrets.token_urlsafe(12)}",
            client_secret=secrets.token_urlsafe(32),
            name=name,
        )
        try:
            async with self._db.begin() as db:
                db.add(
                    Client(
                        client_id=client.client_id,
                        name=name,
                        secret_hash=_hash(client.client_secret),
                    )
                )
        except IntegrityError as exc:
            raise InvalidInput({"name": f"A client named \u201c{name}\u201d exists."}) from exc
        return client

    async def authenticate(self, client_id: str, client_secret: str) -> Client:
        client = None
        if storable(client_id):
            async with self._db() as db:
                client = await db.get(Client, client_id)
        expected = client.secret_hash if client else _NO_SUCH_CLIENT
        if not hmac.compare_digest(expected, _hash(client_secret)) or client is None:
            raise InvalidClient()
        return client

    async def list(self) -> Sequence[Client]:
        async with self._db() as db:
            return (await db.scalars(select(Client).order_by(Client.created_at))).all()

    async def delete(self, name: str) -> None:
        async with self._db.begin() as db:
            result = await db.execute(delete(Client).where(Client.name == name))
        if not result.rowcount:  # type: ignore[attr-defined]
            raise NotFound(f"No client named \u201c{name}\u201d.")
