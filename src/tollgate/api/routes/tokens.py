"""Getting tokens: sign-up, login, the OAuth 2.0 token endpoint and refresh."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from tollgate.api import field_messages
from tollgate.api.cookies import refresh_cookie, uses_cookies
from tollgate.api.dependencies import (
    AccountsDep,
    ClientCredentialsDep,
    ClientDep,
    CodeGrantDep,
    GrantsDep,
    LoginDep,
    RecoveryDep,
    RefreshProofDep,
    RegisteredClientsDep,
    TokenProofDep,
)
from tollgate.api.operation import operation
from tollgate.api.params import FORM, oauth_params, token_client
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
from tollgate.errors import (
    InvalidClient,
    InvalidInput,
    InvalidRequest,
    UnauthorizedClient,
    UnsupportedGrantType,
)
from tollgate.services.clients import ClientCredentials, Clients
from tollgate.store.records import ClientRecord
from tollgate.verify.dpop import Proof

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
    proof: TokenProofDep,
    recovery: RecoveryDep,
) -> JSONResponse:
    if accounts.require_verified_email and body.email is None:
        raise InvalidInput({"email": "An email address is required to sign up here."})
    user = await accounts.join(body.username, body.password, body.email, client=client)
    await recovery.after_join(user, client)  # issue 17: the verification link
    if accounts.require_verified_email:
        # TOLLGATE_REQUIRE_VERIFIED_EMAIL: no tokens before the address is verified.
        joined = UserOut.model_validate(user, from_attributes=True)
        return JSONResponse(
            {
                "user": joined.model_dump(mode="json"),
                "email_verification": "sent" if recovery.enabled else "mail_unavailable",
            },
            status_code=201,
        )
    pair = await grants.start_session(user, None, client, jkt=_jkt(proof))
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
    request: Request, body: LoginRequest, login: LoginDep, client: ClientDep, proof: TokenProofDep
) -> JSONResponse:
    pair = await login.with_password(
        body.username, body.password, body.scope, client, jkt=_jkt(proof)
    )
    return token_answer(token_body(pair), pair, uses_cookies(request))


@operation(
    response_model=TokenResponse,
    responses=errors(400, 401, 403, 413, 429, 503),
    openapi_extra={"requestBody": TOKEN_REQUEST_BODY},
    summary=(
        "OAuth 2.0 token endpoint (RFC 6749): password, refresh_token, authorization_code "
        "and client_credentials grants"
    ),
)
async def token_endpoint(
    request: Request,
    login: LoginDep,
    grants: GrantsDep,
    code_grant: CodeGrantDep,
    client_credentials: ClientCredentialsDep,
    clients: RegisteredClientsDep,
    client: ClientDep,
    proof: TokenProofDep,
) -> JSONResponse:
    params = await oauth_params(request)
    jkt = _jkt(proof)
    try:
        grant = TokenRequest.model_validate(params)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or field_messages.BODY
        raise InvalidRequest(field_messages.sentence(field, first)) from exc
    credentials = token_client(request, params)
    if grant.grant_type == "password":
        if grant.username is None or grant.password is None:
            raise InvalidRequest("The password grant needs username and password.")
        await _first_party_only(credentials, clients)
        pair = await login.with_password(
            grant.username, grant.password, grant.scope, client, jkt=jkt
        )
    elif grant.grant_type == "refresh_token":
        if grant.refresh_token is None:
            raise InvalidRequest("The refresh_token grant needs refresh_token.")
        app = await _refreshing_client(credentials, clients)
        pair = await grants.refresh(
            grant.refresh_token,
            grant.scope,
            client,
            client_id=app.client_id if app is not None else None,
            jkt=jkt,
        )
    elif grant.grant_type == "authorization_code":
        if grant.code is None or grant.redirect_uri is None:
            raise InvalidRequest("The authorization_code grant needs code and redirect_uri.")
        app = await _authenticated(credentials, clients)
        issued = await code_grant.exchange(
            app, grant.code, grant.redirect_uri, grant.code_verifier, client, jkt=jkt
        )
        return no_store_json(issued.body())
    elif grant.grant_type == "client_credentials":
        if credentials is None or credentials.secret is None:
            raise InvalidClient("client_credentials needs the client's id and secret.")
        app = await _authenticated(credentials, clients)
        issued = await client_credentials.issue(app, grant.scope, client, jkt=jkt)
        return no_store_json(issued.body())
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
    proof: RefreshProofDep,
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
    pair = await grants.refresh(token, None, client, jkt=_jkt(proof))
    return token_answer(token_body(pair), pair, uses_cookies(request))


async def _authenticated(credentials: ClientCredentials | None, clients: Clients) -> ClientRecord:
    if credentials is None:
        raise InvalidClient("Identify the client: HTTP Basic, client_secret_post or client_id.")
    return await clients.authenticate_at_token_endpoint(credentials)


async def _refreshing_client(
    credentials: ClientCredentials | None, clients: Clients
) -> ClientRecord | None:
    """The app refreshing its session's token, or None for a first-party caller. Client
    credentials naming no registered client were always ignored here (first-party callers
    may send some), so they stay first-party; the token's own client claim decides."""
    if credentials is None:
        return None
    if not await clients.exists(credentials.client_id):
        return None
    return await clients.authenticate_at_token_endpoint(credentials)


async def _first_party_only(credentials: ClientCredentials | None, clients: Clients) -> None:
    """RFC 9700 §2.4: the password grant is for Tollgate's own apps. A registered client
    (another app) must not ask for the user's password: it uses authorization_code.
    Credentials naming no registered client were always ignored here, and still are."""
    if credentials is None:
        return
    if await clients.exists(credentials.client_id):
        raise UnauthorizedClient(
            "Registered clients sign users in with authorization_code, never the password grant."
        )


def _jkt(proof: Proof | None) -> str | None:
    """The key a request's tokens are bound to: its DPoP proof's (RFC 9449 §5)."""
    return proof.jkt if proof is not None else None
