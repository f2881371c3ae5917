"""Verify Tollgate access tokens in any Python service, without calling Tollgate per request.

Needs only PyJWT, cryptography and httpx; imports nothing of the server. Integrations:
`tollgate.verify.fastapi`, `tollgate.verify.asgi`, `tollgate.verify.flask`.
"""

from tollgate.verify.errors import (
    InsufficientScope,
    InvalidToken,
    KeysUnavailable,
    MissingToken,
    VerificationError,
)
from tollgate.verify.verifier import Claims, Verifier

__all__ = [
    "Claims",
    "InsufficientScope",
    "InvalidToken",
    "KeysUnavailable",
    "MissingToken",
    "VerificationError",
    "Verifier",
]
