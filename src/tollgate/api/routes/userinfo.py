"""OpenID Connect UserInfo (OIDC Core §5.3): who the access token's user is, as far as the
granted scopes allow."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse

from tollgate.api.dependencies import AccountsDep, ProofsDep, SessionsDep, SettingsDep
from tollgate.api.dpop import authorized, public_urls
from tollgate.api.operation import operation
from tollgate.api.responses import NO_STORE, errors
from tollgate.errors import InvalidToken, NotFound
from tollgate.tokens.id_tokens import scope_claims

OPENID = "openid"


@operation(
    responses=errors(401, 403, 503),
    summary="OpenID Connect UserInfo: sub and the claims of the granted scopes",
    description=(
        "The access token in the Authorization header (RFC 6750 §2.1), of a live session. "
        "`profile` releases `preferred_username`, `email` releases `email` and "
        "`email_verified`. A token without the `openid` scope is answered 403 "
        "`insufficient_scope`."
    ),
)
async def userinfo(
    request: Request,
    sessions: SessionsDep,
    proofs: ProofsDep,
    settings: SettingsDep,
    accounts: AccountsDep,
) -> JSONResponse:
    # Revoked sessions are refused, as at /me (Sessions.authorize); a bound token needs
    # its DPoP proof.
    claims = await authorized(
        request,
        sessions,
        proofs,
        method=request.method,
        urls=public_urls(request, settings),
        required_scope=OPENID,
    )
    try:
        user = await accounts.get(claims.sub)
    except NotFound as exc:
        raise InvalidToken("The user of this token no longer exists.") from exc
    body = {"sub": str(user.id), **scope_claims(user, claims.scope)}
    return JSONResponse(body, headers=NO_STORE)
