"""Proxy headers, read by one middleware that also says whether the peer was trusted.

uvicorn's own ProxyHeadersMiddleware (X-Forwarded-For and -Proto from the addresses in
FORWARDED_ALLOW_IPS) rewrites the client address, after which nothing can tell whether
the headers came from a trusted proxy. DPoP behind a gateway needs to know (RFC 9449
§4.3: the original URL's host from X-Forwarded-Host only when a trusted proxy sent it),
so `tollgate serve` turns uvicorn's off and runs it inside this one, in the app.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

TRUSTED_PROXY = "tollgate.trusted_proxy"


class ForwardedHeaders:
    def __init__(self, app: ASGIApp, trusted_hosts: str) -> None:
        self._proxy = ProxyHeadersMiddleware(app, trusted_hosts)  # type: ignore[arg-type]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        scope[TRUSTED_PROXY] = client is not None and client[0] in self._proxy.trusted_hosts
        await self._proxy(scope, receive, send)  # type: ignore[arg-type]


def from_trusted_proxy(request: Request) -> bool:
    return bool(request.scope.get(TRUSTED_PROXY))
