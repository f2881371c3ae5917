"""httpx.Auth that logs in, sends the access token, and refreshes it before it expires
(or after a 401), keeping the rotated refresh token each time.

With `dpop=True` (the default) the client holds a key of its own and sends a DPoP proof
(RFC 9449) with every token request: a server that binds tokens answers
`token_type: DPoP`, and from then on every request carries a fresh proof, so a copied
token is useless without the key. A server that does not bind answers `Bearer`, and
the tokens are sent as before. A `use_dpop_nonce` answer is retried once with the
server's nonce, never more (§8)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncGenerator, Callable, Generator
from typing import Any

import httpx

from tollgate.client.dpop import DPoPKey

# Refresh when less than this share of the access token's lifetime is left (at most 30 s).
REFRESH_SHARE = 0.2
REFRESH_MARGIN_MAX = 30.0
SESSION_ENDED = "The session has ended."
LOG_IN_AGAIN = "Log in again."


class LoginFailed(Exception):
    """The username and password were refused."""


class SessionExpired(Exception):
    """The session is gone (logged out, revoked, expired): log in again."""


class TollgateAuth(httpx.Auth):
    """Keeps an httpx client logged in to Tollgate.

    Give a username and password (used once, then forgotten) or a stored refresh token.
    `on_tokens` is called with every new token response, e.g. to persist the refresh token.
    """

    def __init__(
        self,
        issuer: str,
        username: str | None = None,
        password: str | None = None,
        *,
        refresh_token: str | None = None,
        scope: str | None = None,
        on_tokens: Callable[[dict[str, Any]], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        dpop: bool = True,
    ) -> None:
        if refresh_token is None and (username is None or password is None):
            raise ValueError("give username and password, or a refresh_token")
        self.token_url = issuer.rstrip("/") + "/auth"
        self._username = username
        self._password = password
        self._scope = scope
        self._on_tokens = on_tokens
        self._clock = clock
        self.access_token: str | None = None
        self.refresh_token = refresh_token
        self.token_type = "Bearer"  # noqa: S105  (RFC 6750 §4: a scheme, not a secret)
        self.dpop_key = DPoPKey() if dpop else None
        self._nonces: dict[str, str] = {}  # the last DPoP-Nonce of each origin (§8.2)
        self._refresh_at = float("-inf")
        self._sync_lock = threading.Lock()
        self._async_lock = asyncio.Lock()

    # -- token requests and answers -----------------------------------------------

    def _token_request(self) -> httpx.Request:
        if self.refresh_token is not None:
            data = {"grant_type": "refresh_token", "refresh_token": self.refresh_token}
        elif self._username is not None and self._password is not None:
            data = {
                "grant_type": "password",
                "username": self._username,
                "password": self._password,
            }
        else:
            raise SessionExpired(f"{SESSION_ENDED} {LOG_IN_AGAIN}")
        if self._scope:
            data["scope"] = self._scope
        request = httpx.Request("POST", self.token_url, data=data)
        if self.dpop_key is not None:
            request.headers["DPoP"] = self.dpop_key.proof(
                "POST", self.token_url, nonce=self._nonces.get(_origin(request.url))
            )
        return request

    def _accept(self, response: httpx.Response) -> None:
        body = _json(response)
        if response.status_code != 200:
            reason = body.get("error_description")
            was_refresh = self.refresh_token is not None
            self.access_token = self.refresh_token = None
            if was_refresh:
                # The server's own sentence says why ("The session has ended."); it is not
                # repeated after a prefix of ours.
                raise SessionExpired(f"{reason or SESSION_ENDED} {LOG_IN_AGAIN}")
            raise LoginFailed(reason or f"Login failed (HTTP {response.status_code}).")
        self.access_token = body["access_token"]
        self.refresh_token = body["refresh_token"]
        self.token_type = body.get("token_type", "Bearer")
        self._password = None  # never re-login silently: a revoked session stays revoked
        lifetime = float(body.get("expires_in", 0))
        margin = min(REFRESH_MARGIN_MAX, lifetime * REFRESH_SHARE)
        self._refresh_at = self._clock() + lifetime - margin
        if self._on_tokens:
            self._on_tokens(body)

    def _due(self) -> bool:
        return self.access_token is None or self._clock() >= self._refresh_at

    def _authorize(self, request: httpx.Request) -> str:
        assert self.access_token is not None
        if self.token_type.lower() == "dpop" and self.dpop_key is not None:
            request.headers["Authorization"] = f"DPoP {self.access_token}"
            request.headers["DPoP"] = self.dpop_key.proof(
                request.method,
                str(request.url),
                access_token=self.access_token,
                nonce=self._nonces.get(_origin(request.url)),
            )
        else:
            request.headers["Authorization"] = f"Bearer {self.access_token}"
        return self.access_token

    def _wants_nonce(self, response: httpx.Response) -> bool:
        """Remember the server's DPoP nonce; True if it refused the proof for lacking it
        (400 from the token endpoint, 401 with a DPoP challenge elsewhere)."""
        nonce = response.headers.get("dpop-nonce")
        if nonce is None or self.dpop_key is None:
            return False
        self._nonces[_origin(response.request.url)] = nonce
        if response.status_code == 401:
            return 'error="use_dpop_nonce"' in response.headers.get("www-authenticate", "")
        return response.status_code == 400 and _json(response).get("error") == "use_dpop_nonce"

    # -- the flows: token work is serialized, requests themselves are not ----------

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        with self._sync_lock:
            if self._due():
                response = yield self._token_request()
                response.read()
                if self._wants_nonce(response):
                    response = yield self._token_request()
                    response.read()
                self._accept(response)
            sent_with = self._authorize(request)
        response = yield request
        if self._wants_nonce(response):
            self._authorize(request)
            response = yield request
        if response.status_code == 401:
            with self._sync_lock:
                if self.access_token == sent_with:  # nobody refreshed meanwhile
                    refreshed = yield self._token_request()
                    refreshed.read()
                    if self._wants_nonce(refreshed):
                        refreshed = yield self._token_request()
                        refreshed.read()
                    self._accept(refreshed)
                self._authorize(request)
            yield request

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        async with self._async_lock:
            if self._due():
                response = yield self._token_request()
                await response.aread()
                if self._wants_nonce(response):
                    response = yield self._token_request()
                    await response.aread()
                self._accept(response)
            sent_with = self._authorize(request)
        response = yield request
        if self._wants_nonce(response):
            self._authorize(request)
            response = yield request
        if response.status_code == 401:
            async with self._async_lock:
                if self.access_token == sent_with:
                    refreshed = yield self._token_request()
                    await refreshed.aread()
                    if self._wants_nonce(refreshed):
                        refreshed = yield self._token_request()
                        await refreshed.aread()
                    self._accept(refreshed)
                self._authorize(request)
            yield request


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _origin(url: httpx.URL) -> str:
    return f"{url.scheme}://{url.netloc.decode('ascii')}"
