"""Account recovery by email (issue 17): forgot/reset a password, change and verify the
address. Mailed links open the account page (`<issuer>/#reset=...`, `#verify=...`);
only these POSTs use a token up."""

from __future__ import annotations

from fastapi import Response
from fastapi.responses import JSONResponse

from tollgate.api.dependencies import CallerDep, ClientDep, RecoveryDep
from tollgate.api.operation import operation
from tollgate.api.responses import errors
from tollgate.api.schemas import (
    Accepted,
    EmailChangeRequest,
    ForgotRequest,
    ResetRequest,
    VerifyRequest,
)

FORGOT_ANSWER = "If that account exists and has an email address, a reset link is on its way."
RESEND_ANSWER = "A new verification link is on its way."


@operation(
    status_code=202,
    response_model=Accepted,
    responses=errors(413, 422, 429, 503),
    summary="Forgot my password: mail a reset link (the same answer for every account)",
    description=(
        "Send `email` or `username`. The answer is the same, with the same headers and "
        "about the same cost, whether or not such an account exists; the link is mailed "
        "off the request path. `503 mail_unavailable` when the server sends no mail."
    ),
)
async def forgot(body: ForgotRequest, recovery: RecoveryDep, client: ClientDep) -> JSONResponse:
    await recovery.forgot(None if body.email is None else str(body.email), body.username, client)
    return JSONResponse({"message": FORGOT_ANSWER}, status_code=202)


@operation(
    status_code=204,
    responses=errors(400, 413, 422, 429, 503),
    summary="Set a new password with a mailed reset link's token; every session ends",
)
async def reset(body: ResetRequest, recovery: RecoveryDep, client: ClientDep) -> Response:
    await recovery.reset(body.token, body.new_password, client)
    return Response(status_code=204)


@operation(
    status_code=204,
    responses=errors(401, 413, 422, 503),
    summary="Change my email address; a verification link is mailed to it",
)
async def change_email(
    body: EmailChangeRequest, caller: CallerDep, recovery: RecoveryDep, client: ClientDep
) -> Response:
    await recovery.change_email(caller.sub, str(body.email), client)
    return Response(status_code=204)


@operation(
    status_code=204,
    responses=errors(400, 409, 413, 422, 429, 503),
    summary="Verify an email address with a mailed link's token",
)
async def verify_email(body: VerifyRequest, recovery: RecoveryDep, client: ClientDep) -> Response:
    await recovery.verify(body.token, client)
    return Response(status_code=204)


@operation(
    status_code=202,
    response_model=Accepted,
    responses=errors(401, 409, 429, 503),
    summary="Mail the verification link of my address again",
)
async def resend_verification(
    caller: CallerDep, recovery: RecoveryDep, client: ClientDep
) -> JSONResponse:
    await recovery.resend(caller.sub, client)
    return JSONResponse({"message": RESEND_ANSWER}, status_code=202)
