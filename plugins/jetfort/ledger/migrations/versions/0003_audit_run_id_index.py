"""An index on ``record_audit.run_id``: the orders summary asks the ledger what one Airflow run did
to each order (whichever try did it), which without it reads the whole audit trail.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_record_audit_run_id", "record_audit", ["run_id"])


def downgrade() -> None:
    op.drop_index("ix_record_audit_run_id", table_name="record_audit")
