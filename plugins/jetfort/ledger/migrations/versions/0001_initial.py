"""Initial ledger: records and audit, cursors, quarantine, catalog snapshots, tokens, budget.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    _records_and_audit()
    _cursors_and_quarantine()
    _catalog_tokens_and_budget()


def _records_and_audit() -> None:
    op.create_table(
        "records",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("tenant", sa.String(40), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("source_key", sa.String(200), nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("target_type", sa.String(32)),
        sa.Column("target_key", sa.String(100)),
        sa.Column("payload_hash", sa.String(64)),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("detail", sa.JSON),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_records"),
        sa.UniqueConstraint("tenant", "kind", "source_key", name="uq_records_tenant_kind_source_key"),
    )
    op.create_index("ix_records_tenant_kind_state", "records", ["tenant", "kind", "state"])
    op.create_table(
        "record_audit",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("record_id", sa.Integer, nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("step", sa.String(40), nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("message", sa.Text),
        sa.Column("payload", sa.JSON),
        sa.Column("run_id", sa.String(250)),
        sa.PrimaryKeyConstraint("id", name="pk_record_audit"),
        sa.ForeignKeyConstraint(
            ["record_id"], ["records.id"], name="fk_record_audit_record_id_records", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_record_audit_record_id", "record_audit", ["record_id"])


def _cursors_and_quarantine() -> None:
    op.create_table(
        "cursors",
        sa.Column("tenant", sa.String(40), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("value", sa.String(100), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("tenant", "name", name="pk_cursors"),
    )
    op.create_table(
        "quarantine",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("tenant", sa.String(40), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("source_key", sa.String(200), nullable=False),
        sa.Column("reason", sa.String(64), nullable=False),
        sa.Column("field", sa.String(200)),
        sa.Column("code", sa.String(40)),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("payload", sa.JSON),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="1"),
        sa.Column("first_at", TS, nullable=False),
        sa.Column("last_at", TS, nullable=False),
        sa.Column("resolved_at", TS),
        sa.PrimaryKeyConstraint("id", name="pk_quarantine"),
        sa.UniqueConstraint("tenant", "kind", "source_key", name="uq_quarantine_tenant_kind_source_key"),
    )
    op.create_index("ix_quarantine_tenant_resolved_at", "quarantine", ["tenant", "resolved_at"])


def _catalog_tokens_and_budget() -> None:
    op.create_table(
        "catalog_snapshots",
        sa.Column("tenant", sa.String(40), nullable=False),
        sa.Column("side", sa.String(16), nullable=False),
        sa.Column("entity", sa.String(32), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("written_hash", sa.String(64)),
        sa.Column("data", sa.JSON),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("tenant", "side", "entity", "key", name="pk_catalog_snapshots"),
    )
    op.create_table(
        "oauth_tokens",
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("access_token", sa.LargeBinary),
        sa.Column("refresh_token", sa.LargeBinary),
        sa.Column("expires_at", TS),
        sa.Column("scope", sa.Text),
        sa.Column("version", sa.Integer, nullable=False, server_default="0"),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_oauth_tokens"),
    )
    op.create_table(
        "request_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("company", sa.String(200), nullable=False),
        sa.Column("at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_request_log"),
    )
    op.create_index("ix_request_log_company_at", "request_log", ["company", "at"])


def downgrade() -> None:
    for table in ("request_log", "oauth_tokens", "catalog_snapshots", "quarantine", "cursors",
                  "record_audit", "records"):
        op.drop_table(table)
