"""Versioned schema migrations (Alembic) run from code, so tasks and `make` need no CLI."""

from __future__ import annotations

import logging
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext

MIGRATIONS = Path(__file__).with_name("migrations")
VERSION_TABLE = "jetfort_alembic_version"


def _config(connection: sa.Connection) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def upgrade(engine: sa.Engine, revision: str = "head") -> None:
    """Bring the ledger schema to ``revision``; safe to call on every start."""
    logging.getLogger("alembic").setLevel(logging.WARNING)  # two INFO lines per task otherwise
    with engine.begin() as connection:
        command.upgrade(_config(connection), revision)


def downgrade(engine: sa.Engine, revision: str) -> None:
    """Take the ledger schema back to ``revision`` (before running an older jetfort on it)."""
    logging.getLogger("alembic").setLevel(logging.WARNING)
    with engine.begin() as connection:
        command.downgrade(_config(connection), revision)


def current_revision(engine: sa.Engine) -> str | None:
    with engine.connect() as connection:
        ctx = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
        return ctx.get_current_revision()
