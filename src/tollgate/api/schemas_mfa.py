"""Request and response bodies of the second-factor routes (issue 18)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field

from tollgate.api.schemas import Body, Password, TokenResponse

MfaToken = Annotated[str, Field(min_length=1, max_length=256)]
Code = Annotated[str, Field(min_length=1, max_length=32)]
PasskeyName = Annotated[str, Field(min_length=1, max_length=64)]


class PasswordAgain(Body):
    """Recent authentication: the password again."""

    password: Password


class TotpStartRequest(Body):
    # With a bearer token: the password again. Without one: the mfa_token of a login
    # answered 403 mfa_enrollment_required.
    password: Password | None = None
    mfa_token: MfaToken | None = None


class TotpStart(BaseModel):
    secret: str
    otpauth_uri: str
    qr_svg: str  # the otpauth URI as a QR code, an inline SVG element


class TotpConfirmRequest(Body):
    code: Code
    mfa_token: MfaToken | None = None


class RecoveryCodes(BaseModel):
    recovery_codes: list[str]


class EnrolledLogin(TokenResponse):
    """Confirming the enrolment a login demanded: the recovery codes and the token pair."""

    recovery_codes: list[str]


class MfaLoginRequest(Body):
    mfa_token: MfaToken
    code: Code | None = None
    recovery_code: Code | None = None


class TotpOut(BaseModel):
    confirmed: bool
    created_at: datetime
    confirmed_at: datetime | None


class PasskeyOut(BaseModel):
    id: uuid.UUID
    name: str
    created_at: datetime
    last_used_at: datetime | None


class FactorsOut(BaseModel):
    totp: TotpOut | None
    passkeys: list[PasskeyOut]
    recovery_codes_left: int
    required: bool


class PasskeyOptionsRequest(Body):
    # Login: the mfa_token when the passkey is the second factor; neither for a
    # passwordless login (a discoverable credential picks the account).
    mfa_token: MfaToken | None = None


class PasskeyRegistration(Body):
    # The PublicKeyCredential as JSON (WebAuthn Level 3 toJSON()), checked by py_webauthn.
    credential: dict[str, Any]
    name: PasskeyName = "Passkey"


class PasskeyLogin(Body):
    credential: dict[str, Any]
    mfa_token: MfaToken | None = None
