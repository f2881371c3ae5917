"""Flask: `@require_token(verifier, "scope")` puts the verified Claims in `flask.g.token_claims`."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from flask import g, jsonify, request

from tollgate.verify.errors import VerificationError
from tollgate.verify.verifier import Verifier

F = TypeVar("F", bound=Callable[..., Any])


def require_token(verifier: Verifier, *scopes: str, realm: str = "api") -> Callable[[F], F]:
    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                g.token_claims = verifier.verify_request(
                    request.headers.get("Authorization"),
                    method=request.method,
                    url=request.base_url,
                    dpop=request.headers.getlist("DPoP"),
                    scopes=scopes,
                )
            except VerificationError as exc:
                response = jsonify(exc.body())
                response.status_code = exc.status
                response.headers.update(exc.headers(realm))
                return response
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate
