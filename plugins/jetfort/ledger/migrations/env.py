"""Alembic environment: always run with a connection handed in by ``jetfort.ledger.migrate``."""

from __future__ import annotations

from alembic import context

from jetfort.ledger.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only reachable through the alembic CLI
    raise RuntimeError("run ledger migrations through jetfort.ledger.migrate.upgrade(engine)")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    version_table="jetfort_alembic_version",
)
with context.begin_transaction():
    context.run_migrations()
