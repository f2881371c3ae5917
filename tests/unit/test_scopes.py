import pytest

from tollgate.errors import InvalidScope
from tollgate.services.scopes import narrow, parse_scope


def test_no_request_gets_everything_granted() -> None:
    assert narrow("profile admin", None) == "admin profile"
    assert narrow("profile admin", "") == "admin profile"


def test_request_may_narrow() -> None:
    assert narrow("profile admin", "profile") == "profile"


def test_request_may_not_widen() -> None:
    with pytest.raises(InvalidScope) as info:
        narrow("profile", "profile admin")
    assert "admin" in info.value.description


@pytest.mark.parametrize("bad", ["a  b", 'quote"d', "back\\slash", "é", " lead"])
def test_malformed_scope_tokens(bad: str) -> None:
    with pytest.raises(InvalidScope):
        parse_scope(bad)


def test_duplicates_collapse() -> None:
    assert parse_scope("a b a") == ["a", "b"]
