"""Migration 0008 (mail): the email columns, tokens and outbox come and go on both
engines; an existing user's email gets its case-folded key, unverified; and a pending
mail survives reopening the stores."""

from __future__ import annotations

import sqlalchemy as sa

from tests.store.builders import at
from tests.store.engines import open_stores, settings_for
from tests.store.test_mail import a_mail
from tests.store.test_migration_0005 import migrate_to
from tollgate.store.engine import create_engine


async def inspect(url: str) -> tuple[list[str], list[str]]:
    sql = create_engine(settings_for(url))
    try:
        async with sql.connect() as connection:
            found: tuple[list[str], list[str]] = await connection.run_sync(
                lambda c: (
                    sa.inspect(c).get_table_names(),
                    [col["name"] for col in sa.inspect(c).get_columns("users")],
                )
            )
    finally:
        await sql.dispose()
    return found


async def run(url: str, statement: str) -> None:
    sql = create_engine(settings_for(url))
    try:
        async with sql.begin() as connection:
            await connection.execute(sa.text(statement))
    finally:
        await sql.dispose()


async def test_upgrade_adds_mail_and_downgrade_removes_it(empty_url: tuple[str, str]) -> None:
    engine, url = empty_url
    await migrate_to(url, "0007")
    tables, columns = await inspect(url)
    assert "mail_outbox" not in tables
    assert "email_key" not in columns
    user_id = "0123456789abcdef0123456789abcdef"
    uuid_literal = f"'{user_id}'" if engine == "sqlite" else f"'{user_id}'::uuid"
    await run(
        url,
        "INSERT INTO users (id, username, username_key, username_skeleton, email, "  # noqa: S608
        "password_hash, scope, disabled, created_at, password_changed_at) VALUES "
        f"({uuid_literal}, 'Minsu', 'minsu', 'skel', 'Minsu@EXAMPLE.test', 'h', 'profile', "
        "false, '2031-01-01 00:00:00', '2031-01-01 00:00:00')",
    )
    await migrate_to(url, "head")
    tables, columns = await inspect(url)
    assert {"mail_outbox", "mail_tokens"} <= set(tables)
    assert {"email_key", "email_verified_at"} <= set(columns)

    stores = await open_stores(engine, url)
    try:
        [user] = await stores.users.list()
        assert user.email_key == "minsu@example.test"
        assert user.email_verified_at is None
        await stores.outbox.enqueue(a_mail(user))
    finally:
        await stores.close()
    reopened = await open_stores(engine, url)
    try:
        assert len(await reopened.outbox.claim(at(1), at(61), 10)) == 1
    finally:
        await reopened.close()

    await migrate_to(url, "0007", direction="downgrade")
    tables, columns = await inspect(url)
    assert "mail_outbox" not in tables
    assert "mail_tokens" not in tables
    assert "email_key" not in columns
    assert "users" in tables
