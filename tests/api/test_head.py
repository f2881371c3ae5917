"""HEAD is answered wherever GET is: the GET answer's status and headers, no body."""

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import bearer, join

# Headers that differ between two answers by nature, not because HEAD differs from GET.
PER_ANSWER = {"x-request-id", "date"}


@pytest.mark.parametrize(
    "path",
    [
        "/health",
        "/ready",
        "/",
        "/.well-known/jwks.json",
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
        "/openapi.json",
        "/docs",
        "/redoc",
        "/ui/app.js",
        "/favicon.ico",
        "/docs-assets/swagger-ui.css",
    ],
)
async def test_head_answers_like_get_without_a_body(client: httpx.AsyncClient, path: str) -> None:
    get = await client.get(path)
    head = await client.head(path)
    assert get.status_code == 200
    assert head.status_code == 200
    assert head.content == b""
    assert {k: v for k, v in head.headers.items() if k not in PER_ANSWER} == {
        k: v for k, v in get.headers.items() if k not in PER_ANSWER
    }
    assert int(head.headers["content-length"]) == len(get.content)


async def test_head_me_without_a_token_is_the_same_401(client: httpx.AsyncClient) -> None:
    head = await client.head("/me")
    assert head.status_code == 401
    assert head.headers["www-authenticate"] == (await client.get("/me")).headers["www-authenticate"]
    assert head.content == b""


async def test_head_auth_checks_the_token_like_get(client: httpx.AsyncClient) -> None:
    tokens = await join(client, "Minsu")
    for _ in range(2):  # the second time, GET has cached the token for the fast path
        checked = await client.head("/auth", headers=bearer(tokens["access_token"]))
        assert checked.status_code == 200
        assert checked.headers["x-auth-user"] == "Minsu"
        assert checked.headers["x-auth-scope"] == "profile"
        assert checked.content == b""
        await client.get("/auth", headers=bearer(tokens["access_token"]))
    refused = await client.head("/auth", headers=bearer("a.b.c"))
    assert refused.status_code == 401
    assert 'error="invalid_token"' in refused.headers["www-authenticate"]
    assert refused.content == b""


async def test_head_where_only_post_is_served_is_405(client: httpx.AsyncClient) -> None:
    refused = await client.head("/login")
    assert refused.status_code == 405
    assert refused.headers["allow"] == "POST"
    assert refused.content == b""


async def test_metrics_say_head(client: httpx.AsyncClient, app: FastAPI) -> None:
    await client.head("/health")
    rendered = app.state.services.metrics.render().decode()
    assert 'method="HEAD",route="/health",status="200"' in rendered
