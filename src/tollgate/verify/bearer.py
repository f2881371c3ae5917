"""Reading the bearer token from an Authorization header (RFC 6750 §2.1), for integrations."""

from __future__ import annotations

from tollgate.verify.errors import InvalidToken, MissingToken


def bearer_token(authorization: str | None) -> str:
    if not authorization:
        raise MissingToken()
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise InvalidToken("Use the header `Authorization: Bearer <token>`.")
    return token.strip()
