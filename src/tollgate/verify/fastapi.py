"""FastAPI: `Depends(require_token("scope", verifier=verifier))` gives the verified Claims.

Without `verifier=`, the dependency uses `app.state.tollgate_verifier`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import HTTPException, Request

from tollgate.verify.bearer import bearer_token
from tollgate.verify.errors import VerificationError
from tollgate.verify.verifier import Claims, Verifier


def require_token(
    *scopes: str, verifier: Verifier | None = None, realm: str = "api"
) -> Callable[[Request], Awaitable[Claims]]:
    async def dependency(request: Request) -> Claims:
        chosen: Verifier = verifier or request.app.state.tollgate_verifier
        try:
            token = bearer_token(request.headers.get("authorization"))
            return await chosen.verify_async(token, scopes)
        except VerificationError as exc:
            raise HTTPException(
                exc.status,
                detail=exc.body(),
                headers={"WWW-Authenticate": exc.www_authenticate(realm)},
            ) from exc

    return dependency
