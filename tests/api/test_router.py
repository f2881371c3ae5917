"""api/router.py: the one table of routes is what the app serves."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from fastapi.routing import APIRoute

from tests.conftest import join
from tollgate.api.router import ACCOUNT_PAGE, ROUTES


def test_the_table_lists_every_route_served(app: FastAPI) -> None:
    served = {
        (method, route.path)
        for route in app.routes
        if isinstance(route, APIRoute)
        for method in route.methods or ()
    }
    listed = {(r.method, r.path) for r in (*ROUTES, ACCOUNT_PAGE)}
    assert served == listed
    # FastAPI's own route for the document itself is the one not in the table.
    assert "/openapi.json" in {getattr(r, "path", None) for r in app.routes}


async def test_a_lean_refresh_is_counted_under_its_route(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    tokens = await join(client)
    refreshed = await client.post("/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 200
    rendered = app.state.services.metrics.render().decode()
    assert 'method="POST",route="/refresh",status="200"' in rendered
    assert 'route="unmatched"' not in rendered
