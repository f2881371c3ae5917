"""create_app(settings): wiring only."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from tollgate import __version__
from tollgate.api import errors
from tollgate.api.body_limit import BodyLimit
from tollgate.api.routes import account, oauth, tokens, wellknown
from tollgate.services.container import Services
from tollgate.services.passwords import PasswordHasher
from tollgate.settings import MAX_BODY_BYTES, Settings


def create_app(settings: Settings | None = None, hasher: PasswordHasher | None = None) -> FastAPI:
    settings = settings or Settings()
    services = Services.build(settings, hasher)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await services.start()
        try:
            yield
        finally:
            await services.close()

    app = FastAPI(
        title="Tollgate",
        version=__version__,
        description="JWT authentication server: sign-up, login, rotating refresh tokens, JWKS.",
        lifespan=lifespan,
    )
    app.state.services = services
    errors.install(app)
    app.include_router(tokens.router)
    app.include_router(account.router)
    app.include_router(oauth.router)
    app.include_router(wellknown.router)
    app.add_middleware(BodyLimit, max_bytes=MAX_BODY_BYTES)
    return app
