"""The tables, as SQLAlchemy declares them for Alembic (migrations/, autogenerate checks).

Nothing reads or writes rows through these classes: the stores (store/sqlite/,
store/postgres/) run their own SQL. Timestamps are UTC; secrets are stored only as hashes
(refresh token ids).
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    Uuid,
    false,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator[datetime]):
    """Always hands back aware UTC datetimes, also on SQLite which stores them naive."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class TextTuple(TypeDecorator[tuple[str, ...]]):
    """A tuple of strings (a client's redirect URIs, its grants) as a JSON array in TEXT,
    the same on both engines; the stores write and read it as `json.dumps(list(...))`."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: tuple[str, ...] | None, dialect: Dialect) -> str | None:
        return None if value is None else json.dumps(list(value))

    def process_result_value(self, value: Any, dialect: Dialect) -> tuple[str, ...] | None:
        return None if value is None else tuple(json.loads(value))


NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class UserRow(Base):
    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    # RFC 8265 UsernameCasePreserved, as the user typed it, for display.
    username: Mapped[str] = mapped_column(String(64))
    # RFC 8265 UsernameCaseMapped: what uniqueness and lookups use (services.names).
    username_key: Mapped[str] = mapped_column(String(256), unique=True)
    # Unicode TS #39 skeleton of the key: one account per look. NULL only for accounts
    # from before migration 0004 whose name looked like an older account's.
    username_skeleton: Mapped[str | None] = mapped_column(String(512), unique=True)
    email: Mapped[str | None] = mapped_column(String(320))
    password_hash: Mapped[str] = mapped_column(String(256))
    scope: Mapped[str] = mapped_column(String(1024))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    password_changed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Issue 17: the email case-folded, and when it was verified. Among verified accounts
    # an address is one account's only (a partial unique index: migration 0008).
    email_key: Mapped[str | None] = mapped_column(String(320), index=True)
    email_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index(
            "uq_users_verified_email_key",
            "email_key",
            unique=True,
            sqlite_where=text("email_verified_at IS NOT NULL"),
            postgresql_where=text("email_verified_at IS NOT NULL"),
        ),
    )


class SessionRow(Base):
    """One login: a family of refresh tokens that rotate within it."""

    __tablename__ = "sessions"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    scope: Mapped[str] = mapped_column(String(1024))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Absolute end (TOLLGATE_SESSION_MAX_AGE); refresh tokens never outlive it.
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_reason: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(512))
    ip: Mapped[str | None] = mapped_column(String(64))
    # The app signed in to (migration 0005); NULL for a first-party login. No foreign key:
    # the service ends a deleted client's sessions, and the ended rows may stay a while.
    client_id: Mapped[str | None] = mapped_column(String(64))
    # The DPoP key (RFC 7638 thumbprint) the session is bound to (migration 0006).
    dpop_jkt: Mapped[str | None] = mapped_column(String(64))
    # RFC 8176 methods of the login, space-separated ("pwd otp"; migration 0009).
    amr: Mapped[str | None] = mapped_column(String(64))


class RefreshTokenRow(Base):
    """A refresh token, keyed by the SHA-256 of its `jti` (the jti itself is never stored)."""

    __tablename__ = "refresh_tokens"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("sessions.id", ondelete="CASCADE"), index=True
    )
    parent_id: Mapped[str | None] = mapped_column(String(64))
    # Random, not secret: with the parent's jti it derives this token's jti, so a replay of
    # the parent within the reuse interval can be answered with this same token again.
    derivation_salt: Mapped[bytes | None] = mapped_column(LargeBinary(32))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    replaced_by: Mapped[str | None] = mapped_column(String(64))


class SigningKeyRow(Base):
    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(128), primary_key=True)
    alg: Mapped[str] = mapped_column(String(16))
    # PKCS#8 PEM for asymmetric keys, raw bytes for HS256; sealed with AES-GCM when
    # TOLLGATE_SECRET_KEY is set (keys.sealing).
    private_key: Mapped[bytes] = mapped_column(LargeBinary)
    public_jwk: Mapped[str | None] = mapped_column(Text)
    # Published in the JWKS from created_at; signs from activates_at, until a newer key
    # activates; verifies until retired_at.
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    activates_at: Mapped[datetime] = mapped_column(UTCDateTime)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ClientRow(Base):
    """A registered OAuth 2.0 client (RFC 6749 §2), e.g. a resource server that introspects."""

    __tablename__ = "clients"

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    # SHA-256 of a 256-bit random secret: a slow hash adds nothing at that entropy.
    # NULL: a public client (RFC 6749 §2.1).
    secret_hash: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # From migration 0005 (sign-in by other apps); clients before it have none.
    redirect_uris: Mapped[tuple[str, ...]] = mapped_column(TextTuple, server_default="[]")
    post_logout_redirect_uris: Mapped[tuple[str, ...]] = mapped_column(
        TextTuple, server_default="[]"
    )
    grant_types: Mapped[tuple[str, ...]] = mapped_column(TextTuple, server_default="[]")
    scope: Mapped[str] = mapped_column(String(1024), server_default="")
    trusted: Mapped[bool] = mapped_column(Boolean, server_default=false())
    id_token_signed_response_alg: Mapped[str] = mapped_column(String(16), server_default="RS256")


class AuthorizationCodeRow(Base):
    """An authorization code (RFC 6749 §4.1.2), keyed by the SHA-256 of the code."""

    __tablename__ = "authorization_codes"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(
        ForeignKey("clients.client_id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    redirect_uri: Mapped[str] = mapped_column(String(2048))
    scope: Mapped[str] = mapped_column(String(1024))
    code_challenge: Mapped[str] = mapped_column(String(128))
    nonce: Mapped[str | None] = mapped_column(String(512))
    login_session_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    auth_time: Mapped[datetime] = mapped_column(UTCDateTime)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The session the exchange started: no foreign key, a purged session leaves it.
    session_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)


class ScopeRow(Base):
    """What a scope allows, as the consent page says it."""

    __tablename__ = "scopes"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    description: Mapped[str] = mapped_column(String(512))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ConsentRow(Base):
    """The scopes a user let a client have."""

    __tablename__ = "consents"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    client_id: Mapped[str] = mapped_column(
        ForeignKey("clients.client_id", ondelete="CASCADE"), primary_key=True, index=True
    )
    scope: Mapped[str] = mapped_column(String(1024))
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AuditEventRow(Base):
    """Security-relevant events: logins, failures, reuse detected, logouts, key changes."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    event: Mapped[str] = mapped_column(String(48))
    user_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    # The name as tried (also for unknown users), cut to the username limit.
    username: Mapped[str | None] = mapped_column(String(256))
    session_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(512))
    detail: Mapped[str | None] = mapped_column(String(512))


class DPoPProofRow(Base):
    """A DPoP proof seen (RFC 9449 §11.1), until it could no longer be accepted anyway:
    keyed by the SHA-256 of its key's thumbprint and its `jti`."""

    __tablename__ = "dpop_proofs"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class SecurityEventStreamRow(Base):
    """A Shared Signals stream (SSF 1.0 §8): what one receiver (a registered client) asked
    to hear, and how it is delivered (RFC 8936 poll or RFC 8935 push)."""

    __tablename__ = "ssf_streams"

    stream_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(
        ForeignKey("clients.client_id", ondelete="CASCADE"), index=True
    )
    delivery_method: Mapped[str] = mapped_column(String(64))
    endpoint_url: Mapped[str | None] = mapped_column(String(2048))
    events_delivered: Mapped[tuple[str, ...]] = mapped_column(TextTuple)
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    polled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SecurityEventRow(Base):
    """A Security Event Token not yet acknowledged by its stream's receiver: its claims
    (signed when delivered) and, for push, when to try again."""

    __tablename__ = "ssf_events"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    stream_id: Mapped[str] = mapped_column(
        ForeignKey("ssf_streams.stream_id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    claims: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class MailTokenRow(Base):
    """A password-reset or email-verification token (issue 17), by its SHA-256 only."""

    __tablename__ = "mail_tokens"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(16))
    # NULL: a decoy for an unknown account, which nothing can use.
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    email: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class MailOutboxRow(Base):
    """A rendered mail waiting to be sent (issue 17); it leaves once sent or given up."""

    __tablename__ = "mail_outbox"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    recipient: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(998))
    text_body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str] = mapped_column(Text)
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    last_error: Mapped[str | None] = mapped_column(String(512))


class TotpRow(Base):
    """A user's authenticator app (RFC 6238); the secret sealed when TOLLGATE_SECRET_KEY
    is set. `confirmed_at` NULL: enrolment started, not yet confirmed by a code."""

    __tablename__ = "mfa_totp"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    secret: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RecoveryCodeRow(Base):
    """A recovery code, stored only as its SHA-256 (hex); each is used once."""

    __tablename__ = "mfa_recovery_codes"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PasskeyRow(Base):
    """A WebAuthn credential of a user, with its public key and signature counter."""

    __tablename__ = "mfa_passkeys"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    credential_id: Mapped[bytes] = mapped_column(LargeBinary(1023), unique=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    sign_count: Mapped[int] = mapped_column(BigInteger)
    name: Mapped[str] = mapped_column(String(64))
    transports: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class MfaRequirementRow(Base):
    """A user the operator requires a second factor of (`tollgate users require-mfa`)."""

    __tablename__ = "mfa_required"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    since: Mapped[datetime] = mapped_column(UTCDateTime)


class ChallengeRow(Base):
    """An mfa_token or a WebAuthn challenge: single use, short-lived, by its SHA-256."""

    __tablename__ = "mfa_challenges"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    data: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
