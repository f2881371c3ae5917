"""The registered claims of a JWT, checked one rule at a time (RFC 7519 §4.1).

One checker for the server's own token checks and for `tollgate.verify`, so both accept
and refuse the very same tokens. `now` is passed in (as joserfc's claims registry takes
it), so tests move a clock instead of sleeping.

Time rules: `exp` is strict, with no leeway: a token is refused from its `exp` second on
(RFC 7519 §4.1.4 "on or after"). `leeway` applies only to `nbf` and `iat`, the claims a
replica with a clock slightly ahead may set in the future.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from tollgate.verify.errors import InvalidToken

TIME_CLAIMS = ("exp", "iat", "nbf")


@dataclass(frozen=True)
class ClaimRules:
    """What every token of one kind must carry: required members, issuer and audience."""

    issuer: str
    audience: str
    required: tuple[str, ...] = ("exp", "iat", "sub", "iss", "aud")
    leeway: float = 5.0

    def check(self, claims: Mapping[str, Any], now: float) -> None:
        """Raise InvalidToken unless `claims` are acceptable at the instant `now`."""
        _check_required(claims, self.required)
        _check_time_types(claims)
        _check_exp(claims, now)
        _check_nbf(claims, now, self.leeway)
        _check_iat(claims, now, self.leeway)
        _check_iss(claims, self.issuer)
        _check_aud(claims, self.audience)


def _check_required(claims: Mapping[str, Any], required: Iterable[str]) -> None:
    for name in required:
        if name not in claims:
            raise InvalidToken(f"The token has no {name} claim.")


def _check_time_types(claims: Mapping[str, Any]) -> None:
    # RFC 7519 §2 NumericDate; a bool is an int to Python but not a date.
    for name in TIME_CLAIMS:
        if name in claims:
            value = claims[name]
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise InvalidToken(f"The token's {name} claim is not a number.")


def _check_exp(claims: Mapping[str, Any], now: float) -> None:
    if "exp" in claims and now >= claims["exp"]:
        raise InvalidToken("The token has expired.")


def _check_nbf(claims: Mapping[str, Any], now: float, leeway: float) -> None:
    if claims.get("nbf", 0) > now + leeway:
        raise InvalidToken("The token is not valid yet.")


def _check_iat(claims: Mapping[str, Any], now: float, leeway: float) -> None:
    if claims.get("iat", 0) > now + leeway:
        raise InvalidToken("The token is not valid yet.")


def _check_iss(claims: Mapping[str, Any], issuer: str) -> None:
    if "iss" in claims and claims["iss"] != issuer:
        raise InvalidToken("The token was issued by someone else.")


def _check_aud(claims: Mapping[str, Any], audience: str) -> None:
    if "aud" not in claims:
        return
    value = claims["aud"]
    # RFC 7519 §4.1.3: one string or an array of strings.
    if value == audience or (isinstance(value, list) and audience in value):
        return
    raise InvalidToken("The token is meant for another audience.")
