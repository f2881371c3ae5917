"""The PostgreSQL connection pool per process: DB_POOL_SIZE plus DB_MAX_OVERFLOW."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack

from sqlalchemy import text

from tests.support.postgres import PostgresServer
from tollgate.settings import Settings
from tollgate.store.engine import create_engine


async def test_pool_holds_size_plus_overflow(postgres: PostgresServer) -> None:
    settings = Settings(database_url=postgres.new_database(), db_pool_size=3, db_max_overflow=2)
    engine = create_engine(settings)
    try:
        pool = engine.sync_engine.pool
        async with AsyncExitStack() as stack:
            connections = [await stack.enter_async_context(engine.connect()) for _ in range(5)]
            results = await asyncio.gather(*(c.scalar(text("SELECT 1")) for c in connections))
            assert results == [1] * 5
            assert pool.checkedout() == 5
            assert pool.overflow() == 2
        assert pool.size() == 3
        assert pool.checkedin() == 3  # overflow ones closed
    finally:
        await engine.dispose()
