"""DPoP (RFC 9449) at Tollgate's own routes: the attack table, with the tests' own proof
maker (tests/support/dpop.py), in-process against the app as servers run it."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import httpx
import jwt

from tests.conftest import ISSUER, PASSWORD, bearer, join
from tests.conftest import token_claims as claims
from tests.support.dpop import ProofKey

ME = f"{ISSUER}/me"


def dpop(token: str, proof: str) -> dict[str, str]:
    return {"Authorization": f"DPoP {token}", "DPoP": proof}


async def bound_login(
    client: httpx.AsyncClient, key: ProofKey, name: str = "minsu"
) -> dict[str, Any]:
    await join(client, name)
    response = await client.post(
        "/login",
        json={"username": name, "password": PASSWORD},
        headers={"DPoP": key.proof("POST", f"{ISSUER}/login")},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_a_proof_at_login_binds_both_tokens(client: httpx.AsyncClient) -> None:
    key = ProofKey()
    tokens = await bound_login(client, key)
    assert tokens["token_type"] == "DPoP"
    assert claims(tokens["access_token"])["cnf"] == {"jkt": key.jkt}
    assert claims(tokens["refresh_token"])["cnf"] == {"jkt": key.jkt}
    me = await client.get(
        "/me",
        headers=dpop(
            tokens["access_token"], key.proof("GET", ME, access_token=tokens["access_token"])
        ),
    )
    assert me.status_code == 200
    assert me.json()["username"] == "minsu"


async def test_join_and_the_token_endpoint_bind_too(client: httpx.AsyncClient) -> None:
    key = ProofKey()
    joined = await client.post(
        "/join",
        json={"username": "jun", "password": PASSWORD},
        headers={"DPoP": key.proof("POST", f"{ISSUER}/join")},
    )
    assert joined.json()["token_type"] == "DPoP"
    assert claims(joined.json()["access_token"])["cnf"]["jkt"] == key.jkt
    granted = await client.post(
        "/auth",
        data={"grant_type": "password", "username": "jun", "password": PASSWORD},
        headers={"DPoP": key.proof("POST", f"{ISSUER}/auth")},
    )
    assert granted.json()["token_type"] == "DPoP"
    assert claims(granted.json()["refresh_token"])["cnf"]["jkt"] == key.jkt


def refused_401(response: httpx.Response, error: str = "invalid_dpop_proof") -> None:
    assert response.status_code == 401, response.text
    assert response.json()["error"] == error
    assert response.headers["www-authenticate"].startswith('DPoP algs="ES256 EdDSA"')


async def test_the_attack_table_at_a_resource_route(client: httpx.AsyncClient) -> None:
    key = ProofKey()
    access = (await bound_login(client, key))["access_token"]

    def proof(**changes: Any) -> str:
        options: dict[str, Any] = {"access_token": access}
        method, url = changes.pop("method", "GET"), changes.pop("url", ME)
        options.update(changes)
        return key.proof(method, url, **options)

    # A copied token alone: as Bearer, or as DPoP without a proof.
    refused_401(await client.get("/me", headers=bearer(access)), "invalid_token")
    refused_401(await client.get("/me", headers={"Authorization": f"DPoP {access}"}))
    # Another key's proof, however good otherwise.
    thief = ProofKey()
    refused_401(
        await client.get("/me", headers=dpop(access, thief.proof("GET", ME, access_token=access)))
    )
    # Wrong method, URL, access-token hash; too old, from the future.
    refused_401(await client.get("/me", headers=dpop(access, proof(method="POST"))))
    refused_401(await client.get("/me", headers=dpop(access, proof(url=f"{ISSUER}/sessions"))))
    refused_401(await client.get("/me", headers=dpop(access, proof(url="https://evil.example/me"))))
    refused_401(
        await client.get("/me", headers=dpop(access, key.proof("GET", ME, access_token="x.y.z")))
    )
    refused_401(await client.get("/me", headers=dpop(access, proof(iat=time.time() - 120))))
    refused_401(await client.get("/me", headers=dpop(access, proof(iat=time.time() + 120))))
    # A private key in the header; alg none; a MAC; garbage; two proofs.
    refused_401(
        await client.get("/me", headers=dpop(access, proof(header={"jwk": key.private_jwk})))
    )
    plain = {"jti": "n", "htm": "GET", "htu": ME, "iat": int(time.time())}
    segment = lambda v: base64.urlsafe_b64encode(json.dumps(v).encode()).rstrip(b"=").decode()  # noqa: E731
    none = f"{segment({'alg': 'none', 'typ': 'dpop+jwt', 'jwk': key.public_jwk})}.{segment(plain)}."
    refused_401(await client.get("/me", headers=dpop(access, none)))
    mac = jwt.encode(
        plain, "k" * 32, algorithm="HS256", headers={"typ": "dpop+jwt", "jwk": key.public_jwk}
    )
    refused_401(await client.get("/me", headers=dpop(access, mac)))
    refused_401(await client.get("/me", headers=dpop(access, "not-a-proof")))
    two = await client.get(
        "/me", headers=[("Authorization", f"DPoP {access}"), ("DPoP", proof()), ("DPoP", proof())]
    )
    refused_401(two)
    # A good proof passes once; its replay is refused.
    good = proof()
    assert (await client.get("/me", headers=dpop(access, good))).status_code == 200
    refused_401(await client.get("/me", headers=dpop(access, good)))
    # The query is not part of htu; the issuer's URL and the one reached both name it.
    assert (
        await client.get("/sessions?x=1", headers=dpop(access, proof(url=f"{ISSUER}/sessions")))
    ).status_code == 200


async def test_an_unbound_token_stays_bearer(client: httpx.AsyncClient) -> None:
    tokens = await join(client)
    assert tokens["token_type"] == "Bearer"
    assert "cnf" not in claims(tokens["access_token"])
    assert (await client.get("/me", headers=bearer(tokens["access_token"]))).status_code == 200
    key = ProofKey()
    as_dpop = await client.get(
        "/me",
        headers=dpop(
            tokens["access_token"], key.proof("GET", ME, access_token=tokens["access_token"])
        ),
    )
    assert as_dpop.status_code == 401
    assert as_dpop.json()["error"] == "invalid_token"


async def test_a_bound_refresh_token_needs_its_key_and_a_thief_changes_nothing(
    client: httpx.AsyncClient,
) -> None:
    key = ProofKey()
    tokens = await bound_login(client, key)
    refresh = tokens["refresh_token"]
    url = f"{ISSUER}/refresh"
    # Without a proof, with another key's, at /refresh (401) and at /auth (400).
    refused_401(await client.post("/refresh", json={"refresh_token": refresh}))
    thief = ProofKey()
    refused_401(
        await client.post(
            "/refresh", json={"refresh_token": refresh}, headers={"DPoP": thief.proof("POST", url)}
        )
    )
    at_auth = await client.post(
        "/auth",
        data={"grant_type": "refresh_token", "refresh_token": refresh},
        headers={"DPoP": thief.proof("POST", f"{ISSUER}/auth")},
    )
    assert at_auth.status_code == 400
    assert at_auth.json()["error"] == "invalid_dpop_proof"
    bad_proof = await client.post(
        "/auth",
        data={"grant_type": "refresh_token", "refresh_token": refresh},
        headers={"DPoP": key.proof("POST", f"{ISSUER}/other")},
    )
    assert bad_proof.status_code == 400
    assert bad_proof.json()["error"] == "invalid_dpop_proof"
    # The rightful client still refreshes, and its session is whole.
    rotated = await client.post(
        "/refresh", json={"refresh_token": refresh}, headers={"DPoP": key.proof("POST", url)}
    )
    assert rotated.status_code == 200, rotated.text
    assert rotated.json()["token_type"] == "DPoP"
    assert claims(rotated.json()["access_token"])["cnf"]["jkt"] == key.jkt
    sessions = await client.get(
        "/sessions",
        headers=dpop(
            rotated.json()["access_token"],
            key.proof("GET", f"{ISSUER}/sessions", access_token=rotated.json()["access_token"]),
        ),
    )
    assert sessions.status_code == 200
    # The sign-up's session and the bound login's, which rotated and stays current.
    assert len(sessions.json()) == 2
    assert [s["current"] for s in sessions.json()].count(True) == 1


async def test_metadata_names_the_proof_algorithms(client: httpx.AsyncClient) -> None:
    metadata = (await client.get("/.well-known/openid-configuration")).json()
    assert metadata["dpop_signing_alg_values_supported"] == ["ES256", "EdDSA"]


async def test_the_gateway_checks_the_original_request(client: httpx.AsyncClient) -> None:
    key = ProofKey()
    access = (await bound_login(client, key))["access_token"]
    original = "http://tollgate.test/notes/7"
    headers = {
        "X-Original-Method": "DELETE",
        "X-Original-URI": "/notes/7?page=2",
        **dpop(access, key.proof("DELETE", original, access_token=access)),
    }
    checked = await client.get("/auth", headers=headers)
    assert checked.status_code == 200, checked.text
    assert checked.headers["x-auth-user"] == "minsu"
    # A proof for another path or method of the original request is refused.
    for method, url in (("GET", original), ("DELETE", "http://tollgate.test/notes/8")):
        wrong = {**headers, "DPoP": key.proof(method, url, access_token=access)}
        refused_401(await client.get("/auth", headers=wrong))
    # The lean path never answers for a bound token sent as Bearer.
    refused_401(await client.get("/auth", headers=bearer(access)), "invalid_token")


async def test_nonces_when_on(make_settings: Any, hasher: Any) -> None:
    from tollgate.app import create_app

    app = create_app(make_settings(dpop_nonce=True), hasher)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app.state.asgi)
        async with httpx.AsyncClient(transport=transport, base_url=ISSUER) as client:
            await join(client)
            key = ProofKey()
            url = f"{ISSUER}/login"
            first = await client.post(
                "/login",
                json={"username": "minsu", "password": PASSWORD},
                headers={"DPoP": key.proof("POST", url)},
            )
            assert first.status_code == 400
            assert first.json()["error"] == "use_dpop_nonce"
            nonce = first.headers["dpop-nonce"]
            second = await client.post(
                "/login",
                json={"username": "minsu", "password": PASSWORD},
                headers={"DPoP": key.proof("POST", url, nonce=nonce)},
            )
            assert second.status_code == 200, second.text
            access = second.json()["access_token"]
            me = await client.get(
                "/me", headers=dpop(access, key.proof("GET", ME, access_token=access))
            )
            assert me.status_code == 401
            assert me.json()["error"] == "use_dpop_nonce"
            assert me.headers["dpop-nonce"] == nonce
            ok = await client.get(
                "/me", headers=dpop(access, key.proof("GET", ME, access_token=access, nonce=nonce))
            )
            assert ok.status_code == 200


async def test_the_lean_gate_answers_a_bound_token_as_the_route_does(
    client: httpx.AsyncClient,
) -> None:
    key = ProofKey()
    access = (await bound_login(client, key))["access_token"]
    url = f"{ISSUER}/auth"
    lean = await client.get(
        "/auth", headers=dpop(access, key.proof("GET", url, access_token=access))
    )
    # `?scope=` always takes the full route.
    full = await client.get(
        "/auth?scope=profile", headers=dpop(access, key.proof("GET", url, access_token=access))
    )
    assert lean.status_code == full.status_code == 200
    assert lean.json() == full.json()
    for header in ("x-auth-user", "x-auth-subject", "x-auth-scope", "cache-control"):
        assert lean.headers[header] == full.headers[header], header
    # The lean gate remembers proofs as the route does: its proof is spent.
    replay = await client.get(
        "/auth?scope=profile", headers=dpop(access, lean.request.headers["dpop"])
    )
    refused_401(replay)
