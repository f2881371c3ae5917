"""Reading the access token from an Authorization header, for integrations: RFC 6750 §2.1
`Bearer`, or RFC 9449 §7.1 `DPoP` for a token bound to a key."""

from __future__ import annotations

from tollgate.verify.errors import InvalidToken, MissingToken

SCHEMES = {"bearer": "Bearer", "dpop": "DPoP"}


def presented_token(authorization: str | None) -> tuple[str, str]:
    """The scheme ("Bearer" or "DPoP") and the token of an Authorization header."""
    if not authorization:
        raise MissingToken()
    scheme, _, token = authorization.partition(" ")
    canonical = SCHEMES.get(scheme.lower())
    if canonical is None or not token.strip():
        raise InvalidToken("Use the header `Authorization: Bearer <token>`.")
    return canonical, token.strip()


def bearer_token(authorization: str | None) -> str:
    scheme, token = presented_token(authorization)
    if scheme != "Bearer":
        raise InvalidToken("Use the header `Authorization: Bearer <token>`.")
    return token
