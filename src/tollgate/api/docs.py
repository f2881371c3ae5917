"""The API docs pages, /docs (Swagger UI) and /redoc, working without internet, and the icon
(`api.router` serves them).

FastAPI's own pages load Swagger UI and ReDoc from a CDN, so they are blank on a server
that cannot reach it. The pinned fastapi-offline package ships both bundles; Tollgate
serves them itself under /docs-assets and points FastAPI's page builders at them.
"""

from __future__ import annotations

import base64
import hashlib
import re

from fastapi import Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles

from tollgate.ui.routes import STATIC

ASSETS = "/docs-assets"
DOCS = "/docs"
OAUTH2_REDIRECT = "/docs/oauth2-redirect"
REDOC = "/redoc"
FAVICON = "/favicon.ico"

# Scripts only from Tollgate and the page's own inline one (by hash, CSP3 §8.3); ReDoc
# adds <style> elements as it renders and runs its search in a worker made from a blob.
DOCS_CSP = (
    "default-src 'none'; script-src {scripts}; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; worker-src blob:; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def sha256_base64(text: str) -> str:
    return base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


def with_csp(page: HTMLResponse) -> HTMLResponse:
    """The docs CSP, allowing exactly the inline scripts this page has."""
    html = bytes(page.body).decode("utf-8")
    hashes = [f"'sha256-{sha256_base64(script)}'" for script in INLINE_SCRIPT.findall(html)]
    page.headers["Content-Security-Policy"] = DOCS_CSP.format(scripts=" ".join(["'self'", *hashes]))
    return page


def assets() -> StaticFiles:
    """Swagger UI's and ReDoc's files, as the pinned fastapi-offline package ships them."""
    return StaticFiles(packages=[("fastapi_offline", "static")])


async def swagger_ui(request: Request) -> HTMLResponse:
    return with_csp(
        get_swagger_ui_html(
            openapi_url=request.app.openapi_url,
            title=f"{request.app.title} — API docs",
            oauth2_redirect_url=OAUTH2_REDIRECT,
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=FAVICON,
            # No badge from the public validator service: nothing leaves this server.
            swagger_ui_parameters={"validatorUrl": None},
        )
    )


async def swagger_ui_redirect() -> HTMLResponse:
    return with_csp(get_swagger_ui_oauth2_redirect_html())


async def redoc(request: Request) -> HTMLResponse:
    return with_csp(
        get_redoc_html(
            openapi_url=request.app.openapi_url,
            title=f"{request.app.title} — API reference",
            redoc_js_url=f"{ASSETS}/redoc.standalone.js",
            redoc_favicon_url=FAVICON,
            with_google_fonts=False,
        )
    )


async def favicon() -> FileResponse:
    return FileResponse(
        STATIC / "favicon.svg",
        media_type="image/svg+xml",
        headers={"Cache-Control": "public, max-age=86400"},
    )
