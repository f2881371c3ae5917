"""Refuse malformed JWS compact serializations before any library parses them.

PyJWT is lenient where an attacker gains from leniency: it accepts duplicate JSON keys
(the last wins, while another parser may take the first, RFC 8725 §3.5 style confusion)
and base64 padding. Here a token must be exactly three base64url segments whose header
and payload are UTF-8 JSON objects with unique keys (RFC 7515 §7.1, RFC 7519 §7.2).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

B64URL = re.compile(r"[A-Za-z0-9_-]*")


class MalformedToken(ValueError):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise MalformedToken(f"duplicate member {key!r}")
        result[key] = value
    return result


def _json_object(segment: str) -> dict[str, Any]:
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
        value = json.loads(raw.decode("utf-8"), object_pairs_hook=_unique_keys)
    except (binascii.Error, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise MalformedToken(str(exc)) from exc
    if not isinstance(value, dict):
        raise MalformedToken("not a JSON object")
    return value


def check_structure(token: str) -> None:
    segments = token.split(".")
    if len(segments) != 3:
        raise MalformedToken("a JWS has three segments")
    if not all(B64URL.fullmatch(s) for s in segments) or not segments[0] or not segments[1]:
        raise MalformedToken("segments must be non-empty base64url without padding")
    _json_object(segments[0])
    _json_object(segments[1])
