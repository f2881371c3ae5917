"""What routes need from a request: the services, the bearer token, the caller."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from tollgate.services.container import Services
from tollgate.services.grants import ClientInfo
from tollgate.tokens.claims import AccessClaims
from tollgate.verify.bearer import bearer_token


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def request_token(request: Request) -> str:
    """RFC 6750 §2.1: the Authorization header only, never the query string."""
    return bearer_token(request.headers.get("authorization"))


async def current_claims(
    request: Request,
    token: Annotated[str, Depends(request_token)],
    services: Annotated[Services, Depends(get_services)],
) -> AccessClaims:
    return await services.sessions.authorize(token)


async def optional_claims(
    request: Request, services: Annotated[Services, Depends(get_services)]
) -> AccessClaims | None:
    """The caller when a bearer token is sent; None when no Authorization header is."""
    if "authorization" not in request.headers:
        return None
    return await services.sessions.authorize(request_token(request))


def client_info(request: Request) -> ClientInfo:
    return ClientInfo(
        user_agent=request.headers.get("user-agent"),
        ip=request.client.host if request.client else None,
    )


def rate_limited(route: str) -> Any:
    """A route dependency counting requests per client address (429 past the limit)."""

    async def count(request: Request, services: Annotated[Services, Depends(get_services)]) -> None:
        await services.throttle.request(route, client_info(request).ip or "unknown")

    return Depends(count)


ServicesDep = Annotated[Services, Depends(get_services)]
BearerDep = Annotated[str, Depends(request_token)]
CallerDep = Annotated[AccessClaims, Depends(current_claims)]
OptionalCallerDep = Annotated[AccessClaims | None, Depends(optional_claims)]
ClientDep = Annotated[ClientInfo, Depends(client_info)]
