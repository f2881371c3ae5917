"""Usernames: RFC 8265 (PRECIS) forms, Unicode TS #39 skeletons, reserved names.

- display: UsernameCasePreserved (RFC 8265 §3.4): fullwidth forms mapped, NFC; shown as typed.
- key: UsernameCaseMapped (RFC 8265 §3.3): the same, lower-cased; uniqueness and lookups,
  so `Minsu` and `minsu` are one account.
- skeleton: the TS #39 §4 skeleton of the key; names that look alike share it, and the
  database holds each skeleton once, so alice with a Cyrillic a (U+0430) is taken when alice is.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

import icu  # PyICU ships no type hints (pyproject: mypy override)
import precis_i18n

from tollgate.errors import InvalidInput

MIN_LENGTH = 3
MAX_LENGTH = 64
# Longest skeleton of a valid name: 64 characters, each expanding to at most 7 (Hangul
# syllables to jamo); the column is a little wider.
MAX_SKELETON_LENGTH = 512

# One sentence per rule, naming the field: shown as is by the account page and the CLI.
LENGTH_RULE = f"A username needs {MIN_LENGTH} to {MAX_LENGTH} characters."
ALLOWED_RULE = "A username can hold letters, digits and . _ - @ + only"
NO_SPACES_RULE = "A username cannot contain spaces."
NEEDS_LETTER_RULE = "A username needs at least one letter or digit."
MIXED_DIRECTION_RULE = "A username cannot mix right-to-left and left-to-right letters."
RESERVED_RULE = "This username is reserved; choose another."

# RFC 8265 allows any letter, digit and printable ASCII character; like many services we
# take fewer ASCII symbols, none of which spoof other names or need quoting in URLs.
ALLOWED_PUNCTUATION = frozenset("._-@+")
ALLOWED_CATEGORIES = ("L", "M", "N")

_CASE_PRESERVED = precis_i18n.get_profile("UsernameCasePreserved")
_CASE_MAPPED = precis_i18n.get_profile("UsernameCaseMapped")
# ICU's SpoofChecker is the reference implementation of the TS #39 skeleton
# (NFD, then each character to its prototype from confusables.txt, then NFD again).
_SPOOF_CHECKER = icu.SpoofChecker()
_COMBINING_DOT_ABOVE = "\u0307"
_UNNAMED = {
    "Cc": "(a control character)",
    "Cn": "(not a character yet)",
    "Co": "(a private-use character)",
    "Cs": "(half of a surrogate pair)",
}


@dataclass(frozen=True)
class Username:
    display: str
    key: str
    skeleton: str


def storable(text: str) -> bool:
    """Databases differ on U+0000 (PostgreSQL text refuses it): such input is never stored,
    so it can match nothing either."""
    return "\x00" not in text


def legacy_key(text: str) -> str:
    """The key of accounts made before RFC 8265: NFKC + casefold (Unicode's NFKC_Casefold)."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())


def mapped_key(text: str) -> str | None:
    """RFC 8265 §3.3 UsernameCaseMapped, or None when that profile refuses the text."""
    try:
        return str(_CASE_MAPPED.enforce(text))
    except UnicodeError:
        return None


def username_key(text: str) -> str:
    """The key to look an account up by, for any text: the RFC 8265 key, or for text that
    profile refuses, the key accounts made before it still carry (migration 0004)."""
    key = mapped_key(text)
    return legacy_key(text) if key is None else key


def username_skeleton(key: str) -> str:
    skeleton = str(_SPOOF_CHECKER.getSkeleton(0, key))
    return _without_hidden_dots(skeleton)


def _without_hidden_dots(text: str) -> str:
    # TS #39 §5.4: a combining dot above on a soft-dotted letter (i, j, Cyrillic U+0456,
    # ...) is hidden by the letter's own dot, so `i̇` looks like `i`. This is how ALİCE
    # (lower-cased by RFC 8265 to a-l-i-U+0307-c-e) would pass for alice: such dots leave
    # the skeleton.
    out: list[str] = []
    for char in text:
        if char == _COMBINING_DOT_ABOVE and _after_soft_dotted(out):
            continue
        out.append(char)
    return "".join(out)


def _after_soft_dotted(before: list[str]) -> bool:
    for char in reversed(before):
        if unicodedata.combining(char) in (0, 230):
            # The nearest base letter, or a mark that sits above and keeps the dots apart.
            return unicodedata.combining(char) == 0 and bool(
                icu.Char.hasBinaryProperty(char, icu.UProperty.SOFT_DOTTED)
            )
    return False


def normalize_username(raw: str) -> Username:
    """The name's three forms, or InvalidInput with one sentence on the broken rule."""
    try:
        display = str(_CASE_PRESERVED.enforce(raw))
        key = str(_CASE_MAPPED.enforce(raw))
    except UnicodeEncodeError as refused:
        if not _fits(unicodedata.normalize("NFC", raw)):
            raise InvalidInput({"username": LENGTH_RULE}) from None
        raise InvalidInput({"username": _refusal(refused)}) from None
    if not _fits(display):
        raise InvalidInput({"username": LENGTH_RULE})
    for char in display:
        if char not in ALLOWED_PUNCTUATION and not unicodedata.category(char).startswith(
            ALLOWED_CATEGORIES
        ):
            raise InvalidInput({"username": f"{ALLOWED_RULE}, not {describe(char)}."})
    if not any(unicodedata.category(c).startswith(("L", "N")) for c in display):
        raise InvalidInput({"username": NEEDS_LETTER_RULE})
    return Username(display=display, key=key, skeleton=username_skeleton(key))


def _fits(text: str) -> bool:
    return MIN_LENGTH <= len(text) <= MAX_LENGTH


def _refusal(refused: UnicodeEncodeError) -> str:
    """precis-i18n names the rule as DISALLOWED/<what> and points at the character."""
    what = refused.reason.removeprefix("DISALLOWED/")
    if what == "empty":
        return LENGTH_RULE
    if what == "bidi_rule":
        return MIXED_DIRECTION_RULE
    char = refused.object[refused.start : refused.end]
    if what == "spaces" or char.isspace():
        return NO_SPACES_RULE
    if what == "has_compat":
        return f"A username cannot hold {describe(char)}; type its plain letters or digits."
    return f"{ALLOWED_RULE}, not {describe(char)}."


def describe(char: str) -> str:
    """A character as a person can read it: itself in quotes, or its code point and name
    when it is invisible (controls, format characters, spaces)."""
    if char.isprintable() and not char.isspace():
        return f"\u201c{char}\u201d"
    name = unicodedata.name(char, "") or _UNNAMED.get(unicodedata.category(char), "")
    return f"U+{ord(char):04X} {name}".rstrip()


class ReservedNames:
    """Names nobody may sign up with (TOLLGATE_RESERVED_NAMES), nor any that looks alike:
    they are compared by skeleton, so ADMIN, and admin with a Cyrillic a, are reserved too."""

    def __init__(self, names: Iterable[str]) -> None:
        skeletons = set()
        for name in names:
            key = mapped_key(name)
            if key is None:
                raise ValueError(f"reserved name \u201c{name}\u201d is not a valid username")
            skeletons.add(username_skeleton(key))
        self._skeletons = frozenset(skeletons)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, Username) and name.skeleton in self._skeletons
