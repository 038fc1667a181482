"""Quarantine notes: entries a person dismissed from the jetfort page (who, when, the note).

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "quarantine_notes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("tenant", sa.String(40), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("source_key", sa.String(200), nullable=False),
        sa.Column("reason", sa.String(64), nullable=False),
        sa.Column("field", sa.String(200)),
        sa.Column("code", sa.String(40)),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("by", sa.String(250), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_quarantine_notes"),
    )
    op.create_index("ix_quarantine_notes_tenant_kind_source_key", "quarantine_notes",
                    ["tenant", "kind", "source_key"])


def downgrade() -> None:
    op.drop_index("ix_quarantine_notes_tenant_kind_source_key", table_name="quarantine_notes")
    op.drop_table("quarantine_notes")
