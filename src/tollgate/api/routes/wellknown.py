"""Public, unauthenticated endpoints: the JWKS and the health check."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from tollgate.api.dependencies import ServicesDep
from tollgate.api.responses import errors
from tollgate.api.schemas import Health

router = APIRouter(tags=["keys"])

# Verifiers may cache the key set this long; new keys also reach them through the
# refetch on an unknown `kid` that JWKS clients do.
JWKS_MAX_AGE = 300
JWKS_RELOAD_SECONDS = 30


@router.get("/.well-known/jwks.json", summary="Public keys that verify Tollgate's tokens")
async def jwks(services: ServicesDep) -> JSONResponse:
    await services.keyring.reload_if_older_than(JWKS_RELOAD_SECONDS)
    body: dict[str, Any] = services.keyring.jwks()
    return JSONResponse(body, headers={"Cache-Control": f"public, max-age={JWKS_MAX_AGE}"})


@router.get("/health", response_model=Health, responses=errors(503), summary="Liveness")
async def health(services: ServicesDep) -> Health:
    async with services.engine.connect() as connection:
        await connection.execute(text("SELECT 1"))
    return Health(status="ok")
