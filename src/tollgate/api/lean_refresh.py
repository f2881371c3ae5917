"""The lean path for `POST /refresh`: the request every client makes every few minutes.

It runs inside the same middleware as every route (request id, access log, metrics,
security headers, body limit), but skips FastAPI's routing, dependency solving and model
validation, which cost more than the rotation itself (bench/floor.py). It takes only the
plain case: a JSON body `{"refresh_token": "<JWS>"}` from a non-browser client. Anything
else (cookie delivery, a browser's Origin, another content type, a body that is not
exactly that) goes to the full route, which gives the documented answers. Answers here
are made by the same code as the full route's: the token body, the no-store headers and
the one error handler.
"""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tollgate.api.errors import render_error
from tollgate.api.responses import NO_STORE, token_body
from tollgate.events import ClientInfo
from tollgate.services.container import Services
from tollgate.settings import MAX_BODY_BYTES

# Compact JWS characters only (RFC 7515 §7.1): anything else takes the full route, whose
# validation names the problem.
TOKEN = re.compile(r"[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+")
MAX_TOKEN = 8192
# Headers that make a request one the full route must answer.
BROWSER_HEADERS = frozenset({b"origin", b"cookie", b"x-token-delivery"})


class LeanRefresh:
    def __init__(self, app: ASGIApp, route: BaseRoute | None) -> None:
        self.app = app
        self.route = route

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["path"] != "/refresh"
            or scope["method"] != "POST"
            or not self._plain(scope)
        ):
            await self.app(scope, receive, send)
            return
        services: Services = scope["app"].state.services
        if services.settings.cookie_mode:
            await self.app(scope, receive, send)
            return
        body = await _read(receive)
        token = _token(body) if body is not None else None
        if token is None:
            await self.app(scope, _replay(body or b"", receive), send)
            return
        scope["route"] = self.route  # the metrics label and access log name the route
        response = await self._answer(scope, services, token)
        await response(scope, receive, send)

    @staticmethod
    def _plain(scope: Scope) -> bool:
        content_type = b""
        for name, value in scope["headers"]:
            if name in BROWSER_HEADERS:
                return False
            if name == b"content-type":
                content_type = value
        return content_type.split(b";")[0].strip().lower() == b"application/json"

    async def _answer(self, scope: Scope, services: Services, token: str) -> Response:
        request = Request(scope)
        client = ClientInfo(
            user_agent=request.headers.get("user-agent"),
            ip=request.client.host if request.client else None,
        )
        try:
            await services.throttle.request("token", client.ip or "unknown")
            pair = await services.grants.refresh(token, None, client)
        except Exception as exc:  # the full route's handlers, for the same answers
            return await render_error(request, exc)
        body = token_body(pair).model_dump(mode="json", exclude={"csrf_token"})
        return JSONResponse(body, headers=NO_STORE)


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


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body read above, handed to the full route as if it had not been read; then
    whatever the connection says next (a disconnect)."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed
