"""Verify tokens strictly: the key chooses the algorithm, never the token's header."""

from __future__ import annotations

import time
import uuid
from typing import Any

import jwt

from tollgate.errors import InvalidToken
from tollgate.keys.keyring import Keyring
from tollgate.settings import Settings
from tollgate.tokens.claims import ACCESS_TYP, REFRESH_TYP, AccessClaims, RefreshClaims
from tollgate.verify import jws
from tollgate.verify.errors import VerificationError

# Real tokens are well under 2 KiB; anything far larger is refused before parsing.
MAX_TOKEN_LENGTH = 8192
# Header members that would let a token pick its own key (RFC 8725 §3.10) or demand
# processing we do not do (RFC 7515 §4.1.11 `crit`).
FORBIDDEN_HEADERS = frozenset({"jku", "jwk", "x5u", "x5c", "crit"})
ACCESS_REQUIRED = ("iss", "sub", "aud", "exp", "iat", "nbf", "jti", "sid", "scope", "username")
REFRESH_REQUIRED = ("iss", "sub", "aud", "exp", "iat", "jti", "sid")


class TokenChecker:
    def __init__(self, keyring: Keyring, settings: Settings) -> None:
        self._keyring = keyring
        self._settings = settings
        self._headers: dict[str, dict[str, Any]] = {}

    async def access(self, token: str) -> AccessClaims:
        c = await self._decode(token, ACCESS_TYP, self._settings.audience, ACCESS_REQUIRED)
        return AccessClaims(
            sub=_uuid(c["sub"]),
            sid=_uuid(c["sid"]),
            jti=_str(c["jti"]),
            username=_str(c["username"]),
            scope=_str(c["scope"]),
            iat=c["iat"],
            exp=c["exp"],
        )

    async def refresh(self, token: str) -> RefreshClaims:
        c = await self._decode(
            token, REFRESH_TYP, self._settings.refresh_audience, REFRESH_REQUIRED
        )
        return RefreshClaims(
            sub=_uuid(c["sub"]), sid=_uuid(c["sid"]), jti=_str(c["jti"]), iat=c["iat"], exp=c["exp"]
        )

    async def _decode(
        self, token: str, typ: str, audience: str, required: tuple[str, ...]
    ) -> dict[str, Any]:
        if len(token) > MAX_TOKEN_LENGTH:
            raise InvalidToken("The token is too long.")
        try:
            # Strict JWS structure first (three base64url segments, UTF-8 JSON objects,
            # no duplicate members: PyJWT would let the last duplicate win); the same
            # parser the verifier library uses.
            parsed = jws.parse(token, self._headers)
            jws.json_object(parsed.payload_segment)
            header = parsed.header
        except VerificationError as exc:
            raise InvalidToken(exc.description) from exc
        if header.get("typ") != typ:
            raise InvalidToken("The token is of the wrong type.")
        if FORBIDDEN_HEADERS & header.keys():
            raise InvalidToken("The token header has members that are not accepted.")
        kid = header.get("kid")
        key = await self._keyring.find(kid) if isinstance(kid, str) else None
        if key is None:
            raise InvalidToken("The token was not signed by a known key.")
        if header.get("alg") != key.alg:
            raise InvalidToken("The token's algorithm does not match its key.")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.verifying_key,
                algorithms=[key.alg],
                audience=audience,
                issuer=self._settings.issuer,
                options={"require": list(required), "verify_nbf": False, "verify_iat": False},
            )
        except jwt.ExpiredSignatureError as exc:
            raise InvalidToken("The token has expired.") from exc
        except (jwt.PyJWTError, ValueError, TypeError) as exc:
            raise InvalidToken("The token is invalid.") from exc
        self._check_times(claims)
        return claims

    def _check_times(self, claims: dict[str, Any]) -> None:
        # Leeway only on the "not before" side, for clock skew between replicas;
        # `exp` was enforced strictly by PyJWT.
        latest = time.time() + self._settings.clock_leeway
        for name in ("iat", "nbf"):
            value = claims.get(name, 0)
            if not isinstance(value, int) or isinstance(value, bool):
                raise InvalidToken(f"The token's {name} claim is not a number.")
            if value > latest:
                raise InvalidToken("The token is not valid yet.")
        if not isinstance(claims["exp"], int) or isinstance(claims["exp"], bool):
            raise InvalidToken("The token's exp claim is not a number.")


def _str(value: object) -> str:
    if not isinstance(value, str):
        raise InvalidToken("The token has a claim of the wrong type.")
    return value


def _uuid(value: object) -> uuid.UUID:
    try:
        return uuid.UUID(_str(value))
    except ValueError as exc:
        raise InvalidToken("The token has a malformed identifier.") from exc
