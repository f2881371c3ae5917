"""Security Event Tokens (RFC 8417) of the Shared Signals feed: what each ended session
and changed password says to receivers, and signing one for its receiver.

The claims are stored without `aud` and signed when delivered, so a SET is always signed
by a key the JWKS publishes at that moment (keys rotate; events wait up to the retention).
"""

from __future__ import annotations

import json
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tollgate.keys.keyring import Keyring
from tollgate.tokens.signing import sign

# OpenID CAEP 1.0 §3.1 and §3.2.
SESSION_REVOKED = "https://schemas.openid.net/secevent/caep/event-type/session-revoked"
CREDENTIAL_CHANGE = "https://schemas.openid.net/secevent/caep/event-type/credential-change"
# SSF 1.0 §8.1.4.1: the answer to a verification request.
VERIFICATION = "https://schemas.openid.net/secevent/ssf/event-type/verification"
EVENTS_SUPPORTED = (SESSION_REVOKED, CREDENTIAL_CHANGE, VERIFICATION)
# RFC 8417 §2.3: the JWS `typ` of a SET.
SET_TYP = "secevent+jwt"

# What each way a session ends says in `reason_admin` (CAEP 1.0 §3.1), by event name.
REASONS = {
    "logout": "The user logged out.",
    "logout_all": "The user logged out everywhere.",
    "revoked_by_user": "The user ended this session.",
    "revoked_by_admin": "An operator ended the session.",
    "revoked": "A token of the session was revoked (RFC 7009).",
    "refresh_reuse_detected": "A used refresh token was presented again.",
    "code.replayed": "An authorization code was presented twice.",
    "consent.revoked": "The user withdrew the app's access.",
    "client_deleted": "The app was removed.",
    "password_changed": "The user changed the password.",
    "password_set_by_admin": "An operator set a new password.",
    "user_disabled": "The account was disabled.",
    "user_deleted": "The account was deleted.",
}
CHANGED_PASSWORD = frozenset({"password_changed", "password_set_by_admin", "password_reset"})


def new_jti() -> str:
    return secrets.token_urlsafe(24)


@dataclass(frozen=True)
class SetClaims:
    """The claims of one SET but its `aud`, as stored."""

    jti: str
    event_type: str
    claims: dict[str, Any]

    def text(self) -> str:
        return json.dumps(self.claims, separators=(",", ":"))


def session_revoked(
    issuer: str, user_id: uuid.UUID, session_id: uuid.UUID, at: datetime, reason: str
) -> SetClaims:
    jti = new_jti()
    return SetClaims(
        jti,
        SESSION_REVOKED,
        {
            "iss": issuer,
            "jti": jti,
            "iat": int(at.timestamp()),
            # SSF 1.0 §3.2: a complex subject, the session and its user.
            "sub_id": {
                "format": "complex",
                "session": {"format": "opaque", "id": str(session_id)},
                "user": {"format": "iss_sub", "iss": issuer, "sub": str(user_id)},
            },
            "events": {
                SESSION_REVOKED: {
                    "event_timestamp": int(at.timestamp()),
                    "reason_admin": {"en": REASONS.get(reason, "The session ended.")},
                }
            },
        },
    )


def credential_changed(issuer: str, user_id: uuid.UUID, at: datetime, by_admin: bool) -> SetClaims:
    jti = new_jti()
    return SetClaims(
        jti,
        CREDENTIAL_CHANGE,
        {
            "iss": issuer,
            "jti": jti,
            "iat": int(at.timestamp()),
            "sub_id": {"format": "iss_sub", "iss": issuer, "sub": str(user_id)},
            "events": {
                CREDENTIAL_CHANGE: {
                    "event_timestamp": int(at.timestamp()),
                    "credential_type": "password",
                    "change_type": "update",
                    "initiating_entity": "admin" if by_admin else "user",
                }
            },
        },
    )


def verification(issuer: str, stream_id: str, at: datetime, state: str | None) -> SetClaims:
    jti = new_jti()
    body: dict[str, Any] = {} if state is None else {"state": state}
    return SetClaims(
        jti,
        VERIFICATION,
        {
            "iss": issuer,
            "jti": jti,
            "iat": int(at.timestamp()),
            "sub_id": {"format": "opaque", "id": stream_id},
            "events": {VERIFICATION: body},
        },
    )


class SetSigner:
    """Signs a stored SET for its receiver with the keyring's access-token key (the JWKS
    publishes it). An HS256 deployment publishes no such key: its RS256 ID-token key,
    which the JWKS does publish, signs SETs instead."""

    def __init__(self, keyring: Keyring) -> None:
        self._keyring = keyring

    async def sign(self, claims: str, audience: str) -> str:
        key = await self._keyring.signer()
        if key.public_jwk is None:
            key = await self._keyring.id_token_signer()
        full = {**json.loads(claims), "aud": audience}
        return sign(full, key.alg, key.signing_key, key.kid, SET_TYP)
