"""Records for the contract tests, at explicit times: the stores take `now`, so tests
move a clock instead of sleeping."""

from __future__ import annotations

import dataclasses
import hashlib
import secrets
import uuid
from datetime import UTC, datetime, timedelta

from tollgate.store.records import (
    AuditRecord,
    AuthorizationCodeRecord,
    ClientRecord,
    KeyRecord,
    RefreshTokenRecord,
    SessionRecord,
    UserRecord,
)
from tollgate.store.stores import Stores

T0 = datetime(2031, 3, 4, 5, 6, 7, tzinfo=UTC)
SESSION_AGE = timedelta(days=30)
REFRESH_TTL = timedelta(days=14)
CODE_TTL = timedelta(seconds=60)


def at(seconds: float = 0, *, minutes: float = 0, days: float = 0) -> datetime:
    return T0 + timedelta(seconds=seconds, minutes=minutes, days=days)


def token_id() -> str:
    """What a store knows a refresh token by: the SHA-256 of its jti, in hex."""
    return hashlib.sha256(secrets.token_bytes(16)).hexdigest()


def a_user(
    name: str = "minsu",
    *,
    key: str | None = None,
    skeleton: str | None = "",
    created: datetime = T0,
    scope: str = "openid profile",
    email: str | None = None,
    email_key: str | None = None,
) -> UserRecord:
    """A user; `skeleton` defaults to one derived from the key ("" means "derive")."""
    username_key = key if key is not None else name.casefold()
    return UserRecord(
        id=uuid.uuid4(),
        username=name,
        username_key=username_key,
        username_skeleton=f"skel:{username_key}" if skeleton == "" else skeleton,
        email=email,
        password_hash=f"$argon2id$v=19$m=65536,t=3,p=4${name}",
        scope=scope,
        disabled=False,
        created_at=created,
        password_changed_at=created,
        email_key=email_key,
    )


async def add_user(stores: Stores, name: str = "minsu", **fields: object) -> UserRecord:
    user = a_user(name, **fields)  # type: ignore[arg-type]
    await stores.users.create(user)
    return user


def a_session(
    user: UserRecord,
    *,
    created: datetime = T0,
    last_used: datetime | None = None,
    expires: datetime | None = None,
    ip: str | None = "203.0.113.7",
    user_agent: str | None = "Mozilla/5.0 (X11; Linux x86_64)",
    client_id: str | None = None,
) -> SessionRecord:
    return SessionRecord(
        id=uuid.uuid4(),
        user_id=user.id,
        scope=user.scope,
        created_at=created,
        last_used_at=last_used or created,
        expires_at=expires or created + SESSION_AGE,
        ip=ip,
        user_agent=user_agent,
        client_id=client_id,
    )


def first_token(session: SessionRecord) -> RefreshTokenRecord:
    return RefreshTokenRecord(
        id=token_id(),
        session_id=session.id,
        issued_at=session.created_at,
        expires_at=min(session.created_at + REFRESH_TTL, session.expires_at),
    )


async def start_session(
    stores: Stores, user: UserRecord, **fields: object
) -> tuple[SessionRecord, RefreshTokenRecord]:
    session = a_session(user, **fields)  # type: ignore[arg-type]
    token = first_token(session)
    await stores.sessions.start(session, token)
    return session, token


def event(
    name: str,
    when: datetime = T0,
    user: UserRecord | None = None,
    session: SessionRecord | None = None,
    detail: str | None = None,
) -> AuditRecord:
    return AuditRecord(
        at=when,
        event=name,
        user_id=user.id if user else None,
        username=user.username if user else None,
        session_id=session.id if session else None,
        ip="198.51.100.4",
        user_agent="curl/8.5.0",
        detail=detail,
    )


def without_id(record: AuditRecord) -> AuditRecord:
    return dataclasses.replace(record, id=None)


def a_key(kid: str, activates: datetime, alg: str = "ES256") -> KeyRecord:
    return KeyRecord(
        kid=kid,
        alg=alg,
        private_key=b"-----BEGIN PRIVATE KEY-----\n" + secrets.token_bytes(48) + b"\n",
        public_jwk=None if alg == "HS256" else f'{{"kty":"EC","kid":"{kid}"}}',
        created_at=activates - timedelta(days=1),
        activates_at=activates,
    )


def an_app(name: str = "shop", *, public: bool = False, days: float = 0) -> ClientRecord:
    """A client that signs its users in with Tollgate (issue 14), every field set."""
    return ClientRecord(
        client_id=f"tgc_{name}",
        name=name,
        secret_hash=None if public else hashlib.sha256(name.encode()).hexdigest(),
        created_at=at(days=days),
        redirect_uris=(f"https://{name}.example/callback", "http://127.0.0.1/callback"),
        post_logout_redirect_uris=(f"https://{name}.example/bye",),
        grant_types=("authorization_code", "refresh_token"),
        scope="openid profile email offline_access",
        trusted=False,
        id_token_signed_response_alg="RS256",
    )


async def add_app(stores: Stores, name: str = "shop", **fields: object) -> ClientRecord:
    client = an_app(name, **fields)  # type: ignore[arg-type]
    await stores.clients.add(client)
    return client


def a_code(
    client: ClientRecord,
    user: UserRecord,
    *,
    issued: datetime = T0,
    scope: str = "openid profile",
    challenge: str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
) -> AuthorizationCodeRecord:
    return AuthorizationCodeRecord(
        id=token_id(),
        client_id=client.client_id,
        user_id=user.id,
        redirect_uri=client.redirect_uris[0],
        scope=scope,
        code_challenge=challenge,
        nonce="n-0S6_WzA2Mj",
        login_session_id=uuid.uuid4(),
        auth_time=issued - timedelta(minutes=5),
        issued_at=issued,
        expires_at=issued + CODE_TTL,
    )
