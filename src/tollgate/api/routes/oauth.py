"""RFC 7009 token revocation and RFC 7662 token introspection."""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response
from fastapi.responses import JSONResponse

from tollgate.api.dependencies import ClientDep, RegisteredClientsDep, TokenControlDep
from tollgate.api.operation import operation
from tollgate.api.params import FORM, client_credentials, oauth_params
from tollgate.api.responses import NO_STORE, errors
from tollgate.errors import InvalidClient, InvalidRequest
from tollgate.services.clients import Clients

TOKEN_FORM = {
    "required": True,
    "content": {
        FORM: {
            "schema": {
                "type": "object",
                "required": ["token"],
                "properties": {
                    "token": {"type": "string"},
                    "token_type_hint": {"enum": ["access_token", "refresh_token"]},
                },
            }
        }
    },
}


async def _token_param(request: Request) -> tuple[str, str | None, dict[str, Any]]:
    params = await oauth_params(request)
    token, hint = params.get("token"), params.get("token_type_hint")
    if not isinstance(token, str) or not token:
        raise InvalidRequest("The token parameter is required.")
    return token, hint if isinstance(hint, str) else None, params


async def _authenticated_client(
    request: Request, params: dict[str, Any], clients: Clients, required: bool
) -> None:
    credentials = client_credentials(request, params)
    if credentials is None:
        if required:
            raise InvalidClient("This endpoint needs client credentials (HTTP Basic).")
        return
    await clients.authenticate(*credentials)


@operation(
    response_class=Response,
    responses={
        200: {"description": "Revoked, or not a token we know (RFC 7009 §2.2)"},
        **errors(400, 401, 413, 503),
    },
    openapi_extra={"requestBody": TOKEN_FORM},
    summary="Revoke a refresh or access token and its session (RFC 7009)",
)
async def revoke(
    request: Request,
    clients: RegisteredClientsDep,
    token_control: TokenControlDep,
    client: ClientDep,
) -> Response:
    token, hint, params = await _token_param(request)
    # Public clients may revoke with the token alone; credentials, when sent, must be right.
    await _authenticated_client(request, params, clients, required=False)
    await token_control.revoke(token, hint, client)
    # RFC 7009 §2.2: 200 whether or not the token was valid.
    return Response(status_code=200, headers=NO_STORE)


@operation(
    responses=errors(400, 401, 413, 503),
    openapi_extra={"requestBody": TOKEN_FORM},
    summary="Is this token active, and what does it carry (RFC 7662)",
)
async def introspect(
    request: Request, clients: RegisteredClientsDep, token_control: TokenControlDep
) -> JSONResponse:
    token, hint, params = await _token_param(request)
    await _authenticated_client(request, params, clients, required=True)
    return JSONResponse(await token_control.introspect(token, hint), headers=NO_STORE)
