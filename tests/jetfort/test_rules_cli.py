"""Tenant rules stored as Variables in the metastore (as the README says) reach the ``airflow`` CLI.

Runs the real ``airflow`` command in subprocesses against a private, freshly migrated
AIRFLOW_HOME, with no tenant in the environment or in files: whatever DAGs the CLI shows come from
the metastore. One ``airflow db migrate`` for the module, then the CLI calls.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "include" / "mappings" / "tenants"
TIMEOUT = 180


def _clean_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of a user's shell: Airflow settings, no tenant Variables outside the metastore."""
    env = {name: value for name, value in os.environ.items()
           if not name.upper().startswith("AIRFLOW_VAR_") and name not in {"JETFORT_TENANTS_DIR"}
           and not name.startswith("AIRFLOW__DATABASE__")}
    env.update({
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "JETFORT_MAPPINGS_DIR": str(REPO / "include" / "mappings"),
    })
    env.update(extra)
    return env


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "airflow", *args], env=env, cwd=REPO, capture_output=True,
                          text=True, timeout=TIMEOUT)


@pytest.fixture(scope="module")
def cli_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    home = tmp_path_factory.mktemp("airflow-cli-home")
    env = _clean_env(home)
    migrated = _run(env, "db", "migrate")
    assert migrated.returncode == 0, migrated.stderr[-2000:]
    stored = _run(env, "variables", "set", "jetfort_tenant_demo_ecom", (EXAMPLES / "demo_ecom.json").read_text())
    assert stored.returncode == 0, stored.stderr[-2000:]
    yield env


def test_tasks_list_finds_a_dag_whose_rules_are_a_metastore_variable(cli_env: dict[str, str]) -> None:
    listed = _run(cli_env, "tasks", "list", "jetfort__demo_ecom__orders")
    assert listed.returncode == 0, listed.stderr[-2000:]
    assert "could not be found" not in listed.stdout + listed.stderr
    assert [line for line in listed.stdout.splitlines() if line.strip()], "no task listed"


def test_reserialize_then_dags_list_show_exactly_the_stored_tenant(cli_env: dict[str, str]) -> None:
    reserialized = _run(cli_env, "dags", "reserialize")
    assert reserialized.returncode == 0, reserialized.stderr[-2000:]
    listed = _run(cli_env, "dags", "list", "-o", "json")
    assert listed.returncode == 0, listed.stderr[-2000:]
    # the JSON document is the last line (without the graphviz package Airflow prints a warning first)
    dag_ids = {row["dag_id"] for row in json.loads(listed.stdout.strip().splitlines()[-1])}
    assert {"jetfort__demo_ecom__orders", "jetfort__demo_ecom__catalog"} <= dag_ids, dag_ids
    # only the tenant in the metastore: the other examples exist as files but nobody stored them
    assert {dag_id.split("__")[1] for dag_id in dag_ids if dag_id.startswith("jetfort__")} == {"demo_ecom"}, dag_ids
    errors = _run(cli_env, "dags", "list-import-errors", "-o", "json")
    assert errors.returncode == 0, errors.stderr[-2000:]
    assert "jetfort_" not in errors.stdout, errors.stdout


_PARSE = """
import json
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder={dags!r})
print(json.dumps({{"dags": sorted(bag.dags), "errors": {{k.rsplit("/", 1)[-1]: v for k, v in bag.import_errors.items()}}}}))
"""


def _parse_dags(env: dict[str, str]) -> dict[str, object]:
    done = subprocess.run([sys.executable, "-c", _PARSE.format(dags=str(REPO / "dags"))], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=TIMEOUT)
    assert done.returncode == 0, done.stderr[-2000:]
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_unreachable_metastore_is_an_import_error_not_missing_tenants(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    nowhere = f"postgresql+psycopg://nobody@127.0.0.1:{port}/none"
    env = _clean_env(tmp_path, AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=nowhere,
                     AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC=nowhere,
                     AIRFLOW_VAR_JETFORT_TENANT_DEMO_ERP=(EXAMPLES / "demo_erp.json").read_text())
    parsed = _parse_dags(env)
    errors = parsed["errors"]
    assert isinstance(errors, dict)
    for name in ("jetfort_orders.py", "jetfort_catalog.py", "jetfort_order_status.py", "jetfort_rules_check.py"):
        assert name in errors, sorted(errors)
        assert "cannot list the tenant Variables (jetfort_tenant_*) in the Airflow metadata DB" in errors[name]
    # no parse that pretends the metastore's tenants do not exist (the ledger's own DAG needs no tenant)
    assert parsed["dags"] == ["jetfort_ledger_retention"]


def test_never_migrated_metadata_db_means_no_stored_tenants(tmp_path: Path) -> None:
    """A plain process (a script, a unit test) whose Airflow DB was never set up still loads env tenants."""
    env = _clean_env(tmp_path, AIRFLOW_VAR_JETFORT_TENANT_DEMO_ERP=(EXAMPLES / "demo_erp.json").read_text())
    parsed = _parse_dags(env)
    assert parsed["errors"] == {}
    dags = parsed["dags"]
    assert isinstance(dags, list) and "jetfort__demo_erp__orders" in dags
    assert {dag_id.split("__")[1] for dag_id in dags if dag_id.startswith("jetfort__")} == {"demo_erp"}
