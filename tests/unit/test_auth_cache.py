import uuid

from tollgate.clock import MovableClock
from tollgate.services.auth_cache import AuthCache
from tollgate.tokens.claims import AccessClaims

CLOCK_START = MovableClock().now().replace(microsecond=0)


def moved_cache(clock: MovableClock, ttl: float, max_entries: int = 10) -> AuthCache:
    """A cache whose wall and monotonic clocks are both `clock`, moved by the test."""
    return AuthCache(ttl, max_entries, wall=clock.timestamp, monotonic=clock.timestamp)


def claims(exp_in: float = 3600, clock: MovableClock | None = None) -> AccessClaims:
    now = int((clock or MovableClock(CLOCK_START)).timestamp())
    return AccessClaims(
        sub=uuid.uuid4(),
        sid=uuid.uuid4(),
        jti="j",
        username="u",
        scope="profile",
        iat=now,
        exp=int(now + exp_in),
    )


def test_entries_expire_after_ttl() -> None:
    clock = MovableClock(CLOCK_START)
    cache = moved_cache(clock, ttl=0.05)
    cache.put("t", claims(clock=clock))
    clock.advance(0.049)
    assert cache.get("t") is not None
    clock.advance(0.001)
    assert cache.get("t") is None
    assert len(cache) == 0


def test_entries_never_outlive_the_token() -> None:
    clock = MovableClock(CLOCK_START)
    cache = moved_cache(clock, ttl=60)
    soon = claims(exp_in=2, clock=clock)
    cache.put("soon", soon)
    clock.advance(1.999)
    assert cache.get("soon") is not None
    clock.advance(0.001)  # at exp: refused, as exp is strict
    assert cache.get("soon") is None
    cache.put("expired", claims(exp_in=0, clock=clock))
    assert cache.get("expired") is None
    assert len(cache) == 0


def test_a_wall_clock_set_back_does_not_stretch_an_entry() -> None:
    wall = MovableClock(CLOCK_START)
    steady = MovableClock(CLOCK_START)
    cache = AuthCache(1, 10, wall=wall.timestamp, monotonic=steady.timestamp)
    cache.put("t", claims(clock=wall))
    wall.advance(-3600)  # someone sets the machine's clock an hour back
    steady.advance(1)
    assert cache.get("t") is None


def test_size_is_bounded_oldest_first() -> None:
    cache = AuthCache(ttl=60, max_entries=3)
    for i in range(5):
        cache.put(f"t{i}", claims())
    assert len(cache) == 3
    assert cache.get("t0") is None
    assert cache.get("t1") is None
    assert cache.get("t4") is not None


def test_revocation_empties_it() -> None:
    cache = AuthCache(ttl=60, max_entries=10)
    cache.put("t", claims())
    cache.revoked()
    assert cache.get("t") is None


def test_zero_ttl_disables_it() -> None:
    cache = AuthCache(ttl=0, max_entries=10)
    assert not cache.enabled
    cache.put("t", claims())
    assert cache.get("t") is None
