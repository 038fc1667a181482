"""Test-wide setup: a private AIRFLOW_HOME and ledger, before anything imports Airflow.

PostgreSQL and Redis tests read ``JETFORT_TEST_POSTGRES_URL`` / ``JETFORT_TEST_REDIS_URL``
(``.ci/run`` sets both) and are skipped with a message when those are not set.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

REPO = Path(__file__).resolve().parents[1]
_HOME = Path(tempfile.mkdtemp(prefix="jetfort-test-airflow-"))

os.environ["AIRFLOW_HOME"] = str(_HOME)
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(REPO / "dags")
os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(REPO / "plugins")
os.environ["AIRFLOW__CORE__ALLOWED_DESERIALIZATION_CLASSES"] = "airflow.* jetfort.*"
os.environ["AIRFLOW__CORE__PARALLELISM"] = "4"
os.environ.setdefault("JETFORT_MAPPINGS_DIR", str(REPO / "include" / "mappings"))
os.environ["JETFORT_LEDGER_URL"] = f"sqlite:///{_HOME / 'jetfort_ledger.db'}"
# a throwaway key for this test session only (inherited by subprocesses the tests start)
os.environ["JETFORT_LEDGER_SECRET_KEY"] = Fernet.generate_key().decode()

POSTGRES_ENV = "JETFORT_TEST_POSTGRES_URL"
REDIS_ENV = "JETFORT_TEST_REDIS_URL"


def pytest_report_header(config: pytest.Config) -> list[str]:
    return [
        f"jetfort: AIRFLOW_HOME={_HOME}",
        f"jetfort: PostgreSQL tests {'ON' if os.environ.get(POSTGRES_ENV) else 'OFF (set ' + POSTGRES_ENV + ')'}; "
        f"Redis tests {'ON' if os.environ.get(REDIS_ENV) else 'OFF (set ' + REDIS_ENV + ')'}",
        "jetfort: the CeleryExecutor topology test runs only in `make test-distributed` (JETFORT_DISTRIBUTED=1)",
    ]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """This process's AIRFLOW_HOME goes when its tests passed; after a failure it stays for its logs
    (the report header names it). Each xdist worker has its own and removes its own."""
    if exitstatus == pytest.ExitCode.OK:
        shutil.rmtree(_HOME, ignore_errors=True)
    else:
        print(f"\njetfort: AIRFLOW_HOME kept for its logs: {_HOME}")


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'ledger.db'}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for one test, dropped afterwards."""
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        pytest.skip(f"PostgreSQL test: set {POSTGRES_ENV} (e.g. postgresql+psycopg2://postgres@127.0.0.1:5432/postgres)")
    import sqlalchemy as sa

    name = f"jetfort_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = sa.make_url(base).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture
def redis_url() -> str:
    url = os.environ.get(REDIS_ENV)
    if not url:
        pytest.skip(f"Redis test: set {REDIS_ENV} (e.g. redis://127.0.0.1:6379/15)")
    return url


@pytest.fixture(params=["sqlite", "postgres"])
def ledger_url(request: pytest.FixtureRequest) -> str:
    """Run a ledger test on both backends."""
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_url"))
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """A migrated Airflow metadata DB in this session's AIRFLOW_HOME (for CLI and dag.test)."""
    import subprocess
    import sys

    marker = _HOME / ".migrated"
    if not marker.exists():
        subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        marker.touch()
    return _HOME


@pytest.fixture
def sync_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, airflow_db: Path):  # type: ignore[no-untyped-def]
    """Both sandboxes running, connections + example tenants + a fresh ledger fed through env."""
    from tests.harness import sync_environment

    with sync_environment(monkeypatch, tmp_path) as env:
        yield env
