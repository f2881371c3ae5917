"""HEAD wherever GET is served (RFC 9110 §9.3.2): the GET answer's status and headers,
no body.

FastAPI's routes answer only the methods they are declared with, so a `@router.get`
route says 405 to HEAD (Starlette's plain routes add HEAD themselves). Declaring HEAD on
each route would put a second operation per path in the OpenAPI document; this does it
once for every route, mounted static files and the docs pages alike.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HeadAsGet:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def send_without_body(message: Message) -> None:
            if message["type"] == "http.response.start":
                await send(message)
            elif not message.get("more_body", False):
                # The last body message (or a file sent by path) ends the answer, empty.
                await send({"type": "http.response.body", "body": b"", "more_body": False})

        # A copy: the server reads the method from its own scope while sending (HEAD: no
        # body is expected). What routing records in the copy (the matched route, for the
        # access log and metrics outside) is copied back, the method left as HEAD.
        as_get = {**scope, "method": "GET"}
        try:
            await self.app(as_get, receive, send_without_body)
        finally:
            scope.update({k: v for k, v in as_get.items() if k != "method"})
