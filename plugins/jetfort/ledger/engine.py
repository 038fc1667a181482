"""Where the ledger lives: SQLAlchemy engines for SQLite (embedded default) and PostgreSQL.

SQLite transactions start with ``BEGIN IMMEDIATE`` so two processes never interleave a
read-then-write (the ledger's compare-and-set steps rely on it); WAL and a busy timeout let
readers and the waiting writer get along. PostgreSQL uses row locks and advisory locks instead.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

from jetfort import jsoncodec

DEFAULT_CONN_ID = "jetfort_ledger"
URL_ENV = "JETFORT_LEDGER_URL"


def default_sqlite_path() -> Path:
    home = Path(os.environ.get("AIRFLOW_HOME", Path.home() / "airflow"))
    return home / "jetfort_ledger.db"


def make_engine(url: str, **kwargs: Any) -> sa.Engine:
    """Create an engine with the locking behaviour the ledger needs for ``url``; JSON columns are
    encoded and decoded by :mod:`jetfort.jsoncodec` unless ``json_serializer``/``json_deserializer``
    are given."""
    kwargs.setdefault("json_serializer", jsoncodec.dumps)
    kwargs.setdefault("json_deserializer", jsoncodec.loads)
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"timeout": 60}, **kwargs)
        _sqlite_immediate_transactions(engine)
        return engine
    return sa.create_engine(url, pool_pre_ping=True, **kwargs)


def _sqlite_immediate_transactions(engine: sa.Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # let us emit BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA busy_timeout=60000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        # straight to the driver: the same statement, without a trip through SQLAlchemy's execution
        # machinery (which cost more CPU than the BEGIN itself, once per ledger transaction)
        conn.connection.driver_connection.execute("BEGIN IMMEDIATE")  # type: ignore[union-attr]


def url_from_connection(conn: Any) -> str:
    """Build a SQLAlchemy URL from an Airflow connection of type ``jetfort_ledger``.

    ``extra.url`` wins when set (any SQLAlchemy URL without a password, e.g. a SQLite file);
    otherwise host/port/login/password/schema make a PostgreSQL URL.
    """
    extra = conn.extra_dejson if hasattr(conn, "extra_dejson") else {}
    if extra.get("url"):
        return str(extra["url"])
    if not conn.host:
        return f"sqlite:///{default_sqlite_path()}"
    url = sa.URL.create(
        drivername=str(extra.get("driver", "postgresql+psycopg2")),
        username=conn.login or None,
        password=conn.password or None,
        host=conn.host,
        port=conn.port or None,
        database=conn.schema or None,
    )
    return url.render_as_string(hide_password=False)


def resolve_url(conn_id: str = DEFAULT_CONN_ID) -> str:
    """``JETFORT_LEDGER_URL``, else the Airflow connection, else a SQLite file under AIRFLOW_HOME."""
    if os.environ.get(URL_ENV):
        return os.environ[URL_ENV]
    try:
        from airflow.sdk import BaseHook

        conn = BaseHook.get_connection(conn_id)
    except Exception:  # connection not defined: the embedded default
        return f"sqlite:///{default_sqlite_path()}"
    return url_from_connection(conn)
