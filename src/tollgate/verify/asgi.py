"""Plain ASGI middleware: verified claims in `scope["state"]["token_claims"]`.

Requests without a token pass with `None` unless `required=True`; a bad token is
always answered 401 (or 403 for missing scopes) with an RFC 6750 challenge.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

from tollgate.verify.bearer import bearer_token
from tollgate.verify.errors import MissingToken, VerificationError
from tollgate.verify.verifier import Verifier

# The ASGI types, spelled out so that no framework is needed.
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class TokenMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        verifier: Verifier,
        *,
        scopes: Iterable[str] = (),
        required: bool = False,
        realm: str = "api",
    ) -> None:
        self.app = app
        self.verifier = verifier
        self.scopes = tuple(scopes)
        self.required = required
        self.realm = realm

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", []))
        raw = headers.get(b"authorization")
        state = scope.setdefault("state", {})
        try:
            token = bearer_token(raw.decode("latin-1") if raw else None)
            state["token_claims"] = await self.verifier.verify_async(token, self.scopes)
        except MissingToken as exc:
            if self.required:
                await self._refuse(exc, send)
                return
            state["token_claims"] = None
        except VerificationError as exc:
            await self._refuse(exc, send)
            return
        await self.app(scope, receive, send)

    async def _refuse(self, exc: VerificationError, send: Send) -> None:
        body = json.dumps(exc.body()).encode("utf-8")
        await send(
            {
                "type": "http.response.start",
                "status": exc.status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"www-authenticate", exc.www_authenticate(self.realm).encode("latin-1")),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
