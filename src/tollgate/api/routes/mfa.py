"""Second factors (issue 18): the authenticator app, recovery codes, the factor list and
the login's second step. Thin: services/mfa.py holds the rules."""

from __future__ import annotations

from typing import Annotated

from fastapi import Request, Response
from fastapi.responses import JSONResponse

from tollgate.api.cookies import uses_cookies
from tollgate.api.dependencies import (
    CallerDep,
    ClientDep,
    OptionalCallerDep,
    ProofsDep,
    SettingsDep,
    TokenProofDep,
    provided,
    token_proof,
)
from tollgate.api.operation import operation
from tollgate.api.responses import NO_STORE, errors, no_store_json, token_answer, token_body
from tollgate.api.schemas import TokenResponse
from tollgate.api.schemas_mfa import (
    EnrolledLogin,
    FactorsOut,
    MfaLoginRequest,
    PasskeyLogin,
    PasskeyOptionsRequest,
    PasskeyOut,
    PasskeyRegistration,
    PasswordAgain,
    RecoveryCodes,
    TotpConfirmRequest,
    TotpOut,
    TotpStart,
    TotpStartRequest,
)
from tollgate.errors import InvalidInput, MissingToken
from tollgate.services.mfa import SecondFactors
from tollgate.services.passkeys import Passkeys
from tollgate.verify.dpop import Proof

FactorsDep = Annotated[SecondFactors, provided(lambda s: s.factors)]


def _jkt(proof: Proof | None) -> str | None:
    return proof.jkt if proof is not None else None


@operation(
    response_model=TotpStart,
    responses=errors(401, 409, 413, 422, 503),
    summary="Start setting up an authenticator app (the password again, or the mfa_token)",
    description=(
        "With a bearer token and `password`, or with the `mfa_token` of a login answered "
        "`403 mfa_enrollment_required`. Answers the secret, its `otpauth://` URI and that URI "
        "as a QR code (inline SVG); POST /mfa/totp/confirm with a code from the app finishes."
    ),
)
async def start_totp(
    request: Request,
    body: TotpStartRequest,
    caller: OptionalCallerDep,
    factors: FactorsDep,
    proofs: ProofsDep,
    settings: SettingsDep,
) -> JSONResponse:
    if body.mfa_token is not None and caller is None:
        jkt = _jkt(await token_proof(request, proofs, settings))
        started = await factors.start_totp_for_login(body.mfa_token, jkt)
    elif caller is None:
        raise MissingToken()
    elif body.password is None:
        raise InvalidInput({"password": "The password is needed again to set up a factor."})
    else:
        started = await factors.start_totp(caller.sub, body.password)
    return no_store_json(TotpStart.model_validate(started, from_attributes=True).model_dump())


@operation(
    response_model=RecoveryCodes,
    responses=errors(400, 401, 413, 422, 429, 503),
    summary="Confirm the authenticator app with a code; answers ten recovery codes, once",
    description=(
        "With the `mfa_token` of an enrolment a login demanded, the answer also carries the "
        'token pair of that login (`amr` `["pwd", "otp"]`).'
    ),
)
async def confirm_totp(
    request: Request,
    body: TotpConfirmRequest,
    caller: OptionalCallerDep,
    factors: FactorsDep,
    client: ClientDep,
    proofs: ProofsDep,
    settings: SettingsDep,
) -> JSONResponse:
    # The DPoP proof is read here only without a bearer: with one, checking the access
    # token has used the proof up already (RFC 9449 §11.1).
    if body.mfa_token is not None and caller is None:
        jkt = _jkt(await token_proof(request, proofs, settings))
        codes, pair = await factors.confirm_totp_for_login(body.mfa_token, body.code, client, jkt)
        answer = EnrolledLogin(**token_body(pair).model_dump(), recovery_codes=codes)
        return token_answer(answer, pair, uses_cookies(request))
    if caller is None:
        raise MissingToken()
    codes = await factors.confirm_totp(caller.sub, body.code, client)
    return no_store_json({"recovery_codes": codes})


@operation(
    status_code=204,
    responses=errors(401, 404, 413, 422, 503),
    summary="Remove the authenticator app (the password again)",
)
async def remove_totp(
    body: PasswordAgain, caller: CallerDep, factors: FactorsDep, client: ClientDep
) -> Response:
    await factors.remove_totp(caller.sub, body.password, client)
    return Response(status_code=204)


@operation(
    response_model=RecoveryCodes,
    responses=errors(400, 401, 413, 422, 503),
    summary="New recovery codes (the password again); the old ones stop working",
)
async def regenerate_recovery_codes(
    body: PasswordAgain, caller: CallerDep, factors: FactorsDep, client: ClientDep
) -> JSONResponse:
    codes = await factors.regenerate_recovery_codes(caller.sub, body.password, client)
    return no_store_json({"recovery_codes": codes})


@operation(
    response_model=FactorsOut,
    responses=errors(401, 503),
    summary="My second factors",
)
async def list_factors(caller: CallerDep, factors: FactorsDep, settings: SettingsDep) -> FactorsOut:
    found = await factors.factors(caller.sub)
    totp = found.totp
    return FactorsOut(
        totp=None
        if totp is None
        else TotpOut(
            confirmed=totp.confirmed_at is not None,
            created_at=totp.created_at,
            confirmed_at=totp.confirmed_at,
        ),
        passkeys=[
            PasskeyOut(id=p.id, name=p.name, created_at=p.created_at, last_used_at=p.last_used_at)
            for p in found.passkeys
        ],
        recovery_codes_left=found.recovery_codes_left,
        # Of this user (`tollgate users require-mfa`) or of everyone (TOLLGATE_REQUIRE_MFA).
        required=found.required or settings.require_mfa,
    )


@operation(
    response_model=TokenResponse,
    responses=errors(400, 401, 413, 422, 429, 503),
    summary="The second step of a login: the mfa_token and a code (or a recovery code)",
)
async def login_mfa(
    request: Request,
    body: MfaLoginRequest,
    factors: FactorsDep,
    client: ClientDep,
    proof: TokenProofDep,
) -> JSONResponse:
    pair = await factors.with_code(
        body.mfa_token, body.code, body.recovery_code, client, jkt=_jkt(proof)
    )
    return token_answer(token_body(pair), pair, uses_cookies(request))


# -- passkeys (WebAuthn) ---------------------------------------------------------------

PasskeysDep = Annotated[Passkeys, provided(lambda s: s.passkeys)]


def _options(text: str) -> Response:
    return Response(text, media_type="application/json", headers=NO_STORE)


@operation(
    responses=errors(401, 503),
    summary="Options to register a passkey (WebAuthn PublicKeyCredentialCreationOptions)",
)
async def passkey_registration_options(caller: CallerDep, passkeys: PasskeysDep) -> Response:
    return _options(await passkeys.registration_options(caller.sub))


@operation(
    status_code=201,
    response_model=PasskeyOut,
    responses=errors(400, 401, 409, 413, 422, 503),
    summary="Register a passkey: the browser's answer to the options",
)
async def register_passkey(
    body: PasskeyRegistration, caller: CallerDep, passkeys: PasskeysDep, client: ClientDep
) -> PasskeyOut:
    passkey = await passkeys.register(caller.sub, body.credential, body.name, client)
    return PasskeyOut(
        id=passkey.id,
        name=passkey.name,
        created_at=passkey.created_at,
        last_used_at=passkey.last_used_at,
    )


@operation(
    responses=errors(401, 413, 422, 429, 503),
    summary="Options to sign in with a passkey (with the mfa_token: as the second factor)",
)
async def passkey_login_options(
    passkeys: PasskeysDep, proof: TokenProofDep, body: PasskeyOptionsRequest | None = None
) -> Response:
    mfa_token = body.mfa_token if body is not None else None
    return _options(await passkeys.login_options(mfa_token, _jkt(proof)))


@operation(
    response_model=TokenResponse,
    responses=errors(401, 403, 413, 422, 429, 503),
    summary="Sign in with a passkey: alone (amr hwk) or after the password (amr pwd hwk)",
)
async def passkey_login(
    request: Request,
    body: PasskeyLogin,
    passkeys: PasskeysDep,
    client: ClientDep,
    proof: TokenProofDep,
) -> JSONResponse:
    pair = await passkeys.login(body.credential, body.mfa_token, client, _jkt(proof))
    return token_answer(token_body(pair), pair, uses_cookies(request))


@operation(
    status_code=204,
    responses=errors(401, 404, 413, 422, 503),
    summary="Remove one of my passkeys (the password again)",
)
async def remove_passkey(
    passkey_id: str,
    body: PasswordAgain,
    caller: CallerDep,
    passkeys: PasskeysDep,
    client: ClientDep,
) -> Response:
    await passkeys.remove(caller.sub, passkey_id, body.password, client)
    return Response(status_code=204)
