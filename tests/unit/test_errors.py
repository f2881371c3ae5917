"""Errors render themselves: status, body and headers come from the error, one definition each."""

from __future__ import annotations

from tollgate import errors, verify
from tollgate.errors import (
    InvalidClient,
    InvalidGrant,
    InvalidInput,
    InvalidToken,
    ServiceUnavailable,
    TooManyRequests,
)


def test_the_server_refuses_tokens_with_the_verifier_errors() -> None:
    assert errors.InvalidToken is verify.InvalidToken
    assert errors.MissingToken is verify.MissingToken
    assert errors.InsufficientScope is verify.InsufficientScope


def test_a_401_carries_a_bearer_challenge_in_the_realm_asked() -> None:
    assert InvalidGrant().headers("tollgate") == {"WWW-Authenticate": 'Bearer realm="tollgate"'}
    assert InvalidClient().headers("x") == {"WWW-Authenticate": 'Bearer realm="x", Basic realm="x"'}


def test_a_description_loses_what_a_quoted_header_string_cannot_hold() -> None:
    challenge = InvalidToken('Say "hi" to Zoë\\').headers("tollgate")["WWW-Authenticate"]
    assert challenge == (
        'Bearer realm="tollgate", error="invalid_token", error_description="Say hi to Zo"'
    )
    assert InvalidToken('Say "hi"').body()["error_description"] == 'Say "hi"'


def test_waiting_errors_say_how_long() -> None:
    assert TooManyRequests(0).headers() == {"Retry-After": "1"}
    assert ServiceUnavailable().headers() == {"Retry-After": "5"}


def test_fields_belong_to_the_422_answer_only() -> None:
    error = InvalidInput({"username": "A username is needed."})
    assert error.body() == {
        "error": "invalid_request",
        "error_description": "A username is needed.",
        "fields": {"username": "A username is needed."},
    }
    error.status = 400
    assert "fields" not in error.body()
