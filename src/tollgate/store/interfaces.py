"""The store seam: one narrow interface per concern (as ory/fosite's storage interfaces).

Each method is one business operation, run as one transaction (and, where it is hot, in
one round trip on PostgreSQL and one thread hop on SQLite). Methods take and return the
dataclasses of `store/records.py`. Audit records passed to a write are stored in the
same transaction as the write they describe. Nothing outside `store/` writes SQL.

Every implementation passes the one contract suite in `tests/store/`.
Errors: `Conflict` for a taken unique value, `StoreUnavailable` when the database cannot
be reached, `Unstorable` for a value the database refuses.
"""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from tollgate.store.records import (
    ALL_AUDIT,
    AuditQuery,
    AuditRecord,
    AuthorizationCodeRecord,
    ChallengeRecord,
    ClientRecord,
    CodeExchange,
    CodeUse,
    ConsentGrant,
    ConsentRecord,
    EventBatch,
    FactorSummary,
    KeyRecord,
    MailRecord,
    MailTokenRecord,
    PasskeyRecord,
    PasswordChange,
    RefreshTokenRecord,
    Rotation,
    RotationRequest,
    ScopeDescription,
    SecurityEventRecord,
    SessionEnd,
    SessionRecord,
    StreamRecord,
    TotpRecord,
    UserRecord,
)


class UserStore(Protocol):
    async def create(self, user: UserRecord, audit: Sequence[AuditRecord] = ()) -> None:
        """Add a user. `Conflict("username")` when `username_key` is taken,
        `Conflict("username_skeleton")` when the skeleton is (a look-alike)."""

    async def by_id(self, user_id: uuid.UUID) -> UserRecord | None: ...

    async def by_username_key(self, username_key: str) -> UserRecord | None: ...

    async def list(self) -> list[UserRecord]:
        """Every user, oldest first."""

    async def set_password(self, change: PasswordChange) -> int:
        """Store a new hash (`password_changed_at` = now). With `end_sessions` (a revoke
        reason), also revoke every live session of the user but `keep_session`, in the
        same transaction (the names are `change`'s fields). Returns how many sessions
        ended."""

    async def upgrade_password_hash(self, user_id: uuid.UUID, old_hash: str, new_hash: str) -> bool:
        """Rehash with new parameters, only if the hash is still `old_hash` (a concurrent
        password change wins). True if it was replaced."""

    async def set_disabled(
        self, user_id: uuid.UUID, disabled: bool, now: datetime, audit: Sequence[AuditRecord] = ()
    ) -> int:
        """Disable (revoking every live session, reason "account_disabled") or enable.
        Returns how many sessions ended."""

    async def set_scope(
        self, user_id: uuid.UUID, scope: str, audit: Sequence[AuditRecord] = ()
    ) -> None: ...

    async def delete(self, user_id: uuid.UUID, audit: Sequence[AuditRecord] = ()) -> bool:
        """Delete the user with its sessions and refresh tokens (audit rows stay).
        False if there was no such user."""

    async def by_email_key(self, email_key: str) -> builtins.list[UserRecord]:
        """Users whose `email_key` is this: the one that verified it first (at most one
        can), then the others oldest first."""

    async def set_email(
        self,
        user_id: uuid.UUID,
        email: str | None,
        email_key: str | None,
        audit: Sequence[AuditRecord] = (),
    ) -> bool:
        """A new address, not verified (`email_verified_at` = None). False if there was
        no such user."""

    async def verify_email(
        self, user_id: uuid.UUID, email: str, now: datetime, audit: Sequence[AuditRecord] = ()
    ) -> bool:
        """Mark the user's address verified (`email_verified_at` = now, unless it was
        already), only while it is still `email`: False, and nothing written, otherwise.
        `Conflict("email")` when another account has verified the same `email_key`."""


class SessionStore(Protocol):
    async def start(
        self,
        session: SessionRecord,
        first_token: RefreshTokenRecord,
        audit: Sequence[AuditRecord] = (),
    ) -> None:
        """A new session with its first refresh token (and the login's audit row)."""

    async def rotate(self, request: RotationRequest) -> Rotation:
        """Use a refresh token once (the names below are `request`'s fields). Exactly one
        of any number of concurrent callers with the same `token_id` gets `Rotated`: the
        token is marked used (`used_at` = now,
        `replaced_by` = child_id), the session's `last_used_at` = now, and the child row
        is inserted with `parent_id` = token_id, `derivation_salt` = child_salt,
        `issued_at` = now and `expires_at` = min(now + refresh_ttl, session.expires_at).
        The token must belong to `session_id`, the session be live (not revoked, not
        expired at `now`), and its user be `user_id` and not disabled; otherwise
        `NotUsable` and nothing is written. A token already used gives `AlreadyUsed`
        (with its child, the live session and its user) and writes nothing."""

    async def refresh_token(self, token_id: str) -> RefreshTokenRecord | None: ...

    async def live(self, session_id: uuid.UUID, now: datetime) -> SessionRecord | None:
        """The session if it is neither revoked nor expired at `now` (the gateway check)."""

    async def live_for_user(self, user_id: uuid.UUID, now: datetime) -> list[SessionRecord]:
        """Live sessions of a user, most recently used first."""

    async def ended_for_user(
        self, user_id: uuid.UUID, since: datetime, limit: int = 100
    ) -> list[SessionRecord]:
        """Sessions revoked at or after `since`, newest revocation first."""

    async def all_live(self, now: datetime) -> list[SessionRecord]:
        """Every live session, oldest first (the admin listing)."""

    async def revoke(
        self, session_id: uuid.UUID, end: SessionEnd, *, owner: uuid.UUID | None = None
    ) -> bool:
        """Revoke a live session (only if it is `owner`'s, when given). False, and no audit
        row, if there was no such live session."""

    async def revoke_all(
        self, user_id: uuid.UUID, end: SessionEnd, *, keep: uuid.UUID | None = None
    ) -> int:
        """Revoke every unrevoked session of a user but `keep`; how many."""

    async def seen_from(self, username_key: str, ip: str, since: datetime) -> bool:
        """Has the account with this key started a session from `ip` since then?"""

    async def purge(self, now: datetime, ended_before: datetime) -> tuple[int, int]:
        """Delete refresh tokens expired at `now`, and sessions revoked or expired before
        `ended_before` with their tokens. Returns (sessions, refresh tokens) deleted."""


class KeyStore(Protocol):
    async def add(self, key: KeyRecord, audit: Sequence[AuditRecord] = ()) -> None: ...

    async def usable(self) -> list[KeyRecord]:
        """Unretired keys, newest `activates_at` first (then by kid)."""

    async def all(self) -> list[KeyRecord]:
        """Every key, retired ones too, newest `activates_at` first."""

    async def retire(self, kid: str, now: datetime, audit: Sequence[AuditRecord] = ()) -> bool:
        """Mark an unretired key retired; False if there was none with that kid."""


class ClientStore(Protocol):
    async def add(self, client: ClientRecord) -> None:
        """`Conflict("client_name")` when the name is taken. Every field is stored as
        given (the URI lists in their order)."""

    async def by_id(self, client_id: str) -> ClientRecord | None: ...

    async def list(self) -> list[ClientRecord]:
        """Oldest first."""

    async def delete_by_name(self, name: str) -> bool:
        """Its authorization codes and consents go with it."""


class AuthorizationCodeStore(Protocol):
    async def add(self, code: AuthorizationCodeRecord, audit: Sequence[AuditRecord] = ()) -> None:
        """Store a code just issued (with its "code issued" audit row). Its client and
        user must exist."""

    async def consume(self, exchange: CodeExchange) -> CodeUse:
        """Use a code once (the names are `exchange`'s fields). Of any number of
        concurrent callers with the same `code_id`, at most one gets `Consumed`: the code
        is marked used (`used_at` = now, `session_id` = session.id), and `session`,
        `first_token` and `audit` are stored, all in one transaction. The code must be
        unused, `expires_at` > now, and bound to `client_id`, `redirect_uri` and
        `code_challenge`; otherwise nothing is written: a used code gives `Replayed` (with
        the first exchange's `session_id`, whoever presents it), anything else
        `NotConsumable`."""

    async def by_id(self, code_id: str) -> AuthorizationCodeRecord | None: ...

    async def purge(self, before: datetime) -> int:
        """Delete codes that expired before `before` (used or not); how many. Keep them a
        while after expiry: a replay of a purged code is only "unknown"."""


class ConsentStore(Protocol):
    async def grant(self, grant: ConsentGrant) -> ConsentRecord | None:
        """Record a user's answer on the consent page, with its audit rows; the stored
        scopes become (held - asked) | chosen (see ConsentGrant) and `granted_at` = now.
        The user and the client must exist. Returns the consent as stored; None, and
        nothing written, when `grant.answering` is no longer what is held."""

    async def get(self, user_id: uuid.UUID, client_id: str) -> ConsentRecord | None: ...

    async def for_user(self, user_id: uuid.UUID) -> list[ConsentRecord]:
        """The user's consents, most recently granted first (then by client id)."""

    async def revoke(self, user_id: uuid.UUID, client_id: str, end: SessionEnd) -> int | None:
        """Forget the consent and end the user's live sessions of that client (reason
        and time from `end`), with `end.audit`, in one transaction. Returns how many
        sessions ended; None, and nothing written, if there was no consent."""


class ScopeStore(Protocol):
    async def describe(self, scope: ScopeDescription, audit: Sequence[AuditRecord] = ()) -> None:
        """Set (or replace) the description of `scope.name`."""

    async def list(self) -> list[ScopeDescription]:
        """Every described scope, by name (code point order)."""


class ProofReplayStore(Protocol):
    """The DPoP proofs seen (RFC 9449 §11.1), shared by every worker and replica of one
    database. `proof_id` names a proof (a hash of its key's thumbprint and its `jti`)."""

    async def first_use(self, proof_id: str, expires_at: datetime, now: datetime) -> bool:
        """True, and the proof remembered until `expires_at`, if it was not seen before
        (or only as an entry that expired before `now`); False otherwise. Of concurrent
        callers with one `proof_id`, one gets True."""

    async def purge(self, before: datetime) -> int:
        """Forget proofs that expired before `before`; how many."""


class SecurityEventStore(Protocol):
    """Shared Signals (SSF 1.0): receivers' streams and the SETs they have not yet
    acknowledged. Events are rows, so none is lost across restarts, and every worker and
    replica of one database delivers the same ones."""

    async def add_stream(self, stream: StreamRecord) -> None:
        """Its client must exist."""

    async def stream(self, stream_id: str) -> StreamRecord | None: ...

    async def streams(self, client_id: str | None = None) -> list[StreamRecord]:
        """The streams of `client_id` (every stream when None), oldest first."""

    async def set_status(self, stream_id: str, status: str) -> bool:
        """False if there was no such stream."""

    async def delete_stream(self, stream_id: str) -> bool:
        """Its undelivered events go with it. False if there was no such stream."""

    async def add_events(self, events: Sequence[SecurityEventRecord]) -> None:
        """Store events (one per stream; a `jti` already stored is left as it is)."""

    async def poll(
        self, stream_id: str, acknowledged: Sequence[str], max_events: int, now: datetime
    ) -> EventBatch:
        """RFC 8936 §2.4: forget the stream's events named in `acknowledged`, then the
        oldest `max_events` still stored (by `created_at`, then jti; they stay until
        acknowledged), noting `polled_at` = now."""

    async def waiting(self, stream_id: str) -> bool:
        """Does the stream hold any event? (A read only: what a long poll asks while it
        waits.)"""

    async def claim_pushes(
        self, now: datetime, lease_until: datetime, limit: int
    ) -> list[SecurityEventRecord]:
        """Up to `limit` events of enabled push streams due at `now` (`next_attempt_at` <=
        now), oldest first; each is moved to `lease_until` so no other worker takes it
        meanwhile (one caller gets each)."""

    async def pushed(self, jti: str) -> None:
        """Delivered (RFC 8935 §2.2: the receiver answered 202): forget it."""

    async def push_failed(self, jti: str, next_attempt_at: datetime) -> None:
        """One more failed attempt; try again at `next_attempt_at`."""

    async def backlog(self) -> int:
        """How many events wait to be delivered or acknowledged."""

    async def purge(self, before: datetime) -> int:
        """Forget events created before `before`, delivered or not; how many."""


class MailTokenStore(Protocol):
    """Reset and verification tokens (issue 17), stored only as SHA-256 hashes."""

    async def issue(
        self,
        token: MailTokenRecord,
        mail: MailRecord | None = None,
        audit: Sequence[AuditRecord] = (),
    ) -> None:
        """Store a token, with the mail carrying it (into the outbox) and the audit rows,
        in one transaction. A token of a user's for the same `purpose` issued before
        stays usable until it expires (several mails in flight, the newest may be late)."""

    async def find(self, token_id: str, purpose: str, now: datetime) -> MailTokenRecord | None:
        """The token if it is of `purpose`, of a user (not a decoy) and unexpired at `now`."""

    async def consume(self, token_id: str, purpose: str, now: datetime) -> MailTokenRecord | None:
        """Use it up: as `find`, and the token is gone. Of any number of concurrent
        callers with one `token_id`, at most one gets it."""

    async def purge(self, before: datetime) -> int:
        """Forget tokens that expired before `before`; how many."""


class MailOutbox(Protocol):
    """Mail waiting to be sent (issue 17): rows, so nothing is lost when SMTP is down or
    the server restarts, and every worker and replica can send (one sends each)."""

    async def enqueue(self, mail: MailRecord, audit: Sequence[AuditRecord] = ()) -> None: ...

    async def claim(self, now: datetime, lease_until: datetime, limit: int) -> list[MailRecord]:
        """Up to `limit` mails due at `now` (`next_attempt_at` <= now), oldest first; each
        is moved to `lease_until` (and returned so) so no other sender takes it meanwhile
        (one caller gets each)."""

    async def remove(self, mail_id: str, audit: Sequence[AuditRecord] = ()) -> None:
        """Sent, or given up: the mail leaves the outbox (with its audit row)."""

    async def failed(self, mail_id: str, next_attempt_at: datetime, error: str) -> None:
        """One more failed attempt (`attempts` + 1, `last_error`); again at
        `next_attempt_at`."""

    async def backlog(self) -> int:
        """How many mails wait to be sent."""


class SecondFactorStore(Protocol):
    """Second factors (issue 18): a user's authenticator app, recovery codes (hashes only,
    each used once) and passkeys; the operator's requirement; and the single-use,
    short-lived challenges (`mfa_token`s and WebAuthn challenges). A used TOTP code is
    remembered in the ProofReplayStore (one key per user and time step)."""

    async def factors(self, user_id: uuid.UUID) -> FactorSummary:
        """Everything of the user's, in one read (NO_FACTORS-like when none)."""

    async def start_totp(self, totp: TotpRecord) -> bool:
        """Store a pending secret (replacing a pending one); False, and nothing written,
        when a confirmed one exists."""

    async def confirm_totp(
        self, user_id: uuid.UUID, now: datetime, recovery_hashes: Sequence[str]
    ) -> bool:
        """Confirm the pending secret (`confirmed_at` = now) and replace the recovery codes
        by `recovery_hashes` in one transaction; False, nothing written, if none pends."""

    async def remove_totp(self, user_id: uuid.UUID) -> bool:
        """False if there was none (pending or confirmed)."""

    async def replace_recovery_codes(
        self, user_id: uuid.UUID, hashes: Sequence[str], now: datetime
    ) -> None:
        """Forget every recovery code of the user and store `hashes` unused."""

    async def use_recovery_code(self, user_id: uuid.UUID, code_hash: str, now: datetime) -> bool:
        """Mark it used; True for exactly one of any number of concurrent callers, False
        for an unknown or used code."""

    async def add_passkey(self, passkey: PasskeyRecord) -> None:
        """`Conflict("credential_id")` when that credential is registered already."""

    async def passkey(self, credential_id: bytes) -> PasskeyRecord | None: ...

    async def passkey_used(
        self, passkey_id: uuid.UUID, seen_count: int, sign_count: int, now: datetime
    ) -> bool:
        """Store the new signature counter and `last_used_at` if the stored counter is
        still `seen_count` (compare-and-set); False otherwise."""

    async def remove_passkey(self, user_id: uuid.UUID, passkey_id: uuid.UUID) -> bool:
        """Only the user's own; False if there was no such passkey."""

    async def set_required(self, user_id: uuid.UUID, required: bool, now: datetime) -> None: ...

    async def add_challenge(self, challenge: ChallengeRecord) -> None: ...

    async def challenge(self, challenge_id: str, now: datetime) -> ChallengeRecord | None:
        """The challenge if it is stored and `expires_at` > now (a read: not used up)."""

    async def take_challenge(self, challenge_id: str, now: datetime) -> ChallengeRecord | None:
        """Use it up: of any number of concurrent callers, one gets it (if it is live at
        `now`), the others None."""

    async def purge(self, before: datetime) -> int:
        """Forget challenges that expired before `before`; how many."""


class AuditStore(Protocol):
    async def add(self, records: Sequence[AuditRecord]) -> None: ...

    async def events(self, query: AuditQuery = ALL_AUDIT) -> list[AuditRecord]:
        """Newest first (by `at`, then id)."""

    async def purge(self, before: datetime) -> int:
        """Delete events older than `before`; how many."""


class Database(Protocol):
    """The connection (pool) every store of one engine shares."""

    async def ping(self) -> None:
        """Raise StoreUnavailable unless the database answers."""

    async def schema_revision(self) -> str | None:
        """The Alembic revision the schema is at (`alembic_version`); None if unmigrated."""

    def connections_in_use(self) -> int:
        """Connections busy with a call right now (the `tollgate_db_connections_in_use`
        gauge)."""

    async def close(self) -> None: ...
