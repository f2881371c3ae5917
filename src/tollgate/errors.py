"""Domain errors. Services raise these; `api.errors` answers them in one place.

Each class carries its RFC 6749 §5.2 / RFC 6750 §3.1 `error` code and its HTTP status.
The bearer token errors are the verifier library's own (`tollgate.verify.errors`): one
definition, refused the same way by the server and by services using the library.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from tollgate.verify.errors import (
    InsufficientScope,
    InvalidToken,
    MissingToken,
    OAuthError,
    VerificationError,
)

__all__ = [
    "AccountDisabled",
    "AlreadyVerified",
    "CrossSiteRequest",
    "EmailNotVerified",
    "EmailTaken",
    "InsufficientScope",
    "InsufficientUserAuthentication",
    "InvalidClient",
    "InvalidGrant",
    "InvalidInput",
    "InvalidLink",
    "InvalidRequest",
    "InvalidScope",
    "InvalidToken",
    "MailUnavailable",
    "MfaAlreadyEnrolled",
    "MfaEnrollmentRequired",
    "MfaRequired",
    "MissingToken",
    "NotFound",
    "OAuthError",
    "PasskeyTaken",
    "ServiceUnavailable",
    "TollgateError",
    "TooManyRequests",
    "UnauthorizedClient",
    "UnsupportedGrantType",
    "UsernameTaken",
    "VerificationError",
]


class TollgateError(OAuthError):
    """The server's errors: each says its status, body and headers (`OAuthError`)."""

    error = "server_error"
    status = 500
    description = "The server could not handle the request."


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

    def body(self) -> dict[str, Any]:
        # Only the 422 answer names fields (the token endpoint answers 400 without them).
        body = super().body()
        if self.status == 422:
            body["fields"] = self.fields
        return body


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

    def www_authenticate(self, realm: str = "api") -> str:
        # Both schemes: the contract's Bearer challenge, and Basic for client credentials.
        return f'Bearer realm="{realm}", Basic realm="{realm}"'


class InvalidScope(TollgateError):
    error = "invalid_scope"
    status = 400
    description = "The requested scope is not allowed."


class UnauthorizedClient(TollgateError):
    """RFC 6749 §5.2: an authenticated client not registered for this grant type."""

    error = "unauthorized_client"
    status = 400
    description = "This client may not use this grant type."


class UnsupportedGrantType(TollgateError):
    error = "unsupported_grant_type"
    status = 400
    description = (
        "Supported grant types are password, refresh_token, authorization_code "
        "and client_credentials."
    )


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
    retry_after = 5


# Email: verification and password reset (issue 17).


class InvalidLink(TollgateError):
    """A mailed link's token that is unknown, used or expired (in a body, not a bearer)."""

    error = "invalid_token"
    status = 400
    description = "This link is invalid, already used or expired; ask for a new one."


class EmailNotVerified(TollgateError):
    error = "email_not_verified"
    status = 403
    description = "Verify your email address first: open the link we mailed you."


class EmailTaken(TollgateError):
    error = "email_taken"
    status = 409
    description = "That email address is already verified by another account."


class AlreadyVerified(TollgateError):
    error = "already_verified"
    status = 409
    description = "There is no unverified email address on this account."


class MailUnavailable(TollgateError):
    error = "mail_unavailable"
    status = 503
    description = "This server sends no mail (TOLLGATE_SMTP_URL is not set)."


# -- second factors (issue 18) ----------------------------------------------------------


class MfaRequired(TollgateError):
    """The password was right; the account has a second factor. The answer carries a
    short-lived, single-use `mfa_token` for POST /login/mfa (or /webauthn/login)."""

    error = "mfa_required"
    status = 403
    description = "A second factor is needed: send a code from your authenticator app."

    def __init__(self, mfa_token: str, methods: list[str]) -> None:
        super().__init__()
        self.mfa_token = mfa_token
        self.methods = methods

    def body(self) -> dict[str, Any]:
        return {**super().body(), "mfa_token": self.mfa_token, "methods": self.methods}


class MfaEnrollmentRequired(MfaRequired):
    """The password was right; a second factor is required of this account and it has
    none. The `mfa_token` is usable only to set up an authenticator app (POST /mfa/totp,
    POST /mfa/totp/confirm), whose confirmation answers the token pair."""

    error = "mfa_enrollment_required"
    description = (
        "This account must set up a second factor first: POST /mfa/totp with the mfa_token."
    )


class MfaAlreadyEnrolled(TollgateError):
    error = "mfa_already_enrolled"
    status = 409
    description = "An authenticator app is set up already; remove it first."


class PasskeyTaken(TollgateError):
    error = "passkey_registered"
    status = 409
    description = "This passkey is registered already."


class InsufficientUserAuthentication(TollgateError):
    """RFC 9470 §3: the token is valid, but the login behind it was weaker than asked."""

    error = "insufficient_user_authentication"
    status = 403
    description = "A stronger login is needed (a second factor)."

    def __init__(self, acr_values: str, description: str | None = None) -> None:
        super().__init__(description)
        self.acr_values = acr_values

    def www_authenticate(self, realm: str = "api") -> str:
        return (
            f'Bearer realm="{realm}", error="{self.error}", '
            f'error_description="{self.description}", acr_values="{self.acr_values}"'
        )
