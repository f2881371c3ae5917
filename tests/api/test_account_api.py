"""Using tokens: the gateway check, /me, logout, sessions, password change, JWKS, health."""

from collections.abc import Callable
from typing import Any

import httpx
import jwt
import pytest

from tests.conftest import OTHER_PASSWORD, PASSWORD, bearer, join
from tollgate.app import create_app
from tollgate.services.passwords import PasswordHasher
from tollgate.settings import Settings


async def login(client: httpx.AsyncClient, username: str = "minsu") -> dict[str, str]:
    response = await client.post("/login", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    body: dict[str, str] = response.json()
    return body


async def test_gateway_check_answers_with_headers(client: httpx.AsyncClient) -> None:
    tokens = await join(client, "Minsu")
    response = await client.get("/auth", headers=bearer(tokens["access_token"]))
    assert response.status_code == 200
    body = response.json()
    assert body["username"] == "Minsu"
    assert body["sub"] == tokens["user"]["id"]
    assert body["scope"] == "profile"
    assert response.headers["x-auth-user"] == "Minsu"
    assert response.headers["x-auth-subject"] == tokens["user"]["id"]
    assert response.headers["x-auth-scope"] == "profile"


async def test_gateway_check_percent_encodes_non_ascii_names(client: httpx.AsyncClient) -> None:
    tokens = await join(client, "김민수")
    response = await client.get("/auth", headers=bearer(tokens["access_token"]))
    assert response.headers["x-auth-user"] == "%EA%B9%80%EB%AF%BC%EC%88%98"
    assert response.json()["username"] == "김민수"


async def test_gateway_check_scope_requirement(client: httpx.AsyncClient) -> None:
    tokens = await join(client)
    ok = await client.get("/auth?scope=profile", headers=bearer(tokens["access_token"]))
    assert ok.status_code == 200
    missing = await client.get(
        "/auth", params={"scope": "profile admin"}, headers=bearer(tokens["access_token"])
    )
    assert missing.status_code == 403
    assert missing.json()["error"] == "insufficient_scope"
    assert 'error="insufficient_scope"' in missing.headers["www-authenticate"]
    assert 'scope="admin"' in missing.headers["www-authenticate"]


async def test_no_token_is_a_plain_challenge(client: httpx.AsyncClient) -> None:
    response = await client.get("/auth")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="tollgate"'
    assert response.json()["error"] == "invalid_token"


@pytest.mark.parametrize(
    "authorization",
    [
        "Basic dXNlcjpwYXNz",
        "Bearer",
        "Bearer ",
        "Bearer not.a.jwt",
        "Bearer \u00e9\u00e9",
        "Token abc",
    ],
)
async def test_bad_authorization_headers(client: httpx.AsyncClient, authorization: str) -> None:
    response = await client.get("/me", headers={"Authorization": authorization.encode("latin-1")})
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith('Bearer realm="tollgate"')


async def test_token_in_query_string_is_ignored(client: httpx.AsyncClient) -> None:
    tokens = await join(client)
    response = await client.get("/me", params={"access_token": tokens["access_token"]})
    assert response.status_code == 401


async def test_me(client: httpx.AsyncClient) -> None:
    tokens = await join(client, "Minsu")
    response = await client.get("/me", headers=bearer(tokens["access_token"]))
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == tokens["user"]["id"]
    assert body["username"] == "Minsu"
    assert body["email"] is None
    assert body["scope"] == "profile"
    assert "created_at" in body
    assert "password_hash" not in body


async def test_logout_ends_this_session_only(client: httpx.AsyncClient) -> None:
    first = await join(client)
    second = await login(client)
    assert (await client.post("/logout", headers=bearer(first["access_token"]))).status_code == 204
    assert (await client.get("/me", headers=bearer(first["access_token"]))).status_code == 401
    refused = await client.post("/refresh", json={"refresh_token": first["refresh_token"]})
    assert refused.status_code == 401
    assert (await client.get("/me", headers=bearer(second["access_token"]))).status_code == 200


async def test_logout_all(client: httpx.AsyncClient) -> None:
    first = await join(client)
    second = await login(client)
    response = await client.post(
        "/logout", json={"all": True}, headers=bearer(first["access_token"])
    )
    assert response.status_code == 204
    for tokens in (first, second):
        assert (
            await client.get("/auth", headers=bearer(tokens["access_token"]))
        ).status_code == 401


async def live(client: httpx.AsyncClient, tokens: dict[str, Any]) -> bool:
    return (await client.get("/me", headers=bearer(tokens["access_token"]))).status_code == 200


async def test_logout_with_refresh_token_of_another_session_ends_only_that_one(
    client: httpx.AsyncClient,
) -> None:
    first = await join(client)
    second = await login(client)
    response = await client.post(
        "/logout",
        json={"refresh_token": second["refresh_token"]},
        headers=bearer(first["access_token"]),
    )
    assert response.status_code == 204
    assert not await live(client, second)
    # The bearer's own session was not named, so it goes on.
    assert await live(client, first)


async def test_logout_with_only_a_refresh_token_ends_its_session(
    client: httpx.AsyncClient,
) -> None:
    first = await join(client)
    second = await login(client)
    response = await client.post("/logout", json={"refresh_token": first["refresh_token"]})
    assert response.status_code == 204
    assert not await live(client, first)
    refused = await client.post("/refresh", json={"refresh_token": first["refresh_token"]})
    assert refused.status_code == 401
    assert await live(client, second)


async def test_logout_all_with_only_a_refresh_token(client: httpx.AsyncClient) -> None:
    first = await join(client)
    second = await login(client)
    other = await join(client, "jiwoo")
    response = await client.post(
        "/logout", json={"refresh_token": first["refresh_token"], "all": True}
    )
    assert response.status_code == 204
    assert not await live(client, first)
    assert not await live(client, second)
    assert await live(client, other)


async def test_logout_with_a_forged_refresh_token_and_no_bearer(client: httpx.AsyncClient) -> None:
    tokens = await join(client)
    forged = tokens["refresh_token"][:-4] + "AAAA"
    response = await client.post("/logout", json={"refresh_token": forged})
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_grant"
    assert await live(client, tokens)


async def test_logout_with_nothing_is_a_401_challenge(client: httpx.AsyncClient) -> None:
    response = await client.post("/logout")
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith('Bearer realm="tollgate"')


async def test_logout_cannot_end_someone_elses_session(client: httpx.AsyncClient) -> None:
    mine = await join(client, "minsu")
    theirs = await join(client, "jiwoo")
    response = await client.post(
        "/logout",
        json={"refresh_token": theirs["refresh_token"]},
        headers=bearer(mine["access_token"]),
    )
    assert response.status_code == 401
    assert (await client.get("/me", headers=bearer(theirs["access_token"]))).status_code == 200


async def test_logout_all_must_be_a_real_boolean(client: httpx.AsyncClient) -> None:
    tokens = await join(client)
    response = await client.post(
        "/logout", json={"all": "yes"}, headers=bearer(tokens["access_token"])
    )
    assert response.status_code == 422
    assert "all" in response.json()["fields"]


async def test_sessions_list_and_revoke(client: httpx.AsyncClient) -> None:
    first = await join(client)
    second = await login(client)
    listed = await client.get("/sessions", headers=bearer(first["access_token"]))
    assert listed.status_code == 200
    sessions = listed.json()
    assert len(sessions) == 2
    current = [s for s in sessions if s["current"]]
    assert len(current) == 1
    assert current[0]["ip"] == "203.0.113.7"
    assert current[0]["user_agent"].startswith("python-httpx")
    other_id = jwt.decode(second["access_token"], options={"verify_signature": False})["sid"]
    deleted = await client.delete(f"/sessions/{other_id}", headers=bearer(first["access_token"]))
    assert deleted.status_code == 204
    assert (await client.get("/me", headers=bearer(second["access_token"]))).status_code == 401
    again = await client.delete(f"/sessions/{other_id}", headers=bearer(first["access_token"]))
    assert again.status_code == 404
    remaining = (await client.get("/sessions", headers=bearer(first["access_token"]))).json()
    assert [s["current"] for s in remaining] == [True]


async def test_cannot_revoke_someone_elses_session(client: httpx.AsyncClient) -> None:
    mine = await join(client, "minsu")
    theirs = await join(client, "jiwoo")
    their_sid = jwt.decode(theirs["access_token"], options={"verify_signature": False})["sid"]
    response = await client.delete(f"/sessions/{their_sid}", headers=bearer(mine["access_token"]))
    assert response.status_code == 404
    assert (await client.get("/me", headers=bearer(theirs["access_token"]))).status_code == 200


@pytest.mark.parametrize("session_id", ["not-a-uuid", "1' OR '1'='1", "%00"])
async def test_malformed_session_ids_are_404(client: httpx.AsyncClient, session_id: str) -> None:
    tokens = await join(client)
    response = await client.delete(
        f"/sessions/{session_id}", headers=bearer(tokens["access_token"])
    )
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


async def test_password_change_revokes_other_sessions(client: httpx.AsyncClient) -> None:
    current = await join(client)
    other = await login(client)
    response = await client.post(
        "/password",
        json={"current_password": PASSWORD, "new_password": OTHER_PASSWORD},
        headers=bearer(current["access_token"]),
    )
    assert response.status_code == 204
    assert (await client.get("/me", headers=bearer(current["access_token"]))).status_code == 200
    assert (await client.get("/me", headers=bearer(other["access_token"]))).status_code == 401
    old = await client.post("/login", json={"username": "minsu", "password": PASSWORD})
    assert old.status_code == 401
    new = await client.post("/login", json={"username": "minsu", "password": OTHER_PASSWORD})
    assert new.status_code == 200


async def test_password_change_checks_current_and_policy(client: httpx.AsyncClient) -> None:
    tokens = await join(client)
    wrong = await client.post(
        "/password",
        json={"current_password": "wrong-wrong-1", "new_password": OTHER_PASSWORD},
        headers=bearer(tokens["access_token"]),
    )
    assert wrong.status_code == 401
    weak = await client.post(
        "/password",
        json={"current_password": PASSWORD, "new_password": "password1"},
        headers=bearer(tokens["access_token"]),
    )
    assert weak.status_code == 422
    assert "password" in weak.json()["fields"]


async def test_jwks_has_public_keys_only(client: httpx.AsyncClient) -> None:
    tokens = await join(client)
    response = await client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=300"  # JWKS_MAX_AGE
    keys = response.json()["keys"]
    kid = jwt.get_unverified_header(tokens["access_token"])["kid"]
    # The access-token key, and the RS256 key of ID tokens (OpenID Connect).
    assert [k["kid"] for k in keys if not k["kid"].startswith("idt-")] == [kid]
    assert [k["alg"] for k in keys if k["kid"].startswith("idt-")] == ["RS256"]
    assert all("d" not in k and "p" not in k for k in keys)
    key = next(k for k in keys if k["kid"] == kid)
    assert key["alg"] == "ES256"
    assert key["use"] == "sig"
    assert "d" not in key
    public = jwt.PyJWK(key)
    claims = jwt.decode(tokens["access_token"], public, algorithms=["ES256"], audience="tollgate")
    assert claims["username"] == "minsu"


async def test_jwks_max_age_is_the_setting(
    make_settings: Callable[..., Settings], hasher: PasswordHasher
) -> None:
    app = create_app(make_settings(jwks_max_age=42), hasher)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            response = await http.get("/.well-known/jwks.json")
    assert response.headers["cache-control"] == "public, max-age=42"


async def test_health(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_new_password_equal_to_the_current_one_is_refused(
    client: httpx.AsyncClient,
) -> None:
    tokens = await join(client)
    other = await login(client)
    same = await client.post(
        "/password",
        json={"current_password": PASSWORD, "new_password": PASSWORD},
        headers=bearer(tokens["access_token"]),
    )
    assert same.status_code == 422
    assert same.json() == {
        "error": "invalid_request",
        "error_description": "The new password must differ from the current one.",
        "fields": {"new_password": "The new password must differ from the current one."},
    }
    # Nothing changed: the other session lives on.
    assert (await client.get("/me", headers=bearer(other["access_token"]))).status_code == 200


async def test_delete_me_needs_the_password(client: httpx.AsyncClient) -> None:
    tokens = await join(client)
    wrong = await client.request(
        "DELETE",
        "/me",
        json={"password": OTHER_PASSWORD},
        headers=bearer(tokens["access_token"]),
    )
    assert wrong.status_code == 401
    assert wrong.json() == {
        "error": "invalid_grant",
        "error_description": "The password is incorrect.",
    }
    assert wrong.headers["www-authenticate"].startswith("Bearer")
    missing = await client.request("DELETE", "/me", headers=bearer(tokens["access_token"]))
    assert missing.status_code == 422
    assert (await client.get("/me", headers=bearer(tokens["access_token"]))).status_code == 200
    unauthenticated = await client.request("DELETE", "/me", json={"password": PASSWORD})
    assert unauthenticated.status_code == 401


async def test_delete_me_ends_everything_and_frees_the_name(client: httpx.AsyncClient) -> None:
    tokens = await join(client)
    other = await login(client)
    # The token is checked (and cached) before, as a gateway would.
    assert (await client.get("/auth", headers=bearer(tokens["access_token"]))).status_code == 200
    deleted = await client.request(
        "DELETE", "/me", json={"password": PASSWORD}, headers=bearer(tokens["access_token"])
    )
    assert deleted.status_code == 204
    assert deleted.content == b""
    for pair in (tokens, other):
        assert (await client.get("/auth", headers=bearer(pair["access_token"]))).status_code == 401
        assert (await client.get("/me", headers=bearer(pair["access_token"]))).status_code == 401
        refreshed = await client.post("/refresh", json={"refresh_token": pair["refresh_token"]})
        assert refreshed.status_code == 401
        assert refreshed.json()["error"] == "invalid_grant"
    gone = await client.post("/login", json={"username": "minsu", "password": PASSWORD})
    assert gone.status_code == 401
    again = await join(client, "MINSU")
    assert again["user"]["id"] != tokens["user"]["id"]
