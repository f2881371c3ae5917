"""Plain ASGI middleware: verified claims in `scope["state"]["token_claims"]`.

Requests without a token pass with `None` unless `required=True`; a bad token is
always answered 401 (or 403 for missing scopes) with an RFC 6750 challenge.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

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
        raw_headers = scope.get("headers", [])
        headers = dict(raw_headers)
        raw = headers.get(b"authorization")
        state = scope.setdefault("state", {})
        try:
            state["token_claims"] = await self.verifier.verify_request_async(
                raw.decode("latin-1") if raw else None,
                method=scope["method"],
                url=request_url(scope, headers),
                dpop=[v.decode("latin-1") for k, v in raw_headers if k == b"dpop"],
                scopes=self.scopes,
            )
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
                    *[
                        (name.lower().encode("latin-1"), value.encode("latin-1"))
                        for name, value in exc.headers(self.realm).items()
                    ],
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def request_url(scope: Scope, headers: dict[bytes, bytes]) -> str:
    """The URL the client addressed (scheme, host, path): what a DPoP proof's `htu` names.
    Behind a proxy, run the server so that it rewrites scheme and host (uvicorn's
    --proxy-headers with --forwarded-allow-ips)."""
    host = headers.get(b"host", b"").decode("latin-1")
    if not host:
        server = scope.get("server") or ("localhost", None)
        host = server[0] if server[1] is None else f"{server[0]}:{server[1]}"
    path = scope.get("root_path", "") + scope["path"]
    return f"{scope.get('scheme', 'http')}://{host}{path}"
