"""Where tenants come from: Variables in the metastore (through the supervisor or the metadata
DB), ``AIRFLOW_VAR_JETFORT_TENANT_*`` environment variables and ``$JETFORT_TENANTS_DIR`` files.

The real ``airflow`` CLI path (metastore Variables seen by ``dags list``/``tasks list``) is in
``test_rules_cli.py``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest

from jetfort import tenants as tenants_mod
from jetfort.rules import ENV_PREFIX, RulesError
from jetfort.tenants import load_tenants_from_airflow
from tests.jetfort.test_rules import EXAMPLES, REPO, erp, minimal, with_


def test_load_tenants_from_env_vars(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JETFORT_TENANTS_DIR", raising=False)
    for name in list(os.environ):
        if name.startswith(ENV_PREFIX):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AIRFLOW_VAR_JETFORT_TENANT_ACME_SE", json.dumps(erp()))
    monkeypatch.setenv("AIRFLOW_VAR_JETFORT_TENANT_OOPS", json.dumps(with_(erp, flow="hybrid")()))
    tenants, errors = load_tenants_from_airflow()
    assert list(tenants) == ["acme_se"]
    assert list(errors) == ["oops"]
    assert "tenant 'oops': flow: Input should be" in str(errors["oops"])


def test_load_tenants_from_dir_env_wins(tmp_path: Path) -> None:
    for name in ("demo_ecom", "demo_erp"):
        (tmp_path / f"{name}.json").write_text((EXAMPLES / f"{name}.json").read_text(encoding="utf-8"))
    (tmp_path / "bad.json").write_text('{"flow": "erp"}')
    environ = {
        "JETFORT_TENANTS_DIR": str(tmp_path),
        "AIRFLOW_VAR_JETFORT_TENANT_DEMO_ERP": json.dumps(minimal("erp", display_name="from env")),
    }
    tenants, errors = load_tenants_from_airflow(environ)
    assert sorted(tenants) == ["demo_ecom", "demo_erp"]
    assert tenants["demo_erp"].display_name == "from env"
    assert tenants["demo_ecom"].flow == "ecom"
    assert "tenant 'bad': fortnox_conn_id: Field required" in str(errors["bad"])


class _FakeSdkVariable:
    """Stands in for ``airflow.sdk.Variable`` behind a supervisor: what the API server would answer."""

    stored: dict[str, str] = {}
    keys_error: Exception | None = None
    broken: set[str] = set()
    listings = 0

    @classmethod
    def keys(cls, prefix: str | None = None) -> list[str]:
        cls.listings += 1
        if cls.keys_error is not None:
            raise cls.keys_error
        return [k for k in cls.stored if k.startswith(prefix or "")]

    @classmethod
    def get(cls, key: str) -> str:
        if key in cls.broken:
            raise RuntimeError("API server answered 500")
        return cls.stored[key]


@pytest.fixture
def supervised(monkeypatch: pytest.MonkeyPatch) -> type[_FakeSdkVariable]:
    """This process looks like one an Airflow supervisor runs (DAG processor, task runner)."""
    runner = types.ModuleType("airflow.sdk.execution_time.task_runner")
    runner.SUPERVISOR_COMMS = object()  # type: ignore[attr-defined]
    sdk = types.ModuleType("airflow.sdk")
    fake = type("Variable", (_FakeSdkVariable,), {"stored": {}, "keys_error": None, "broken": set(), "listings": 0})
    sdk.Variable = fake  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "airflow.sdk.execution_time.task_runner", runner)
    monkeypatch.setitem(sys.modules, "airflow.sdk", sdk)
    return fake


def test_metastore_variables_read_inside_airflow(supervised: type[_FakeSdkVariable], tmp_path: Path) -> None:
    """Under a supervisor (task runner, DAG processor) the metastore counts: above files, below env."""
    supervised.stored = {
        "jetfort_tenant_meta": json.dumps(minimal("ecom", display_name="metastore")),
        "jetfort_tenant_both": json.dumps(minimal("ecom", display_name="metastore")),
    }
    (tmp_path / "meta.json").write_text(json.dumps(minimal("ecom", display_name="file")))
    environ = {
        "JETFORT_TENANTS_DIR": str(tmp_path),
        "AIRFLOW_VAR_JETFORT_TENANT_BOTH": json.dumps(minimal("ecom", display_name="env")),
    }
    tenants, errors = load_tenants_from_airflow(environ)
    assert errors == {}
    assert tenants["meta"].display_name == "metastore"
    assert tenants["both"].display_name == "env"


def test_metastore_that_cannot_list_fails_the_load(supervised: type[_FakeSdkVariable], tmp_path: Path) -> None:
    """No parse goes on as if the metastore's tenants did not exist (their DAGs would vanish)."""
    supervised.keys_error = ConnectionError("API server unreachable")
    (tmp_path / "filed.json").write_text(json.dumps(minimal("ecom")))
    with pytest.raises(tenants_mod.MetastoreUnavailable, match=r"cannot list the tenant Variables.*API server unreachable"):
        load_tenants_from_airflow({"JETFORT_TENANTS_DIR": str(tmp_path)})


def test_one_unreadable_variable_is_that_tenants_error(supervised: type[_FakeSdkVariable], tmp_path: Path) -> None:
    supervised.stored = {
        "jetfort_tenant_fine": json.dumps(minimal("ecom")),
        "jetfort_tenant_flaky": json.dumps(minimal("ecom", display_name="metastore")),
    }
    supervised.broken = {"jetfort_tenant_flaky"}
    # an older file of the same tenant must not stand in for the Variable that outranks it
    (tmp_path / "flaky.json").write_text(json.dumps(minimal("ecom", display_name="stale file")))
    tenants, errors = load_tenants_from_airflow({"JETFORT_TENANTS_DIR": str(tmp_path)})
    assert sorted(tenants) == ["fine"]
    assert str(errors["flaky"]) == ("tenant 'flaky': (variable): cannot read Variable jetfort_tenant_flaky from "
                                    "the metastore: RuntimeError: API server answered 500")


def test_loading_tenants_does_not_import_airflow() -> None:
    """A plain process (no Airflow) loads tenants from env and files without touching Airflow."""
    code = ("import sys, jetfort.tenants; "
            "tenants, errors = jetfort.tenants.load_tenants_from_airflow(); "
            "print(sorted(tenants), 'airflow' in sys.modules)")
    env = {name: value for name, value in os.environ.items()
           if not name.startswith(ENV_PREFIX) and name != "JETFORT_TENANTS_DIR"}
    env.update(PYTHONPATH=str(REPO / "plugins"), AIRFLOW_VAR_JETFORT_TENANT_SOLO=json.dumps(minimal("ecom")))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == "['solo'] False"


def test_one_tenant_is_read_with_its_own_variable_and_the_same_precedence(
        supervised: type[_FakeSdkVariable], tmp_path: Path) -> None:
    """A task needs its own tenant only: one Variable read, no listing of every tenant."""
    supervised.stored = {"jetfort_tenant_meta": json.dumps(minimal("ecom", display_name="metastore")),
                         "jetfort_tenant_both": json.dumps(minimal("ecom", display_name="metastore")),
                         "jetfort_tenant_flaky": json.dumps(minimal("ecom", display_name="metastore"))}
    supervised.broken = {"jetfort_tenant_flaky"}
    for name in ("meta", "filed", "flaky"):
        (tmp_path / f"{name}.json").write_text(json.dumps(minimal("ecom", display_name="file")))
    environ = {"JETFORT_TENANTS_DIR": str(tmp_path),
               "AIRFLOW_VAR_JETFORT_TENANT_BOTH": json.dumps(minimal("ecom", display_name="env"))}

    assert json.loads(tenants_mod.tenant_variable("meta", environ) or "")["display_name"] == "metastore"
    assert json.loads(tenants_mod.tenant_variable("both", environ) or "")["display_name"] == "env"
    assert supervised.listings == 0  # found in the metastore: no listing
    assert json.loads(tenants_mod.tenant_variable("filed", environ) or "")["display_name"] == "file"
    assert tenants_mod.tenant_variable("ghost", environ) is None
    with pytest.raises(RulesError, match=r"cannot read Variable jetfort_tenant_flaky .*API server answered 500"):
        tenants_mod.tenant_variable("flaky", environ)  # never the older file instead
    assert supervised.listings == 3  # only those not read directly took the full path
