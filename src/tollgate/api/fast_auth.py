"""The lean path for `GET /auth`: the check every gateway makes before every request.

A token verified moments ago (services.auth_cache) is answered here, before routing,
validation and the other middleware, with exactly the answer the full route gives:
same body, X-Auth-* headers, security headers, request id, metrics and access log.
Anything else (first sight of a token, ?scope=, CORS, errors) takes the full route,
which fills the cache.
"""

from __future__ import annotations

import json
import time

from starlette.types import ASGIApp, Receive, Scope, Send

from tollgate.api.access_log import AccessLog
from tollgate.api.observability import SAFE_REQUEST_ID, new_request_id
from tollgate.api.responses import header_safe
from tollgate.api.security_headers import ALWAYS, HSTS
from tollgate.metrics import Metrics
from tollgate.services.auth_cache import AuthCache, Entry

BASE_HEADERS = [(k.lower().encode(), v.encode()) for k, v in ALWAYS.items()] + [
    (b"content-type", b"application/json"),
    (b"cache-control", b"no-store"),
]


def render(entry: Entry) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    claims = entry.claims
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
        self, app: ASGIApp, cache: AuthCache, metrics: Metrics, access_log: AccessLog | None
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
        for name, value in scope["headers"]:
            if name == b"authorization" and value[:7].lower() == b"bearer ":
                token = value[7:].strip().decode("latin-1")
            elif name == b"x-request-id":
                offered = value.decode("latin-1")
                request_id = offered if SAFE_REQUEST_ID.fullmatch(offered) else None
            elif name == b"origin":
                token = None  # browsers get the full route (CORS)
                break
        entry = self.cache.get(token) if token else None
        if entry is None:
            await self.app(scope, receive, send)
            return
        if entry.rendered is None:
            entry.rendered = render(entry)
        body, headers = entry.rendered
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
