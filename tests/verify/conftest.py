from collections.abc import Callable

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import ISSUER
from tollgate.verify import Verifier


class CountingTransport(httpx.AsyncBaseTransport):
    """Sends to the in-process Tollgate app and remembers which paths were asked for."""

    def __init__(self, app: FastAPI) -> None:
        self.inner = httpx.ASGITransport(app=app)
        self.paths: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)
        return await self.inner.handle_async_request(request)


@pytest.fixture
def transport(app: FastAPI) -> CountingTransport:
    return CountingTransport(app)


@pytest.fixture
def make_verifier(transport: CountingTransport) -> Callable[..., Verifier]:
    def make(**options: object) -> Verifier:
        return Verifier(ISSUER, "tollgate", async_transport=transport, **options)  # type: ignore[arg-type]

    return make
