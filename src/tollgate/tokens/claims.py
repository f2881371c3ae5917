"""What the two token types carry (API.md "Tokens"; RFC 9068 for access tokens)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

ACCESS_TYP = "at+jwt"  # RFC 9068 §2.1
REFRESH_TYP = "rt+jwt"

# RFC 9068 §2.2 requires client_id; password-grant clients of Tollgate are first-party.
FIRST_PARTY_CLIENT = "tollgate"

# How a login was authenticated (issue 18). `amr`: RFC 8176 method names; `acr` (OIDC
# Core §2): "1" for one factor (a password), "2" for two (a password and a one-time code
# or a passkey, or a passkey alone, which Tollgate accepts only user-verified: a device
# and its PIN or biometric). Numbers, so a gateway asks "at least 2" (GET /auth?acr=2).
PASSWORD_AMR = "pwd"  # noqa: S105  (a method name, not a password)
ACR_ONE_FACTOR = "1"
ACR_TWO_FACTORS = "2"
SECOND_FACTOR_METHODS = frozenset({"otp", "hwk"})


def acr_of(amr: str | None) -> str:
    """The acr of a session's amr (space-separated; None: a password login)."""
    methods = set((amr or PASSWORD_AMR).split())
    return ACR_TWO_FACTORS if methods & SECOND_FACTOR_METHODS else ACR_ONE_FACTOR


@dataclass(frozen=True)
class AccessClaims:
    sub: uuid.UUID
    sid: uuid.UUID
    jti: str
    username: str
    scope: str
    iat: int
    exp: int
    # RFC 9449 §6.1 `cnf.jkt`: the DPoP key the token is bound to; None for a Bearer token.
    jkt: str | None = None
    # RFC 8176 / OIDC Core §2 (issue 18); a token from before carries neither: a password.
    amr: tuple[str, ...] = (PASSWORD_AMR,)
    acr: str = ACR_ONE_FACTOR

    @property
    def scopes(self) -> frozenset[str]:
        return frozenset(self.scope.split())


@dataclass(frozen=True)
class RefreshClaims:
    sub: uuid.UUID
    sid: uuid.UUID
    jti: str
    iat: int
    exp: int
    # The client a session of the authorization code flow belongs to (issue 14): only it
    # may present the token. None for first-party sessions.
    client_id: str | None = None
    # The DPoP key the session's refresh tokens are bound to (RFC 9449 §5); None: unbound.
    jkt: str | None = None
