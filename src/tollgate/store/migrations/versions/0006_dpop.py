"""DPoP (RFC 9449): sessions bound to a key, and the proofs seen

Revision ID: 0006
Revises: 0005

Sessions started before are unbound (NULL) and keep working as they did.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable and without a constraint: a plain ALTER TABLE on SQLite too (a batch copy
    # of `sessions` would drop the table under its refresh tokens' foreign key).
    op.add_column("sessions", sa.Column("dpop_jkt", sa.String(length=64), nullable=True))
    op.create_table(
        "dpop_proofs",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dpop_proofs")),
    )
    op.create_index(op.f("ix_dpop_proofs_expires_at"), "dpop_proofs", ["expires_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_dpop_proofs_expires_at"), table_name="dpop_proofs")
    op.drop_table("dpop_proofs")
    # A bound session would pass for a Bearer one in 0005: end it rather than unbind it.
    op.execute("DELETE FROM sessions WHERE dpop_jkt IS NOT NULL")
    op.drop_column("sessions", "dpop_jkt")
