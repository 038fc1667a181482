"""Fortnox WebSocket events: resume offsets per stream and topic, and the event batches applied.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "event_offsets",
        sa.Column("stream", sa.String(300), nullable=False),
        sa.Column("topic", sa.String(100), nullable=False),
        sa.Column("offset", sa.Text, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("stream", "topic", name="pk_event_offsets"),
    )
    op.create_table(
        "event_applied",
        sa.Column("batch", sa.String(64), nullable=False),
        sa.Column("tenant", sa.String(40), nullable=False),
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("applied_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("batch", name="pk_event_applied"),
    )
    op.create_index("ix_event_applied_applied_at", "event_applied", ["applied_at"])


def downgrade() -> None:
    op.drop_index("ix_event_applied_applied_at", table_name="event_applied")
    op.drop_table("event_applied")
    op.drop_table("event_offsets")
