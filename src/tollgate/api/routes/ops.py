"""For operators: liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from contextlib import suppress

from fastapi import Response
from prometheus_client import CONTENT_TYPE_LATEST

from tollgate.api.dependencies import (
    DatabaseDep,
    MetricsDep,
    SchemaHeadDep,
    SettingsDep,
    SharedSignalsDep,
)
from tollgate.api.operation import operation
from tollgate.api.responses import errors
from tollgate.api.schemas import Health
from tollgate.errors import NotFound, ServiceUnavailable
from tollgate.store.records import StoreError


@operation(response_model=Health, responses=errors(503), summary="Liveness")
async def health(database: DatabaseDep) -> Health:
    await database.ping()
    return Health(status="ok")


@operation(
    response_model=Health,
    responses=errors(503),
    summary="Readiness: the database answers and its schema is current",
)
async def ready(database: DatabaseDep, head: SchemaHeadDep) -> Health:
    current = await database.schema_revision()
    if current != head:
        raise ServiceUnavailable(f"The database schema is at {current}, not {head}.")
    return Health(status="ready")


@operation(
    response_class=Response,
    responses={
        200: {"description": "Prometheus text format", "content": {"text/plain": {}}},
        **errors(404),
    },
    summary="Prometheus metrics",
)
async def metrics(
    settings: SettingsDep,
    registry: MetricsDep,
    database: DatabaseDep,
    shared_signals: SharedSignalsDep,
) -> Response:
    if not settings.metrics_enabled:
        raise NotFound("No such route.")
    registry.db_connections.set(database.connections_in_use())
    # Metrics still answer while the database is away; the backlog keeps its last value.
    with suppress(StoreError):
        registry.ssf_backlog.set(await shared_signals.backlog())
    return Response(registry.render(), media_type=CONTENT_TYPE_LATEST)
