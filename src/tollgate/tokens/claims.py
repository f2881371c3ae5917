"""What the two token types carry (API.md "Tokens"; RFC 9068 for access tokens)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

ACCESS_TYP = "at+jwt"  # RFC 9068 §2.1
REFRESH_TYP = "rt+jwt"

# RFC 9068 §2.2 requires client_id; password-grant clients of Tollgate are first-party.
FIRST_PARTY_CLIENT = "tollgate"


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
