"""What the stores take and hand back: plain frozen dataclasses, never ORM rows.

Timestamps are aware UTC datetimes; ids of users and sessions are UUIDs; refresh tokens
are known only by `token_id` (SHA-256 of their jti), never by the token itself.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta


class StoreError(Exception):
    """Base of what a store raises."""


class Conflict(StoreError):
    """A unique value is taken (a username, a look-alike of one, a client name)."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what  # "username", "username_skeleton", "client_name", ...


class StoreUnavailable(StoreError):
    """The database cannot be reached or refused the connection: answer 503, try later."""


class Unstorable(StoreError):
    """The database refused a value (e.g. a character PostgreSQL cannot store): a 400."""


@dataclass(frozen=True)
class UserRecord:
    id: uuid.UUID
    username: str
    username_key: str
    username_skeleton: str | None
    email: str | None
    password_hash: str
    scope: str
    disabled: bool
    created_at: datetime
    password_changed_at: datetime


@dataclass(frozen=True)
class SessionRecord:
    id: uuid.UUID
    user_id: uuid.UUID
    scope: str
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    revoked_at: datetime | None = None
    revoked_reason: str | None = None
    user_agent: str | None = None
    ip: str | None = None


@dataclass(frozen=True)
class RefreshTokenRecord:
    id: str  # SHA-256 of the jti, hex
    session_id: uuid.UUID
    issued_at: datetime
    expires_at: datetime
    parent_id: str | None = None
    # The salt the child's jti was derived with (HMAC(parent jti, salt)); see grants.
    derivation_salt: bytes | None = None
    used_at: datetime | None = None
    replaced_by: str | None = None


@dataclass(frozen=True)
class KeyRecord:
    kid: str
    alg: str
    private_key: bytes  # PEM, or the HS256 secret; sealed when TOLLGATE_SECRET_KEY is set
    public_jwk: str | None  # JSON text; None for HS256
    created_at: datetime
    activates_at: datetime
    retired_at: datetime | None = None


@dataclass(frozen=True)
class ClientRecord:
    client_id: str
    name: str
    secret_hash: str
    created_at: datetime


@dataclass(frozen=True)
class AuditRecord:
    at: datetime
    event: str
    user_id: uuid.UUID | None = None
    username: str | None = None
    session_id: uuid.UUID | None = None
    ip: str | None = None
    user_agent: str | None = None
    detail: str | None = None
    id: int | None = None  # set when read back


@dataclass(frozen=True)
class AuditQuery:
    """Which audit events to read (AuditStore.events): of one user, at or after `since`,
    the newest `limit`; a filter left None does not filter."""

    user_id: uuid.UUID | None = None
    since: datetime | None = None
    limit: int = 1000


ALL_AUDIT = AuditQuery()
"""The default query: the newest 1000 events of anyone."""


@dataclass(frozen=True)
class SessionEnd:
    """Why and when sessions end (SessionStore.revoke, revoke_all): `reason` becomes their
    `revoked_reason`, `now` their `revoked_at`; `audit` rows are stored in the same
    transaction."""

    reason: str
    now: datetime
    audit: Sequence[AuditRecord] = ()


@dataclass(frozen=True)
class PasswordChange:
    """A new password hash for a user, changed at `now` (UserStore.set_password). With
    `end_sessions` (a revoke reason) every live session of the user but `keep_session`
    ends in the same transaction; `audit` rows are stored with it."""

    user_id: uuid.UUID
    password_hash: str
    now: datetime
    end_sessions: str | None = None
    keep_session: uuid.UUID | None = None
    audit: Sequence[AuditRecord] = ()


# -- one refresh-token rotation: what is asked, what it found --------------------------


@dataclass(frozen=True)
class RotationRequest:
    """Use refresh token `token_id` (of `session_id`, whose user is `user_id`) once, at
    `now`, and replace it by `child_id`, derived with `child_salt`, living `refresh_ttl`
    (never past the session's end). See SessionStore.rotate."""

    token_id: str
    session_id: uuid.UUID
    user_id: uuid.UUID
    child_id: str
    child_salt: bytes
    now: datetime
    refresh_ttl: timedelta


@dataclass(frozen=True)
class Rotated:
    """The token was unused and is now used; `child` replaces it."""

    session: SessionRecord
    user: UserRecord
    child: RefreshTokenRecord


@dataclass(frozen=True)
class AlreadyUsed:
    """The token was used before (a retry, another tab, or theft). Nothing was written;
    the service decides between handing out `child` again and revoking the session."""

    token: RefreshTokenRecord
    child: RefreshTokenRecord | None
    session: SessionRecord
    user: UserRecord


@dataclass(frozen=True)
class NotUsable:
    """Unknown token, another session's token, an ended session or a disabled user.
    Nothing was written."""

    reason: str


Rotation = Rotated | AlreadyUsed | NotUsable
