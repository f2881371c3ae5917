"""Why a request was refused, with the HTTP answer to give (authlib's OAuth2Error shape).

Each error renders itself: its status, its RFC 6749 §5.2 body and its headers (the
RFC 6750 §3 challenge). The token errors here are also the Tollgate server's own
(`tollgate.errors` builds on `OAuthError`), so a token is refused the same way by the
server and by a service verifying it with this library.
"""

from __future__ import annotations

import re
from typing import Any

# RFC 6750 §3: characters allowed inside a quoted error_description.
_UNSAFE = re.compile(r"[^\x20-\x21\x23-\x5b\x5d-\x7e]")


class OAuthError(Exception):
    """An error whose HTTP answer is `status`, `body()` and `headers(realm)`."""

    status = 400
    error = "invalid_request"
    description = "The request is malformed."
    retry_after: int | None = None  # seconds, for a Retry-After header (RFC 9110 §10.2.3)

    def __init__(self, description: str | None = None) -> None:
        self.description = description or type(self).description
        super().__init__(self.description)

    def body(self) -> dict[str, Any]:
        return {"error": self.error, "error_description": self.description}

    def www_authenticate(self, realm: str = "api") -> str | None:
        """RFC 6750 §3: every 401 carries a Bearer challenge."""
        return f'Bearer realm="{realm}"' if self.status == 401 else None

    def headers(self, realm: str = "api") -> dict[str, str]:
        headers = {}
        challenge = self.www_authenticate(realm)
        if challenge is not None:
            headers["WWW-Authenticate"] = challenge
        if self.retry_after is not None:
            headers["Retry-After"] = str(self.retry_after)
        return headers


class VerificationError(OAuthError):
    """A bearer token refused: the request must not proceed."""

    status = 401
    error = "invalid_token"
    description = "The access token is invalid."

    def www_authenticate(self, realm: str = "api") -> str:
        """The RFC 6750 §3 challenge for this error."""
        description = _UNSAFE.sub("", self.description)
        return f'Bearer realm="{realm}", error="{self.error}", error_description="{description}"'


class MissingToken(VerificationError):
    """No bearer token at all: a plain challenge, no error code (RFC 6750 §3.1)."""

    description = "This needs a bearer token in the Authorization header."

    def __init__(self) -> None:
        super().__init__()

    def www_authenticate(self, realm: str = "api") -> str:
        return f'Bearer realm="{realm}"'


class InvalidToken(VerificationError):
    """Malformed, forged, expired, revoked, or for someone else."""


class InsufficientScope(VerificationError):
    status = 403
    error = "insufficient_scope"
    description = "The access token lacks a required scope."

    def __init__(self, missing: frozenset[str]) -> None:
        self.missing = missing
        super().__init__(f"This needs the scope: {' '.join(sorted(missing))}.")

    def www_authenticate(self, realm: str = "api") -> str:
        return super().www_authenticate(realm) + f', scope="{" ".join(sorted(self.missing))}"'


class KeysUnavailable(VerificationError):
    """The issuer's keys could not be fetched; the token can be neither accepted nor refused."""

    status = 503
    error = "temporarily_unavailable"

    def www_authenticate(self, realm: str = "api") -> str:
        return f'Bearer realm="{realm}"'
