"""Which ledger a task gets: SQLite only when the connection says so or none is defined on a
single-machine stack; a connection or key that cannot be read fails with the reason, never SQLite.

Connections are real Airflow connections (``AIRFLOW_CONN_<ID>``), a failing secrets store is a
real secrets backend configured the way a deployment configures one (``AIRFLOW__SECRETS__BACKEND``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from jetfort.ledger import Ledger, LedgerUnavailable, SecretKeyMissing
from tests.jetfort.ledger import secrets_down

#: connection ids of this module only (Airflow keeps a configured secrets backend for the process)
DOWN = "jetfort_ledger_behind_a_down_store"
OTHER = "jetfort_ledger_conn_test"
IN_WORKER_STORE = "jetfort_ledger_in_the_workers_store"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh AIRFLOW_HOME, no ledger URL or key in the environment (the suite sets both)."""
    home = tmp_path / "airflow-home"
    home.mkdir()
    monkeypatch.setenv("AIRFLOW_HOME", str(home))
    monkeypatch.delenv("JETFORT_LEDGER_URL", raising=False)
    monkeypatch.delenv("JETFORT_LEDGER_SECRET_KEY", raising=False)
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", "LocalExecutor")
    return home


def _define(monkeypatch: pytest.MonkeyPatch, conn_id: str, **fields: object) -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps({"conn_type": "jetfort_ledger", **fields}))


def _store_down(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__SECRETS__BACKEND", secrets_down.BACKEND)
    monkeypatch.setenv("AIRFLOW__SECRETS__BACKEND_KWARGS", json.dumps({"down": DOWN}))


def _files(home: Path) -> list[str]:
    return sorted(p.name for p in home.rglob("*") if p.is_file())


def test_no_connection_on_a_single_machine_is_a_sqlite_file_under_airflow_home(home: Path) -> None:
    ledger = Ledger.from_conn_id(OTHER)
    assert ledger.dialect == "sqlite"
    assert Path(ledger.engine.url.database or "") == home / "jetfort_ledger.db"
    assert (home / "jetfort_ledger.db").exists()


def test_no_connection_under_the_celery_executor_fails_instead_of_a_file_per_worker(
        home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", "CeleryExecutor")
    with pytest.raises(LedgerUnavailable) as err:
        Ledger.from_conn_id(OTHER)
    assert repr(OTHER) in str(err.value) and "CeleryExecutor" in str(err.value)
    assert "JETFORT_LEDGER_URL" in str(err.value)
    assert _files(home) == []


def test_a_secrets_backend_that_fails_fails_the_ledger_with_its_reason(
        home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _store_down(monkeypatch)
    with pytest.raises(LedgerUnavailable) as err:
        Ledger.from_conn_id(DOWN)
    message = str(err.value)
    assert repr(DOWN) in message and secrets_down.REASON in message and "SecretsStoreBackend" in message
    assert _files(home) == []  # no SQLite file, no key file


def test_the_key_lookup_failing_is_not_swallowed_when_the_url_comes_from_the_environment(
        home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``JETFORT_LEDGER_URL`` names the database; the key still comes from the connection's extra,
    so a connection that cannot be read must not turn into the SQLite key file."""
    db = tmp_path / "env-ledger.db"
    monkeypatch.setenv("JETFORT_LEDGER_URL", f"sqlite:///{db}")
    _store_down(monkeypatch)
    with pytest.raises(LedgerUnavailable, match=re.escape(secrets_down.REASON)):
        Ledger.from_conn_id(DOWN)
    assert not db.exists() and not db.with_suffix(".key").exists()


def test_the_environment_url_is_used_when_no_connection_is_defined(
        home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "env-ledger.db"
    monkeypatch.setenv("JETFORT_LEDGER_URL", f"sqlite:///{db}")
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", "CeleryExecutor")  # a shared URL is fine anywhere
    ledger = Ledger.from_conn_id(OTHER)
    assert Path(ledger.engine.url.database or "") == db and db.exists()


def test_an_explicit_sqlite_url_is_used_on_any_executor(home: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "explicit.db"
    key = Fernet.generate_key().decode()
    _define(monkeypatch, OTHER, extra={"url": f"sqlite:///{db}", "secret_key": key})
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", "CeleryExecutor")
    ledger = Ledger.from_conn_id(OTHER)
    assert Path(ledger.engine.url.database or "") == db and db.exists()
    assert ledger.secret_key() == key
    assert _files(home) == []


def test_a_postgresql_ledger_without_a_key_names_what_to_set(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _define(monkeypatch, OTHER, host="db.invalid", login="jetfort", schema="ledger")
    with pytest.raises(SecretKeyMissing) as err:
        Ledger.from_conn_id(OTHER)
    message = str(err.value)
    assert "extra.secret_key" in message and repr(OTHER) in message and "JETFORT_LEDGER_SECRET_KEY" in message


def test_an_extra_that_is_not_json_fails_instead_of_reading_as_empty(
        home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Airflow's ``extra_dejson`` would log the error and hand back ``{}``: no url, so SQLite."""
    _define(monkeypatch, OTHER, extra='{"url": "postgresql://db.invalid/ledger"')
    with pytest.raises(LedgerUnavailable, match="extra is not valid JSON") as err:
        Ledger.from_conn_id(OTHER)
    assert repr(OTHER) in str(err.value)
    assert _files(home) == []


def test_the_connection_types_hook_reads_the_ledger_as_tasks_do(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``conn.get_hook().get_ledger()`` (the ``jetfort_ledger`` type's hook) is held to the same rules."""
    from jetfort.ledger.hook import LedgerHook

    _define(monkeypatch, OTHER, extra='{"url": "postgresql://db.invalid/ledger"')
    with pytest.raises(LedgerUnavailable, match="extra is not valid JSON"):
        LedgerHook(OTHER).get_ledger()
    _define(monkeypatch, OTHER, host="db.invalid", login="jetfort", schema="ledger")
    with pytest.raises(SecretKeyMissing, match="secret_key"):
        LedgerHook(OTHER).get_ledger()
    assert _files(home) == []


def test_a_connection_variable_airflow_cannot_read_fails(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Airflow reports an ``AIRFLOW_CONN_*`` it cannot parse as "not defined"."""
    monkeypatch.setenv(f"AIRFLOW_CONN_{OTHER.upper()}", '{"conn_type": "jetfort_ledger", "host": ')
    with pytest.raises(LedgerUnavailable, match=f"AIRFLOW_CONN_{OTHER.upper()} is set"):
        Ledger.from_conn_id(OTHER)
    assert _files(home) == []


def test_login_without_a_host_is_not_taken_for_the_sqlite_default(
        home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _define(monkeypatch, OTHER, login="jetfort", password="pw-of-the-test", schema="ledger")
    with pytest.raises(LedgerUnavailable, match="no host") as err:
        Ledger.from_conn_id(OTHER)
    assert "pw-of-the-test" not in str(err.value)
    assert _files(home) == []


def test_a_connection_only_the_workers_secrets_backend_holds_is_used_and_its_failure_is_not_hidden(
        home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``[workers] secrets_backend``: a backend of the workers alone (the API server does not know
    the connection, so nothing else can answer for it)."""
    db, outage = tmp_path / "workers-store.db", tmp_path / "store-is-down"
    kwargs = {"connections": {IN_WORKER_STORE: {"conn_type": "jetfort_ledger", "extra": {"url": f"sqlite:///{db}"}}},
              "outage_file": str(outage)}
    monkeypatch.setenv("AIRFLOW__WORKERS__SECRETS_BACKEND", secrets_down.BACKEND)
    monkeypatch.setenv("AIRFLOW__WORKERS__SECRETS_BACKEND_KWARGS", json.dumps(kwargs))
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", "CeleryExecutor")
    assert Path(Ledger.from_conn_id(IN_WORKER_STORE).engine.url.database or "") == db

    outage.touch()
    with pytest.raises(LedgerUnavailable, match=re.escape(secrets_down.REASON)):
        Ledger.from_conn_id(IN_WORKER_STORE)
