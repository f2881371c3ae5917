"""Alembic migrations (run by tollgate.store.migrate)."""
