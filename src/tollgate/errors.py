"""Domain errors. Services raise these; `api.errors` turns them into HTTP answers in one place.

Each class carries its RFC 6749 §5.2 / RFC 6750 §3.1 `error` code and its HTTP status.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping


class TollgateError(Exception):
    error = "server_error"
    status = 500
    description = "The server could not handle the request."

    def __init__(self, description: str | None = None) -> None:
        self.description = description or type(self).description
        super().__init__(self.description)


class InvalidRequest(TollgateError):
    error = "invalid_request"
    status = 400
    description = "The request is malformed."


class InvalidInput(TollgateError):
    """Well-formed request whose values break a rule; carries a message per field."""

    error = "invalid_request"
    status = 422
    description = "Some fields are invalid."

    def __init__(self, fields: Mapping[str, str], description: str | None = None) -> None:
        # Each message is a sentence that names its field ("A username needs ...").
        self.fields = dict(fields)
        super().__init__(description or " ".join(self.fields.values()))


class InvalidGrant(TollgateError):
    """Wrong credentials or an unusable refresh token. 401 on JSON routes, 400 on POST /auth."""

    error = "invalid_grant"
    status = 401
    description = "The credentials are invalid."
    # For the audit trail only; never part of an answer.
    user_id: uuid.UUID | None = None


class InvalidClient(TollgateError):
    """Client authentication failed (RFC 6749 §5.2)."""

    error = "invalid_client"
    status = 401
    description = "Client authentication failed."


class InvalidToken(TollgateError):
    """A bearer token that is missing, malformed, forged, expired or revoked (RFC 6750 §3.1)."""

    error = "invalid_token"
    status = 401
    description = "The access token is invalid."


class MissingToken(InvalidToken):
    """No bearer token at all: RFC 6750 §3.1 asks for a challenge without an error code."""

    description = "This needs a bearer token in the Authorization header."


class InsufficientScope(TollgateError):
    error = "insufficient_scope"
    status = 403
    description = "The access token lacks a required scope."

    def __init__(self, required: str) -> None:
        self.required = required
        super().__init__(f"This needs the scope: {required}.")


class InvalidScope(TollgateError):
    error = "invalid_scope"
    status = 400
    description = "The requested scope is not allowed."


class UnsupportedGrantType(TollgateError):
    error = "unsupported_grant_type"
    status = 400
    description = "Supported grant types are password and refresh_token."


class CrossSiteRequest(TollgateError):
    """A cookie-authenticated request without proof that our own page sent it."""

    error = "access_denied"
    status = 403
    description = "Cross-site request refused."


class AccountDisabled(TollgateError):
    error = "account_disabled"
    status = 403
    description = "This account is disabled."


class UsernameTaken(TollgateError):
    error = "username_taken"
    status = 409
    description = "That username is taken."


class TooManyRequests(TollgateError):
    error = "too_many_requests"
    status = 429
    description = "Too many attempts; try again later."

    def __init__(self, retry_after: int) -> None:
        self.retry_after = max(1, retry_after)
        super().__init__(f"Too many attempts; try again in {self.retry_after} seconds.")


class NotFound(TollgateError):
    error = "not_found"
    status = 404
    description = "Not found."


class ServiceUnavailable(TollgateError):
    error = "temporarily_unavailable"
    status = 503
    description = "The service is temporarily unavailable; try again shortly."
