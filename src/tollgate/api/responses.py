"""Shaping successful answers, and the documented error responses of each route."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from tollgate.api.cookies import new_csrf_token, set_session_cookies
from tollgate.api.schemas import ErrorBody, TokenResponse
from tollgate.services.grants import TokenPair

# RFC 6749 §5.1: token responses must not be cached.
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def token_body(pair: TokenPair) -> TokenResponse:
    return TokenResponse.model_validate(pair, from_attributes=True)


def no_store_json(body: Any, status_code: int = 200) -> JSONResponse:
    return JSONResponse(jsonable_encoder(body), status_code=status_code, headers=NO_STORE)


def token_answer(
    body: TokenResponse, pair: TokenPair, cookies: bool, status_code: int = 200
) -> JSONResponse:
    """A token response; with cookies the refresh token moves into its cookie."""
    if not cookies:
        return no_store_json(body.model_dump(mode="json", exclude={"csrf_token"}), status_code)
    csrf = new_csrf_token()
    payload = body.model_dump(mode="json", exclude={"refresh_token"}) | {"csrf_token": csrf}
    response = no_store_json(payload, status_code)
    set_session_cookies(response, pair.refresh_token, pair.refresh_expires_in, csrf)
    return response


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries for the error statuses a route can answer with."""
    descriptions = {
        400: "Malformed request, or an OAuth 2.0 error (RFC 6749 §5.2)",
        401: "Missing, invalid, expired or revoked credentials",
        403: "Valid credentials without the right",
        404: "Not found",
        409: "Conflict",
        413: "Request body over 64 KiB",
        422: "Invalid input; `fields` says which and why",
        429: "Too many requests or failed logins; see Retry-After",
        503: "The database is unreachable",
    }
    return {s: {"model": ErrorBody, "description": descriptions[s]} for s in statuses}


def header_safe(value: str) -> str:
    """HTTP header values are Latin-1; non-ASCII names travel percent-encoded (RFC 3986)."""
    return quote(value, safe="@.+-_~")
