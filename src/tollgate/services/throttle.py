"""Brute-force and flood limits, in memory or in Redis so that every replica shares them.

Failed logins are counted per account and client address, per client address, and per
account. Counters are keyed by the name that was tried, whether or not it exists, so a
throttled or locked answer says nothing about the account.
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable

from limits import RateLimitItem, parse_many
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from tollgate.errors import TooManyRequests
from tollgate.settings import Settings

LOCKOUT_WINDOW = "day"


def create_storage(redis_url: str | None) -> Storage:
    if not redis_url:
        return MemoryStorage()
    async_url = redis_url if redis_url.startswith("async+") else f"async+{redis_url}"
    return RedisStorage(async_url, implementation="redispy", wrap_exceptions=True)


class Throttle:
    def __init__(self, settings: Settings, storage: Storage | None = None) -> None:
        self.enabled = settings.rate_limit_enabled
        self._limiter = MovingWindowRateLimiter(storage or create_storage(settings.redis_url))
        self._join = parse_many(settings.rate_limit_join)
        self._token = parse_many(settings.rate_limit_requests)
        self._fail_ip = parse_many(settings.rate_limit_login_failures_ip)
        self._fail_account_ip = parse_many(settings.rate_limit_login_failures_account_ip)
        self._lockout = parse_many(f"{settings.account_lockout_failures}/{LOCKOUT_WINDOW}")
        # Issue 17: reset and verification mails, per address or account, and per IP.
        self._mail = parse_many(settings.rate_limit_mail)
        self._mail_ip = parse_many(settings.rate_limit_mail_ip)

    async def request(self, route: str, ip: str) -> None:
        """Count one request to a limited route; 429 past the limit."""
        limits = {"join": self._join, "mail": self._mail_ip}.get(route, self._token)
        await self._hit(limits, route, ip)

    async def mail_allowed(self, *key: str) -> bool:
        """Count one mail asked for `key` (an address tried, an account); False past the
        limit. The caller answers the same either way (the limit itself tells nothing)."""
        if not self.enabled:
            return True
        allowed = True
        for item in self._mail:
            allowed = await self._limiter.hit(item, "mail", *key) and allowed
        return allowed

    async def before_login(
        self, account: str, ip: str, trusted_ip: Callable[[], Awaitable[bool]]
    ) -> None:
        """Refuse a login attempt that may not even be tried (before checking a password)."""
        if not self.enabled:
            return
        await self._check(self._fail_ip, "fail-ip", ip)
        await self._check(self._fail_account_ip, "fail-acct-ip", account, ip)
        if not await self._within(self._lockout, "fail-acct", account) and not await trusted_ip():
            raise TooManyRequests(await self._retry_after(self._lockout, "fail-acct", account))

    async def login_failed(self, account: str, ip: str) -> bool:
        """Count a failure; True when this failure locked the account."""
        if not self.enabled:
            return False
        for item in self._fail_ip:
            await self._limiter.hit(item, "fail-ip", ip)
        for item in self._fail_account_ip:
            await self._limiter.hit(item, "fail-acct-ip", account, ip)
        was_open = await self._within(self._lockout, "fail-acct", account)
        for item in self._lockout:
            await self._limiter.hit(item, "fail-acct", account)
        return was_open and not await self._within(self._lockout, "fail-acct", account)

    async def login_succeeded(self, account: str, ip: str) -> None:
        """The person at this address knows the password: forget their recent failures."""
        if not self.enabled:
            return
        for item in self._fail_account_ip:
            await self._limiter.clear(item, "fail-acct-ip", account, ip)

    async def _hit(self, limits: list[RateLimitItem], *key: str) -> None:
        if not self.enabled:
            return
        for item in limits:
            if not await self._limiter.hit(item, *key):
                raise TooManyRequests(await self._retry_after([item], *key))

    async def _within(self, limits: list[RateLimitItem], *key: str) -> bool:
        for item in limits:
            if not await self._limiter.test(item, *key):
                return False
        return True

    async def _check(self, limits: list[RateLimitItem], *key: str) -> None:
        if not await self._within(limits, *key):
            raise TooManyRequests(await self._retry_after(limits, *key))

    async def _retry_after(self, limits: list[RateLimitItem], *key: str) -> int:
        """Seconds until every exhausted window has room again."""
        waits = [1]
        for item in limits:
            stats = await self._limiter.get_window_stats(item, *key)
            if stats.remaining <= 0:
                waits.append(math.ceil(stats.reset_time - time.time()))
        return max(waits)
