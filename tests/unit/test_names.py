import pytest

from tollgate.errors import InvalidInput
from tollgate.services.names import normalize_username


def test_case_variants_share_one_key() -> None:
    assert normalize_username("Minsu").key == normalize_username("minsu").key
    assert normalize_username("MINSU").display == "MINSU"


def test_nfkc_folds_compatibility_forms() -> None:
    # Fullwidth letters and the "fi" ligature are the same name as their plain forms.
    assert normalize_username("Ｍｉｎｓｕ").key == normalize_username("minsu").key
    assert normalize_username("ﬁona").key == normalize_username("FIONA").key


def test_german_sharp_s_casefolds() -> None:
    assert normalize_username("Straße").key == normalize_username("STRASSE").key


def test_non_latin_scripts_are_allowed() -> None:
    assert normalize_username("김민수").display == "김민수"
    assert normalize_username("Ζωή_1").key == "ζωή_1"


@pytest.mark.parametrize(
    "raw",
    [
        "ab",  # too short
        "x" * 65,  # too long
        "has space",
        "tab\there",
        "bidi\u202eevil",  # right-to-left override
        "zero\u200bwidth",  # zero-width space
        "nul\x00byte",
        "semi;colon",
        "...",  # no letter or digit
    ],
)
def test_refused_names(raw: str) -> None:
    with pytest.raises(InvalidInput) as info:
        normalize_username(raw)
    assert "username" in info.value.fields


def test_length_counts_after_normalization() -> None:
    # U+FDFA expands to 18 characters under NFKC.
    with pytest.raises(InvalidInput):
        normalize_username("\ufdfa" * 4)
