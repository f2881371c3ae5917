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

from tests.conftest import OTHER_PASSWORD, PASSWORD
from tests.store_sqlite_smoke.conftest import migrated
from tollgate.keys.rotation import create_key, retire
from tollgate.services.container import Services
from tollgate.services.grants import ClientInfo
from tollgate.services.passwords import PasswordHasher
from tollgate.settings import Settings
from tollgate.store import migrate
from tollgate.store.engine import create_engine, create_sessionmaker
from tollgate.store.models import AuditEvent, Client, RefreshToken, Session, SigningKey, User
from tollgate.store.records import (
    AuditRecord,
    ClientRecord,
    KeyRecord,
    NotUsable,
    RefreshTokenRecord,
    Rotated,
    SessionRecord,
    UserRecord,
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
        async with create_sessionmaker(engine)() as db:
            return list((await db.scalars(select(model).order_by(order))).all())
    finally:
        await engine.dispose()


async def test_reads_what_the_sqlalchemy_path_wrote(
    settings: Settings, hasher: PasswordHasher
) -> None:
    services = Services.build(settings, hasher)
    await services.start()  # migrates, makes a signing key, audits it
    try:
        minsu = await services.accounts.join("Minsu", PASSWORD, email="minsu@example.com")
        other = await services.accounts.join("Ayo", OTHER_PASSWORD)
        await services.accounts.set_disabled("Ayo", True)
        pair = await services.grants.start_session(
            minsu, None, ClientInfo(user_agent="Firefox", ip="203.0.113.7")
        )
        await services.grants.refresh(pair.refresh_token, None)  # a child with a salt
        ended = await services.grants.start_session(minsu, None, ClientInfo())
        await services.sessions.end(minsu.id, ended.session_id, "logout")
        await services.clients.register("resource-server")
        pending = await create_key(services.sessionmaker, "EdDSA", None, activates_in=3600)
        await retire(services.sessionmaker, pending.kid, token_lifetime=0)
    finally:
        await services.close()

    stores = await open_sqlite(settings)
    try:
        now = datetime.now(UTC)
        users = await stores.users.list()
        assert_same(users, await orm_rows(settings, User, User.created_at))
        assert [u.disabled for u in users] == [False, True]
        assert users[1].id == other.id
        assert await stores.users.by_username_key("ayo") == users[1]
        live = await stores.sessions.live_for_user(minsu.id, now)
        ended_rows = await stores.sessions.ended_for_user(minsu.id, now - timedelta(hours=1))
        sessions = sorted([*live, *ended_rows], key=lambda s: s.created_at)
        assert_same(sessions, await orm_rows(settings, Session, Session.created_at))
        assert [s.revoked_reason for s in sessions] == [None, "logout"]
        tokens = await orm_rows(settings, RefreshToken, RefreshToken.issued_at)
        read = [await stores.sessions.refresh_token(t.id) for t in tokens]
        assert_same(read, tokens)
        assert read[1] is not None
        assert read[1].derivation_salt is not None
        keys = sorted(await stores.keys.all(), key=lambda k: k.kid)
        assert_same(keys, await orm_rows(settings, SigningKey, SigningKey.kid))
        assert sum(k.retired_at is not None for k in keys) == 1
        assert_same(await stores.clients.list(), await orm_rows(settings, Client, Client.name))
        events = await stores.audit.events()
        assert_same(events[::-1], await orm_rows(settings, AuditEvent, AuditEvent.id))
    finally:
        await stores.close()


async def test_live_compares_with_times_sqlalchemy_wrote(
    settings: Settings, hasher: PasswordHasher
) -> None:
    """Times written by SQLAlchemy and times bound here compare right as text."""
    services = Services.build(settings, hasher)
    await services.start()
    try:
        minsu = await services.accounts.join("Minsu", PASSWORD)
        pair = await services.grants.start_session(minsu, None, ClientInfo())
    finally:
        await services.close()
    stores = await open_sqlite(settings)
    try:
        session = await stores.sessions.live(pair.session_id, datetime.now(UTC))
        assert session is not None
        end = session.expires_at
        assert await stores.sessions.live(pair.session_id, end - timedelta(microseconds=1))
        assert await stores.sessions.live(pair.session_id, end) is None
        # The same instant given in another zone is the same stored text.
        east = end.astimezone(timezone(timedelta(hours=9))) - timedelta(microseconds=1)
        assert await stores.sessions.live(pair.session_id, east) == session
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
        token.id, session.id, user.id, "b" * 64, b"\x00salt\xff", now, timedelta(days=14)
    )
    assert isinstance(rotation, NotUsable)  # the user is disabled
    await stores.users.set_disabled(user.id, False, now)
    rotation = await stores.sessions.rotate(
        token.id, session.id, user.id, "b" * 64, b"\x00salt\xff", now, timedelta(days=14)
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

    assert_same([user], await orm_rows(settings, User, User.created_at))
    used = dataclasses.replace(token, used_at=now, replaced_by="b" * 64)
    assert_same([used, rotation.child], await orm_rows(settings, RefreshToken, RefreshToken.id))
    touched = dataclasses.replace(session, last_used_at=now)
    assert_same([touched], await orm_rows(settings, Session, Session.id))
    assert_same([key], await orm_rows(settings, SigningKey, SigningKey.kid))
    assert_same([client], await orm_rows(settings, Client, Client.name))
    audit = await orm_rows(settings, AuditEvent, AuditEvent.id)
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
