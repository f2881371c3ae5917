"""Databases written by the SQLAlchemy code path read back the same here, and the reverse:
the stored forms (UUID hex, fixed-width naive UTC text, 0/1, BLOB) are SQLAlchemy's."""

from __future__ import annotations

import dataclasses
import re
import sqlite3
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.store.sqlite.conftest import migrated
from tollgate.settings import Settings
from tollgate.store import migrate
from tollgate.store.engine import create_engine
from tollgate.store.records import (
    AuditRecord,
    ClientRecord,
    KeyRecord,
    NotUsable,
    RefreshTokenRecord,
    Rotated,
    RotationRequest,
    SessionRecord,
    UserRecord,
)
from tollgate.store.schema import (
    AuditEventRow,
    ClientRow,
    RefreshTokenRow,
    SessionRow,
    SigningKeyRow,
    UserRow,
)
from tollgate.store.sqlite import open_sqlite
from tollgate.store.stores import Stores

TIME_TEXT = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}$")
UUID_TEXT = re.compile(r"^[0-9a-f]{32}$")


def assert_same(records: Sequence[Any], rows: Sequence[Any]) -> None:
    """Each record's every field equals the ORM row's attribute of the same name."""
    assert len(records) == len(rows) > 0
    for record, row in zip(records, rows, strict=True):
        for field in dataclasses.fields(record):
            assert getattr(record, field.name) == getattr(row, field.name), field.name


async def orm_rows(settings: Settings, model: Any, order: Any) -> list[Any]:
    engine = create_engine(settings)
    try:
        async with AsyncSession(engine) as db:
            return list((await db.scalars(select(model).order_by(order))).all())
    finally:
        await engine.dispose()


async def orm_write(settings: Settings, *rows: Any) -> None:
    """Rows as Tollgate before the stores wrote them: through the SQLAlchemy ORM."""
    engine = create_engine(settings)
    try:
        async with AsyncSession(engine) as db, db.begin():
            for row in rows:
                db.add(row)
                await db.flush()
    finally:
        await engine.dispose()


def as_row(record: Any, model: Any) -> Any:
    return model(**dataclasses.asdict(record))


async def test_reads_what_the_sqlalchemy_path_wrote(settings: Settings) -> None:
    await migrated(settings)
    now = datetime(2026, 5, 4, 3, 2, 1, 0, tzinfo=UTC)  # microsecond 0 too
    user, session, token = _records(now)
    other = dataclasses.replace(
        user,
        id=uuid.uuid4(),
        username="Ayo",
        username_key="ayo",
        username_skeleton="ayo",
        created_at=now + timedelta(seconds=1),
    )
    ended = dataclasses.replace(
        session,
        id=uuid.uuid4(),
        created_at=now + timedelta(seconds=1),
        revoked_at=now + timedelta(hours=1),
        revoked_reason="logout",
        user_agent=None,
        ip=None,
    )
    child = RefreshTokenRecord(
        id="b" * 64,
        session_id=session.id,
        issued_at=now + timedelta(minutes=5),
        expires_at=now + timedelta(days=14),
        parent_id=token.id,
        derivation_salt=b"\x01" * 16,
    )
    used = dataclasses.replace(token, used_at=child.issued_at, replaced_by=child.id)
    key = KeyRecord(
        kid="kid-1", alg="EdDSA", private_key=b"pem", public_jwk='{"kty": "OKP"}',
        created_at=now, activates_at=now + timedelta(hours=1), retired_at=now + timedelta(days=1),
    )  # fmt: skip
    client = ClientRecord(client_id="tgc_x", name="resource-server", secret_hash="0" * 64,
                          created_at=now)  # fmt: skip
    event = AuditRecord(at=now, event="joined", user_id=user.id, username="Minsu", id=1,
                        ip="203.0.113.7", user_agent="curl", detail="first")  # fmt: skip
    await orm_write(
        settings,
        as_row(user, UserRow),
        as_row(other, UserRow),
        as_row(session, SessionRow),
        as_row(ended, SessionRow),
        as_row(used, RefreshTokenRow),
        as_row(child, RefreshTokenRow),
        as_row(key, SigningKeyRow),
        as_row(client, ClientRow),
        as_row(event, AuditEventRow),
    )

    stores = await open_sqlite(settings)
    try:
        assert await stores.users.list() == [user, other]
        assert await stores.users.by_username_key("ayo") == other
        assert await stores.sessions.live(session.id, now) == session
        assert await stores.sessions.ended_for_user(user.id, now) == [ended]
        assert await stores.sessions.refresh_token(token.id) == used
        assert await stores.sessions.refresh_token(child.id) == child
        assert await stores.keys.all() == [key]
        assert await stores.clients.list() == [client]
        assert await stores.audit.events() == [event]
        # And what the ORM reads is what the store reads.
        assert_same(
            await stores.users.list(), await orm_rows(settings, UserRow, UserRow.created_at)
        )
    finally:
        await stores.close()


async def test_live_compares_with_times_sqlalchemy_wrote(settings: Settings) -> None:
    """Times written by SQLAlchemy and times bound here compare right as text."""
    await migrated(settings)
    now = datetime.now(UTC)
    user, session, _ = _records(now)
    await orm_write(settings, as_row(user, UserRow), as_row(session, SessionRow))
    stores = await open_sqlite(settings)
    try:
        read = await stores.sessions.live(session.id, now)
        assert read == session
        end = session.expires_at
        assert await stores.sessions.live(session.id, end - timedelta(microseconds=1))
        assert await stores.sessions.live(session.id, end) is None
        # The same instant given in another zone is the same stored text.
        east = end.astimezone(timezone(timedelta(hours=9))) - timedelta(microseconds=1)
        assert await stores.sessions.live(session.id, east) == session
    finally:
        await stores.close()


def _records(now: datetime) -> tuple[UserRecord, SessionRecord, RefreshTokenRecord]:
    user = UserRecord(
        id=uuid.uuid4(),
        username="Minsu",
        username_key="minsu",
        username_skeleton="minsu",
        email=None,
        password_hash="$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA",
        scope="profile admin",
        disabled=True,
        created_at=now,
        password_changed_at=now,
    )
    session = SessionRecord(
        id=uuid.uuid4(),
        user_id=user.id,
        scope="profile",
        created_at=now,
        last_used_at=now,
        expires_at=now + timedelta(days=90),
        user_agent="Firefox",
        ip="2001:db8::1",
    )
    token = RefreshTokenRecord(
        id="a" * 64, session_id=session.id, issued_at=now, expires_at=now + timedelta(days=14)
    )
    return user, session, token


async def test_sqlalchemy_reads_what_this_store_wrote(stores: Stores, settings: Settings) -> None:
    # Whole seconds (microsecond 0) and another zone: still six digits, still UTC.
    now = datetime(2026, 3, 1, 9, 30, 0, tzinfo=timezone(timedelta(hours=2)))
    user, session, token = _records(now)
    await stores.users.create(user, [AuditRecord(at=now, event="joined", user_id=user.id)])
    await stores.sessions.start(session, token)
    rotation = await stores.sessions.rotate(
        RotationRequest(
            token.id, session.id, user.id, "b" * 64, b"\x00salt\xff", now, timedelta(days=14)
        )
    )
    assert isinstance(rotation, NotUsable)  # the user is disabled
    await stores.users.set_disabled(user.id, False, now)
    rotation = await stores.sessions.rotate(
        RotationRequest(
            token.id, session.id, user.id, "b" * 64, b"\x00salt\xff", now, timedelta(days=14)
        )
    )
    assert isinstance(rotation, Rotated)
    user = dataclasses.replace(user, disabled=False)
    key = KeyRecord(
        kid="k1",
        alg="HS256",
        private_key=b"\x00secret",
        public_jwk=None,
        created_at=now,
        activates_at=now + timedelta(minutes=5),
    )
    await stores.keys.add(key)
    client = ClientRecord(client_id="tgc_x", name="rs", secret_hash="c" * 64, created_at=now)
    await stores.clients.add(client)

    assert_same([user], await orm_rows(settings, UserRow, UserRow.created_at))
    used = dataclasses.replace(token, used_at=now, replaced_by="b" * 64)
    assert_same(
        [used, rotation.child], await orm_rows(settings, RefreshTokenRow, RefreshTokenRow.id)
    )
    touched = dataclasses.replace(session, last_used_at=now)
    assert_same([touched], await orm_rows(settings, SessionRow, SessionRow.id))
    assert_same([key], await orm_rows(settings, SigningKeyRow, SigningKeyRow.kid))
    assert_same([client], await orm_rows(settings, ClientRow, ClientRow.name))
    audit = await orm_rows(settings, AuditEventRow, AuditEventRow.id)
    assert (audit[0].event, audit[0].user_id, audit[0].at) == ("joined", user.id, now)

    raw = sqlite3.connect(_file(settings))
    try:
        row = raw.execute("SELECT id, disabled, typeof(disabled), created_at FROM users").fetchone()
        assert UUID_TEXT.match(row[0])
        assert row[1:3] == (0, "integer")
        assert row[3] == "2026-03-01 07:30:00.000000"  # naive UTC, six digits
        for (text,) in raw.execute(
            "SELECT created_at FROM sessions UNION ALL SELECT expires_at FROM refresh_tokens "
            "UNION ALL SELECT used_at FROM refresh_tokens WHERE used_at IS NOT NULL "
            "UNION ALL SELECT activates_at FROM signing_keys UNION ALL SELECT at FROM audit_events"
        ):
            assert TIME_TEXT.match(text), text
        salt = raw.execute(
            "SELECT typeof(derivation_salt), derivation_salt FROM refresh_tokens "
            "WHERE derivation_salt IS NOT NULL"
        ).fetchone()
        assert salt == ("blob", b"\x00salt\xff")
        ids = raw.execute("SELECT session_id, user_id FROM audit_events").fetchone()
        assert ids[0] is None
        assert UUID_TEXT.match(ids[1])
    finally:
        raw.close()


def _file(settings: Settings) -> Path:
    return Path(settings.database_url.removeprefix("sqlite+aiosqlite:///"))


async def test_a_database_at_an_older_revision_is_told_apart(settings: Settings) -> None:
    stores = await open_sqlite(settings)
    try:
        assert await stores.database.schema_revision() is None  # a file never migrated
        await migrated(settings)
        assert await stores.database.schema_revision() == migrate.head_revision()
    finally:
        await stores.close()
