"""The discovery documents a real Tollgate serves are complete (API.md, "Other apps sign
in with Tollgate") and true: every endpoint they name answers at that address, and what
a sign-in really yields is within what they advertise (issue 14's "Done when")."""

from __future__ import annotations

import secrets
from pathlib import Path
from urllib.parse import urlencode

import httpx
import jwt

from tests.conftest import PASSWORD
from tests.e2e.server import free_port, tollgate_process
from tests.support.authorize import pkce
from tests.support.oidc import create_user, query, register_client, walk_to_redirect

CALLBACK = f"http://127.0.0.1:{free_port()}/callback"
ENDPOINTS = [
    "authorization_endpoint",
    "token_endpoint",
    "userinfo_endpoint",
    "end_session_endpoint",
    "jwks_uri",
    "revocation_endpoint",
    "introspection_endpoint",
]


def test_discovery_is_complete_and_true(tmp_path: Path) -> None:
    database = tmp_path / "tollgate.db"
    with tollgate_process(database) as (base, _):
        app = register_client(
            database,
            "App",
            redirect_uris=[CALLBACK],
            scope="openid profile email offline_access",
            public=True,
        )
        create_user(database, "ines", PASSWORD, email="ines@example.com")
        openid = httpx.get(f"{base}/.well-known/openid-configuration").json()
        oauth = httpx.get(f"{base}/.well-known/oauth-authorization-server").json()

        # Complete: every field the contract lists.
        assert openid["issuer"] == base
        for name in ENDPOINTS:
            assert openid[name].startswith(base + "/"), name
            assert oauth[name] == openid[name], name  # RFC 8414 and Discovery agree
        assert openid["response_types_supported"] == ["code"]
        assert openid["code_challenge_methods_supported"] == ["S256"]
        assert {"authorization_code", "client_credentials", "refresh_token"} <= set(
            openid["grant_types_supported"]
        )
        assert {"client_secret_basic", "client_secret_post", "none"} <= set(
            openid["token_endpoint_auth_methods_supported"]
        )
        assert openid["subject_types_supported"] == ["public"]
        assert "RS256" in openid["id_token_signing_alg_values_supported"]
        assert {"openid", "profile", "email", "offline_access"} <= set(openid["scopes_supported"])
        assert openid["authorization_response_iss_parameter_supported"] is True
        assert openid["claims_supported"]

        # True: each endpoint is there (an error for an empty request, never 404 or 405).
        assert httpx.get(openid["authorization_endpoint"]).status_code == 400
        assert httpx.post(openid["token_endpoint"]).status_code == 400
        assert httpx.get(openid["userinfo_endpoint"]).status_code == 401
        assert httpx.post(openid["userinfo_endpoint"]).status_code == 401
        assert httpx.get(openid["end_session_endpoint"]).status_code == 200
        assert httpx.post(openid["introspection_endpoint"]).status_code in (400, 401)
        assert httpx.post(openid["revocation_endpoint"]).status_code in (200, 400)
        jwks = httpx.get(openid["jwks_uri"]).json()

        # What a sign-in yields is what the documents advertise.
        verifier, challenge = pkce()
        nonce = secrets.token_urlsafe(8)
        url = (
            openid["authorization_endpoint"]
            + "?"
            + urlencode(
                {
                    "response_type": "code",
                    "client_id": app.client_id,
                    "redirect_uri": CALLBACK,
                    "scope": "openid profile email",
                    "state": "s",
                    "nonce": nonce,
                    "code_challenge": challenge,
                    "code_challenge_method": "S256",
                }
            )
        )
        with httpx.Client() as browser:
            walk = walk_to_redirect(browser, url, CALLBACK, username="ines", password=PASSWORD)
        assert query(walk.url)["iss"] == openid["issuer"]
        tokens = httpx.post(
            openid["token_endpoint"],
            data={
                "grant_type": "authorization_code",
                "code": query(walk.url)["code"],
                "redirect_uri": CALLBACK,
                "code_verifier": verifier,
                "client_id": app.client_id,
            },
        )
        assert tokens.status_code == 200, tokens.text
        id_token = tokens.json()["id_token"]
        header = jwt.get_unverified_header(id_token)
        assert header["alg"] == "RS256"
        assert header["alg"] in openid["id_token_signing_alg_values_supported"]
        key = next(k for k in jwks["keys"] if k["kid"] == header["kid"])  # published
        claims = jwt.decode(
            id_token,
            jwt.PyJWK(key).key,
            algorithms=["RS256"],
            audience=app.client_id,
            issuer=openid["issuer"],
        )
        assert claims["nonce"] == nonce
        assert set(claims) <= set(openid["claims_supported"])
        assert set(tokens.json()["scope"].split()) <= set(openid["scopes_supported"])
        userinfo = httpx.get(
            openid["userinfo_endpoint"],
            headers={"Authorization": f"Bearer {tokens.json()['access_token']}"},
        )
        assert userinfo.status_code == 200
        assert set(userinfo.json()) <= set(openid["claims_supported"])
        assert userinfo.json()["email"] == "ines@example.com"
