"""Verify Tollgate access tokens in any Python service, without calling Tollgate per request.

Needs only PyJWT, cryptography and httpx; imports nothing of the server. Integrations:
`tollgate.verify.fastapi`, `tollgate.verify.asgi`, `tollgate.verify.flask`. DPoP-bound
tokens (RFC 9449) are checked with their proof by `Verifier.verify_request` and by every
integration. With `revocation_feed=RevocationFeed(client_id, client_secret)` a Verifier
follows the issuer's Shared Signals feed and refuses tokens of sessions that ended.
"""

from tollgate.verify.dpop import InvalidDPoPProof, MemoryReplayCache
from tollgate.verify.errors import (
    InsufficientScope,
    InvalidToken,
    KeysUnavailable,
    MissingToken,
    VerificationError,
)
from tollgate.verify.revocation_feed import RevocationFeed
from tollgate.verify.verifier import Claims, Verifier

__all__ = [
    "Claims",
    "InsufficientScope",
    "InvalidDPoPProof",
    "InvalidToken",
    "KeysUnavailable",
    "MemoryReplayCache",
    "MissingToken",
    "RevocationFeed",
    "VerificationError",
    "Verifier",
]
