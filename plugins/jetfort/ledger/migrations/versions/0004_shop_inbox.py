"""The shop inbox: orders a shop pushes to jetfort's receiver (Norce's order push), stored durably
before the receiver answers, once per (shop connection, order ref), until the orders DAG consumes them.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "shop_inbox",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("shop", sa.String(250), nullable=False),
        sa.Column("ref", sa.String(200), nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("payload_hash", sa.String(64), nullable=False),
        sa.Column("received_at", TS, nullable=False),
        sa.Column("last_pushed_at", TS, nullable=False),
        sa.Column("push_count", sa.Integer, nullable=False, server_default="1"),
        sa.Column("consumed_at", TS),
        sa.Column("last_error", sa.Text),
        sa.PrimaryKeyConstraint("id", name="pk_shop_inbox"),
        sa.UniqueConstraint("shop", "ref", name="uq_shop_inbox_shop_ref"),
    )
    op.create_index("ix_shop_inbox_shop_consumed_at", "shop_inbox", ["shop", "consumed_at"])


def downgrade() -> None:
    op.drop_index("ix_shop_inbox_shop_consumed_at", table_name="shop_inbox")
    op.drop_table("shop_inbox")
