import time
import uuid

from tollgate.services.auth_cache import AuthCache
from tollgate.tokens.claims import AccessClaims


def claims(exp_in: float = 3600) -> AccessClaims:
    now = int(time.time())
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
    cache = AuthCache(ttl=0.05, max_entries=10)
    cache.put("t", claims())
    assert cache.get("t") is not None
    time.sleep(0.06)
    assert cache.get("t") is None
    assert len(cache) == 0


def test_entries_never_outlive_the_token() -> None:
    cache = AuthCache(ttl=60, max_entries=10)
    soon = claims(exp_in=2)
    cache.put("soon", soon)
    assert cache.get("soon") is not None
    time.sleep(soon.exp - time.time() + 0.1)  # just past its exp (whole seconds)
    assert cache.get("soon") is None
    cache.put("expired", claims(exp_in=-1))
    assert cache.get("expired") is None


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
