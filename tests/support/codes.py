"""Authorization codes for tests of the token endpoint, stored as /authorize will store
them (the seams file: id = sha256 hex of the code, S256 challenge as sent)."""

from __future__ import annotations

import base64
import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from tollgate.services.clients import NewClient, Registration
from tollgate.services.container import Services
from tollgate.store.records import AuthorizationCodeRecord

CODE_TTL = timedelta(seconds=60)


@dataclass(frozen=True)
class Pkce:
    verifier: str
    challenge: str


def new_pkce() -> Pkce:
    """RFC 7636 §4.1-4.2, computed here independently of the server's code."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return Pkce(verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii"))


async def register(services: Services, name: str, **fields: object) -> NewClient:
    """A client as `tollgate clients create` registers it."""
    fields.setdefault("redirect_uris", (f"https://{name}.example/callback",))
    return await services.clients.register(Registration(name, **fields))  # type: ignore[arg-type]


@dataclass(frozen=True)
class IssuedCode:
    code: str
    record: AuthorizationCodeRecord
    pkce: Pkce


async def issue_code(
    services: Services,
    client_id: str,
    user_id: uuid.UUID | str,
    *,
    redirect_uri: str,
    scope: str = "openid profile email",
    nonce: str | None = "n-0S6_WzA2Mj",
    now: datetime | None = None,
) -> IssuedCode:
    """A code as the authorization endpoint would hand out after login and consent."""
    now = now or services.clock.now()
    code = secrets.token_urlsafe(32)
    pkce = new_pkce()
    record = AuthorizationCodeRecord(
        id=hashlib.sha256(code.encode()).hexdigest(),
        client_id=client_id,
        user_id=uuid.UUID(str(user_id)),
        redirect_uri=redirect_uri,
        scope=scope,
        code_challenge=pkce.challenge,
        nonce=nonce,
        login_session_id=uuid.uuid4(),
        auth_time=now - timedelta(minutes=2),
        issued_at=now,
        expires_at=now + CODE_TTL,
    )
    await services.stores.codes.add(record)
    return IssuedCode(code, record, pkce)
