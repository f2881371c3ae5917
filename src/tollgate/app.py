"""create_app(settings): wiring only."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp

from tollgate import __version__
from tollgate.api import errors, openapi, router
from tollgate.api.access_log import AccessLog
from tollgate.api.body_limit import BodyLimit
from tollgate.api.cookies import CSRF_HEADER, DELIVERY_HEADER
from tollgate.api.forwarded import ForwardedHeaders
from tollgate.api.gateway import FastAuth
from tollgate.api.head import HeadAsGet
from tollgate.api.lean_refresh import LeanRefresh
from tollgate.api.observability import Observability
from tollgate.api.security_headers import SecurityHeaders
from tollgate.clock import Clock, SystemClock
from tollgate.metrics import Metrics
from tollgate.services.auth_cache import AuthCache
from tollgate.services.container import Services
from tollgate.services.mail_delivery import warn_without_mail
from tollgate.services.passwords import PasswordHasher
from tollgate.settings import MAX_BODY_BYTES, Settings


def create_app(
    settings: Settings | None = None,
    hasher: PasswordHasher | None = None,
    clock: Clock | None = None,
) -> FastAPI:
    settings = settings or Settings()
    # What the lean paths in front of the app need exists before the stores open.
    metrics = Metrics(settings.prometheus_multiproc_dir)
    wall = clock.timestamp if clock is not None else SystemClock().timestamp
    cache = AuthCache(settings.auth_cache_seconds, settings.auth_cache_entries, wall=wall)
    access_log = AccessLog() if settings.access_log else None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = await Services.open(
            settings, hasher, clock=clock, metrics=metrics, auth_cache=cache, migrate_first=True
        )
        app.state.services = services
        await services.start()
        flusher = asyncio.create_task(access_log.run()) if access_log else None
        pusher = asyncio.create_task(services.push_delivery.run())  # RFC 8935 (issue 16)
        warn_without_mail(settings)  # issue 17
        mailer = (  # the mail outbox's sender
            asyncio.create_task(services.mail_delivery.run()) if services.mail_delivery else None
        )
        try:
            yield
        finally:
            pusher.cancel()
            with suppress(asyncio.CancelledError):
                await pusher
            if mailer is not None:
                mailer.cancel()
                with suppress(asyncio.CancelledError):
                    await mailer
            if flusher is not None:
                flusher.cancel()
                with suppress(asyncio.CancelledError):
                    await flusher
            await services.close()

    app = FastAPI(
        title="Tollgate",
        version=__version__,
        description="JWT authentication server: sign-up, login, rotating refresh tokens, JWKS.",
        lifespan=lifespan,
        # Served by api.docs, with Swagger UI and ReDoc from this server rather than a CDN.
        docs_url=None,
        redoc_url=None,
    )
    errors.install(app)
    openapi.install(app)
    router.install(app, account_page=settings.ui)
    # Added last = runs first: security headers wrap everything, CORS answers preflights
    # before the body limit reads anything. HEAD becomes GET innermost, so the access log
    # and metrics still say HEAD.
    app.add_middleware(HeadAsGet)
    app.add_middleware(BodyLimit, max_bytes=MAX_BODY_BYTES)
    if settings.cors_origins:
        wildcard = "*" in settings.cors_origins
        app.add_middleware(
            CORSMiddleware,
            allow_origins=["*"] if wildcard else settings.cors_origins,
            # Credentials (cookies) only ever for named origins, never for "*".
            allow_credentials=not wildcard,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type", CSRF_HEADER, DELIVERY_HEADER],
            max_age=600,
        )
    app.add_middleware(SecurityHeaders)
    app.add_middleware(Observability, metrics=metrics, access_log=access_log)
    # What servers run: the GET /auth and POST /refresh lean paths in front of everything,
    # even of Starlette's own outer error middleware (GET /auth's answers only what cannot
    # fail; POST /refresh's renders every error through the app's handlers), each adding
    # the request id, security headers, metrics and access log line as the middleware do.
    app.state.asgi = LeanRefresh(
        FastAuth(app, cache, metrics, access_log), app, metrics, access_log
    )
    return app


def create_server(settings: Settings | None = None) -> ASGIApp:
    """The ASGI app to serve (uvicorn factory): create_app's app behind the fast path."""
    settings = settings or Settings()
    asgi: ASGIApp = create_app(settings).state.asgi
    # Instead of uvicorn's own (`tollgate serve` turns it off): see api/forwarded.py.
    return ForwardedHeaders(asgi, settings.forwarded_allow_ips)
