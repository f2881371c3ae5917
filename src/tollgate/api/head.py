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

        # The scope is changed in place, as Starlette's router does when it records the
        # route: the outer middleware read the matched route from this same dict. Its
        # method is HEAD again before they look.
        scope["method"] = "GET"
        try:
            await self.app(scope, receive, send_without_body)
        finally:
            scope["method"] = "HEAD"
