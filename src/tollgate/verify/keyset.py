"""A cached JWKS: keys by `kid`, each pinned to its own algorithm."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jwt

_MAX_AGE = re.compile(r"max-age=(\d+)")


@dataclass(frozen=True)
class PublicKey:
    kid: str
    alg: str
    key: Any


def max_age(cache_control: str | None, default: float) -> float:
    match = _MAX_AGE.search(cache_control or "")
    return float(match.group(1)) if match else default


@dataclass
class KeySet:
    """Keys, when they go stale, and when an unknown `kid` last made us fetch."""

    algorithms: frozenset[str]
    keys: dict[str, PublicKey] = field(default_factory=dict)
    fresh_until: float = float("-inf")
    fetched_at: float = float("-inf")
    # Seconds that only go forward (time.monotonic); a test passes a clock it moves.
    monotonic: Callable[[], float] = time.monotonic

    def update(self, jwks: Any, ttl: float) -> None:
        if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
            raise ValueError("not a JWK set")
        keys = {}
        for jwk in jwks["keys"]:
            # Only keys that name their algorithm and kid, and an algorithm we accept:
            # the token's header never gets to choose.
            if not isinstance(jwk, dict) or jwk.get("use", "sig") != "sig":
                continue
            kid, alg = jwk.get("kid"), jwk.get("alg")
            if not isinstance(kid, str) or alg not in self.algorithms:
                continue
            try:
                keys[kid] = PublicKey(kid, alg, jwt.PyJWK(jwk, algorithm=alg).key)
            except jwt.PyJWTError:
                continue
        now = self.monotonic()
        self.keys = keys
        self.fetched_at = now
        self.fresh_until = now + ttl

    def failed(self, retry_in: float) -> None:
        """A fetch failed: keep what we have, and wait before asking again."""
        now = self.monotonic()
        self.fetched_at = now
        self.fresh_until = max(self.fresh_until, now + retry_in)

    def stale(self) -> bool:
        return self.monotonic() >= self.fresh_until

    def may_refetch(self, interval: float) -> bool:
        return self.monotonic() - self.fetched_at >= interval
