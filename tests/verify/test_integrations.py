"""The ASGI middleware in-process, and the Flask decorator against a real Tollgate."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from flask import Flask, g

from tests.conftest import PASSWORD, bearer, join
from tests.e2e.server import running_server
from tollgate.verify import Verifier
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
