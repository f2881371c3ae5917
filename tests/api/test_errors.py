"""Bad input of every kind gets a clear 4xx in the one error shape, never a 500."""

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.conftest import PASSWORD, bearer, join


def assert_error(response: httpx.Response, status: int, error: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body: dict[str, object] = response.json()
    assert body["error"] == error
    assert isinstance(body["error_description"], str)
    assert body["error_description"]
    assert "Traceback" not in response.text
    return body


async def test_unknown_route_is_json_404(client: httpx.AsyncClient) -> None:
    assert_error(await client.get("/nope"), 404, "not_found")


async def test_wrong_method_is_json_405(client: httpx.AsyncClient) -> None:
    assert_error(await client.put("/login", json={}), 405, "method_not_allowed")


async def test_body_over_64_kib_is_413(client: httpx.AsyncClient) -> None:
    big = {"username": "minsu", "password": "x" * (65 * 1024)}
    assert_error(await client.post("/join", json=big), 413, "invalid_request")


async def test_chunked_body_over_64_kib_is_413(client: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(70):
            yield b"x" * 1024

    response = await client.post(
        "/login", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert_error(response, 413, "invalid_request")


async def test_body_of_exactly_64_kib_is_read(client: httpx.AsyncClient) -> None:
    padding = "y" * (64 * 1024 - 60)
    body = f'{{"username": "minsu", "password": "pw", "pad": "{padding}"}}'
    body = body + " " * (64 * 1024 - len(body))
    response = await client.post(
        "/login", content=body, headers={"Content-Type": "application/json"}
    )
    assert_error(response, 401, "invalid_grant")


async def test_malformed_content_length(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/login",
        content=b"{}",
        headers={"Content-Length": "abc", "Content-Type": "application/json"},
    )
    assert response.status_code in (400, 422)


@pytest.mark.parametrize(
    "content",
    [
        b"{not json",
        b"",
        b"null",
        b"[]",
        b'"text"',
        b"\xff\xfe\x00garbage",
        b"[" * 20000,
        b'{"username": "minsu", "password": "\xff\xff"}',
    ],
)
async def test_malformed_json_is_422(client: httpx.AsyncClient, content: bytes) -> None:
    response = await client.post(
        "/login", content=content, headers={"Content-Type": "application/json"}
    )
    body = assert_error(response, 422, "invalid_request")
    assert isinstance(body["fields"], dict)


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"password": PASSWORD}, "username"),
        ({"username": "minsu"}, "password"),
        ({"username": 123, "password": PASSWORD}, "username"),
        ({"username": ["minsu"], "password": PASSWORD}, "username"),
        ({"username": "minsu", "password": None}, "password"),
        ({"username": "m" * 300, "password": PASSWORD}, "username"),
        ({"username": "minsu", "password": "p" * 1025}, "password"),
        ({"username": "minsu", "password": PASSWORD, "email": 5}, "email"),
        ({"username": "bidi\u202eevil", "password": PASSWORD}, "username"),
        ({"username": "ab", "password": PASSWORD}, "username"),
    ],
)
async def test_join_field_errors_name_the_field(
    client: httpx.AsyncClient, payload: dict[str, object], field: str
) -> None:
    body = assert_error(await client.post("/join", json=payload), 422, "invalid_request")
    fields = body["fields"]
    assert isinstance(fields, dict)
    assert field in fields


async def test_lone_surrogates_are_refused(client: httpx.AsyncClient) -> None:
    content = b'{"username": "minsu\\ud800", "password": "violet-harbor-kettle-42"}'
    response = await client.post(
        "/join", content=content, headers={"Content-Type": "application/json"}
    )
    body = assert_error(response, 422, "invalid_request")
    assert "username" in body["fields"]  # type: ignore[operator]


async def test_odd_but_valid_unicode_round_trips(client: httpx.AsyncClient) -> None:
    password = "🐋 고래가 춤춘다 \u0000 ﷺ"
    tokens = await join(client, "Ζωή.ü", password)
    response = await client.post("/login", json={"username": "ζωή.Ü", "password": password})
    assert response.status_code == 200
    me = await client.get("/me", headers=bearer(tokens["access_token"]))
    assert me.json()["username"] == "Ζωή.ü"


@pytest.mark.parametrize(
    "token",
    ["", "a.b.c", "eyJ" * 4000, "\u00ff" * 10, "e30.e30.", "..", "eyJhbGciOiJub25lIn0.e30."],
)
async def test_garbage_tokens_are_401(client: httpx.AsyncClient, token: str) -> None:
    for method, path in (("GET", "/auth"), ("GET", "/me"), ("GET", "/sessions")):
        response = await client.request(
            method, path, headers={"Authorization": f"Bearer {token}".encode("latin-1")}
        )
        assert_error(response, 401, "invalid_token")
    refresh = await client.post("/refresh", json={"refresh_token": token[:8192] or "x"})
    assert_error(refresh, 401, "invalid_grant")


async def test_refresh_token_field_over_limit(client: httpx.AsyncClient) -> None:
    response = await client.post("/refresh", json={"refresh_token": "x" * 9000})
    assert_error(response, 422, "invalid_request")
