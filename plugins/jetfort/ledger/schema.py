"""The ledger's tables (SQLAlchemy Core).

The migrations in ``migrations/versions`` create exactly these; a test compares the two so they
never drift. Timestamps are stored as timezone-aware UTC; JSON values as :mod:`jetfort.ledger.packing`
writes them (:data:`~jetfort.ledger.packing.JSON`: on PostgreSQL ``bytea``).
"""

from __future__ import annotations

import sqlalchemy as sa

from jetfort.ledger.packing import JSON

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

TS = sa.DateTime(timezone=True)

#: One row per synced thing: a shop order, a customer, a status push, a capture, an article...
records = sa.Table(
    "records",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("tenant", sa.String(40), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("source_key", sa.String(200), nullable=False),
    sa.Column("state", sa.String(32), nullable=False),
    sa.Column("target_type", sa.String(32)),
    sa.Column("target_key", sa.String(100)),
    sa.Column("payload_hash", sa.String(64)),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("detail", JSON),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
    sa.UniqueConstraint("tenant", "kind", "source_key"),
    sa.Index(None, "tenant", "kind", "state", "updated_at"),  # updated_at: the monthly cap's count
)

#: The Airflow runs the audit names, each once: an order's steps share one run id of about 40
#: characters, which stored and indexed on every audit row was a third of the audit's size.
audit_runs = sa.Table(
    "audit_runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(250), nullable=False),
    sa.UniqueConstraint("run_id"),
)

#: Every step a record went through, with what was sent and the Airflow run that did it.
record_audit = sa.Table(
    "record_audit",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("record_id", sa.Integer, sa.ForeignKey("records.id", ondelete="CASCADE"), nullable=False),
    sa.Column("at", TS, nullable=False),
    sa.Column("step", sa.String(40), nullable=False),
    sa.Column("state", sa.String(32), nullable=False),
    sa.Column("message", sa.Text),
    sa.Column("payload", JSON),
    sa.Column("run", sa.Integer, sa.ForeignKey("audit_runs.id")),
    sa.Index(None, "record_id"),
    sa.Index(None, "run"),  # what one Airflow run did (the orders summary)
)

#: Incremental positions (e.g. "fortnox orders changed since").
cursors = sa.Table(
    "cursors",
    metadata,
    sa.Column("tenant", sa.String(40), primary_key=True),
    sa.Column("name", sa.String(255), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),  # JSON for some cursors (migration 0002)
    sa.Column("updated_at", TS, nullable=False),
)

#: Records that cannot go on, with the reason a person can act on.
quarantine = sa.Table(
    "quarantine",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("tenant", sa.String(40), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("source_key", sa.String(200), nullable=False),
    sa.Column("reason", sa.String(64), nullable=False),
    sa.Column("field", sa.String(200)),
    sa.Column("code", sa.String(40)),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("payload", JSON),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="1"),
    sa.Column("first_at", TS, nullable=False),
    sa.Column("last_at", TS, nullable=False),
    sa.Column("resolved_at", TS),
    sa.UniqueConstraint("tenant", "kind", "source_key"),
    sa.Index(None, "tenant", "resolved_at"),
)

#: Last seen state of each catalog cell per side, and what jetfort itself wrote (echo guard).
catalog_snapshots = sa.Table(
    "catalog_snapshots",
    metadata,
    sa.Column("tenant", sa.String(40), primary_key=True),
    sa.Column("side", sa.String(16), primary_key=True),
    sa.Column("entity", sa.String(32), primary_key=True),
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Column("written_hash", sa.String(64)),
    sa.Column("data", JSON),
    sa.Column("updated_at", TS, nullable=False),
)

#: OAuth tokens per Fortnox connection; secrets are encrypted (Fernet) before they get here.
oauth_tokens = sa.Table(
    "oauth_tokens",
    metadata,
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("access_token", sa.LargeBinary),
    sa.Column("refresh_token", sa.LargeBinary),
    sa.Column("expires_at", TS),
    sa.Column("scope", sa.Text),
    sa.Column("version", sa.Integer, nullable=False, server_default="0"),
    sa.Column("updated_at", TS, nullable=False),
)

#: Accepted Fortnox requests per company, for the shared sliding-window budget.
request_log = sa.Table(
    "request_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("company", sa.String(200), nullable=False),
    sa.Column("at", sa.Float, nullable=False),
    sa.Index(None, "company", "at"),
)

#: Orders a shop pushed to jetfort's receiver (Norce), stored before the receiver answers; one row per
#: (shop connection, order ref) however often it is pushed. The orders DAG reads the pending ones.
shop_inbox = sa.Table(
    "shop_inbox",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("shop", sa.String(250), nullable=False),  # the shop's connection id (Norce conn id)
    sa.Column("ref", sa.String(200), nullable=False),  # the order's ref (Norce ClientOrderRef text)
    sa.Column("payload", JSON, nullable=False),
    sa.Column("payload_hash", sa.String(64), nullable=False),
    sa.Column("received_at", TS, nullable=False),
    sa.Column("last_pushed_at", TS, nullable=False),
    sa.Column("push_count", sa.Integer, nullable=False, server_default="1"),
    sa.Column("consumed_at", TS),
    sa.Column("last_error", sa.Text),
    sa.UniqueConstraint("shop", "ref"),
    sa.Index(None, "shop", "consumed_at"),
)

#: Fortnox WebSocket offsets safe to resume from, per stream (one per Fortnox app and events URL) and
#: topic: the offset of the last event before the earliest one whose DAG run has not succeeded yet.
#: Offsets are opaque strings (never compared). Written only by jetfort.events.
event_offsets = sa.Table(
    "event_offsets",
    metadata,
    sa.Column("stream", sa.String(300), primary_key=True),
    sa.Column("topic", sa.String(100), primary_key=True),
    sa.Column("offset", sa.Text, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
)

#: Event batches whose DAG run succeeded (written by the run's last task), read by the event stream to
#: move ``event_offsets`` on.
event_applied = sa.Table(
    "event_applied",
    metadata,
    sa.Column("batch", sa.String(64), primary_key=True),
    sa.Column("tenant", sa.String(40), nullable=False),
    sa.Column("purpose", sa.String(16), nullable=False),
    sa.Column("applied_at", TS, nullable=False),
    sa.Index(None, "applied_at"),
)

#: Quarantine entries a person dismissed from the jetfort page, with who, when and why. The entry stays
#: dismissed while the flow quarantines it again for the same reason, field and code (written by jetfort.ui).
quarantine_notes = sa.Table(
    "quarantine_notes",
    metadata,
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
    sa.Index(None, "tenant", "kind", "source_key"),
)

#: Fortnox consents started from the jetfort page or CLI: the ``state`` (as a hash) bound to the user who
#: started it, used once; ``outcome`` says how it ended (connected, denied, refused, failed).
oauth_consents = sa.Table(
    "oauth_consents",
    metadata,
    sa.Column("state_hash", sa.String(64), primary_key=True),
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
    sa.Index(None, "tenant", "created_at"),
)
