"""Cursor values as text: the orders flow keeps JSON (Fortnox facts) in cursors, and PostgreSQL
enforced the old VARCHAR(100) ("value too long") where SQLite did not; names grow to 255 for
customer-cache keys carrying an e-mail address.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cursors") as batch:
        batch.alter_column("value", type_=sa.Text(), existing_type=sa.String(100), existing_nullable=False)
        batch.alter_column("name", type_=sa.String(255), existing_type=sa.String(100), existing_nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("cursors") as batch:
        batch.alter_column("name", type_=sa.String(100), existing_type=sa.String(255), existing_nullable=False)
        batch.alter_column("value", type_=sa.String(100), existing_type=sa.Text(), existing_nullable=False)
