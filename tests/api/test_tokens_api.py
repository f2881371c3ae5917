"""Sign-up, login, refresh and the OAuth 2.0 token endpoint over in-process HTTP."""

import uuid

import httpx
import jwt
import pytest

from tests.conftest import ISSUER, PASSWORD, bearer, join

TOKEN_KEYS = {
    "access_token",
    "token_type",
    "expires_in",
    "refresh_token",
    "refresh_expires_in",
    "scope",
}


def assert_token_response(response: httpx.Response, status: int = 200) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["pragma"] == "no-cache"
    body: dict[str, object] = response.json()
    assert body.keys() >= TOKEN_KEYS
    assert body["token_type"] == "Bearer"
    return body


async def test_join_returns_user_and_tokens(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/join", json={"username": "Minsu", "password": PASSWORD, "email": "minsu@example.org"}
    )
    body = assert_token_response(response, 201)
    user = body["user"]
    assert isinstance(user, dict)
    assert user["username"] == "Minsu"
    assert user["email"] == "minsu@example.org"
    assert user["scope"] == "profile"
    uuid.UUID(user["id"])
    claims = jwt.decode(str(body["access_token"]), options={"verify_signature": False})
    assert claims["sub"] == user["id"]
    assert claims["iss"] == ISSUER
    assert claims["aud"] == "tollgate"
    assert claims["username"] == "Minsu"


async def test_names_are_unique_case_insensitively(client: httpx.AsyncClient) -> None:
    await join(client, "Minsu")
    for variant in ("minsu", "MINSU", "ＭＩＮＳＵ"):
        response = await client.post("/join", json={"username": variant, "password": PASSWORD})
        assert response.status_code == 409
        assert response.json()["error"] == "username_taken"


async def test_weak_password_is_refused_with_a_reason(client: httpx.AsyncClient) -> None:
    response = await client.post("/join", json={"username": "minsu", "password": "password1"})
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "invalid_request"
    assert "guess" in body["fields"]["password"]


async def test_invalid_email_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/join", json={"username": "minsu", "password": PASSWORD, "email": "not-an-email"}
    )
    assert response.status_code == 422
    assert "email" in response.json()["fields"]


async def test_login_with_any_case(client: httpx.AsyncClient) -> None:
    await join(client, "Minsu")
    response = await client.post("/login", json={"username": "MINSU", "password": PASSWORD})
    body = assert_token_response(response)
    assert body["expires_in"] == 600
    assert body["refresh_expires_in"] == 1_209_600


async def test_unknown_user_and_wrong_password_look_the_same(client: httpx.AsyncClient) -> None:
    await join(client)
    wrong = await client.post("/login", json={"username": "minsu", "password": "nope-nope-1"})
    unknown = await client.post("/login", json={"username": "nobody", "password": "nope-nope-1"})
    assert wrong.status_code == unknown.status_code == 401
    assert (
        wrong.json()
        == unknown.json()
        == {
            "error": "invalid_grant",
            "error_description": "The username or password is incorrect.",
        }
    )
    drop = {"content-length", "date", "x-request-id"}
    assert {k: v for k, v in wrong.headers.items() if k not in drop} == {
        k: v for k, v in unknown.headers.items() if k not in drop
    }
    assert wrong.headers["www-authenticate"] == 'Bearer realm="tollgate"'


async def test_login_scope_within_grant(client: httpx.AsyncClient) -> None:
    await join(client)
    ok = await client.post(
        "/login", json={"username": "minsu", "password": PASSWORD, "scope": "profile"}
    )
    assert ok.json()["scope"] == "profile"
    wider = await client.post(
        "/login", json={"username": "minsu", "password": PASSWORD, "scope": "admin"}
    )
    assert wider.status_code == 400
    assert wider.json()["error"] == "invalid_scope"


async def test_refresh_rotates_and_old_token_is_then_a_replay(client: httpx.AsyncClient) -> None:
    tokens = await join(client)
    first = await client.post("/refresh", json={"refresh_token": tokens["refresh_token"]})
    rotated = assert_token_response(first)
    assert rotated["refresh_token"] != tokens["refresh_token"]
    me = await client.get("/me", headers=bearer(str(rotated["access_token"])))
    assert me.status_code == 200

    # The old token sent again within the reuse interval (10 s) is a replay: it gets the
    # current pair back, not a new rotation.
    replay = assert_token_response(
        await client.post("/refresh", json={"refresh_token": tokens["refresh_token"]})
    )
    assert jti(str(replay["refresh_token"])) == jti(str(rotated["refresh_token"]))

    # Once rotated again, the first token is no longer the previous one: theft. The
    # whole session ends, for the newest tokens too.
    newest = assert_token_response(
        await client.post("/refresh", json={"refresh_token": rotated["refresh_token"]})
    )
    stolen = await client.post("/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert stolen.status_code == 401
    assert stolen.json()["error"] == "invalid_grant"
    after = await client.post("/refresh", json={"refresh_token": newest["refresh_token"]})
    assert after.status_code == 401
    assert (await client.get("/me", headers=bearer(str(newest["access_token"])))).status_code == 401


def jti(token: str) -> str:
    return str(jwt.decode(token, options={"verify_signature": False})["jti"])


async def test_refresh_with_access_token_is_refused(client: httpx.AsyncClient) -> None:
    tokens = await join(client)
    response = await client.post("/refresh", json={"refresh_token": tokens["access_token"]})
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_grant"
    assert response.headers["www-authenticate"].startswith("Bearer realm=")


async def test_refresh_token_is_not_an_access_token(client: httpx.AsyncClient) -> None:
    tokens = await join(client)
    response = await client.get("/me", headers=bearer(tokens["refresh_token"]))
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


class TestTokenEndpoint:
    async def test_password_grant_form_encoded(self, client: httpx.AsyncClient) -> None:
        await join(client)
        response = await client.post(
            "/auth", data={"grant_type": "password", "username": "minsu", "password": PASSWORD}
        )
        assert_token_response(response)

    async def test_password_grant_json(self, client: httpx.AsyncClient) -> None:
        await join(client)
        response = await client.post(
            "/auth", json={"grant_type": "password", "username": "minsu", "password": PASSWORD}
        )
        assert_token_response(response)

    async def test_refresh_grant_with_narrowing(self, client: httpx.AsyncClient) -> None:
        tokens = await join(client)
        response = await client.post(
            "/auth",
            data={
                "grant_type": "refresh_token",
                "refresh_token": tokens["refresh_token"],
                "scope": "profile",
            },
        )
        assert assert_token_response(response)["scope"] == "profile"

    async def test_grant_errors_are_400_per_rfc6749(self, client: httpx.AsyncClient) -> None:
        await join(client)
        wrong = await client.post(
            "/auth", data={"grant_type": "password", "username": "minsu", "password": "x" * 9}
        )
        assert wrong.status_code == 400
        assert wrong.json()["error"] == "invalid_grant"
        bad_refresh = await client.post(
            "/auth", data={"grant_type": "refresh_token", "refresh_token": "garbage"}
        )
        assert bad_refresh.status_code == 400
        assert bad_refresh.json()["error"] == "invalid_grant"

    @pytest.mark.parametrize(
        ("data", "error"),
        [
            ({"grant_type": "implicit"}, "unsupported_grant_type"),
            (
                {"grant_type": "urn:ietf:params:oauth:grant-type:device_code"},
                "unsupported_grant_type",
            ),
            ({"grant_type": "authorization_code", "code": "x"}, "invalid_request"),
            ({"username": "minsu"}, "invalid_request"),
            ({"grant_type": "password", "username": "minsu"}, "invalid_request"),
            ({"grant_type": "refresh_token"}, "invalid_request"),
        ],
    )
    async def test_request_errors(
        self, client: httpx.AsyncClient, data: dict[str, str], error: str
    ) -> None:
        response = await client.post("/auth", data=data)
        assert response.status_code == 400
        assert response.json()["error"] == error

    async def test_repeated_parameter_is_invalid(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            "/auth",
            content="grant_type=password&username=a&username=b&password=x",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert response.status_code == 400
        assert (
            response.json()["error_description"]
            == "The parameter \u201cusername\u201d is repeated."
        )

    @pytest.mark.parametrize(
        ("content", "content_type"),
        [
            ("{not json", "application/json"),
            ("[1, 2]", "application/json"),
            ("grant_type=password", "text/plain"),
            ('{"grant_type": 5}', "application/json"),
        ],
    )
    async def test_malformed_bodies(
        self, client: httpx.AsyncClient, content: str, content_type: str
    ) -> None:
        response = await client.post(
            "/auth", content=content, headers={"Content-Type": content_type}
        )
        assert response.status_code == 400
        assert response.json()["error"] == "invalid_request"
