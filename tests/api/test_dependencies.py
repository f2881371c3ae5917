"""Routes name the services they use; none is handed the whole container."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any, get_type_hints

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from tollgate.app import create_app
from tollgate.services.container import Services
from tollgate.settings import Settings


def api_routes(routes: list[Any]) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):  # FastAPI's included router
            yield from api_routes(route.original_router.routes)


def calls(dependant: Dependant) -> Iterator[Any]:
    for sub in dependant.dependencies:
        yield sub.call
        yield from calls(sub)


def takes_or_gives_services(call: Any) -> bool:
    function = call if inspect.isfunction(call) else getattr(call, "__call__", call)  # noqa: B004
    hints = get_type_hints(function)
    return any(hint is Services for hint in hints.values())


def test_no_route_or_dependency_takes_the_whole_container(settings: Settings) -> None:
    app: FastAPI = create_app(settings)
    routes = list(api_routes(app.routes))
    assert len(routes) > 15
    for route in routes:
        assert not takes_or_gives_services(route.endpoint), route.path
        for call in calls(route.dependant):
            assert not takes_or_gives_services(call), (route.path, call)


def test_every_dependency_runs_on_the_event_loop(settings: Settings) -> None:
    """FastAPI runs a plain `def` dependency on its thread pool: a thread hop per request
    for a few attribute reads. Every dependency of every route is `async def`."""
    app: FastAPI = create_app(settings)
    sync = {
        f"{route.path}: {getattr(call, '__qualname__', call)}"
        for route in api_routes(app.routes)
        for call in calls(route.dependant)
        if not inspect.iscoroutinefunction(call)
    }
    assert sync == set()
