"""Authorization codes are stored only as a hash (issue 14's seam: the same function on
the issuing side, /authorize, and the exchanging side, the token endpoint)."""

from __future__ import annotations

import hashlib


def code_id(code: str) -> str:
    """The store's id of `code`: a database read alone yields no usable code."""
    return hashlib.sha256(code.encode()).hexdigest()
