"""The one place where errors become HTTP answers (API.md "Conventions").

Body: {"error", "error_description"} (RFC 6749 §5.2), plus "fields" on 422.
401s carry `WWW-Authenticate: Bearer realm="tollgate"` (RFC 6750 §3).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from limits.errors import StorageError
from starlette.exceptions import HTTPException as StarletteHTTPException

from tollgate.api import field_messages
from tollgate.errors import (
    InvalidClient,
    InvalidInput,
    InvalidRequest,
    OAuthError,
    ServiceUnavailable,
    TollgateError,
)
from tollgate.store.records import StoreUnavailable, Unstorable

log = logging.getLogger("tollgate.api")

Handler = Callable[[Request, Exception], Awaitable[JSONResponse]]

REALM = "tollgate"
# What FastAPI raises when reading a body fails with anything but a JSON syntax error.
FASTAPI_BODY_PARSE_ERROR = "There was an error parsing the body"
HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 413: "invalid_request"}


def error_response(
    status: int, error: str, description: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """The error shape for what is refused before any route runs (ASGI middleware, routing)."""
    body = {"error": error, "error_description": description}
    return JSONResponse(body, status_code=status, headers=headers)


async def oauth_error(request: Request, exc: Exception) -> JSONResponse:
    """Every error of ours renders itself (status, body, headers)."""
    assert isinstance(exc, OAuthError)
    return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers(REALM))


class TokenEndpointRoute(APIRoute):
    """The routes of the OAuth 2.0 token endpoints (POST /auth, /revoke, /introspect).

    RFC 6749 §5.2: there a refused grant or a malformed request is answered 400, and only
    client authentication failure (invalid_client) stays 401. This is the one place that
    knows; the route table registers those routes with this class.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def answer(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                raise as_client_error(InvalidInput(validation_fields(exc))) from exc
            except OAuthError as exc:
                as_client_error(exc)  # the same error, answered as RFC 6749 asks
                raise

        return answer


def as_client_error(exc: OAuthError) -> OAuthError:
    if exc.status in (401, 422) and not isinstance(exc, InvalidClient):
        exc.status = 400
    return exc


def _field_name(loc: tuple[int | str, ...]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header"):
        rest = parts[1:]
        return ".".join(rest) if rest else parts[0]
    return ".".join(parts) or "body"


def validation_fields(exc: RequestValidationError) -> dict[str, str]:
    """One sentence per field that names it: no "field: " prefixes to read past."""
    fields: dict[str, str] = {}
    for error in exc.errors():
        if error.get("type") == "json_invalid":
            fields = {field_messages.BODY: field_messages.NOT_JSON}
            break
        name = _field_name(tuple(error.get("loc", ())))
        if name not in fields:
            fields[name] = field_messages.sentence(name, error)
    return fields


async def validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return await oauth_error(request, InvalidInput(validation_fields(exc)))


async def http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400 and exc.detail == FASTAPI_BODY_PARSE_ERROR:
        # Bodies json.loads cannot take at all (not UTF-8, nested past recursion): the same
        # answer as any other malformed JSON.
        return await oauth_error(
            request, InvalidInput({field_messages.BODY: field_messages.NOT_JSON})
        )
    code = HTTP_CODES.get(exc.status_code, "invalid_request")
    description = "No such route." if exc.status_code == 404 else str(exc.detail)
    return error_response(exc.status_code, code, description, exc.headers)


async def database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    log.warning("database unavailable: %s", type(exc).__name__)
    return await oauth_error(request, ServiceUnavailable())


async def limits_unavailable(request: Request, exc: Exception) -> JSONResponse:
    log.warning("rate-limit storage unavailable: %s", type(exc).__name__)
    return await oauth_error(request, ServiceUnavailable())


async def unstorable_input(request: Request, exc: Exception) -> JSONResponse:
    # A safety net: input the database refuses (e.g. U+0000 in PostgreSQL text) is the
    # client's problem, not a server error.
    log.warning("database refused input on %s %s", request.method, request.url.path)
    refused = InvalidRequest("The request holds characters or values that cannot be stored.")
    return await oauth_error(request, refused)


async def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    # Logged in full here; the client sees no trace, SQL or secret.
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return await oauth_error(request, TollgateError())


# The one table of what answers which exception; the full app installs it, and the lean
# paths render through it, so both give the same answer.
HANDLERS: tuple[tuple[type[Exception], Handler], ...] = (
    (OAuthError, oauth_error),
    (RequestValidationError, validation_error),
    (StarletteHTTPException, http_error),
    (Unstorable, unstorable_input),
    (StoreUnavailable, database_unavailable),
    (ConnectionError, database_unavailable),
    # Redis (shared rate limits) unreachable: refuse with 503 rather than skip the limits.
    (StorageError, limits_unavailable),
    (Exception, unexpected_error),
)


async def render_error(request: Request, exc: Exception) -> JSONResponse:
    """What the app answers to `exc`, as its exception handlers would."""
    for kind, handler in HANDLERS:
        if isinstance(exc, kind):
            return await handler(request, exc)
    raise exc  # not an Exception subclass: nothing to answer with


def install(app: FastAPI) -> None:
    for kind, handler in HANDLERS:
        app.add_exception_handler(kind, handler)
