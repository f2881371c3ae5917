import pytest

from tollgate.errors import InvalidInput
from tollgate.services.names import (
    LENGTH_RULE,
    NO_SPACES_RULE,
    ReservedNames,
    legacy_key,
    normalize_username,
    username_key,
)
from tollgate.settings import Settings

CYRILLIC_A = "\u0430"
DOTTED_CAPITAL_I = "\u0130"


def refusal(raw: str) -> str:
    with pytest.raises(InvalidInput) as info:
        normalize_username(raw)
    assert list(info.value.fields) == ["username"]
    return info.value.fields["username"]


def test_case_variants_share_one_key() -> None:
    assert normalize_username("Minsu").key == normalize_username("minsu").key
    assert normalize_username("MINSU").display == "MINSU"


def test_fullwidth_forms_are_the_plain_name() -> None:
    # RFC 8265 §3.3.1: fullwidth characters map to their plain forms, also for display.
    name = normalize_username("Ｍｉｎｓｕ")
    assert name.display == "Minsu"
    assert name.key == normalize_username("minsu").key


def test_compatibility_characters_are_refused_in_words() -> None:
    # RFC 8265 disallows characters with compatibility forms (here the "fi" ligature)
    # rather than folding them as NFKC did.
    message = refusal("ﬁona")
    assert message == "A username cannot hold \u201cﬁ\u201d; type its plain letters or digits."


def test_case_mapping_is_rfc_8265_lower_case() -> None:
    # toLowerCase, not casefold: ß stays ß, so Straße and STRASSE are two names.
    assert normalize_username("Straße").key == "straße"
    assert normalize_username("STRASSE").key == "strasse"


def test_non_latin_scripts_are_allowed() -> None:
    assert normalize_username("김민수").display == "김민수"
    assert normalize_username("Ζωή_1").key == "ζωή_1"


@pytest.mark.parametrize(
    "look_alike",
    [
        f"{CYRILLIC_A}lice",  # Cyrillic а
        f"AL{DOTTED_CAPITAL_I}CE",  # lower-cases to i + U+0307, whose dot hides in the i's
        "ＡＬＩＣＥ",  # fullwidth
        "al\u0131ce",  # dotless ı
    ],
)
def test_look_alikes_share_the_skeleton_not_the_key(look_alike: str) -> None:
    alice = normalize_username("Alice")
    name = normalize_username(look_alike)
    assert name.skeleton == alice.skeleton
    if look_alike != "ＡＬＩＣＥ":
        assert name.key != alice.key


def test_different_names_have_different_skeletons() -> None:
    skeletons = {normalize_username(n).skeleton for n in ("alice", "alicia", "bob", "a1ice")}
    # TS #39 puts 1 and l in one class: a1ice looks like alice.
    assert len(skeletons) == 3


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("ab", LENGTH_RULE),
        ("x" * 65, LENGTH_RULE),
        ("x" * 100, LENGTH_RULE),
        ("x" * 300, LENGTH_RULE),
        ("", LENGTH_RULE),
        ("has space", NO_SPACES_RULE),
        ("has\u00a0space", NO_SPACES_RULE),
        ("...", "A username needs at least one letter or digit."),
        (
            "semi;colon",
            "A username can hold letters, digits and . _ - @ + only, not \u201c;\u201d.",
        ),
        (
            "smile\U0001f600",
            "A username can hold letters, digits and . _ - @ + only, not \u201c\U0001f600\u201d.",
        ),
        (
            "bidi\u202eevil",
            "A username can hold letters, digits and . _ - @ + only, "
            "not U+202E RIGHT-TO-LEFT OVERRIDE.",
        ),
        (
            "zero\u200bwidth",
            "A username can hold letters, digits and . _ - @ + only, not U+200B ZERO WIDTH SPACE.",
        ),
        ("tab\there", NO_SPACES_RULE),
        (
            "bell\x07",
            "A username can hold letters, digits and . _ - @ + only, "
            "not U+0007 (a control character).",
        ),
        (
            "abc\u05e9\u05dc\u05d5\u05dd",
            "A username cannot mix right-to-left and left-to-right letters.",
        ),
    ],
)
def test_refusals_are_one_sentence_without_escapes(raw: str, message: str) -> None:
    assert refusal(raw) == message


@pytest.mark.parametrize("length", [3, 64])
def test_length_bounds_are_inclusive(length: int) -> None:
    assert normalize_username("x" * length).display == "x" * length


def test_length_counts_characters_after_normalization() -> None:
    # e + U+0301 composes to é (NFC): 64 of them are 128 code points but 64 characters.
    assert len(normalize_username("e\u0301" * 64).display) == 64


def test_nul_is_refused() -> None:
    assert "U+0000" in refusal("nul\x00byte")


def test_lookups_still_find_names_from_before_rfc_8265() -> None:
    # Mixed directions were allowed before; such accounts keep their NFKC + casefold key,
    # and lookups of names the profile refuses fall back to it.
    mixed = "Abc\u05e9\u05dc\u05d5\u05dd"
    assert username_key(mixed) == legacy_key(mixed) == "abc\u05e9\u05dc\u05d5\u05dd"
    assert username_key("Minsu") == "minsu"


RESERVED = ReservedNames(["admin", "root", "tollgate"])


@pytest.mark.parametrize(
    "name",
    [
        "admin",
        "ADMIN",
        "Admin",
        f"{CYRILLIC_A}dmin",
        "ＡＤＭＩＮ",
        "adm\u0131n",
        "Root",
        "TollGate",
    ],
)
def test_reserved_names_and_their_look_alikes(name: str) -> None:
    assert normalize_username(name) in RESERVED


@pytest.mark.parametrize("name", ["admins", "administrator", "rooted", "minsu"])
def test_other_names_are_not_reserved(name: str) -> None:
    assert normalize_username(name) not in RESERVED


def test_reserved_names_must_be_usernames() -> None:
    with pytest.raises(ValueError, match="not a valid username"):
        ReservedNames(["admin", "no spaces"])


@pytest.mark.parametrize(
    ("value", "names"),
    [("boss, owner ,", ["boss", "owner"]), ('["boss"]', ["boss"]), ("", [])],
)
def test_reserved_names_setting(
    monkeypatch: pytest.MonkeyPatch, value: str, names: list[str]
) -> None:
    monkeypatch.setenv("TOLLGATE_RESERVED_NAMES", value)
    assert Settings().reserved_names == names


def test_reserved_names_default_to_the_usual_suspects() -> None:
    reserved = ReservedNames(Settings().reserved_names)
    for name in ("admin", "Root", "TOLLGATE", "support", "postmaster"):
        assert normalize_username(name) in reserved
