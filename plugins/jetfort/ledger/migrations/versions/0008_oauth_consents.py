"""OAuth consents: each Fortnox consent a user started (state bound to them, single use) and how it ended.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "oauth_consents",
        sa.Column("state_hash", sa.String(64), nullable=False),
        sa.Column("tenant", sa.String(40), nullable=False),
        sa.Column("conn_id", sa.String(250), nullable=False),
        sa.Column("user_id", sa.String(250), nullable=False),
        sa.Column("redirect_uri", sa.Text, nullable=False),
        sa.Column("scopes", sa.Text, nullable=False),
        sa.Column("service_account", sa.Boolean, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("used_at", TS),
        sa.Column("outcome", sa.String(64)),
        sa.Column("detail", sa.Text),
        sa.PrimaryKeyConstraint("state_hash", name="pk_oauth_consents"),
    )
    op.create_index("ix_oauth_consents_tenant_created_at", "oauth_consents", ["tenant", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_oauth_consents_tenant_created_at", table_name="oauth_consents")
    op.drop_table("oauth_consents")
