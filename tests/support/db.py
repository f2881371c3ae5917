"""Reading (and, to set up a case, writing) database rows directly, for tests only.

The app reaches the database through its stores; a test checks what they did with its
own SQLAlchemy session on the same database, over the table classes of store/schema.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncSession

from tollgate.services.container import Services
from tollgate.store.engine import create_engine


@asynccontextmanager
async def rows(services: Services) -> AsyncIterator[AsyncSession]:
    """A session on the services' database; what it wrote is committed on exit."""
    engine = create_engine(services.settings)
    try:
        async with AsyncSession(engine, expire_on_commit=False) as db, db.begin():
            yield db
    finally:
        await engine.dispose()
