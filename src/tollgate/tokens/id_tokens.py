"""ID tokens (OpenID Connect Core §2): who signed in to a client, signed for that client.

Signed with the keyring's RS256 ID-token key (keys.rotation), or, for a client registered
for the algorithm access tokens are signed with, with that key. Header `typ` is `JWT`
and `aud` the client id: neither Tollgate nor `tollgate.verify` takes one for an access
token (those need `at+jwt` and the settings' audience).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tollgate.errors import InvalidClient
from tollgate.keys.keyring import Key, Keyring
from tollgate.keys.rotation import ID_TOKEN_ALG
from tollgate.store.records import UserRecord
from tollgate.tokens.claims import PASSWORD_AMR, acr_of
from tollgate.tokens.signing import sign

ID_TOKEN_TYP = "JWT"  # noqa: S105 - a JWS typ

# OIDC Core §3.1.3.6: at_hash uses the hash of the ID token's JWS algorithm; for EdDSA
# with Ed25519 that is SHA-512 (OpenID Connect Core errata set 2, §3.1.3.6).
_HASHES: dict[str, Callable[[bytes], Any]] = {
    "RS256": hashlib.sha256,
    "ES256": hashlib.sha256,
    "HS256": hashlib.sha256,
    "EdDSA": hashlib.sha512,
}


def at_hash(access_token: str, alg: str) -> str:
    """OIDC Core §3.1.3.6: base64url of the left half of the hash of the access token's
    ASCII octets, no padding."""
    digest: bytes = _HASHES[alg](access_token.encode("ascii")).digest()
    half = digest[: len(digest) // 2]
    return base64.urlsafe_b64encode(half).rstrip(b"=").decode("ascii")


def authentication(amr: str | None) -> dict[str, Any]:
    """OIDC Core §2 `amr` (RFC 8176 values) and `acr` of the login (issue 18)."""
    return {"amr": (amr or PASSWORD_AMR).split(), "acr": acr_of(amr)}


def scope_claims(user: UserRecord, scope: str) -> dict[str, Any]:
    """OIDC Core §5.4: the claims each granted scope releases (ID token and /userinfo).
    `email_verified`: the user opened a link mailed to this address (issue 17)."""
    granted = scope.split()
    claims: dict[str, Any] = {}
    if "profile" in granted:
        claims["preferred_username"] = user.username
    if "email" in granted and user.email is not None:
        claims["email"] = user.email
        claims["email_verified"] = user.email_verified
    return claims


@dataclass(frozen=True)
class IdTokenClaims:
    """What one ID token says, besides iss/iat/exp (filled in by the issuer)."""

    sub: str
    client_id: str
    auth_time: int
    sid: str | None
    nonce: str | None
    extra: dict[str, Any]  # the claims of the granted scopes (profile, email)


class IdTokenIssuer:
    def __init__(self, keyring: Keyring, issuer: str, ttl: int) -> None:
        self._keyring = keyring
        self._issuer = issuer
        self._ttl = ttl

    async def _key(self, alg: str) -> Key:
        if alg == ID_TOKEN_ALG:
            return await self._keyring.id_token_signer()
        key = await self._keyring.signer()
        if key.alg != alg or key.alg == "HS256":
            # Registered for an algorithm no key of ours signs with now (the access-token
            # algorithm changed since): never sign with another than the registered one
            # (OIDC Dynamic Client Registration §2, id_token_signed_response_alg).
            raise InvalidClient(
                f"This client is registered for {alg} ID tokens, which this server no "
                "longer signs; register it again with another --id-token-alg."
            )
        return key

    async def issue(self, claims: IdTokenClaims, access_token: str, alg: str, now: int) -> str:
        key = await self._key(alg)
        body: dict[str, Any] = {
            "iss": self._issuer,
            "sub": claims.sub,
            "aud": claims.client_id,
            "exp": now + self._ttl,
            "iat": now,
            "auth_time": claims.auth_time,
            "azp": claims.client_id,
            "at_hash": at_hash(access_token, key.alg),
        }
        if claims.nonce is not None:
            body["nonce"] = claims.nonce
        if claims.sid is not None:
            body["sid"] = claims.sid
        body.update(claims.extra)
        return sign(body, key.alg, key.signing_key, key.kid, ID_TOKEN_TYP)
