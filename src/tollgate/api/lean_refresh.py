"""The lean path for `POST /refresh`: the request every client makes every few minutes.

It runs in front of the app and its middleware, as `GET /auth`'s lean path does, and
skips FastAPI's routing, dependency solving and model validation, the five middleware
layers and Starlette's Request and Response objects: in-process, the HTTP part of a
refresh cost about as much CPU as `Grants.refresh` itself inside the middleware (see
bench/NOTES.md). It does their part of the answer itself, the same way: the request id
(`X-Request-ID`, the caller's if it is a plain token), the security headers, the latency
sample and the access log line (both labelled with the route, `/refresh`). It takes only
the plain case: a JSON body `{"refresh_token": "<JWS>"}` from a non-browser client.
Anything else (cookie delivery, a browser's Origin, another content type, a body that is
not exactly that, one past the size limit) goes to the full app, which gives the
documented answers. Errors are answered by the app's one error handler; the 200 body and
headers are rendered here, and tests/api/test_lean_refresh.py holds them to the full
route's byte for byte.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from tollgate.api.access_log import AccessLog
from tollgate.api.body_limit import replay
from tollgate.api.errors import render_error
from tollgate.api.observability import SAFE_REQUEST_ID, new_request_id
from tollgate.api.responses import NO_STORE
from tollgate.api.security_headers import ALWAYS, HSTS
from tollgate.events import ClientInfo
from tollgate.metrics import Metrics
from tollgate.request_context import set_request_id
from tollgate.services.container import Services
from tollgate.services.grants import TokenPair
from tollgate.settings import MAX_BODY_BYTES

ROUTE = "/refresh"
# Compact JWS characters only (RFC 7515 §7.1): anything else takes the full route, whose
# validation names the problem.
TOKEN = re.compile(r"[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+")
MAX_TOKEN = 8192
# Headers that make a request one the full route must answer (a browser's, or one with a
# DPoP proof to check).
BROWSER_HEADERS = frozenset({b"origin", b"cookie", b"x-token-delivery", b"dpop"})
Headers = list[tuple[bytes, bytes]]
Answer = tuple[int, Headers, bytes]
# The full route's 200 headers around the body's length, as its JSONResponse makes them.
NO_STORE_HEADERS: Headers = [(k.lower().encode(), v.encode()) for k, v in NO_STORE.items()]
JSON_TYPE = (b"content-type", b"application/json")
# What SecurityHeaders adds to every answer, as raw ASGI headers.
SECURITY = [(name.lower().encode(), value.encode()) for name, value in ALWAYS.items()]
STRICT_TRANSPORT = (b"strict-transport-security", HSTS.encode())


class LeanRefresh:
    def __init__(
        self, app: ASGIApp, main: FastAPI, metrics: Metrics, access_log: AccessLog | None
    ) -> None:
        self.app = app
        self.main = main  # whose state holds the services, once its lifespan has begun
        self.metrics = metrics
        self.access_log = access_log
        self._observers: dict[int, Callable[[float], None]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["path"] != ROUTE
            or scope["method"] != "POST"
            or not self._plain(scope)
        ):
            await self.app(scope, receive, send)
            return
        services: Services = self.main.state.services
        if services.settings.cookie_mode:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        body = await _read(receive)
        token = _token(body) if body is not None else None
        if token is None:
            await self.app(scope, replay(body or b"", receive), send)
            return
        request_id = _request_id(scope)
        set_request_id(request_id)
        status, headers, content = await self._answer(scope, services, token)
        try:
            headers = _finished(headers, scope, request_id)
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": content})
        finally:  # as Observability: also when the client has gone while it was sent
            elapsed = time.perf_counter() - started
            self._observer(status)(elapsed)
            if self.access_log is not None:
                client = scope.get("client")
                self.access_log.write(request_id, "POST", ROUTE, ROUTE, status, elapsed, client)

    def _observer(self, status: int) -> Callable[[float], None]:
        """The latency histogram's child for this status (labelling costs more than
        observing, so each is made once)."""
        observe = self._observers.get(status)
        if observe is None:
            observe = self.metrics.requests.labels("POST", ROUTE, str(status)).observe
            self._observers[status] = observe
        return observe

    @staticmethod
    def _plain(scope: Scope) -> bool:
        content_type = b""
        for name, value in scope["headers"]:
            if name in BROWSER_HEADERS:
                return False
            if name == b"content-type":
                content_type = value
            # A malformed or too large declared length: BodyLimit's answer (400, 413).
            elif name == b"content-length" and (not value.isdigit() or int(value) > MAX_BODY_BYTES):
                return False
        return content_type.split(b";")[0].strip().lower() == b"application/json"

    async def _answer(self, scope: Scope, services: Services, token: str) -> Answer:
        """Status, headers and body: the rotated pair, or the app's answer to the error."""
        client = _client(scope)
        try:
            await services.throttle.request("token", client.ip or "unknown")
            pair = await services.grants.refresh(token, None, client)
        except Exception as exc:  # the full route's handlers, for the same answers
            response = await render_error(Request(scope), exc)
            return response.status_code, response.raw_headers, bytes(response.body)
        content = token_json(pair)
        length = (b"content-length", str(len(content)).encode())
        return 200, [*NO_STORE_HEADERS, length, JSON_TYPE], content


def token_json(pair: TokenPair) -> bytes:
    """The full route's 200 body, as its JSONResponse renders the model (test_lean_refresh
    holds the two to each other): the fields in the model's order, compact JSON."""
    body = {
        "access_token": pair.access_token,
        "token_type": "Bearer",
        "expires_in": pair.expires_in,
        "refresh_token": pair.refresh_token,
        "refresh_expires_in": pair.refresh_expires_in,
        "scope": pair.scope,
    }
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _client(scope: Scope) -> ClientInfo:
    """What the full route's `client_info` reads: the first User-Agent, the peer address."""
    user_agent = None
    for name, value in scope["headers"]:
        if name == b"user-agent":
            user_agent = value.decode("latin-1")
            break
    peer = scope.get("client")
    return ClientInfo(user_agent=user_agent, ip=peer[0] if peer else None)


def _request_id(scope: Scope) -> str:
    """The caller's X-Request-ID if it is a plain token, else a new one (Observability;
    of several, the last, as it reads them)."""
    offered = ""
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            offered = value.decode("latin-1")
    return offered if SAFE_REQUEST_ID.fullmatch(offered) else new_request_id()


def _finished(headers: Headers, scope: Scope, request_id: str) -> Headers:
    """`headers` with what the middleware add to every answer, in their order: the
    security headers unless already there (SecurityHeaders), then the request id
    (Observability)."""
    extra = list(SECURITY)
    if scope.get("scheme") == "https":
        extra.append(STRICT_TRANSPORT)
    present = {name for name, _ in headers}
    added = [(name, value) for name, value in extra if name not in present]
    return [*headers, *added, (b"x-request-id", request_id.encode("latin-1"))]


async def _read(receive: Receive) -> bytes | None:
    """The whole body; None past the size limit (the full route answers 413 then)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            chunks.append(chunk)
            return b"".join(chunks)  # too big: replayed whole to the full route
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _token(body: bytes) -> str | None:
    try:
        document: Any = json.loads(body)
    except (ValueError, RecursionError):
        return None
    if not isinstance(document, dict) or set(document) != {"refresh_token"}:
        return None
    token = document["refresh_token"]
    if not isinstance(token, str) or len(token) > MAX_TOKEN or not TOKEN.fullmatch(token):
        return None
    return token
