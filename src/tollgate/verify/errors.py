"""Why a token was refused, with the HTTP answer a resource server should give."""

from __future__ import annotations

import re

# RFC 6750 §3: characters allowed inside a quoted error_description.
_UNSAFE = re.compile(r"[^\x20-\x21\x23-\x5b\x5d-\x7e]")


class VerificationError(Exception):
    """Base class: the request must not proceed. Carries status and RFC 6750 error code."""

    status = 401
    error = "invalid_token"

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description

    def www_authenticate(self, realm: str = "api") -> str:
        """The RFC 6750 §3 challenge for this error."""
        description = _UNSAFE.sub("", self.description)
        return f'Bearer realm="{realm}", error="{self.error}", error_description="{description}"'

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


class MissingToken(VerificationError):
    """No bearer token at all: a plain challenge, no error code (RFC 6750 §3.1)."""

    def __init__(self) -> None:
        super().__init__("This needs a bearer token in the Authorization header.")

    def www_authenticate(self, realm: str = "api") -> str:
        return f'Bearer realm="{realm}"'


class InvalidToken(VerificationError):
    """Malformed, forged, expired, or for someone else."""


class InsufficientScope(VerificationError):
    status = 403
    error = "insufficient_scope"

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
