"""RFC 8265 username keys and Unicode TS #39 skeletons (schema only: PLACEHOLDER)

Revision ID: 0004
Revises: 0003

Placeholder with the same schema effect as the real 0004 from the usernames branch, which
replaces this file when the branches are merged.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("username_skeleton", sa.String(length=512), nullable=True))
    with op.batch_alter_table("users") as batch:
        batch.create_unique_constraint(op.f("uq_users_username_skeleton"), ["username_skeleton"])


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_constraint(op.f("uq_users_username_skeleton"), type_="unique")
        batch.drop_column("username_skeleton")
