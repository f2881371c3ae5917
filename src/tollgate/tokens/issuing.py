"""Sign access and refresh tokens with the keyring's current key."""

from __future__ import annotations

import secrets
import uuid

from tollgate.keys.keyring import Keyring
from tollgate.settings import Settings
from tollgate.tokens.claims import ACCESS_TYP, FIRST_PARTY_CLIENT, REFRESH_TYP
from tollgate.tokens.signing import sign


def new_jti() -> str:
    return secrets.token_urlsafe(32)


class TokenIssuer:
    def __init__(self, keyring: Keyring, settings: Settings) -> None:
        self._keyring = keyring
        self._settings = settings

    async def _sign(self, claims: dict[str, object], typ: str) -> str:
        key = await self._keyring.signer()
        return sign(claims, key.alg, key.signing_key, key.kid, typ)

    async def access_token(
        self, *, user_id: uuid.UUID, username: str, session_id: uuid.UUID, scope: str, now: int
    ) -> str:
        s = self._settings
        return await self._sign(
            {
                "iss": s.issuer,
                "sub": str(user_id),
                "aud": s.audience,
                "exp": now + s.access_ttl,
                "iat": now,
                "nbf": now,
                "jti": new_jti(),
                "client_id": FIRST_PARTY_CLIENT,
                "sid": str(session_id),
                "scope": scope,
                "username": username,
            },
            ACCESS_TYP,
        )

    async def refresh_token(
        self, *, user_id: uuid.UUID, session_id: uuid.UUID, jti: str, iat: int, exp: int
    ) -> str:
        """Deterministic in its claims, so the same refresh token can be handed out again."""
        return await self._sign(
            {
                "iss": self._settings.issuer,
                "sub": str(user_id),
                "aud": self._settings.refresh_audience,
                "exp": exp,
                "iat": iat,
                "nbf": iat,
                "jti": jti,
                "sid": str(session_id),
            },
            REFRESH_TYP,
        )
