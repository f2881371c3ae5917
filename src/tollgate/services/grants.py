"""Token pairs: starting a session after a login, and rotating its refresh token.

Every refresh token is used once. Using it marks it used and issues its child in one
transaction. Presenting a used token again is theft or a retry: a replay of the
session's immediately previous token within the reuse interval gets the current pair
back (several tabs, a lost response); anything else revokes the whole session.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tollgate.errors import InvalidGrant, InvalidToken
from tollgate.services.scopes import narrow
from tollgate.settings import Settings
from tollgate.store import sessions as session_store
from tollgate.store.models import RefreshToken, Session, User, utcnow
from tollgate.tokens.checking import TokenChecker
from tollgate.tokens.issuing import TokenIssuer, new_jti

REUSE_REASON = "refresh_token_reused"
MAX_USER_AGENT = 512


@dataclass(frozen=True)
class TokenPair:
    session_id: uuid.UUID
    access_token: str
    expires_in: int
    refresh_token: str
    refresh_expires_in: int
    scope: str


@dataclass(frozen=True)
class ClientInfo:
    user_agent: str | None = None
    ip: str | None = None


NO_CLIENT = ClientInfo()
# Told about every detected reuse (theft): user id, session id, who presented the token.
ReuseHandler = Callable[[uuid.UUID, uuid.UUID, ClientInfo], Awaitable[None]]


def token_id(jti: str) -> str:
    """Rows are keyed by a hash of the jti, so a database read alone yields no token id."""
    return hashlib.sha256(jti.encode("utf-8")).hexdigest()


def child_jti(parent_jti: str, salt: bytes) -> str:
    """Only a holder of the parent token (plus the stored salt) can name its child."""
    digest = hmac.new(parent_jti.encode("utf-8"), salt, hashlib.sha256).digest()
    return digest.hex()


@dataclass(frozen=True)
class _Rotation:
    """What one refresh decided inside its transaction; acted on after commit."""

    session: Session | None = None
    user: User | None = None
    jti: str = ""
    record: RefreshToken | None = None
    failure: str | None = None
    reused: bool = False
    replayed: bool = False


class Grants:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        issuer: TokenIssuer,
        checker: TokenChecker,
        settings: Settings,
        on_reuse: ReuseHandler | None = None,
        on_refresh: Callable[[str], None] | None = None,
        on_revoke: Callable[[], None] = lambda: None,
    ) -> None:
        self._db = sessionmaker
        self._issuer = issuer
        self._checker = checker
        self._settings = settings
        self._on_reuse = on_reuse
        self._on_refresh = on_refresh or (lambda _event: None)
        self._on_revoke = on_revoke

    async def start_session(
        self, user: User, requested_scope: str | None, client: ClientInfo
    ) -> TokenPair:
        scope = narrow(user.scope, requested_scope)
        now = utcnow()
        session = Session(
            id=uuid.uuid4(),
            user_id=user.id,
            scope=scope,
            created_at=now,
            last_used_at=now,
            expires_at=now + timedelta(seconds=self._settings.session_max_age),
            user_agent=(client.user_agent or "")[:MAX_USER_AGENT] or None,
            ip=client.ip,
        )
        jti = new_jti()
        record = RefreshToken(
            id=token_id(jti),
            session_id=session.id,
            issued_at=now,
            expires_at=self._refresh_expiry(now, session),
        )
        async with self._db.begin() as db:
            db.add(session)
            await db.flush()
            db.add(record)
        return await self._pair(user, session, scope, jti, record, now)

    async def refresh(
        self, refresh_token: str, requested_scope: str | None, client: ClientInfo = NO_CLIENT
    ) -> TokenPair:
        try:
            claims = await self._checker.refresh(refresh_token)
        except InvalidToken as exc:
            self._on_refresh("refresh_refused")
            raise InvalidGrant(f"The refresh token is not usable: {exc.description}") from exc
        now = utcnow()
        rotation = await self._rotate(claims.jti, claims.sid, claims.sub, now)
        if rotation.reused:
            self._on_revoke()
            if self._on_reuse is not None:
                await self._on_reuse(claims.sub, claims.sid, client)
        if rotation.failure:
            self._on_refresh("refresh_refused")
            raise InvalidGrant(rotation.failure)
        self._on_refresh("refresh_replayed" if rotation.replayed else "refresh_rotated")
        assert rotation.session is not None
        assert rotation.user is not None
        assert rotation.record is not None
        granted = narrow(rotation.session.scope, None)
        # A scope taken from the user since the login is no longer granted.
        granted = " ".join(s for s in granted.split() if s in rotation.user.scope.split())
        scope = narrow(granted, requested_scope)
        return await self._pair(
            rotation.user, rotation.session, scope, rotation.jti, rotation.record, now
        )

    async def _rotate(
        self, jti: str, session_id: uuid.UUID, user_id: uuid.UUID, now: datetime
    ) -> _Rotation:
        salt = secrets.token_bytes(16)
        new = child_jti(jti, salt)
        async with self._db.begin() as db:
            # First statement is the write: SQLite takes its write lock here and PostgreSQL
            # its row lock, so no read below can go stale before we commit.
            claimed_for = await session_store.claim_refresh_token(
                db, token_id(jti), token_id(new), now
            )
            record = None
            owner = claimed_for
            if claimed_for is None:  # used before, or unknown: the replay rules decide
                record = await session_store.refresh_token(db, token_id(jti))
                owner = record.session_id if record is not None else None
            if owner is None or owner != session_id:
                return _Rotation(failure="The refresh token is not known.")
            found = await session_store.live_with_user(db, session_id, now)
            if found is None or found[1].disabled or found[1].id != user_id:
                return _Rotation(failure="The session has ended.")
            session, user = found
            if record is not None:
                return await self._replay(db, record, session, user, jti, now)
            await session_store.touch(db, session.id, now)
            child = RefreshToken(
                id=token_id(new),
                session_id=session.id,
                parent_id=token_id(jti),
                derivation_salt=salt,
                issued_at=now,
                expires_at=self._refresh_expiry(now, session),
            )
            db.add(child)  # flushed at commit, after every read
            return _Rotation(session=session, user=user, jti=new, record=child)

    async def _replay(
        self,
        db: AsyncSession,
        record: RefreshToken,
        session: Session,
        user: User,
        jti: str,
        now: datetime,
    ) -> _Rotation:
        child = (
            await session_store.refresh_token(db, record.replaced_by)
            if record.replaced_by
            else None
        )
        interval = timedelta(seconds=self._settings.refresh_reuse_interval)
        if (
            child is not None
            and child.used_at is None
            and child.derivation_salt is not None
            and record.used_at is not None
            and now - record.used_at <= interval
        ):
            current = child_jti(jti, child.derivation_salt)
            if token_id(current) == child.id:
                return _Rotation(
                    session=session, user=user, jti=current, record=child, replayed=True
                )
        await session_store.revoke(db, session.id, REUSE_REASON, now)
        return _Rotation(
            failure="The refresh token was already used; the session is revoked.", reused=True
        )

    def _refresh_expiry(self, now: datetime, session: Session) -> datetime:
        sliding = now + timedelta(seconds=self._settings.refresh_ttl)
        return min(sliding, session.expires_at)

    async def _pair(
        self,
        user: User,
        session: Session,
        scope: str,
        jti: str,
        record: RefreshToken,
        now: datetime,
    ) -> TokenPair:
        now_ts = int(now.timestamp())
        refresh_exp = int(record.expires_at.timestamp())
        access = await self._issuer.access_token(
            user_id=user.id, username=user.username, session_id=session.id, scope=scope, now=now_ts
        )
        refresh = await self._issuer.refresh_token(
            user_id=user.id,
            session_id=session.id,
            jti=jti,
            iat=int(record.issued_at.timestamp()),
            exp=refresh_exp,
        )
        return TokenPair(
            session_id=session.id,
            access_token=access,
            expires_in=self._settings.access_ttl,
            refresh_token=refresh,
            refresh_expires_in=max(0, refresh_exp - now_ts),
            scope=scope,
        )
