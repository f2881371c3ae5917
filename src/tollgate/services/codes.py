"""Authorization codes are stored by a hash only (docs/design/oidc.md, the seams file)."""

from __future__ import annotations

import hashlib


def code_id(code: str) -> str:
    """The stored id of an authorization code: a database read alone yields no code."""
    return hashlib.sha256(code.encode("utf-8")).hexdigest()
