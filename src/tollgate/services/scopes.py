"""OAuth scopes (RFC 6749 §3.3): space-separated tokens; requests may only narrow."""

from __future__ import annotations

import re

from tollgate.errors import InvalidScope

# RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")


# The OpenID Connect scopes (OIDC Core §5.4, §11): every user holds them for an app to be
# granted; other scopes only if the user holds them (`tollgate users set-scope`).
EVERY_USERS_SCOPES = frozenset({"openid", "profile", "email", "offline_access"})


def parse_scope(scope: str) -> list[str]:
    tokens = scope.split(" ")
    if any(not SCOPE_TOKEN.fullmatch(t) for t in tokens):
        raise InvalidScope("A scope is a space-separated list of printable ASCII names.")
    return list(dict.fromkeys(tokens))


def format_scope(tokens: list[str] | set[str] | frozenset[str]) -> str:
    return " ".join(sorted(tokens))


def narrow(granted: str, requested: str | None) -> str:
    """The requested scope if it is within the granted one; all of it when none is asked."""
    granted_set = set(granted.split())
    if requested is None or requested == "":
        return format_scope(granted_set)
    wanted = set(parse_scope(requested))
    beyond = wanted - granted_set
    if beyond:
        raise InvalidScope(f"Not granted: {format_scope(beyond)}.")
    return format_scope(wanted)
