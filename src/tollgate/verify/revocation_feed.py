"""Follow Tollgate's Shared Signals feed, so a logged-out session's access tokens are
refused here within seconds instead of at their `exp`.

A background thread polls the issuer's RFC 8936 stream for this service (a registered
confidential client) every `poll_interval` seconds, or long-polls, acknowledges what it
got, and remembers each revoked `sid` (CAEP session-revoked, OpenID CAEP 1.0 §3.1) for
`remember_for` seconds: at least the longest access-token lifetime, after which every
token of that session has expired anyway.

The feed never makes a valid token fail: while the issuer cannot be reached it logs,
keeps what it knows and tries again. Every SET is verified (RFC 8417: `typ`
secevent+jwt, signed by a key of the issuer's JWKS, `iss`, `aud` = this client) with
PyJWT before it is believed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import jwt

log = logging.getLogger("tollgate.verify.revocation_feed")

POLL = "urn:ietf:rfc:8936"
SESSION_REVOKED = "https://schemas.openid.net/secevent/caep/event-type/session-revoked"
SET_TYPE = "secevent+jwt"
MAX_EVENTS = 500
MAX_RETRY_WAIT = 30.0


class FeedError(Exception):
    """The issuer's answer could not be used; the feed tries again later."""


class RevocationFeed:
    """Give one to `Verifier(..., revocation_feed=RevocationFeed(client_id, secret))`.

    `stream_id`: an existing poll stream of this client to follow (else one is created,
    and deleted again by `stop`). `long_poll`: wait at the issuer for events instead of
    asking every `poll_interval` seconds.
    """

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        *,
        poll_interval: float = 2.0,
        long_poll: bool = False,
        remember_for: float = 86_400.0,
        stream_id: str | None = None,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client_id = client_id
        self._auth = httpx.BasicAuth(client_id, client_secret)
        self.poll_interval = poll_interval
        self.long_poll = long_poll
        self.remember_for = remember_for
        self.stream_id = stream_id
        self._created_stream = False
        self._timeout = timeout
        self._transport = transport
        self._clock = clock
        self._issuer: str | None = None
        self._poll_url: str | None = None
        self._jwks_uri: str | None = None
        self._keys: dict[str, jwt.PyJWK] = {}
        self._configuration_url: str | None = None
        self._revoked: dict[str, float] = {}  # sid -> forget after (Unix seconds)
        self._to_acknowledge: list[str] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.failures = 0  # consecutive failed polls (a health signal for the service)
        self.last_success: float | None = None

    # -- what the verifier asks ---------------------------------------------------------

    def revoked(self, sid: str | None) -> bool:
        """Has the feed said this session ended? (Never blocks, never fails.)"""
        if sid is None:
            return False
        with self._lock:
            until = self._revoked.get(sid)
        return until is not None and until > self._clock()

    # -- following ----------------------------------------------------------------------

    def follow(self, issuer: str, *, background: bool = True) -> None:
        """Follow `issuer`'s feed: in a background thread (the Verifier calls this), or
        only when `poll_once` is called (`background=False`)."""
        if self._thread is not None:
            return
        self._issuer = issuer
        if not background:
            return
        self._thread = threading.Thread(target=self._run, name="tollgate-revocation-feed")
        self._thread.daemon = True  # a service exiting must not wait on a long poll
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        """End the thread; delete the stream if this feed created it."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
        if self._created_stream and self.stream_id is not None and self._configuration_url:
            try:
                with self._client() as http:
                    http.delete(
                        self._configuration_url,
                        params={"stream_id": self.stream_id},
                        auth=self._auth,
                    )
            except httpx.HTTPError:
                pass  # the issuer purges an abandoned stream's events after its retention

    def _client(self, read_timeout: float | None = None) -> httpx.Client:
        timeout = httpx.Timeout(self._timeout, read=read_timeout or self._timeout)
        return httpx.Client(timeout=timeout, transport=self._transport, follow_redirects=False)

    def _run(self) -> None:
        wait = self.poll_interval
        while not self._stopping.is_set():
            try:
                more = self.poll_once()
                self.failures = 0
                wait = 0.0 if more or self.long_poll else self.poll_interval
            except (httpx.HTTPError, FeedError, ValueError) as exc:
                self.failures += 1
                wait = min(self.poll_interval * 2 ** min(self.failures, 5), MAX_RETRY_WAIT)
                log.warning(
                    "revocation feed: %s (%s); known revocations still apply, retrying in %.0f s",
                    type(exc).__name__,
                    exc,
                    wait,
                )
            if wait:
                self._stopping.wait(wait)

    def poll_once(self) -> bool:
        """One poll (acknowledging the last one's SETs); True if more are waiting."""
        if self._issuer is None:
            raise FeedError("follow(issuer) was not called")
        with self._client(read_timeout=120.0 if self.long_poll else None) as http:
            if self._poll_url is None:
                self._subscribe(http)
            assert self._poll_url is not None
            body = {
                "maxEvents": MAX_EVENTS,
                "returnImmediately": not self.long_poll,
                "ack": self._to_acknowledge,
            }
            response = http.post(self._poll_url, json=body, auth=self._auth)
            if response.status_code == 404:  # the stream is gone: make a new one next time
                self._poll_url = None
                self.stream_id = None
                raise FeedError("the stream was deleted at the issuer")
            response.raise_for_status()
            answer = response.json()
            self._to_acknowledge = []
            sets = answer.get("sets", {})
            if not isinstance(sets, dict):
                raise FeedError("the poll answer has no sets")
            for jti, token in sets.items():
                self._take(http, jti, token)
                # Acknowledged even if it was not for us to act on: asking again would
                # only bring it back.
                self._to_acknowledge.append(jti)
            self.last_success = self._clock()
            return bool(answer.get("moreAvailable")) or bool(self._to_acknowledge)

    def _subscribe(self, http: httpx.Client) -> None:
        assert self._issuer is not None
        meta_response = http.get(self._issuer.rstrip("/") + "/.well-known/ssf-configuration")
        meta = meta_response.raise_for_status().json()
        if meta.get("issuer") != self._issuer:
            raise FeedError("the transmitter's metadata names another issuer")
        self._jwks_uri = meta["jwks_uri"]
        self._configuration_url = meta["configuration_endpoint"]
        if self.stream_id is not None:
            response = http.get(
                self._configuration_url, params={"stream_id": self.stream_id}, auth=self._auth
            )
        else:
            response = http.post(
                self._configuration_url,
                json={"delivery": {"method": POLL}, "events_requested": [SESSION_REVOKED]},
                auth=self._auth,
            )
            self._created_stream = response.status_code == 201
        stream = response.raise_for_status().json()
        if stream.get("delivery", {}).get("method") != POLL:
            raise FeedError("the stream is not delivered by poll")
        self.stream_id = stream["stream_id"]
        self._poll_url = stream["delivery"]["endpoint_url"]

    def _take(self, http: httpx.Client, jti: str, token: str) -> None:
        try:
            claims = self._verified(http, token)
        except (jwt.PyJWTError, FeedError, KeyError, TypeError) as exc:
            log.warning("revocation feed: a SET (%s) was refused: %s", jti, exc)
            return
        event = claims.get("events", {}).get(SESSION_REVOKED)
        if event is None:
            return
        sid = claims.get("sub_id", {}).get("session", {}).get("id")
        if not isinstance(sid, str):
            return
        revoked_at = event.get("event_timestamp", claims.get("iat", self._clock()))
        with self._lock:
            self._revoked[sid] = float(revoked_at) + self.remember_for
            self._forget_expired()

    def _verified(self, http: httpx.Client, token: str) -> dict[str, Any]:
        header = jwt.get_unverified_header(token)
        if header.get("typ") != SET_TYPE:
            raise FeedError("not a SET")
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise FeedError("the SET names no key")
        if kid not in self._keys:
            self._fetch_keys(http)
        key = self._keys.get(kid)
        if key is None or key.algorithm_name is None:
            raise FeedError("the SET's key is not in the issuer's JWKS")
        claims: dict[str, Any] = jwt.decode(
            token,
            key.key,
            algorithms=[key.algorithm_name],
            audience=self.client_id,
            issuer=self._issuer,
            options={"require": ["iss", "iat", "jti", "aud"]},
        )
        return claims

    def _fetch_keys(self, http: httpx.Client) -> None:
        assert self._jwks_uri is not None
        jwks = http.get(self._jwks_uri).raise_for_status().json()
        keys = {}
        for jwk in jwks.get("keys", []):
            try:
                keys[jwk["kid"]] = jwt.PyJWK(jwk)
            except (jwt.PyJWTError, KeyError):
                continue  # a key of a kind this service cannot use
        self._keys = keys

    def _forget_expired(self) -> None:
        now = self._clock()
        for sid in [s for s, until in self._revoked.items() if until <= now]:
            del self._revoked[sid]
