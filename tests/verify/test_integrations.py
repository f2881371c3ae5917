"""The ASGI middleware and the FastAPI dependency in-process, and the Flask decorator
against a real Tollgate."""

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import httpx
from fastapi import Depends, FastAPI
from flask import Flask, g

from tests.conftest import PASSWORD, bearer, join
from tests.e2e.server import running_server
from tollgate.verify import Claims, Verifier
from tollgate.verify import fastapi as verify_fastapi
from tollgate.verify.asgi import TokenMiddleware
from tollgate.verify.flask import require_token


async def whoami(scope: dict[str, Any], receive: Any, send: Any) -> None:
    claims = scope["state"]["token_claims"]
    body = (claims.username if claims else "anonymous").encode()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


async def test_asgi_middleware(
    client: httpx.AsyncClient, make_verifier: Callable[..., Verifier]
) -> None:
    tokens = await join(client, "Minsu")
    verifier = make_verifier()
    optional = httpx.ASGITransport(app=TokenMiddleware(whoami, verifier))
    required = httpx.ASGITransport(
        app=TokenMiddleware(whoami, verifier, required=True, scopes=["profile"])
    )
    async with httpx.AsyncClient(transport=optional, base_url="http://svc") as svc:
        assert (await svc.get("/")).text == "anonymous"
        assert (await svc.get("/", headers=bearer(tokens["access_token"]))).text == "Minsu"
        forged = await svc.get("/", headers=bearer("a.b.c"))
        assert forged.status_code == 401
        assert forged.json()["error"] == "invalid_token"
    async with httpx.AsyncClient(transport=required, base_url="http://svc") as svc:
        missing = await svc.get("/")
        assert missing.status_code == 401
        assert missing.headers["www-authenticate"] == 'Bearer realm="api"'
        assert (await svc.get("/", headers=bearer(tokens["access_token"]))).status_code == 200
    admin_only = httpx.ASGITransport(app=TokenMiddleware(whoami, verifier, scopes=["admin"]))
    async with httpx.AsyncClient(transport=admin_only, base_url="http://svc") as svc:
        refused = await svc.get("/", headers=bearer(tokens["access_token"]))
        assert refused.status_code == 403
        assert refused.json()["error"] == "insufficient_scope"


def resource_server(verifier: Verifier, *, installed: bool) -> FastAPI:
    service = FastAPI()
    if installed:
        verify_fastapi.install(service, verifier)
    else:
        service.state.tollgate_verifier = verifier
    require = verify_fastapi.require_token

    @service.get("/hello")
    async def hello(claims: Annotated[Claims, Depends(require())]) -> dict[str, Any]:
        return {"hello": claims.username}

    @service.get("/admin")
    async def admin(claims: Annotated[Claims, Depends(require("admin", realm="board"))]) -> str:
        return "secret"

    return service


async def test_fastapi_refusals_are_flat_errors_with_a_challenge(
    client: httpx.AsyncClient, make_verifier: Callable[..., Verifier]
) -> None:
    tokens = await join(client, "Minsu")
    transport = httpx.ASGITransport(app=resource_server(make_verifier(), installed=True))
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as svc:
        ok = await svc.get("/hello", headers=bearer(tokens["access_token"]))
        assert ok.json() == {"hello": "Minsu"}
        missing = await svc.get("/hello")
        assert missing.status_code == 401
        assert missing.headers["www-authenticate"] == 'Bearer realm="api"'
        assert missing.json() == {
            "error": "invalid_token",
            "error_description": "This needs a bearer token in the Authorization header.",
        }
        forged = await svc.get("/hello", headers=bearer("a.b.c"))
        assert forged.status_code == 401
        assert set(forged.json()) == {"error", "error_description"}
        assert forged.json()["error"] == "invalid_token"
        assert forged.headers["www-authenticate"].startswith('Bearer realm="api", error="invalid')
        refused = await svc.get("/admin", headers=bearer(tokens["access_token"]))
        assert refused.status_code == 403
        assert refused.json() == {
            "error": "insufficient_scope",
            "error_description": "This needs the scope: admin.",
        }
        assert 'realm="board"' in refused.headers["www-authenticate"]
        assert 'scope="admin"' in refused.headers["www-authenticate"]


async def test_fastapi_without_install_still_refuses_with_a_challenge(
    client: httpx.AsyncClient, make_verifier: Callable[..., Verifier]
) -> None:
    transport = httpx.ASGITransport(app=resource_server(make_verifier(), installed=False))
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as svc:
        missing = await svc.get("/hello")
        assert missing.status_code == 401
        assert missing.headers["www-authenticate"] == 'Bearer realm="api"'
        assert missing.json()["detail"]["error"] == "invalid_token"  # FastAPI's own shape


def test_flask_decorator_with_a_real_tollgate(tmp_path: Path) -> None:
    with running_server(tmp_path / "tollgate.db") as base:
        tokens = httpx.post(f"{base}/join", json={"username": "flask", "password": PASSWORD})
        access = tokens.json()["access_token"]
        verifier = Verifier(base)
        app = Flask(__name__)

        @app.get("/hello")
        @require_token(verifier)
        def hello() -> str:
            return f"hello {g.token_claims.username}"

        @app.get("/admin")
        @require_token(verifier, "admin")
        def admin() -> str:
            return "secret"

        web = app.test_client()
        assert web.get("/hello", headers=bearer(access)).text == "hello flask"
        missing = web.get("/hello")
        assert missing.status_code == 401
        assert missing.headers["WWW-Authenticate"] == 'Bearer realm="api"'
        assert web.get("/hello", headers=bearer("nope")).status_code == 401
        refused = web.get("/admin", headers=bearer(access))
        assert refused.status_code == 403
        assert refused.json == {
            "error": "insufficient_scope",
            "error_description": "This needs the scope: admin.",
        }
