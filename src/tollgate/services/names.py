"""Usernames: NFKC for display, NFKC + casefold for uniqueness (so Minsu and minsu are one)."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from tollgate.errors import InvalidInput

MIN_LENGTH = 3
MAX_LENGTH = 64
# Letters, marks and digits of any script, plus a few separators common in usernames
# and e-mail addresses. No spaces, controls, format characters (bidi overrides,
# zero-width joiners) or symbols that spoof other names.
ALLOWED_PUNCTUATION = frozenset("._-@+")
ALLOWED_CATEGORIES = ("L", "M", "N")


@dataclass(frozen=True)
class Username:
    display: str
    key: str


def storable(text: str) -> bool:
    """Databases differ on U+0000 (PostgreSQL text refuses it): such input is never stored,
    so it can match nothing either."""
    return "\x00" not in text


def username_key(display: str) -> str:
    # Unicode's NFKC_Casefold: casefold can denormalize, so normalize again after it.
    return unicodedata.normalize("NFKC", display.casefold())


def normalize_username(raw: str) -> Username:
    display = unicodedata.normalize("NFKC", raw)
    if not MIN_LENGTH <= len(display) <= MAX_LENGTH:
        raise InvalidInput({"username": f"Use {MIN_LENGTH} to {MAX_LENGTH} characters."})
    for char in display:
        if char not in ALLOWED_PUNCTUATION and not unicodedata.category(char).startswith(
            ALLOWED_CATEGORIES
        ):
            raise InvalidInput(
                {"username": f"Use letters, digits and . _ - @ + only (not {char!a})."}
            )
    if not any(unicodedata.category(c).startswith(("L", "N")) for c in display):
        raise InvalidInput({"username": "Include at least one letter or digit."})
    return Username(display=display, key=username_key(display))
