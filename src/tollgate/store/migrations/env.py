"""Alembic environment: runs on the connection handed over by `tollgate.store.migrate`."""

from __future__ import annotations

from alembic import context

from tollgate.store.schema import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise SystemExit("Run migrations with `tollgate migrate`; it supplies the database connection.")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
