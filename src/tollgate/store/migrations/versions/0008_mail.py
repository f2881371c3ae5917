"""Email verification and password reset: verified addresses, mailed tokens, the outbox

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

VERIFIED = sa.text("email_verified_at IS NOT NULL")


def upgrade() -> None:
    # Nullable and without a constraint: plain ALTER TABLEs on SQLite too (a batch copy
    # of `users` would drop the table under its sessions' foreign keys).
    op.add_column("users", sa.Column("email_key", sa.String(length=320), nullable=True))
    op.add_column(
        "users", sa.Column("email_verified_at", sa.DateTime(timezone=True), nullable=True)
    )
    # Python's casefold, as services/recovery.py computes the key (SQL lower() differs).
    users = sa.table(
        "users", sa.column("id", sa.Uuid()), sa.column("email"), sa.column("email_key")
    )
    connection = op.get_bind()
    for user_id, email in connection.execute(
        sa.select(users.c.id, users.c.email).where(users.c.email.is_not(None))
    ).all():
        connection.execute(
            users.update()
            .where(users.c.id == user_id)
            .values(email_key=str(email).strip().casefold())
        )
    op.create_index(op.f("ix_users_email_key"), "users", ["email_key"])
    op.create_index(
        "uq_users_verified_email_key",
        "users",
        ["email_key"],
        unique=True,
        sqlite_where=VERIFIED,
        postgresql_where=VERIFIED,
    )
    op.create_table(
        "mail_tokens",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_mail_tokens_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mail_tokens")),
    )
    op.create_index(op.f("ix_mail_tokens_user_id"), "mail_tokens", ["user_id"])
    op.create_index(op.f("ix_mail_tokens_expires_at"), "mail_tokens", ["expires_at"])
    op.create_table(
        "mail_outbox",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("recipient", sa.String(length=320), nullable=False),
        sa.Column("subject", sa.String(length=998), nullable=False),
        sa.Column("text_body", sa.Text(), nullable=False),
        sa.Column("html_body", sa.Text(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.String(length=512), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_mail_outbox_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mail_outbox")),
    )
    op.create_index(op.f("ix_mail_outbox_user_id"), "mail_outbox", ["user_id"])
    op.create_index(op.f("ix_mail_outbox_next_attempt_at"), "mail_outbox", ["next_attempt_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_mail_outbox_next_attempt_at"), table_name="mail_outbox")
    op.drop_index(op.f("ix_mail_outbox_user_id"), table_name="mail_outbox")
    op.drop_table("mail_outbox")
    op.drop_index(op.f("ix_mail_tokens_expires_at"), table_name="mail_tokens")
    op.drop_index(op.f("ix_mail_tokens_user_id"), table_name="mail_tokens")
    op.drop_table("mail_tokens")
    op.drop_index("uq_users_verified_email_key", table_name="users")
    op.drop_index(op.f("ix_users_email_key"), table_name="users")
    # SQLite >= 3.35 drops a column without a constraint in place.
    op.drop_column("users", "email_verified_at")
    op.drop_column("users", "email_key")
