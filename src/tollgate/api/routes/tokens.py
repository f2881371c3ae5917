"""Getting tokens: sign-up, login, the OAuth 2.0 token endpoint and refresh."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from tollgate.api import field_messages
from tollgate.api.cookies import refresh_cookie, uses_cookies
from tollgate.api.dependencies import AccountsDep, ClientDep, GrantsDep, LoginDep
from tollgate.api.operation import operation
from tollgate.api.params import FORM, oauth_params
from tollgate.api.responses import errors, no_store_json, token_answer, token_body
from tollgate.api.schemas import (
    JoinRequest,
    JoinResponse,
    LoginRequest,
    RefreshRequest,
    TokenRequest,
    TokenResponse,
    UserOut,
)
from tollgate.errors import InvalidInput, InvalidRequest, UnsupportedGrantType

TOKEN_REQUEST_BODY = {
    "required": True,
    "content": {
        FORM: {"schema": TokenRequest.model_json_schema()},
        "application/json": {"schema": TokenRequest.model_json_schema()},
    },
}


@operation(
    status_code=201,
    response_model=JoinResponse,
    responses=errors(409, 413, 422, 429, 503),
    summary="Sign up and get a token pair",
)
async def join(
    request: Request,
    body: JoinRequest,
    accounts: AccountsDep,
    grants: GrantsDep,
    client: ClientDep,
) -> JSONResponse:
    user = await accounts.join(body.username, body.password, body.email, client=client)
    pair = await grants.start_session(user, None, client)
    response = JoinResponse(
        **token_body(pair).model_dump(), user=UserOut.model_validate(user, from_attributes=True)
    )
    return token_answer(response, pair, uses_cookies(request), status_code=201)


@operation(
    response_model=TokenResponse,
    responses=errors(400, 401, 403, 413, 422, 429, 503),
    summary="Exchange a username and password for a token pair",
)
async def login(
    request: Request, body: LoginRequest, login: LoginDep, client: ClientDep
) -> JSONResponse:
    pair = await login.with_password(body.username, body.password, body.scope, client)
    return token_answer(token_body(pair), pair, uses_cookies(request))


@operation(
    response_model=TokenResponse,
    responses=errors(400, 401, 403, 413, 429, 503),
    openapi_extra={"requestBody": TOKEN_REQUEST_BODY},
    summary="OAuth 2.0 token endpoint (RFC 6749): password and refresh_token grants",
)
async def token_endpoint(
    request: Request, login: LoginDep, grants: GrantsDep, client: ClientDep
) -> JSONResponse:
    params = await oauth_params(request)
    try:
        grant = TokenRequest.model_validate(params)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or field_messages.BODY
        raise InvalidRequest(field_messages.sentence(field, first)) from exc
    if grant.grant_type == "password":
        if grant.username is None or grant.password is None:
            raise InvalidRequest("The password grant needs username and password.")
        pair = await login.with_password(grant.username, grant.password, grant.scope, client)
    elif grant.grant_type == "refresh_token":
        if grant.refresh_token is None:
            raise InvalidRequest("The refresh_token grant needs refresh_token.")
        pair = await grants.refresh(grant.refresh_token, grant.scope, client)
    else:
        raise UnsupportedGrantType()
    # The OAuth 2.0 endpoint serves non-browser clients: tokens stay in the body.
    return no_store_json(token_body(pair).model_dump(mode="json", exclude={"csrf_token"}))


@operation(
    response_model=TokenResponse,
    responses=errors(401, 413, 422, 429, 503),
    summary="Rotate a refresh token into a new token pair",
)
async def refresh(
    request: Request,
    grants: GrantsDep,
    client: ClientDep,
    cookie_token: Annotated[str | None, Depends(refresh_cookie)],
    body: RefreshRequest | None = None,
) -> JSONResponse:
    if cookie_token is not None:
        if body is not None and body.refresh_token:
            raise InvalidRequest("In cookie mode the refresh token travels only in its cookie.")
        token = cookie_token
    elif body is None or body.refresh_token is None:
        raise InvalidInput({"refresh_token": field_messages.required("refresh_token")})
    else:
        token = body.refresh_token
    pair = await grants.refresh(token, None, client)
    return token_answer(token_body(pair), pair, uses_cookies(request))
