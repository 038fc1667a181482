"""The audit names its Airflow run by number: each run id is stored once, in ``audit_runs``, and an
audit row refers to it (``record_audit.run``). An order's five steps share one run id of about 40
characters, which stored and indexed on every row was a third of the audit's size
(``bench/ledger_scale.py --only size``). Existing rows keep their runs: each distinct run id becomes
one ``audit_runs`` row and every audit row points at it; the downgrade writes the ids back.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

FK = "fk_record_audit_run_audit_runs"


def upgrade() -> None:
    op.create_table(
        "audit_runs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(250), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_runs"),
        sa.UniqueConstraint("run_id", name="uq_audit_runs_run_id"),
    )
    op.execute("INSERT INTO audit_runs (run_id) SELECT run_id FROM record_audit WHERE run_id IS NOT NULL "
               "GROUP BY run_id ORDER BY min(id)")
    op.drop_index("ix_record_audit_run_id", table_name="record_audit")
    with op.batch_alter_table("record_audit") as batch:
        batch.add_column(sa.Column("run", sa.Integer))
    op.execute("UPDATE record_audit SET run = (SELECT r.id FROM audit_runs r WHERE r.run_id = record_audit.run_id) "
               "WHERE run_id IS NOT NULL")
    with op.batch_alter_table("record_audit") as batch:
        batch.drop_column("run_id")
        batch.create_foreign_key(FK, "audit_runs", ["run"], ["id"])
    op.create_index("ix_record_audit_run", "record_audit", ["run"])


def downgrade() -> None:
    op.drop_index("ix_record_audit_run", table_name="record_audit")
    with op.batch_alter_table("record_audit") as batch:
        batch.add_column(sa.Column("run_id", sa.String(250)))
    op.execute("UPDATE record_audit SET run_id = (SELECT r.run_id FROM audit_runs r WHERE r.id = record_audit.run) "
               "WHERE run IS NOT NULL")
    with op.batch_alter_table("record_audit") as batch:
        batch.drop_constraint(FK, type_="foreignkey")
        batch.drop_column("run")
    op.create_index("ix_record_audit_run_id", "record_audit", ["run_id"])
    op.drop_table("audit_runs")
