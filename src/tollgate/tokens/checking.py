"""Verify tokens strictly: the key chooses the algorithm, never the token's header.

Structure, signature and claims go through the same code as `tollgate.verify` (the JWS
parser in verify/jws.py, the claim rules in verify/claims.py), so the server and the
library accept and refuse the same tokens.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

from tollgate.errors import InvalidToken
from tollgate.keys.keyring import Keyring
from tollgate.settings import Settings
from tollgate.tokens.claims import ACCESS_TYP, REFRESH_TYP, AccessClaims, RefreshClaims
from tollgate.verify import jws
from tollgate.verify.claims import ClaimRules
from tollgate.verify.errors import VerificationError

# Real tokens are well under 2 KiB; anything far larger is refused before parsing.
MAX_TOKEN_LENGTH = 8192
# Header members that would let a token pick its own key (RFC 8725 §3.10) or demand
# processing we do not do (RFC 7515 §4.1.11 `crit`).
FORBIDDEN_HEADERS = frozenset({"jku", "jwk", "x5u", "x5c", "crit"})
ACCESS_REQUIRED = ("iss", "sub", "aud", "exp", "iat", "nbf", "jti", "sid", "scope", "username")
REFRESH_REQUIRED = ("iss", "sub", "aud", "exp", "iat", "jti", "sid")
# A client_credentials access token (RFC 6749 §4.4): the client acts for itself.
CLIENT_REQUIRED = ("iss", "sub", "aud", "exp", "iat", "jti", "client_id")


class TokenChecker:
    def __init__(
        self, keyring: Keyring, settings: Settings, clock: Callable[[], float] = time.time
    ) -> None:
        self._keyring = keyring
        self._clock = clock
        self._headers: dict[str, dict[str, Any]] = {}
        leeway = settings.clock_leeway
        self._client_rules = ClaimRules(settings.issuer, settings.audience, CLIENT_REQUIRED, leeway)
        self._rules = {
            ACCESS_TYP: ClaimRules(settings.issuer, settings.audience, ACCESS_REQUIRED, leeway),
            REFRESH_TYP: ClaimRules(
                settings.issuer, settings.refresh_audience, REFRESH_REQUIRED, leeway
            ),
        }

    async def access(self, token: str) -> AccessClaims:
        c = await self._decode(token, ACCESS_TYP)
        return AccessClaims(
            sub=_uuid(c["sub"]),
            sid=_uuid(c["sid"]),
            jti=_str(c["jti"]),
            username=_str(c["username"]),
            scope=_str(c["scope"]),
            iat=c["iat"],
            exp=c["exp"],
            jkt=_jkt(c),
            **_authentication(c),
        )

    async def client(self, token: str) -> str:
        """The client id of a client_credentials access token (`sub` = `client_id`, no
        session); InvalidToken for any other token."""
        c = await self._decode(token, ACCESS_TYP, self._client_rules)
        client_id = _str(c["client_id"])
        if c["sub"] != client_id or "sid" in c:
            raise InvalidToken("The token is not a client's own token.")
        return client_id

    async def refresh(self, token: str) -> RefreshClaims:
        c = await self._decode(token, REFRESH_TYP)
        client_id = c.get("client_id")
        return RefreshClaims(
            sub=_uuid(c["sub"]),
            sid=_uuid(c["sid"]),
            jti=_str(c["jti"]),
            iat=c["iat"],
            exp=c["exp"],
            client_id=None if client_id is None else _str(client_id),
            jkt=_jkt(c),
        )

    async def _decode(
        self, token: str, typ: str, rules: ClaimRules | None = None
    ) -> dict[str, Any]:
        if len(token) > MAX_TOKEN_LENGTH:
            raise InvalidToken("The token is too long.")
        try:
            # Strict JWS structure: three base64url segments, UTF-8 JSON objects, no
            # duplicate members (PyJWT would let the last duplicate win).
            parsed = jws.parse(token, self._headers)
            header = parsed.header
            if header.get("typ") != typ:
                raise InvalidToken("The token is of the wrong type.")
            if FORBIDDEN_HEADERS & header.keys():
                raise InvalidToken("The token header has members that are not accepted.")
            kid = header.get("kid")
            key = await self._keyring.find(kid) if isinstance(kid, str) else None
            if key is None or key.signs_id_tokens:
                raise InvalidToken("The token was not signed by a known key.")
            if header.get("alg") != key.alg:
                raise InvalidToken("The token's algorithm does not match its key.")
            jws.verify_signature(key.alg, key.verifying_key, parsed.signing_input, parsed.signature)
            claims = jws.json_object(parsed.payload_segment)
            (rules or self._rules[typ]).check(claims, self._clock())
        except VerificationError as exc:
            raise InvalidToken(exc.description) from exc
        for name in ("exp", "iat", "nbf"):
            # Our own tokens carry whole seconds; a fraction means someone else made it.
            if name in claims and not isinstance(claims[name], int):
                raise InvalidToken(f"The token's {name} claim is not a number.")
        return claims


def _str(value: object) -> str:
    if not isinstance(value, str):
        raise InvalidToken("The token has a claim of the wrong type.")
    return value


def _uuid(value: object) -> uuid.UUID:
    try:
        return uuid.UUID(_str(value))
    except ValueError as exc:
        raise InvalidToken("The token has a malformed identifier.") from exc


def _jkt(claims: dict[str, Any]) -> str | None:
    """RFC 9449 §6.1: the thumbprint in `cnf.jkt`, or None for an unbound token."""
    cnf = claims.get("cnf")
    if cnf is None:
        return None
    if not isinstance(cnf, dict):
        raise InvalidToken("The token has a claim of the wrong type.")
    return _str(cnf.get("jkt"))


def _authentication(claims: dict[str, Any]) -> dict[str, Any]:
    """`amr` and `acr` (issue 18), when the token carries them."""
    found: dict[str, Any] = {}
    amr = claims.get("amr")
    if amr is not None:
        if not isinstance(amr, list) or not all(isinstance(m, str) for m in amr):
            raise InvalidToken("The token has a claim of the wrong type.")
        found["amr"] = tuple(amr)
    if "acr" in claims:
        found["acr"] = _str(claims["acr"])
    return found
