"""Sign access and refresh tokens with the keyring's current key."""

from __future__ import annotations

import secrets
import uuid

from tollgate.keys.keyring import Keyring
from tollgate.settings import Settings
from tollgate.tokens.claims import (
    ACCESS_TYP,
    FIRST_PARTY_CLIENT,
    PASSWORD_AMR,
    REFRESH_TYP,
    acr_of,
)
from tollgate.tokens.signing import sign


def new_jti() -> str:
    return secrets.token_urlsafe(32)


def with_binding(jkt: str | None, claims: dict[str, object]) -> dict[str, object]:
    """The claims, with RFC 9449 §6.1's confirmation when the token is bound to a key."""
    return claims if jkt is None else {**claims, "cnf": {"jkt": jkt}}


class TokenIssuer:
    def __init__(self, keyring: Keyring, settings: Settings) -> None:
        self._keyring = keyring
        self._settings = settings

    async def _sign(self, claims: dict[str, object], typ: str) -> str:
        key = await self._keyring.signer()
        return sign(claims, key.alg, key.signing_key, key.kid, typ)

    async def access_token(
        self,
        *,
        user_id: uuid.UUID,
        username: str,
        session_id: uuid.UUID,
        scope: str,
        now: int,
        client_id: str | None = None,
        jkt: str | None = None,
        amr: str | None = None,
    ) -> str:
        """`client_id`: the app a session of the authorization code flow belongs to; None
        for a first-party session (FIRST_PARTY_CLIENT). `jkt`: the DPoP key the token is
        bound to (RFC 9449 §6.1), None for a Bearer token. `amr`: the session's methods
        (space-separated, RFC 8176), None for a password login."""
        s = self._settings
        return await self._sign(
            with_binding(
                jkt,
                {
                    "iss": s.issuer,
                    "sub": str(user_id),
                    "aud": s.audience,
                    "exp": now + s.access_ttl,
                    "iat": now,
                    "nbf": now,
                    "jti": new_jti(),
                    "client_id": client_id or FIRST_PARTY_CLIENT,
                    "sid": str(session_id),
                    "scope": scope,
                    "username": username,
                    "amr": (amr or PASSWORD_AMR).split(),
                    "acr": acr_of(amr),
                },
            ),
            ACCESS_TYP,
        )

    async def refresh_token(
        self,
        *,
        user_id: uuid.UUID,
        session_id: uuid.UUID,
        jti: str,
        iat: int,
        exp: int,
        client_id: str | None = None,
        jkt: str | None = None,
    ) -> str:
        """Deterministic in its claims, so the same refresh token can be handed out again.
        A client session's token names its client: only that client may present it; a
        bound session's names its DPoP key: only a proof of that key may present it."""
        claims: dict[str, object] = {
            "iss": self._settings.issuer,
            "sub": str(user_id),
            "aud": self._settings.refresh_audience,
            "exp": exp,
            "iat": iat,
            "nbf": iat,
            "jti": jti,
            "sid": str(session_id),
        }
        if client_id is not None:
            claims["client_id"] = client_id
        return await self._sign(with_binding(jkt, claims), REFRESH_TYP)

    async def client_access_token(
        self, *, client_id: str, scope: str, now: int, jkt: str | None = None
    ) -> str:
        """RFC 6749 §4.4 (client_credentials): the client acts for itself. `sub` is the
        client id (RFC 9068 §2.2); no user, so no `username`, and no session (`sid`):
        nothing to refresh or log out, it lives `access_ttl` like any access token."""
        s = self._settings
        return await self._sign(
            with_binding(
                jkt,
                {
                    "iss": s.issuer,
                    "sub": client_id,
                    "aud": s.audience,
                    "exp": now + s.access_ttl,
                    "iat": now,
                    "nbf": now,
                    "jti": new_jti(),
                    "client_id": client_id,
                    "scope": scope,
                },
            ),
            ACCESS_TYP,
        )
