"""/docs and /redoc load their scripts from Tollgate itself; /favicon.ico is served."""

import base64
import hashlib
import re
from collections.abc import Callable

import httpx
import pytest
from fastapi import FastAPI

from tollgate.app import create_app
from tollgate.services.passwords import PasswordHasher
from tollgate.settings import Settings
from tollgate.ui.routes import PAGE_CSP

ASSET = re.compile(r'(?:src|href)="([^"]+)"')


def csp_directives(header: str) -> dict[str, list[str]]:
    directives = (part.split() for part in header.split(";") if part.strip())
    return {name: values for name, *values in directives}


def inline_script_hashes(html: str) -> list[str]:
    """CSP source expressions for the page's inline scripts; the docs pages have one."""
    inline = re.findall(r"<script>(.*?)</script>", html, re.DOTALL)
    assert len(inline) == 1
    return [f"'sha256-{base64.b64encode(hashlib.sha256(inline[0].encode()).digest()).decode()}'"]


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
async def test_docs_pages_load_everything_from_this_server(
    client: httpx.AsyncClient, path: str
) -> None:
    page = await client.get(path)
    assert page.status_code == 200
    assert "cdn" not in page.text
    assert "fonts.googleapis" not in page.text
    assets = ASSET.findall(page.text)
    assert assets, page.text
    for asset in assets:
        assert asset.startswith("/"), asset  # same origin, never another host
        served = await client.get(asset)
        assert served.status_code == 200, asset
    scripts = [a for a in assets if a.endswith(".js")]
    assert scripts
    for script in scripts:
        served = await client.get(script)
        assert served.headers["content-type"].startswith(
            ("text/javascript", "application/javascript")
        )
        assert len(served.content) > 100_000  # the real bundle, not a stub


async def test_swagger_ui_csp_allows_only_its_own_inline_script(client: httpx.AsyncClient) -> None:
    page = await client.get("/docs")
    directives = csp_directives(page.headers["content-security-policy"])
    assert directives["script-src"] == ["'self'", *inline_script_hashes(page.text)]
    assert directives["default-src"] == ["'none'"]
    assert directives["connect-src"] == ["'self'"]
    assert directives["frame-ancestors"] == ["'none'"]


async def test_redoc_csp_allows_no_inline_script(client: httpx.AsyncClient) -> None:
    page = await client.get("/redoc")
    directives = csp_directives(page.headers["content-security-policy"])
    assert directives["script-src"] == ["'self'"]
    assert directives["worker-src"] == ["blob:"]


async def test_the_account_page_keeps_its_strict_csp(client: httpx.AsyncClient) -> None:
    page = await client.get("/")
    assert page.headers["content-security-policy"] == PAGE_CSP
    assert "'unsafe-inline'" not in PAGE_CSP


async def test_favicon_is_an_svg_the_pages_link(client: httpx.AsyncClient) -> None:
    icon = await client.get("/favicon.ico")
    assert icon.status_code == 200
    assert icon.headers["content-type"] == "image/svg+xml"
    assert icon.content.startswith(b"<svg ")
    assert "max-age=" in icon.headers["cache-control"]
    page = (await client.get("/")).text
    assert '<link rel="icon" href="/favicon.ico" type="image/svg+xml">' in page
    for docs in ("/docs", "/redoc"):
        assert 'href="/favicon.ico"' in (await client.get(docs)).text


async def test_docs_and_favicon_stay_without_the_account_page(
    make_settings: Callable[..., Settings], hasher: PasswordHasher
) -> None:
    app: FastAPI = create_app(make_settings(ui=False), hasher)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c,
    ):
        assert (await c.get("/")).status_code == 404
        assert (await c.get("/favicon.ico")).status_code == 200
        assert (await c.get("/docs")).status_code == 200


async def test_oauth2_redirect_page_csp_allows_its_inline_script(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/docs/oauth2-redirect")
    assert page.status_code == 200
    directives = csp_directives(page.headers["content-security-policy"])
    assert directives["script-src"] == ["'self'", *inline_script_hashes(page.text)]
