import pytest

from tollgate.errors import InvalidInput
from tollgate.services.password_policy import ZXCVBN_MAX_LENGTH, PasswordPolicy

policy = PasswordPolicy(min_length=8, min_score=3)


def problem(password: str, username: str = "minsu") -> str | None:
    return policy.problem(password, username=username)


def test_strong_passphrase_passes() -> None:
    assert problem("violet-harbor-kettle-42") is None


def test_any_unicode_is_fine() -> None:
    assert problem("바다 위의 고래 🐋 춤춘다") is None
    assert problem("  spaces inside and around are kept  ") is None


def test_too_short() -> None:
    assert "at least 8" in (problem("Zq9!x") or "")


def test_length_limit_is_1024() -> None:
    assert problem(("violet-harbor-kettle-42 " * 50)[:1024]) is None
    assert "at most 1024" in (problem("x" * 1025) or "")


@pytest.mark.parametrize("common", ["password1", "P@ssw0rd!", "sunshine123", "qwertyuiop"])
def test_common_passwords_refused(common: str) -> None:
    assert "easy to guess" in (problem(common) or "")


def test_password_containing_the_username_is_refused() -> None:
    assert "username" in (problem("xX-Minsu-rules-the-world-Xx") or "")


def test_no_composition_rules() -> None:
    # Lower-case letters only, but long and unguessable: accepted.
    assert problem("quantum lemur violin orbit") is None


def test_check_raises_invalid_input_on_password_field() -> None:
    with pytest.raises(InvalidInput) as info:
        policy.check("password", username="minsu")
    assert set(info.value.fields) == {"password"}


def test_long_passwords_are_scored_on_a_prefix() -> None:
    # zxcvbn refuses input over 72 characters; only the first 72 are scored, so the
    # prefix alone decides. Each pair would be judged the other way if the whole password
    # (zxcvbn scores both 4 with max_length raised) or its end were scored.
    strong = "violet-harbor-kettle-42 quantum lemur violin orbit"
    weak_prefix = "a" * ZXCVBN_MAX_LENGTH + strong
    assert "easy to guess" in (problem(weak_prefix) or "")
    strong_prefix = strong.ljust(ZXCVBN_MAX_LENGTH, "!") + "a" * 500
    assert problem(strong_prefix) is None
    assert ZXCVBN_MAX_LENGTH == 72
