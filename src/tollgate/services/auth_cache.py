"""Recently verified access tokens, so the token check in front of every request is cheap.

An entry says "this token verified and its session was live at time t" and is trusted
until the token expires or `ttl` seconds pass, whichever is first. Any revocation made
by this process empties the cache at once; revocations made by other processes (other
workers, replicas, the CLI) are seen within `ttl`. The cache holds at most `max_entries`
tokens, dropping the oldest first.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tollgate.tokens.claims import AccessClaims


@dataclass
class Entry:
    claims: AccessClaims
    valid_until: float
    # What the fast path answers with, rendered once on first use.
    rendered: Any = field(default=None)


class AuthCache:
    def __init__(
        self,
        ttl: float,
        max_entries: int,
        *,
        wall: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        # A token's `exp` is judged on the wall clock (Unix seconds); how long an entry
        # lives, on one that only goes forward, so a clock set back cannot stretch it.
        self._wall = wall
        self._monotonic = monotonic
        self._entries: dict[str, Entry] = {}

    @property
    def enabled(self) -> bool:
        return self.ttl > 0 and self.max_entries > 0

    def get(self, token: str) -> Entry | None:
        entry = self._entries.get(token)
        if entry is None:
            return None
        if self._monotonic() >= entry.valid_until:
            del self._entries[token]
            return None
        return entry

    def put(self, token: str, claims: AccessClaims) -> None:
        if not self.enabled:
            return
        remaining = claims.exp - self._wall()
        if remaining <= 0:
            return
        while len(self._entries) >= self.max_entries:
            del self._entries[next(iter(self._entries))]  # oldest insertion first
        self._entries[token] = Entry(claims, self._monotonic() + min(remaining, self.ttl))

    def revoked(self) -> None:
        """A session or key was revoked here: trust nothing cached any more."""
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
