"""Persistence: the store interfaces and their SQLite and PostgreSQL implementations, the
table schema and its Alembic migrations."""
