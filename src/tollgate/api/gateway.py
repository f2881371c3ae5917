"""The lean path for `GET /auth`: the check every gateway makes before every request.

Answered here, before routing, validation and the other middleware, with exactly the
answer the full route gives (same body, X-Auth-* headers, security headers, request id,
metrics and access log): a token verified moments ago (services.auth_cache), and, with
the same checks as the route (signature, claims, live session), a token seen for the
first time, as a gateway sees when every request carries another user's token. Anything
else (?scope=, CORS, a token refused) takes the full route, which answers the error.
"""

from __future__ import annotations

import json
import time
from typing import Annotated

from fastapi import FastAPI, Query, Request, Response
from starlette.types import Receive, Scope, Send

from tollgate.api.access_log import AccessLog
from tollgate.api.dependencies import ProofsDep, SessionsDep, SettingsDep
from tollgate.api.dpop import authorized, original_request
from tollgate.api.observability import SAFE_REQUEST_ID, new_request_id
from tollgate.api.operation import operation
from tollgate.api.responses import errors, header_safe
from tollgate.api.schemas import AuthCheck
from tollgate.api.security_headers import ALWAYS, HSTS
from tollgate.errors import InsufficientUserAuthentication, InvalidRequest
from tollgate.metrics import Metrics
from tollgate.services.auth_cache import AuthCache
from tollgate.services.scopes import parse_scope
from tollgate.tokens.claims import ACR_ONE_FACTOR, ACR_TWO_FACTORS, AccessClaims

ACR_LEVELS = (ACR_ONE_FACTOR, ACR_TWO_FACTORS)


def demand_acr(claims: AccessClaims, acr: str) -> None:
    """`?acr=2`: the token's login must have been at least that strong (RFC 9470 §3). A
    query string always takes the full route, so the lean path never skips this."""
    if acr not in ACR_LEVELS:
        raise InvalidRequest(f"acr must be one of {', '.join(ACR_LEVELS)}.")
    held = claims.acr if claims.acr in ACR_LEVELS else ACR_ONE_FACTOR
    if ACR_LEVELS.index(held) < ACR_LEVELS.index(acr):
        raise InsufficientUserAuthentication(
            acr, f"This needs a login with acr {acr} (a second factor); this one has {held}."
        )


BASE_HEADERS = [(k.lower().encode(), v.encode()) for k, v in ALWAYS.items()] + [
    (b"content-type", b"application/json"),
    (b"cache-control", b"no-store"),
]


def render(claims: AccessClaims) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    body = json.dumps(
        {
            "sub": str(claims.sub),
            "username": claims.username,
            "scope": claims.scope,
            "sid": str(claims.sid),
            "exp": claims.exp,
        },
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode("utf-8")
    headers = [
        *BASE_HEADERS,
        (b"content-length", str(len(body)).encode()),
        (b"x-auth-user", header_safe(claims.username).encode()),
        (b"x-auth-subject", str(claims.sub).encode()),
        (b"x-auth-scope", claims.scope.encode()),
    ]
    return body, headers


class FastAuth:
    def __init__(
        self, app: FastAPI, cache: AuthCache, metrics: Metrics, access_log: AccessLog | None
    ) -> None:
        self.app = app
        self.cache = cache
        self.observe = metrics.requests.labels("GET", "/auth", "200").observe
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["path"] != "/auth"
            or scope["method"] != "GET"
            or scope["query_string"]
        ):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        token = request_id = None
        bound = False  # `Authorization: DPoP`: a bound token, checked with its proof
        for name, value in scope["headers"]:
            if name == b"authorization" and value[:7].lower() == b"bearer ":
                token = value[7:].strip().decode("latin-1")
            elif name == b"authorization" and value[:5].lower() == b"dpop ":
                token, bound = value[5:].strip().decode("latin-1"), True
            elif name == b"x-request-id":
                offered = value.decode("latin-1")
                request_id = offered if SAFE_REQUEST_ID.fullmatch(offered) else None
            elif name == b"origin":
                token = None  # browsers get the full route (CORS)
                break
        if token is None:
            await self.app(scope, receive, send)
            return
        entry = self.cache.get(token)
        if entry is not None:
            claims = entry.claims
        else:
            try:
                # The route's own check (it fills the cache when that is on).
                claims = await self.app.state.services.sessions.authorize(token)
            except Exception:  # the full route checks again and answers the refusal
                await self.app(scope, receive, send)
                return
        # A bound token sent as Bearer, an unbound one as DPoP, or a proof refused before
        # it was remembered: the full route answers (the same checks, nothing used up).
        if (claims.jkt is not None) != bound or (
            bound and not await self._proven(scope, token, claims)
        ):
            await self.app(scope, receive, send)
            return
        if entry is not None:
            if entry.rendered is None:
                entry.rendered = render(entry.claims)
            body, headers = entry.rendered
        else:
            body, headers = render(claims)
        request_id = request_id or new_request_id()
        extra = [(b"x-request-id", request_id.encode())]
        if scope.get("scheme") == "https":
            extra.append((b"strict-transport-security", HSTS.encode()))
        await send({"type": "http.response.start", "status": 200, "headers": headers + extra})
        await send({"type": "http.response.body", "body": body})
        elapsed = time.perf_counter() - started
        self.observe(elapsed)
        if self.access_log is not None:
            self.access_log.auth_hit(request_id, elapsed, scope.get("client"))

    async def _proven(self, scope: Scope, token: str, claims: AccessClaims) -> bool:
        """The request's DPoP proof, checked against the original request and used once."""
        services = self.app.state.services
        request = Request(scope)
        method, urls = original_request(request, services.settings)
        try:
            await services.proofs.check(
                request.headers.getlist("dpop"),
                method=method,
                url=urls,
                access_token=token,
                jkt=claims.jkt,
            )
        except Exception:  # refused, or the replay cache unreachable: the route answers
            return False
        return True


# The full route: what the lean path leaves to it (a first check it refused, ?scope=,
# a browser's CORS request) and the answer it must equal.
@operation(
    response_model=AuthCheck,
    responses=errors(400, 401, 403, 503),
    summary="Check a bearer token (nginx auth_request, Traefik ForwardAuth)",
)
async def check(
    request: Request,
    response: Response,
    sessions: SessionsDep,
    proofs: ProofsDep,
    settings: SettingsDep,
    scope: Annotated[str | None, Query(max_length=1024)] = None,
    acr: Annotated[
        str | None, Query(max_length=16, description="The least acr the login must have")
    ] = None,
) -> AuthCheck:
    required = " ".join(parse_scope(scope)) if scope else ""
    # A DPoP-bound token is checked with its proof of the original request (RFC 9449).
    method, urls = original_request(request, settings)
    claims = await authorized(
        request, sessions, proofs, method=method, urls=urls, required_scope=required
    )
    if acr is not None:
        demand_acr(claims, acr)
    response.headers["X-Auth-User"] = header_safe(claims.username)
    response.headers["X-Auth-Subject"] = str(claims.sub)
    response.headers["X-Auth-Scope"] = claims.scope
    response.headers["Cache-Control"] = "no-store"
    return AuthCheck.model_validate(claims, from_attributes=True)
