"""The browser's sign-in to Tollgate itself (single sign-on for the authorization
endpoint; issue 14's seam).

Logging in on the login page starts an ordinary first-party session (as /login does,
with the same throttling, audit and errors), but no token reaches the page: the browser
gets an HttpOnly cookie holding a JWT (`typ` sso+jwt, `aud` <issuer>/authorize, `sub`,
`sid`, `auth_time`, `exp` = the session's end) that is accepted only while that session
is live. Ending the session anywhere (the account page's session list, logout
everywhere, a password change, RP-initiated logout) ends the single sign-on too.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from tollgate.clock import Clock, SystemClock
from tollgate.errors import InvalidGrant
from tollgate.events import ClientInfo, EventBus, SessionsEnded
from tollgate.services.grants import TokenPair
from tollgate.services.login import Login
from tollgate.services.mfa import SecondFactors
from tollgate.services.passkeys import Passkeys
from tollgate.services.sessions import end_session
from tollgate.store.interfaces import SessionStore, UserStore
from tollgate.store.records import SessionRecord, UserRecord
from tollgate.tokens.browser import SSO_TYP, BrowserTokens

SSO_COOKIE = "tollgate_sso"


@dataclass(frozen=True)
class SignedIn:
    """Who is signed in to Tollgate in this browser, in which session, since when."""

    user: UserRecord
    session: SessionRecord
    auth_time: int  # Unix seconds: when the password was last typed (OIDC Core §2)


@dataclass(eq=False)
class BrowserSessions:
    # What it uses, given by the composition root (services/container.py).
    _login: Login
    _sessions: SessionStore
    _users: UserStore
    _tokens: BrowserTokens
    _audience: str  # <issuer>/authorize
    _events: EventBus
    _clock: Clock = field(default_factory=SystemClock)
    _factors: SecondFactors | None = None
    _passkeys: Passkeys | None = None

    async def sign_in(
        self, username: str, password: str, client: ClientInfo
    ) -> tuple[SignedIn, str]:
        """Check the password (Login's rules and errors) and start the session; returns it
        with the cookie's value. The session's token pair is never handed out."""
        pair = await self._login.with_password(username, password, None, client)
        return await self._signed_in(pair)

    async def sign_in_second_step(
        self, mfa_token: str, code: str | None, recovery_code: str | None, client: ClientInfo
    ) -> tuple[SignedIn, str]:
        """The second step after `sign_in` raised MfaRequired (issue 18): as POST /login/mfa,
        then the same cookie."""
        if self._factors is None:
            raise InvalidGrant()
        pair = await self._factors.with_code(mfa_token, code, recovery_code, client)
        return await self._signed_in(pair)

    async def sign_in_with_passkey(
        self, mfa_token: str, credential: dict[str, Any], client: ClientInfo
    ) -> tuple[SignedIn, str]:
        """The second step with a passkey (issue 18): as POST /webauthn/login with the
        mfa_token, then the same cookie."""
        if self._passkeys is None:
            raise InvalidGrant()
        pair = await self._passkeys.login(credential, mfa_token, client)
        return await self._signed_in(pair)

    async def passkey_options(self, mfa_token: str) -> str | None:
        """WebAuthn request options for the second-step page; None once the mfa_token no
        longer works (the page then offers codes only, which say so when tried)."""
        if self._passkeys is None:
            return None
        try:
            return await self._passkeys.login_options(mfa_token, None)
        except InvalidGrant:
            return None

    async def _signed_in(self, pair: TokenPair) -> tuple[SignedIn, str]:
        session = await self._sessions.live(pair.session_id, self._clock.now())
        user = await self._users.by_id(session.user_id) if session is not None else None
        if session is None or user is None:
            # Ended or deleted in the instant since it started: as a failed login.
            raise InvalidGrant()
        auth_time = int(session.created_at.timestamp())
        ttl = max(1, int(session.expires_at.timestamp()) - int(self._clock.timestamp()))
        cookie = await self._tokens.sign(
            SSO_TYP,
            self._audience,
            {"sub": str(user.id), "sid": str(session.id), "auth_time": auth_time},
            ttl,
        )
        return SignedIn(user, session, auth_time), cookie

    async def current(self, cookie: str | None) -> SignedIn | None:
        """The sign-in the cookie names, if its session is still live and its user may
        still log in; None otherwise."""
        claims = await self._tokens.read(SSO_TYP, self._audience, cookie)
        if claims is None:
            return None
        try:
            user_id = uuid.UUID(str(claims.get("sub")))
            session_id = uuid.UUID(str(claims.get("sid")))
        except ValueError:
            return None
        auth_time = claims.get("auth_time")
        if not isinstance(auth_time, int) or isinstance(auth_time, bool):
            return None
        session = await self._sessions.live(session_id, self._clock.now())
        if session is None or session.user_id != user_id or session.client_id is not None:
            return None
        user = await self._users.by_id(user_id)
        if user is None or user.disabled:
            return None
        return SignedIn(user, session, auth_time)

    async def end(self, signed_in: SignedIn, reason: str, client: ClientInfo) -> bool:
        """End this browser's Tollgate session (audited as `reason`)."""
        event = SessionsEnded(
            reason,
            self._clock.now(),
            user_id=signed_in.user.id,
            username=signed_in.user.username,
            session_id=signed_in.session.id,
            client=client,
        )
        return await end_session(self._sessions, self._events, event)
