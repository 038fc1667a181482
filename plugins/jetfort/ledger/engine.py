"""Where the ledger lives: SQLAlchemy engines for SQLite (embedded default) and PostgreSQL.

Which database: ``$JETFORT_LEDGER_URL``, else the Airflow connection ``jetfort_ledger``. A SQLite
file under AIRFLOW_HOME only when that connection says so (extra ``url`` ``sqlite:///...``, or no
host and nothing else) or when no such connection is defined on a single-machine stack
(LocalExecutor). Any other failure to read the connection raises :class:`LedgerUnavailable` with
the reason: a worker that quietly used a file of its own would break "exactly once" and could
lose a rotated Fortnox refresh token.

SQLite transactions start with ``BEGIN IMMEDIATE`` so two processes never interleave a
read-then-write (the ledger's compare-and-set steps rely on it); WAL and a busy timeout let
readers and the waiting writer get along. PostgreSQL uses row locks and advisory locks instead.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

from jetfort import jsoncodec
from jetfort.ledger import packing
from jetfort.ledger.crypto import KEY_ENV, SecretKeyMissing

DEFAULT_CONN_ID = "jetfort_ledger"
URL_ENV = "JETFORT_LEDGER_URL"
#: where Airflow reads a connection from the environment (``AIRFLOW_CONN_<CONN_ID>``)
ENV_CONN_PREFIX = "AIRFLOW_CONN_"
#: the only executor whose tasks all run on this machine (so they share a SQLite file)
SINGLE_MACHINE_EXECUTORS = frozenset({"LocalExecutor"})


class LedgerUnavailable(RuntimeError):
    """The ledger's connection could not be read, or says something the ledger cannot use."""


@dataclass(frozen=True)
class LedgerTarget:
    """The ledger's database URL and the key that encrypts its OAuth tokens (``None``: the key
    file beside a SQLite database)."""

    url: str
    secret_key: str | None = field(default=None, repr=False)


def default_sqlite_path() -> Path:
    home = Path(os.environ.get("AIRFLOW_HOME", Path.home() / "airflow"))
    return home / "jetfort_ledger.db"


def make_engine(url: str, **kwargs: Any) -> sa.Engine:
    """Create an engine with the locking behaviour the ledger needs for ``url``; JSON columns are
    encoded and decoded by :mod:`jetfort.jsoncodec` (on SQLite, compressed from a size on:
    :mod:`jetfort.ledger.packing`) unless ``json_serializer``/``json_deserializer`` are given. (The
    ledger's own JSON columns are ``bytea`` on PostgreSQL, packed by their type whatever is given.)"""
    sqlite_ = url.startswith("sqlite")
    kwargs.setdefault("json_serializer", packing.pack if sqlite_ else jsoncodec.dumps)
    kwargs.setdefault("json_deserializer", packing.unpack if sqlite_ else jsoncodec.loads)
    if sqlite_:
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


def connection_extra(conn: Any) -> dict[str, Any]:
    """The connection's extra as a dict; unreadable JSON raises (Airflow's ``extra_dejson`` would
    log it and hand back ``{}``, which for the ledger means another database)."""
    raw = getattr(conn, "extra", None)
    if not raw:
        return {}
    try:
        extra = json.loads(raw)
    except ValueError as exc:
        raise LedgerUnavailable(f"ledger connection {conn.conn_id!r}: extra is not valid JSON ({exc})") from None
    if not isinstance(extra, dict):
        raise LedgerUnavailable(f"ledger connection {conn.conn_id!r}: extra must be a JSON object, "
                                f"got {type(extra).__name__}")
    return extra


def url_from_connection(conn: Any) -> str:
    """Build a SQLAlchemy URL from an Airflow connection of type ``jetfort_ledger``.

    ``extra.url`` wins when set (any SQLAlchemy URL without a password, e.g. a SQLite file);
    otherwise host/port/login/password/schema make a PostgreSQL URL. No host and nothing else set
    means the SQLite file under AIRFLOW_HOME; login, password, schema or port without a host raise.
    """
    extra = connection_extra(conn)
    if extra.get("url"):
        return str(extra["url"])
    if not conn.host:
        given = [name for name in ("login", "password", "schema", "port") if getattr(conn, name, None)]
        if given:
            raise LedgerUnavailable(
                f"ledger connection {conn.conn_id!r} sets {', '.join(given)} but no host: set the "
                "PostgreSQL host (or extra url); only an empty connection means SQLite under AIRFLOW_HOME")
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


def resolve(conn_id: str = DEFAULT_CONN_ID) -> LedgerTarget:
    """The ledger's URL (``$JETFORT_LEDGER_URL``, else the connection, else the SQLite default) and
    its key (the connection's ``extra.secret_key``, else ``$JETFORT_LEDGER_SECRET_KEY``).

    Raises :class:`LedgerUnavailable` when the connection cannot be read, and
    :class:`~jetfort.ledger.crypto.SecretKeyMissing` for a database other than SQLite without a key.
    """
    env_url = os.environ.get(URL_ENV)
    conn = read_connection(conn_id)
    if conn is not None:
        extra = connection_extra(conn)
        url = env_url or url_from_connection(conn)
        key = str(extra["secret_key"]) if extra.get("secret_key") else None
        where = f"connection {conn_id!r}"
    elif env_url:
        url, key, where = env_url, None, f"${URL_ENV}"
    elif single_machine():
        url, key, where = f"sqlite:///{default_sqlite_path()}", None, "default"
    else:
        raise LedgerUnavailable(
            f"no ledger connection {conn_id!r} is defined and this stack's executor ({executors_setting()}) "
            f"runs tasks on several machines, where a SQLite file per worker would break exactly-once: "
            f"define the connection {conn_id!r} (PostgreSQL) or set ${URL_ENV}")
    key = key or os.environ.get(KEY_ENV) or None
    if key is None and not url.startswith("sqlite"):
        raise SecretKeyMissing(
            f"the ledger ({where}) is not SQLite and has no secret key: set extra.secret_key on the "
            f"connection {conn_id!r} or ${KEY_ENV} (one Fernet key, the same on every worker)")
    return LedgerTarget(url, key)


def read_connection(conn_id: str) -> Any | None:
    """The Airflow connection ``conn_id``, or ``None`` when it is not defined anywhere.

    Airflow reports a secrets backend that failed as "not defined" (it logs the failure at debug
    level and asks the next backend), so before taking "not defined" for an answer the places that
    can hold the connection outside Airflow's database (the configured secrets backend, then
    ``AIRFLOW_CONN_<ID>``) are asked again here: one that fails raises :class:`LedgerUnavailable`.
    An execution API that did not answer is also reported as "not defined"; on a stack of several
    machines the missing connection then raises in :func:`resolve`."""
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        return BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        pass
    except Exception as exc:
        raise LedgerUnavailable(f"ledger connection {conn_id!r} could not be read: {_reason(exc)}") from exc
    return _ask_backends_again(conn_id)


def _ask_backends_again(conn_id: str) -> Any | None:
    from airflow.sdk.configuration import get_custom_secret_backend

    try:
        backend = get_custom_secret_backend(worker_mode=True)
    except Exception as exc:
        raise LedgerUnavailable(f"ledger connection {conn_id!r} could not be read: the secrets backend "
                                f"cannot be loaded: {_reason(exc)}") from exc
    if backend is not None:
        try:
            conn = backend.get_connection(conn_id)
        except Exception as exc:
            raise LedgerUnavailable(f"ledger connection {conn_id!r} could not be read: secrets backend "
                                    f"{type(backend).__name__} failed: {_reason(exc)}") from exc
        if conn is not None:  # the first ask failed, this one did not
            return conn
    return _from_environment(conn_id)


def _from_environment(conn_id: str) -> Any | None:
    """``AIRFLOW_CONN_<CONN_ID>`` read as Airflow reads it (JSON or URI); one it cannot read raises
    (only the error's type is told: the value may hold a password)."""
    from airflow.sdk import Connection

    name = f"{ENV_CONN_PREFIX}{conn_id.upper()}"
    value = os.environ.get(name, "").strip()
    if not value:
        return None
    try:
        if value.startswith("{"):
            return Connection.from_json(value, conn_id=conn_id)
        return Connection.from_uri(value, conn_id=conn_id)
    except Exception as exc:
        raise LedgerUnavailable(f"ledger connection {conn_id!r}: ${name} is set but is not a connection "
                                f"URI or JSON Airflow can read ({type(exc).__name__})") from None


def _reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def executors_setting() -> str:
    from airflow.sdk import conf

    return str(conf.get("core", "executor", fallback="LocalExecutor"))


def single_machine() -> bool:
    """Whether every executor configured runs tasks on this machine (``[core] executor`` entries
    may be ``Name``, ``module.path.Name`` or ``alias:module.path.Name``)."""
    names = [item.strip().rsplit(":", 1)[-1].rsplit(".", 1)[-1] for item in executors_setting().split(",")]
    return all(name in SINGLE_MACHINE_EXECUTORS for name in names if name)
