"""Request and response bodies. Limits here give clear 422s before any rule runs."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StrictBool,
    model_validator,
)
from pydantic_core import PydanticCustomError


def _encodable(value: str) -> str:
    # JSON can carry lone surrogates (\ud800) that no UTF-8 encoder or database accepts.
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        # Worded per field by api.field_messages.
        raise PydanticCustomError("invalid_unicode", "not valid Unicode") from exc
    return value


UsernameField = Annotated[str, Field(min_length=1, max_length=256), AfterValidator(_encodable)]
Password = Annotated[str, Field(min_length=1, max_length=1024), AfterValidator(_encodable)]
Scope = Annotated[str, Field(max_length=1024), AfterValidator(_encodable)]
TokenString = Annotated[str, Field(min_length=1, max_length=8192), AfterValidator(_encodable)]


class Body(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=False)


class JoinRequest(Body):
    username: UsernameField
    password: Password
    email: EmailStr | None = Field(default=None, max_length=320)


class LoginRequest(Body):
    username: UsernameField
    password: Password
    scope: Scope | None = None


class RefreshRequest(Body):
    # Required, except in cookie mode where it comes from the cookie instead.
    refresh_token: TokenString | None = None


class TokenRequest(Body):
    """RFC 6749 §4.3.2 and §6: the token endpoint's parameters."""

    grant_type: Annotated[str, Field(max_length=64)]
    username: UsernameField | None = None
    password: Password | None = None
    refresh_token: TokenString | None = None
    scope: Scope | None = None
    client_id: Annotated[str, Field(max_length=256)] | None = None
    client_secret: Annotated[str, Field(max_length=256)] | None = None
    # authorization_code (RFC 6749 §4.1.3, RFC 7636 §4.5)
    code: Annotated[str, Field(min_length=1, max_length=512)] | None = None
    redirect_uri: Annotated[str, Field(min_length=1, max_length=2000)] | None = None
    code_verifier: Annotated[str, Field(max_length=256)] | None = None


class LogoutRequest(Body):
    refresh_token: TokenString | None = None
    all: StrictBool = False


class PasswordChangeRequest(Body):
    current_password: Password
    new_password: Password


class AccountDeleteRequest(Body):
    password: Password


# Account recovery by email (issue 17).
Email = Annotated[EmailStr, Field(max_length=320)]
MailedToken = Annotated[str, Field(min_length=1, max_length=512), AfterValidator(_encodable)]


class ForgotRequest(Body):
    """One of the two: the account's email address or its username."""

    email: Email | None = None
    username: UsernameField | None = None

    @model_validator(mode="after")
    def _one_of_them(self) -> ForgotRequest:
        if (self.email is None) == (self.username is None):
            raise PydanticCustomError("one_of", "send either email or username")
        return self


class ResetRequest(Body):
    token: MailedToken
    new_password: Password


class EmailChangeRequest(Body):
    email: Email


class VerifyRequest(Body):
    token: MailedToken


class Accepted(BaseModel):
    message: str


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["Bearer", "DPoP"] = "Bearer"  # noqa: S105 - not a secret
    expires_in: int
    # Absent in cookie mode, where it travels only in the HttpOnly cookie.
    refresh_token: str | None = None
    refresh_expires_in: int
    scope: str
    # Cookie mode only: send it back as X-CSRF-Token with cookie-authenticated requests.
    csrf_token: str | None = None


class UserOut(BaseModel):
    id: uuid.UUID
    username: str
    email: str | None
    # Issue 17: the user opened a link mailed to `email`.
    email_verified: bool = False
    scope: str
    created_at: datetime


class JoinResponse(TokenResponse):
    user: UserOut


class AuthCheck(BaseModel):
    sub: uuid.UUID
    username: str
    scope: str
    sid: uuid.UUID
    exp: int


class SessionOut(BaseModel):
    id: uuid.UUID
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    user_agent: str | None
    ip: str | None
    current: bool
    # Only in ?history=true listings: when and why an ended session ended
    # (logout, password_changed, refresh_token_reused, ...).
    ended_at: datetime | None = None
    end_reason: str | None = None


class ConsentOut(BaseModel):
    """An app the user allowed (issue 14): which scopes, chosen when."""

    client_id: str
    client_name: str
    scope: str
    granted_at: datetime


class ErrorBody(BaseModel):
    error: str
    error_description: str
    fields: dict[str, str] | None = None


class Health(BaseModel):
    status: str
