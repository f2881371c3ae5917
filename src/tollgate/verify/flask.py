"""Flask: `@require_token(verifier, "scope")` puts the verified Claims in `flask.g.token_claims`."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from flask import g, jsonify, request

from tollgate.verify.bearer import bearer_token
from tollgate.verify.errors import VerificationError
from tollgate.verify.verifier import Verifier

F = TypeVar("F", bound=Callable[..., Any])


def require_token(verifier: Verifier, *scopes: str, realm: str = "api") -> Callable[[F], F]:
    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                token = bearer_token(request.headers.get("Authorization"))
                g.token_claims = verifier.verify(token, scopes)
            except VerificationError as exc:
                response = jsonify(exc.body())
                response.status_code = exc.status
                response.headers["WWW-Authenticate"] = exc.www_authenticate(realm)
                return response
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate
