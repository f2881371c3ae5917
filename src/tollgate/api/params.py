"""OAuth 2.0 endpoint parameters (form-encoded, or JSON) and client credentials."""

from __future__ import annotations

import base64
import binascii
from typing import Any
from urllib.parse import unquote_plus

from fastapi import Request

from tollgate.errors import InvalidClient, InvalidRequest
from tollgate.services.clients import ClientCredentials

FORM = "application/x-www-form-urlencoded"


async def oauth_params(request: Request) -> dict[str, Any]:
    """RFC 6749 §4.3.2 form parameters, or the same names as a JSON object."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == FORM:
        form = await request.form()
        params: dict[str, Any] = {}
        for name in form:
            values = form.getlist(name)
            # RFC 6749 §3.2: parameters must not be included more than once.
            if len(values) > 1:
                raise InvalidRequest(f"The parameter \u201c{name}\u201d is repeated.")
            params[name] = values[0]
        return params
    if content_type == "application/json" or content_type.endswith("+json"):
        try:
            data = await request.json()
        except ValueError as exc:
            raise InvalidRequest("The request body is not valid JSON.") from exc
        if not isinstance(data, dict):
            raise InvalidRequest("The request body must be a JSON object.")
        return data
    raise InvalidRequest(f"Send the parameters as {FORM} or application/json.")


def client_credentials(request: Request, params: dict[str, Any]) -> tuple[str, str] | None:
    """RFC 6749 §2.3.1: HTTP Basic (form-urlencoded id and secret) or body parameters."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise InvalidClient("The Basic credentials are malformed.") from exc
        client_id, sep, secret = decoded.partition(":")
        if not sep:
            raise InvalidClient("The Basic credentials are malformed.")
        return unquote_plus(client_id), unquote_plus(secret)
    posted_id, posted_secret = params.get("client_id"), params.get("client_secret")
    if isinstance(posted_id, str) and isinstance(posted_secret, str):
        return posted_id, posted_secret
    return None


def token_client(request: Request, params: dict[str, Any]) -> ClientCredentials | None:
    """How a client identifies itself at the token endpoint: `client_secret_basic`,
    `client_secret_post`, or `none` (its `client_id` alone: a public client, RFC 6749
    §2.1); None when it does not. RFC 6749 §2.3: one method per request."""
    posted_id, posted_secret = params.get("client_id"), params.get("client_secret")
    if request.headers.get("authorization", "").partition(" ")[0].lower() == "basic":
        if posted_secret is not None:
            raise InvalidRequest("Send the client credentials one way: Basic or the body.")
        basic = client_credentials(request, {})
        assert basic is not None
        if isinstance(posted_id, str) and posted_id != basic[0]:
            raise InvalidRequest("client_id differs from the Basic credentials' client.")
        return ClientCredentials(basic[0], basic[1], "client_secret_basic")
    if posted_secret is not None and not isinstance(posted_secret, str):
        raise InvalidRequest("client_secret must be a string.")
    if not isinstance(posted_id, str) or not posted_id:
        if posted_secret is not None:
            raise InvalidRequest("client_secret needs client_id.")
        return None
    if posted_secret is None:
        return ClientCredentials(posted_id, None, "none")
    return ClientCredentials(posted_id, posted_secret, "client_secret_post")
