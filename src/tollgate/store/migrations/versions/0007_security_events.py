"""Shared Signals: streams of receivers and the security events they have not acknowledged

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ssf_streams",
        sa.Column("stream_id", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("delivery_method", sa.String(length=64), nullable=False),
        sa.Column("endpoint_url", sa.String(length=2048), nullable=True),
        sa.Column("events_delivered", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("polled_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.client_id"],
            name=op.f("fk_ssf_streams_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("stream_id", name=op.f("pk_ssf_streams")),
    )
    op.create_index(op.f("ix_ssf_streams_client_id"), "ssf_streams", ["client_id"])
    op.create_table(
        "ssf_events",
        sa.Column("jti", sa.String(length=64), nullable=False),
        sa.Column("stream_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claims", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["stream_id"],
            ["ssf_streams.stream_id"],
            name=op.f("fk_ssf_events_stream_id_ssf_streams"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("jti", name=op.f("pk_ssf_events")),
    )
    op.create_index(op.f("ix_ssf_events_stream_id"), "ssf_events", ["stream_id"])
    op.create_index(op.f("ix_ssf_events_created_at"), "ssf_events", ["created_at"])
    op.create_index(op.f("ix_ssf_events_next_attempt_at"), "ssf_events", ["next_attempt_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_ssf_events_next_attempt_at"), table_name="ssf_events")
    op.drop_index(op.f("ix_ssf_events_created_at"), table_name="ssf_events")
    op.drop_index(op.f("ix_ssf_events_stream_id"), table_name="ssf_events")
    op.drop_table("ssf_events")
    op.drop_index(op.f("ix_ssf_streams_client_id"), table_name="ssf_streams")
    op.drop_table("ssf_streams")
