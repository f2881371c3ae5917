"""Registered OAuth 2.0 clients: resource servers that introspect or revoke tokens."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field

from tollgate.clock import Clock, SystemClock
from tollgate.errors import InvalidClient, InvalidInput, NotFound
from tollgate.services.names import storable
from tollgate.store.interfaces import ClientStore
from tollgate.store.records import ClientRecord, Conflict

# Compared against when the client id is unknown, so both failures cost the same.
_NO_SUCH_CLIENT = hashlib.sha256(b"no such client").hexdigest()


@dataclass(frozen=True)
class NewClient:
    client_id: str
    client_secret: str
    name: str


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


@dataclass(eq=False)
class Clients:
    # What it uses, given by the composition root (services/container.py).
    _store: ClientStore
    _clock: Clock = field(default_factory=SystemClock)

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
            await self._store.add(
                ClientRecord(
                    client_id=client.client_id,
                    name=name,
                    secret_hash=_hash(client.client_secret),
                    created_at=self._clock.now(),
                )
            )
        except Conflict as exc:
            raise InvalidInput({"name": f"A client named \u201c{name}\u201d exists."}) from exc
        return client

    async def authenticate(self, client_id: str, client_secret: str) -> ClientRecord:
        client = None
        if storable(client_id):
            client = await self._store.by_id(client_id)
        # A public client has no secret (RFC 6749 §2.1): no secret authenticates it.
        secret_hash = client.secret_hash if client is not None else None
        matches = hmac.compare_digest(secret_hash or _NO_SUCH_CLIENT, _hash(client_secret))
        if client is None or secret_hash is None or not matches:
            raise InvalidClient()
        return client

    async def list(self) -> list[ClientRecord]:
        return await self._store.list()

    async def delete(self, name: str) -> None:
        if not await self._store.delete_by_name(name):
            raise NotFound(f"No client named \u201c{name}\u201d.")
