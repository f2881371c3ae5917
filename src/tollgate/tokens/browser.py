"""Short JWTs the server hands to a browser and reads back itself: the sign-in (SSO)
cookie, the authorization request carried through the login and consent forms, the
logout confirmation form. Signed by the keyring's current key, read with any unretired
key, like access tokens; each kind has its own `typ` and audience so none passes for
another (RFC 8725 §3.11, §3.9).

Also the one foreign-looking token the browser brings: an ID token as `id_token_hint`
(OpenID Connect RP-Initiated Logout 1.0 §2), which may have expired.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tollgate.keys.keyring import Keyring
from tollgate.tokens.checking import FORBIDDEN_HEADERS, MAX_TOKEN_LENGTH
from tollgate.tokens.signing import sign
from tollgate.verify import jws
from tollgate.verify.claims import ClaimRules
from tollgate.verify.errors import VerificationError

# The browser's Tollgate sign-in (issue 14's seam): the cookie's token type.
SSO_TYP = "sso+jwt"
# The authorization request and the user's state carried through the login/consent forms.
AUTHORIZE_FORM_TYP = "authorize-form+jwt"
# The "log out?" confirmation form of /end-session.
LOGOUT_FORM_TYP = "logout-form+jwt"
# ID tokens carry `typ: JWT` (or none); anything else is another kind of token.
ID_TOKEN_TYPS = (None, "JWT")


class BrowserTokens:
    def __init__(self, keyring: Keyring, issuer: str, clock: Callable[[], float]) -> None:
        self._keyring = keyring
        self._issuer = issuer
        self._clock = clock
        self._headers: dict[str, dict[str, Any]] = {}

    async def sign(self, typ: str, audience: str, claims: dict[str, Any], ttl: int) -> str:
        """`claims` with iss, aud, iat and exp (now + `ttl` seconds) added."""
        now = int(self._clock())
        key = await self._keyring.signer()
        full = {"iss": self._issuer, "aud": audience, "iat": now, "exp": now + ttl, **claims}
        return sign(full, key.alg, key.signing_key, key.kid, typ)

    async def read(self, typ: str, audience: str, token: str | None) -> dict[str, Any] | None:
        """The claims of a token this server signed for `audience`, of type `typ`,
        unexpired; None for anything else."""
        claims = await self._verified(token, (typ,))
        if claims is None:
            return None
        try:
            ClaimRules(self._issuer, audience, ("iss", "aud", "exp", "iat")).check(
                claims, self._clock()
            )
        except VerificationError:
            return None
        return claims

    async def id_token_hint(self, token: str | None) -> dict[str, Any] | None:
        """The claims of an ID token this server signed, expired or not (RP-Initiated
        Logout 1.0 §2: "even if the token has expired"); its `aud` is left to the caller
        (it must name a registered client). None if it is not one."""
        claims = await self._verified(token, ID_TOKEN_TYPS)
        if claims is None or claims.get("iss") != self._issuer:
            return None
        return claims

    async def _verified(
        self, token: str | None, typs: tuple[str | None, ...]
    ) -> dict[str, Any] | None:
        if not token or len(token) > MAX_TOKEN_LENGTH:
            return None
        try:
            parsed = jws.parse(token, self._headers)
            header = parsed.header
            if header.get("typ") not in typs or FORBIDDEN_HEADERS & header.keys():
                return None
            kid = header.get("kid")
            key = await self._keyring.find(kid) if isinstance(kid, str) else None
            # The key chooses the algorithm, never the token's header (RFC 8725 §3.1).
            if key is None or header.get("alg") != key.alg:
                return None
            jws.verify_signature(key.alg, key.verifying_key, parsed.signing_input, parsed.signature)
            return jws.json_object(parsed.payload_segment)
        except VerificationError:
            return None
