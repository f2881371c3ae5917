"""clients for sign-in by other apps, authorization codes, consents, scope descriptions

Revision ID: 0005
Revises: 0004

Clients registered before keep working as they did (introspection only): no redirect
URIs, no grants, no scopes, not trusted. A public client has no secret hash.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NO_LIST = sa.text("'[]'")  # an empty JSON array (schema.TextTuple)


def upgrade() -> None:
    with op.batch_alter_table("clients") as batch:
        batch.alter_column("secret_hash", existing_type=sa.String(length=64), nullable=True)
        batch.add_column(
            sa.Column("redirect_uris", sa.Text(), nullable=False, server_default=NO_LIST)
        )
        batch.add_column(
            sa.Column(
                "post_logout_redirect_uris", sa.Text(), nullable=False, server_default=NO_LIST
            )
        )
        batch.add_column(
            sa.Column("grant_types", sa.Text(), nullable=False, server_default=NO_LIST)
        )
        batch.add_column(
            sa.Column("scope", sa.String(length=1024), nullable=False, server_default="")
        )
        batch.add_column(
            sa.Column("trusted", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(
            sa.Column(
                "id_token_signed_response_alg",
                sa.String(length=16),
                nullable=False,
                server_default="RS256",
            )
        )
    # Nullable and without a constraint: a plain ALTER TABLE on SQLite too (a batch copy
    # of `sessions` would drop the table under its refresh tokens' foreign key).
    op.add_column("sessions", sa.Column("client_id", sa.String(length=64), nullable=True))
    op.create_table(
        "authorization_codes",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("redirect_uri", sa.String(length=2048), nullable=False),
        sa.Column("scope", sa.String(length=1024), nullable=False),
        sa.Column("code_challenge", sa.String(length=128), nullable=False),
        sa.Column("nonce", sa.String(length=512), nullable=True),
        sa.Column("login_session_id", sa.Uuid(), nullable=True),
        sa.Column("auth_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("session_id", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.client_id"],
            name=op.f("fk_authorization_codes_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_authorization_codes_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_authorization_codes")),
    )
    op.create_index(op.f("ix_authorization_codes_client_id"), "authorization_codes", ["client_id"])
    op.create_index(op.f("ix_authorization_codes_user_id"), "authorization_codes", ["user_id"])
    op.create_index(
        op.f("ix_authorization_codes_expires_at"), "authorization_codes", ["expires_at"]
    )
    op.create_table(
        "consents",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("scope", sa.String(length=1024), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.client_id"],
            name=op.f("fk_consents_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_consents_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "client_id", name=op.f("pk_consents")),
    )
    op.create_index(op.f("ix_consents_client_id"), "consents", ["client_id"])
    op.create_table(
        "scopes",
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("description", sa.String(length=512), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_scopes")),
    )


def downgrade() -> None:
    op.drop_table("scopes")
    op.drop_index(op.f("ix_consents_client_id"), table_name="consents")
    op.drop_table("consents")
    op.drop_index(op.f("ix_authorization_codes_expires_at"), table_name="authorization_codes")
    op.drop_index(op.f("ix_authorization_codes_user_id"), table_name="authorization_codes")
    op.drop_index(op.f("ix_authorization_codes_client_id"), table_name="authorization_codes")
    op.drop_table("authorization_codes")
    # Sessions of other apps are first-party ones to 0004: end them rather than let them
    # pass for logins of Tollgate's own.
    op.execute("DELETE FROM sessions WHERE client_id IS NOT NULL")
    # ALTER TABLE ... DROP COLUMN (SQLite 3.35+), not a batch copy (see upgrade).
    op.drop_column("sessions", "client_id")
    # Public clients cannot exist before 0005 (no secret to check).
    op.execute("DELETE FROM clients WHERE secret_hash IS NULL")
    with op.batch_alter_table("clients") as batch:
        batch.drop_column("id_token_signed_response_alg")
        batch.drop_column("trusted")
        batch.drop_column("scope")
        batch.drop_column("grant_types")
        batch.drop_column("post_logout_redirect_uris")
        batch.drop_column("redirect_uris")
        batch.alter_column("secret_hash", existing_type=sa.String(length=64), nullable=False)
