"""Per request: an id (X-Request-ID), one JSON access log line, and a latency sample."""

from __future__ import annotations

import os
import re
import time

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tollgate.api.access_log import AccessLog
from tollgate.metrics import Metrics
from tollgate.request_context import set_request_id

# A caller's (or proxy's) own request id is kept when it is a plain token.
SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def new_request_id() -> str:
    """32 hex digits; os.urandom is cheaper than uuid4 on the lean GET /auth path."""
    return os.urandom(16).hex()


class Observability:
    def __init__(self, app: ASGIApp, metrics: Metrics, access_log: AccessLog | None) -> None:
        self.app = app
        self.metrics = metrics
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        offered = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = offered if SAFE_REQUEST_ID.fullmatch(offered) else new_request_id()
        set_request_id(request_id)
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)["X-Request-ID"] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.requests.labels(scope["method"], route, str(status)).observe(elapsed)
            if self.access_log is not None:
                self.access_log.write(
                    request_id,
                    scope["method"],
                    scope["path"],
                    route,
                    status,
                    elapsed,
                    scope.get("client"),
                )
