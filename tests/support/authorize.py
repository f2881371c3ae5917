"""Helpers for tests of the authorization endpoint: clients, PKCE, the pages' form tokens."""

from __future__ import annotations

import base64
import hashlib
import html
import re
import secrets
import uuid
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlencode, urlsplit

from tollgate.store.interfaces import ClientStore
from tollgate.store.records import ClientRecord

REDIRECT_URI = "https://app.example/callback"
POST_LOGOUT_URI = "https://app.example/bye"
LOOPBACK_URI = "http://127.0.0.1:8080/callback"


def pkce() -> tuple[str, str]:
    """(verifier, S256 challenge) per RFC 7636 §4.1-§4.2."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


async def add_client(
    store: ClientStore,
    *,
    name: str = "Photo Shop",
    redirect_uris: tuple[str, ...] = (REDIRECT_URI, LOOPBACK_URI),
    post_logout_redirect_uris: tuple[str, ...] = (POST_LOGOUT_URI,),
    scope: str = "openid profile email offline_access",
    trusted: bool = False,
) -> ClientRecord:
    client = ClientRecord(
        client_id=f"tgc_{uuid.uuid4().hex[:12]}",
        name=name,
        secret_hash=None,
        created_at=datetime.now(UTC),
        redirect_uris=redirect_uris,
        post_logout_redirect_uris=post_logout_redirect_uris,
        grant_types=("authorization_code", "refresh_token"),
        scope=scope,
        trusted=trusted,
    )
    await store.add(client)
    return client


def authorize_params(client: ClientRecord, **overrides: str | None) -> dict[str, str]:
    """A good authorization request; an override of None leaves that parameter out."""
    _, challenge = pkce()
    params: dict[str, str | None] = {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": REDIRECT_URI,
        "scope": "openid profile email",
        "state": "st-" + secrets.token_urlsafe(8),
        "nonce": "n-" + secrets.token_urlsafe(8),
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    params.update(overrides)
    return {k: v for k, v in params.items() if v is not None}


def authorize_url(client: ClientRecord, **overrides: str | None) -> str:
    return "/authorize?" + urlencode(authorize_params(client, **overrides))


def form_token(page: str, field: str = "request") -> str:
    match = re.search(rf'name="{field}" value="([^"]*)"', page)
    assert match, f"no {field} field in the page"
    return html.unescape(match.group(1))


def query_of(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
