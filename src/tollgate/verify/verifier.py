"""Check Tollgate access tokens inside another service, with no call to Tollgate per request.

Keys come from the issuer's JWKS (found through its RFC 8414 metadata) and are cached
for the JWKS's `max-age`; a token naming an unknown `kid` triggers one refetch at most
every `refetch_interval` seconds, so forged kids cannot flood the issuer.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from tollgate.verify import jws
from tollgate.verify.bearer import presented_token
from tollgate.verify.claims import ClaimRules
from tollgate.verify.dpop import (
    BoundTokenRefused,
    InvalidDPoPProof,
    MemoryReplayCache,
    ProofChecker,
    ReplayCache,
)
from tollgate.verify.errors import InsufficientScope, InvalidToken, KeysUnavailable
from tollgate.verify.jws import Parsed
from tollgate.verify.keyset import KeySet, PublicKey, max_age
from tollgate.verify.revocation_feed import RevocationFeed

ASYMMETRIC = ("ES256", "EdDSA", "RS256")
ACCESS_TYPES = frozenset({"at+jwt", "application/at+jwt"})  # RFC 9068 §4
FORBIDDEN_HEADERS = frozenset({"jku", "jwk", "x5u", "x5c", "crit"})
MAX_TOKEN_LENGTH = 8192


@dataclass(frozen=True)
class Claims:
    """A verified access token."""

    sub: str
    username: str | None
    scopes: frozenset[str]
    sid: str | None
    exp: int
    raw: Mapping[str, Any]

    @property
    def jkt(self) -> str | None:
        """The thumbprint of the key a DPoP-bound token is bound to (RFC 9449 §6.1)."""
        cnf = self.raw.get("cnf")
        jkt = cnf.get("jkt") if isinstance(cnf, dict) else None
        return jkt if isinstance(jkt, str) else None


class Verifier:
    """Verifies access tokens of one issuer for one audience.

    >>> verifier = Verifier("https://auth.example.com", audience="tollgate")
    >>> claims = verifier.verify(token, scopes=["posts:write"])
    """

    def __init__(
        self,
        issuer: str,
        audience: str = "tollgate",
        *,
        algorithms: Iterable[str] = ASYMMETRIC,
        leeway: float = 5.0,
        jwks_uri: str | None = None,
        refetch_interval: float = 10.0,
        default_max_age: float = 300.0,
        timeout: float = 5.0,
        hs256_secret: bytes | None = None,
        cache_size: int = 10_000,
        transport: httpx.BaseTransport | None = None,
        async_transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        dpop_max_age: float = 60.0,
        replay_cache: ReplayCache | None = None,
        revocation_feed: RevocationFeed | None = None,
    ) -> None:
        self.issuer = issuer
        self.audience = audience
        # Clock skew tolerated on `nbf`/`iat` only; `exp` is strict, as on the server.
        self.leeway = leeway
        self._rules = ClaimRules(issuer, audience, leeway=leeway)
        # `clock` (Unix seconds) judges the claims; `monotonic` (only forward) how long
        # the keys and the cached verdicts last. Tests move both instead of sleeping.
        self._clock = clock
        self._monotonic = monotonic
        self.refetch_interval = refetch_interval
        self.default_max_age = default_max_age
        self._jwks_uri = jwks_uri
        self._timeout = timeout
        self._transport = transport
        self._async_transport = async_transport
        self._secret = hs256_secret
        self._keys = KeySet(
            frozenset(["HS256"] if hs256_secret else algorithms), monotonic=monotonic
        )
        self._sync_lock = threading.Lock()
        self._async_lock = asyncio.Lock()
        # Verified tokens, until they expire or the keys are next refetched (a retired
        # key drops out then); at most cache_size, oldest dropped first.
        self._verified: dict[str, tuple[Claims, float]] = {}
        self._headers: dict[str, dict[str, Any]] = {}
        self._cache_size = cache_size
        # RFC 9449: proofs for DPoP-bound tokens, and the jti of each proof seen. One
        # process's memory by default; several processes need one shared `replay_cache`.
        self._proofs = ProofChecker(max_age=dpop_max_age, leeway=leeway, clock=clock)
        self._replays: ReplayCache = replay_cache or MemoryReplayCache(clock)
        # Shared Signals (issue 16): sessions the issuer said ended, refused until their
        # tokens have expired anyway. Followed in a background thread from now on.
        self._feed = revocation_feed
        if revocation_feed is not None:
            revocation_feed.follow(issuer)

    def verify(self, token: str, scopes: Iterable[str] = ()) -> Claims:
        """Verify a bearer token, fetching keys with a blocking HTTP call when needed.
        A DPoP-bound token is refused here: `verify_request` checks it with its proof."""
        return _unbound(self._verify(token), scopes)

    async def verify_async(self, token: str, scopes: Iterable[str] = ()) -> Claims:
        """`verify`, fetching keys without blocking the event loop when needed."""
        return _unbound(await self._verify_async(token), scopes)

    def verify_request(
        self,
        authorization: str | None,
        *,
        method: str,
        url: str,
        dpop: Sequence[str] = (),
        scopes: Iterable[str] = (),
    ) -> Claims:
        """Verify the token of a request's Authorization header: `Bearer`, or `DPoP` with
        the request's `DPoP` header values (`dpop`), its method and URL (scheme, host and
        path as the client addressed them, RFC 9449 §4.3)."""
        scheme, token = presented_token(authorization)
        claims = self._verify(token)
        self._check_binding(scheme, token, claims, dpop, method, url)
        return _with_scopes(claims, scopes)

    async def verify_request_async(
        self,
        authorization: str | None,
        *,
        method: str,
        url: str,
        dpop: Sequence[str] = (),
        scopes: Iterable[str] = (),
    ) -> Claims:
        """`verify_request`, fetching keys without blocking the event loop when needed."""
        scheme, token = presented_token(authorization)
        claims = await self._verify_async(token)
        self._check_binding(scheme, token, claims, dpop, method, url)
        return _with_scopes(claims, scopes)

    def _check_binding(
        self, scheme: str, token: str, claims: Claims, dpop: Sequence[str], method: str, url: str
    ) -> None:
        jkt = claims.jkt
        if jkt is None:
            if scheme == "DPoP":
                raise InvalidToken("The token is not bound to a key: send it as Bearer.")
            return
        if scheme != "DPoP":
            raise BoundTokenRefused()
        if len(dpop) != 1:  # RFC 9449 §4.3 (1): exactly one proof
            raise InvalidDPoPProof("The request needs exactly one DPoP proof header.")
        proof = self._proofs.check(dpop[0], method=method, url=url, access_token=token, jkt=jkt)
        if not self._replays.first_use(proof):
            raise InvalidDPoPProof("The DPoP proof was used before.")

    def _verify(self, token: str) -> Claims:
        cached = self._cached(token)
        if cached is not None:
            return self._unrevoked(cached)
        parsed, kid = self._header(token)
        if self._wants_fetch(kid):
            with self._sync_lock:
                if self._wants_fetch(kid):
                    self._fetch_sync()
        return self._unrevoked(self._finish(token, parsed, kid))

    async def _verify_async(self, token: str) -> Claims:
        cached = self._cached(token)
        if cached is not None:
            return self._unrevoked(cached)
        parsed, kid = self._header(token)
        if self._wants_fetch(kid):
            async with self._async_lock:
                if self._wants_fetch(kid):
                    await self._fetch_async()
        return self._unrevoked(self._finish(token, parsed, kid))

    # -- the parts both paths share -------------------------------------------------

    def _unrevoked(self, claims: Claims) -> Claims:
        if self._feed is not None and self._feed.revoked(claims.sid):
            raise InvalidToken("The session of this token has ended.")
        return claims

    def _cached(self, token: str) -> Claims | None:
        hit = self._verified.get(token)
        if hit is None:
            return None
        claims, keys_fresh_until = hit
        # `exp` on the injected clock (strict, as on first check); the key set on the
        # monotonic one, so a retired key stops verifying after the next refetch.
        if self._clock() >= claims.exp or self._monotonic() >= keys_fresh_until:
            del self._verified[token]
            return None
        return claims

    def _remember(self, token: str, claims: Claims) -> None:
        if self._cache_size <= 0:
            return
        keys_fresh_until = math.inf if self._secret is not None else self._keys.fresh_until
        while len(self._verified) >= self._cache_size:
            del self._verified[next(iter(self._verified))]
        self._verified[token] = (claims, keys_fresh_until)

    def _header(self, token: str) -> tuple[Parsed, str]:
        """The token split and its header checked; with the key id the header names."""
        if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH:
            raise InvalidToken("The token is malformed.")
        parsed = jws.parse(token, self._headers)
        header = parsed.header
        if header.get("typ") not in ACCESS_TYPES:
            raise InvalidToken("The token is not an access token.")
        if FORBIDDEN_HEADERS & header.keys():
            raise InvalidToken("The token header has members that are not accepted.")
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise InvalidToken("The token names no key.")
        return parsed, kid

    def _key(self, kid: str) -> PublicKey | None:
        if self._secret is not None:
            return PublicKey(kid, "HS256", self._secret)
        return self._keys.keys.get(kid)

    def _wants_fetch(self, kid: str) -> bool:
        if self._secret is not None:
            return False
        if kid not in self._keys.keys:
            return self._keys.may_refetch(self.refetch_interval)
        return self._keys.stale()

    def _finish(self, token: str, parsed: Parsed, kid: str) -> Claims:
        """Check the token with key `kid` as the key set has it now (after any fetch)."""
        key = self._key(kid)
        if key is None:
            raise InvalidToken("The token was not signed by a known key.")
        if parsed.header.get("alg") != key.alg:
            raise InvalidToken("The token's algorithm does not match its key.")
        jws.verify_signature(key.alg, key.key, parsed.signing_input, parsed.signature)
        raw = jws.json_object(parsed.payload_segment)
        self._check_claims(raw)
        claims = Claims(
            sub=raw["sub"],
            username=raw.get("username"),
            scopes=frozenset(raw.get("scope", "").split()),
            sid=raw.get("sid"),
            exp=int(raw["exp"]),
            raw=raw,
        )
        self._remember(token, claims)
        return claims

    def _check_claims(self, raw: dict[str, Any]) -> None:
        """RFC 7519 §4.1 with RFC 9068 §4's required members (verify/claims.py)."""
        self._rules.check(raw, self._clock())
        if not isinstance(raw["sub"], str) or not isinstance(raw.get("scope", ""), str):
            raise InvalidToken("The token has a claim of the wrong type.")

    # -- fetching ----------------------------------------------------------------

    def _metadata_url(self) -> str:
        return self.issuer.rstrip("/") + "/.well-known/oauth-authorization-server"

    def _jwks_from_metadata(self, response: httpx.Response) -> str:
        metadata = response.json()
        # RFC 8414 §3.3: the metadata must be the issuer's own.
        if metadata.get("issuer") != self.issuer or not isinstance(metadata.get("jwks_uri"), str):
            raise KeysUnavailable("The issuer's metadata does not match the configured issuer.")
        uri: str = metadata["jwks_uri"]
        return uri

    def _store(self, response: httpx.Response) -> None:
        ttl = max_age(response.headers.get("cache-control"), self.default_max_age)
        self._keys.update(response.json(), ttl)
        self._verified.clear()  # a key may have been retired

    def _fetch_sync(self) -> None:
        try:
            with httpx.Client(timeout=self._timeout, transport=self._transport) as http:
                if self._jwks_uri is None:
                    self._jwks_uri = self._jwks_from_metadata(
                        http.get(self._metadata_url()).raise_for_status()
                    )
                self._store(http.get(self._jwks_uri).raise_for_status())
        except (httpx.HTTPError, ValueError, KeysUnavailable) as exc:
            self._fetch_failed(exc)

    async def _fetch_async(self) -> None:
        try:
            async with httpx.AsyncClient(
                timeout=self._timeout, transport=self._async_transport
            ) as http:
                if self._jwks_uri is None:
                    response = await http.get(self._metadata_url())
                    self._jwks_uri = self._jwks_from_metadata(response.raise_for_status())
                self._store((await http.get(self._jwks_uri)).raise_for_status())
        except (httpx.HTTPError, ValueError, KeysUnavailable) as exc:
            self._fetch_failed(exc)

    def _fetch_failed(self, exc: Exception) -> None:
        # Known keys stay usable while the issuer is unreachable, and the issuer is not
        # asked again before refetch_interval.
        self._keys.failed(self.refetch_interval)
        if not self._keys.keys:
            raise KeysUnavailable(f"The issuer's keys could not be fetched: {exc}") from exc


def _with_scopes(claims: Claims, scopes: Iterable[str]) -> Claims:
    missing = frozenset(scopes) - claims.scopes
    if missing:
        raise InsufficientScope(missing)
    return claims


def _unbound(claims: Claims, scopes: Iterable[str]) -> Claims:
    # A bound token is only half of a credential: without its proof it proves nothing.
    if claims.jkt is not None:
        raise BoundTokenRefused()
    return _with_scopes(claims, scopes)
