"""FastAPI: `Depends(require_token("scope"))` gives the verified Claims.

Call `install(app, verifier)` once: refused tokens are then answered like everywhere
else, `{"error", "error_description"}` with `WWW-Authenticate` (RFC 6750 §3), and
`require_token()` uses that verifier unless it is given its own with `verifier=`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse

from tollgate.verify.errors import VerificationError
from tollgate.verify.verifier import Claims, Verifier


class TokenRefused(HTTPException):
    """Why require_token refused the request. An HTTPException, so that an app without
    install() still answers with the right status and challenge (in FastAPI's
    `{"detail": ...}` body)."""

    def __init__(self, error: VerificationError, realm: str) -> None:
        super().__init__(
            error.status,
            detail=error.body(),
            headers=error.headers(realm),
        )
        self.error = error


async def answer_refused_token(request: Request, exc: Exception) -> JSONResponse:
    """The flat error body, the status and the RFC 6750 challenge of a TokenRefused."""
    if not isinstance(exc, TokenRefused):  # registered for TokenRefused only
        raise exc
    return JSONResponse(exc.error.body(), status_code=exc.status_code, headers=exc.headers)


def install(app: FastAPI, verifier: Verifier | None = None) -> None:
    """Answer refused tokens in the flat error shape; make `verifier` the default one."""
    app.add_exception_handler(TokenRefused, answer_refused_token)
    if verifier is not None:
        app.state.tollgate_verifier = verifier


def require_token(
    *scopes: str, verifier: Verifier | None = None, realm: str = "api"
) -> Callable[[Request], Awaitable[Claims]]:
    async def dependency(request: Request) -> Claims:
        chosen: Verifier = verifier or request.app.state.tollgate_verifier
        try:
            return await chosen.verify_request_async(
                request.headers.get("authorization"),
                method=request.method,
                url=str(request.url),
                dpop=request.headers.getlist("dpop"),
                scopes=scopes,
            )
        except VerificationError as exc:
            raise TokenRefused(exc, realm) from exc

    return dependency
