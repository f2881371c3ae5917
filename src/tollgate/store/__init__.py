"""Persistence: SQLAlchemy models, the engine, repositories and Alembic migrations."""
