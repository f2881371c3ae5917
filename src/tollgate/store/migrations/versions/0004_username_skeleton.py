"""RFC 8265 username keys and Unicode TS #39 skeletons

Revision ID: 0004
Revises: 0003

Existing accounts get the RFC 8265 UsernameCaseMapped key of their stored name and the
skeleton of that key, computed here in Python (no SQL function does either). Names the
profile refuses (possible before it, e.g. right-to-left letters beside left-to-right
ones) keep their NFKC + casefold key, which logins still find (`names.username_key`).
When two existing accounts look alike, the older one keeps the skeleton and the newer
gets NULL: both still log in, and no new look-alike of either can sign up.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# The rules as they are today: a later change to them needs a migration of its own.
from tollgate.services.names import (
    MAX_SKELETON_LENGTH,
    legacy_key,
    mapped_key,
    username_skeleton,
)

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

users = sa.table(
    "users",
    sa.column("id", sa.Uuid()),
    sa.column("username", sa.String()),
    sa.column("username_key", sa.String()),
    sa.column("username_skeleton", sa.String()),
    sa.column("created_at", sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("username_skeleton", sa.String(length=512), nullable=True))
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(users.c.id, users.c.username, users.c.username_key).order_by(
            users.c.created_at, users.c.id
        )
    ).all()
    keys = {row.username_key for row in rows}
    skeletons: set[str] = set()
    updates = []
    for row in rows:
        key = mapped_key(row.username) or row.username_key
        if key != row.username_key:
            if key in keys:  # never seen, but a unique index must not stop the upgrade
                key = row.username_key
            else:
                keys.discard(row.username_key)
                keys.add(key)
        skeleton: str | None = username_skeleton(key)
        if skeleton in skeletons or len(skeleton or "") > MAX_SKELETON_LENGTH:
            skeleton = None
        if skeleton is not None:
            skeletons.add(skeleton)
        updates.append({"row_id": row.id, "key": key, "skeleton": skeleton})
    if updates:
        bind.execute(
            users.update()
            .where(users.c.id == sa.bindparam("row_id"))
            .values(username_key=sa.bindparam("key"), username_skeleton=sa.bindparam("skeleton")),
            updates,
        )
    with op.batch_alter_table("users") as batch:
        batch.create_unique_constraint(op.f("uq_users_username_skeleton"), ["username_skeleton"])


def downgrade() -> None:
    # Back to NFKC + casefold keys; fails on the unique index if two accounts made since
    # differ only where RFC 8265 tells them apart (Straße and strasse).
    with op.batch_alter_table("users") as batch:
        batch.drop_constraint(op.f("uq_users_username_skeleton"), type_="unique")
        batch.drop_column("username_skeleton")
    bind = op.get_bind()
    rows = bind.execute(sa.select(users.c.id, users.c.username)).all()
    if rows:
        bind.execute(
            users.update()
            .where(users.c.id == sa.bindparam("row_id"))
            .values(username_key=sa.bindparam("key")),
            [{"row_id": row.id, "key": legacy_key(row.username)} for row in rows],
        )
