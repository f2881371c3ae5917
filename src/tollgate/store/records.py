"""What the stores take and hand back: plain frozen dataclasses, never ORM rows.

Timestamps are aware UTC datetimes; ids of users and sessions are UUIDs; refresh tokens
are known only by `token_id` (SHA-256 of their jti), never by the token itself.
"""

from __future__ import annotations

import dataclasses
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
    # Issue 17: the email case-folded (what uniqueness among verified addresses and the
    # login by email compare), and when the user proved they read mail sent to `email`.
    email_key: str | None = None
    email_verified_at: datetime | None = None

    @property
    def email_verified(self) -> bool:
        return self.email is not None and self.email_verified_at is not None


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
    # The client a user signed in to through the authorization endpoint (issue 14); None
    # for a first-party login (/login, the password grant, the account page).
    client_id: str | None = None
    # RFC 9449 §5: the RFC 7638 thumbprint of the DPoP key the session's refresh tokens
    # are bound to (its access tokens carry it as `cnf.jkt`); None for an unbound session.
    dpop_jkt: str | None = None
    # RFC 8176: how the login was authenticated, space-separated ("pwd", "pwd otp",
    # "pwd hwk", "hwk"; migration 0009). None for a session started before: "pwd".
    amr: str | None = None


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
    """A registered client (RFC 6749 §2; the metadata names are RFC 7591's and OIDC
    RP-Initiated Logout's). The fields after `created_at` came with sign-in by other apps
    (issue 14); a client registered before has none of them: it only introspects."""

    client_id: str
    name: str
    # SHA-256 of the secret; None for a public client (RFC 6749 §2.1: a native or browser
    # app that cannot keep a secret; it authenticates with `none` and PKCE alone).
    secret_hash: str | None
    created_at: datetime
    redirect_uris: tuple[str, ...] = ()
    post_logout_redirect_uris: tuple[str, ...] = ()
    grant_types: tuple[str, ...] = ()
    scope: str = ""  # the most it may ever get, space-separated (RFC 6749 §3.3)
    trusted: bool = False  # first-party: no consent screen
    id_token_signed_response_alg: str = "RS256"  # noqa: S105  (OIDC Registration §2)

    @property
    def public(self) -> bool:
        return self.secret_hash is None


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


# -- authorization codes (RFC 6749 §4.1, RFC 7636, OIDC Core §3.1) ----------------------


@dataclass(frozen=True)
class AuthorizationCodeRecord:
    """An authorization code, known only by `id` (SHA-256 of the code, hex), bound to
    everything the token request must match. Lives until `expires_at` (60 s after
    `issued_at`), used at most once: `used_at` and `session_id` are set by the one
    exchange that wins (AuthorizationCodeStore.consume)."""

    id: str
    client_id: str
    user_id: uuid.UUID
    redirect_uri: str
    scope: str  # granted: client-allowed ∩ requested ∩ the user's own ∩ consented
    code_challenge: str  # RFC 7636 S256: base64url(sha256(code_verifier)), no padding
    nonce: str | None
    # The browser's Tollgate login the code was issued under (the ID token's `sid`) and
    # when the user last authenticated there (`auth_time`, OIDC Core §2).
    login_session_id: uuid.UUID | None
    auth_time: datetime
    issued_at: datetime
    expires_at: datetime
    used_at: datetime | None = None
    # The session (and refresh-token family) the winning exchange started: what a replay
    # revokes (RFC 6749 §4.1.2).
    session_id: uuid.UUID | None = None


@dataclass(frozen=True)
class CodeExchange:
    """Use code `code_id` once at `now` (AuthorizationCodeStore.consume). The request must
    match what the code is bound to: `client_id`, `redirect_uri` and `code_challenge` (the
    S256 of the request's code_verifier, computed by the caller). The winner's `session`
    starts in the same transaction, with `first_token` (None when the client has no
    refresh_token grant) and the `audit` rows."""

    code_id: str
    client_id: str
    redirect_uri: str
    code_challenge: str
    now: datetime
    session: SessionRecord
    first_token: RefreshTokenRecord | None = None
    audit: Sequence[AuditRecord] = ()


@dataclass(frozen=True)
class Consumed:
    """The code was unused, live and matched: it is now used, and `code.session_id` is the
    session just started."""

    code: AuthorizationCodeRecord


@dataclass(frozen=True)
class Replayed:
    """The code was used before. Nothing was written; `code.session_id` is the session the
    first exchange started, for the caller to revoke (RFC 6749 §4.1.2)."""

    code: AuthorizationCodeRecord


@dataclass(frozen=True)
class NotConsumable:
    """Nothing was written. `reason`: "unknown", "expired", "client", "redirect_uri" or
    "code_verifier" (the first that applies, in that order; `code` is None only for an
    unknown one)."""

    reason: str
    code: AuthorizationCodeRecord | None = None


CodeUse = Consumed | Replayed | NotConsumable


@dataclass(frozen=True)
class ScopeDescription:
    """What a scope allows, in the operator's words (`tollgate scopes describe`), shown
    beside its checkbox on the consent page."""

    name: str
    description: str
    updated_at: datetime


# -- consents: which scopes a user let a client have ----------------------------------


@dataclass(frozen=True)
class StreamRecord:
    """A Shared Signals stream (SSF 1.0 §8.1.1) of one receiver, a registered client."""

    stream_id: str
    client_id: str
    delivery_method: str  # "urn:ietf:rfc:8936" (poll) or "urn:ietf:rfc:8935" (push)
    endpoint_url: str | None  # where SETs are pushed; None for poll
    events_delivered: tuple[str, ...]
    status: str  # "enabled", "paused", "disabled" (SSF 1.0 §8.1.2)
    created_at: datetime
    polled_at: datetime | None = None


@dataclass(frozen=True)
class SecurityEventRecord:
    """One Security Event Token (RFC 8417) for one stream, until its receiver acknowledges
    it: its claims as JSON (without `aud`: the stream's client), signed when delivered."""

    jti: str
    stream_id: str
    created_at: datetime
    claims: str
    attempts: int = 0
    next_attempt_at: datetime | None = None  # push: not before; None = created_at


@dataclass(frozen=True)
class EventBatch:
    """What one poll (RFC 8936 §2.4) takes: the oldest `events` and whether more wait."""

    events: list[SecurityEventRecord]
    more_available: bool


@dataclass(frozen=True)
class ConsentRecord:
    user_id: uuid.UUID
    client_id: str
    scope: str  # the scopes given, sorted, space-separated
    granted_at: datetime  # when the user last chose


@dataclass(frozen=True)
class ConsentGrant:
    """A user's answer on the consent page (ConsentStore.grant): of the scopes `asked`,
    the user gave `chosen` (a subset). The stored consent becomes (what it held - asked)
    | chosen: a scope asked and unchecked is taken away (narrows), a scope asked and
    checked is added (widens), a scope not asked this time stays as it was.

    `answering`: the consent the page was shown with; the answer is recorded only while
    that is still what is held (None: checks nothing, every answer counts)."""

    user_id: uuid.UUID
    client_id: str
    asked: str
    chosen: str
    now: datetime
    audit: Sequence[AuditRecord] = ()
    answering: HeldConsent | None = None


@dataclass(frozen=True)
class HeldConsent:
    """What a consent page was shown with: the held consent's `granted_at`, None if no
    consent was held. Two answers to one page (a double post, a second tab): one counts."""

    granted_at: datetime | None


def merged_consent(held: str, asked: str, chosen: str) -> str:
    """(held - asked) | chosen, sorted and space-separated: ConsentGrant's rule, as every
    store applies it."""
    kept = set(held.split()) - set(asked.split())
    return " ".join(sorted(kept | set(chosen.split())))


def code_refusal(code: AuthorizationCodeRecord, exchange: CodeExchange) -> str | None:
    """Why `exchange` may not use `code` ("used", or a NotConsumable reason), None if it
    may: AuthorizationCodeStore.consume's rule, as every store applies it."""
    if code.used_at is not None:
        return "used"
    if code.expires_at <= exchange.now:
        return "expired"
    if code.client_id != exchange.client_id:
        return "client"
    if code.redirect_uri != exchange.redirect_uri:
        return "redirect_uri"
    if code.code_challenge != exchange.code_challenge:
        return "code_verifier"
    return None


def code_use(code: AuthorizationCodeRecord | None, exchange: CodeExchange) -> CodeUse:
    """The outcome for the code as it was before the exchange (None: unknown): what
    `consume` returns once it has written (or not) accordingly."""
    if code is None:
        return NotConsumable("unknown")
    refusal = code_refusal(code, exchange)
    if refusal == "used":
        return Replayed(code)
    if refusal is not None:
        return NotConsumable(refusal, code)
    return Consumed(dataclasses.replace(code, used_at=exchange.now, session_id=exchange.session.id))


@dataclass(frozen=True)
class MailTokenRecord:
    """A password-reset or email-verification link's token, known only by `id` (SHA-256
    of the token, hex): single use, until `expires_at`, for the address it was mailed to.
    `user_id` None: a decoy stored for an unknown account (the same work either way),
    which nothing can ever use."""

    id: str
    purpose: str  # "reset" | "verify"
    user_id: uuid.UUID | None
    email: str
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class MailRecord:
    """One mail in the outbox, rendered, until it is sent or given up (`expires_at`: a
    link past its life is worth nothing, so it is not sent late)."""

    id: str
    kind: str  # the template: "password_reset", "verify_email", "password_changed", ...
    recipient: str
    subject: str
    text: str
    html: str
    created_at: datetime
    expires_at: datetime
    user_id: uuid.UUID | None = None
    attempts: int = 0
    next_attempt_at: datetime | None = None  # not before; None = created_at
    last_error: str | None = None


# -- second factors (issue 18): TOTP, recovery codes, passkeys, challenges ------------


@dataclass(frozen=True)
class TotpRecord:
    """A user's authenticator app (RFC 6238): pending until the first code confirms it."""

    user_id: uuid.UUID
    secret: bytes  # the base32 secret, sealed with TOLLGATE_SECRET_KEY when it is set
    created_at: datetime
    confirmed_at: datetime | None = None


@dataclass(frozen=True)
class PasskeyRecord:
    """A WebAuthn credential (a passkey) registered by a user, with the name it was given."""

    id: uuid.UUID
    user_id: uuid.UUID
    credential_id: bytes
    public_key: bytes  # COSE_Key, as the authenticator gave it
    sign_count: int
    name: str
    created_at: datetime
    last_used_at: datetime | None = None
    transports: tuple[str, ...] = ()


@dataclass(frozen=True)
class FactorSummary:
    """Every second factor of a user, in one read (what a login asks)."""

    totp: TotpRecord | None
    passkeys: tuple[PasskeyRecord, ...]
    recovery_codes_left: int
    required: bool  # the operator requires a second factor of this user

    @property
    def totp_confirmed(self) -> bool:
        return self.totp is not None and self.totp.confirmed_at is not None

    @property
    def enrolled(self) -> bool:
        return self.totp_confirmed or bool(self.passkeys)


NO_FACTORS = FactorSummary(None, (), 0, False)


@dataclass(frozen=True)
class ChallengeRecord:
    """Something handed out once and taken back once: an `mfa_token` (kind "mfa") or a
    WebAuthn challenge ("webauthn_register", "webauthn_login"), known by the SHA-256 of
    its value (hex). `data`: JSON the service needs back."""

    id: str
    kind: str
    user_id: uuid.UUID | None
    data: str
    expires_at: datetime
