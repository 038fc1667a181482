"""docker-compose.yaml parses, has the official Airflow 3 shape plus jetfort's pieces, and uses the
same settings as the container-less topology test (both read tests/distributed/topology.json).

No Docker engine is needed: the file is read with PyYAML (anchors and ``<<`` merges resolved the
way Compose resolves them) and ``${VAR:-default}`` is interpolated with the defaults.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import yaml

from sandbox.celery_stack import CeleryStack, TenantSpec, load_topology

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yaml"
TOPOLOGY = load_topology()
AIRFLOW_SERVICES = sorted(TOPOLOGY["services"]["airflow_commands"])
SECRET_NAME = re.compile(r"PASSWORD|SECRET|FERNET_KEY|SECRET_KEY")
VARIABLE = re.compile(r"\$\{([A-Za-z0-9_]+)(?::?-([^}]*))?\}")


def interpolate(value: str) -> str:
    """Compose's ``${VAR:-default}`` with nothing set in the environment: the defaults."""
    return VARIABLE.sub(lambda m: m.group(2) or "", value).replace("$$", "$")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(data, dict) and isinstance(data.get("services"), dict)
    return data


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return dict(compose["services"])


def env_of(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    assert isinstance(env, dict), "environment must be a mapping (it is merged from the anchor)"
    return {str(k): interpolate(str(v)) for k, v in env.items()}


def local_env() -> dict[str, str]:
    """The environment the container-less runner gives every Airflow process."""
    stack = CeleryStack(postgres_url="postgresql+psycopg2://postgres@127.0.0.1:5432/postgres",
                        redis_url="redis://127.0.0.1:6379/15", workdir=Path("/nonexistent"),
                        tenants=[TenantSpec("t", {})])
    stack.broker_db, stack.budget_db = 3, 4
    return stack._airflow_env()


def test_names_the_official_services_and_the_sandbox_profile(services: dict[str, dict[str, Any]]) -> None:
    for name in TOPOLOGY["services"]["core"]:
        assert name in services, f"missing service {name}"
        assert not services[name].get("profiles"), f"{name} must start without a profile"
    for name in TOPOLOGY["services"]["sandbox_profile"]:
        assert services.get(name, {}).get("profiles") == ["sandbox"], f"{name} must be in the sandbox profile"
    for name, command in TOPOLOGY["services"]["airflow_commands"].items():
        assert services[name]["command"] == command
    assert services["postgres"]["image"].startswith("postgres:")
    assert services["redis"]["image"].startswith("redis:")


def test_airflow_services_share_the_topology_settings(services: dict[str, dict[str, Any]]) -> None:
    for name in [*AIRFLOW_SERVICES, "airflow-init", "sandbox-setup"]:
        env = env_of(services[name])
        for key, value in TOPOLOGY["airflow_env"].items():
            assert env.get(key) == value, f"{name}: {key}={env.get(key)!r}, topology says {value!r}"
        assert env["AIRFLOW__CORE__EXECUTOR"] == TOPOLOGY["executor"] == "CeleryExecutor"
        assert services[name]["image"] == services["airflow-apiserver"]["image"]
        assert services[name]["user"] == services["airflow-apiserver"]["user"]
    envs = [env_of(services[name]) for name in AIRFLOW_SERVICES]
    for key in (TOPOLOGY["jwt_secret_env"], TOPOLOGY["broker"]["env"], TOPOLOGY["ledger"]["env"],
                TOPOLOGY["metadata_db"]["env"], TOPOLOGY["fortnox_budget"]["env"], "AIRFLOW__CORE__FERNET_KEY",
                TOPOLOGY["ledger"]["secret_key_env"]):
        assert len({env.get(key) for env in envs}) == 1, f"{key} differs between Airflow services"
    assert envs[0][TOPOLOGY["jwt_secret_env"]], "one JWT secret for every container"


def test_broker_backend_metadata_and_ledger_are_the_topologys(services: dict[str, dict[str, Any]]) -> None:
    env = env_of(services["airflow-worker"])
    broker = urlparse(env[TOPOLOGY["broker"]["env"]])
    assert broker.scheme == TOPOLOGY["broker"]["scheme"] and broker.hostname == "redis"
    assert broker.path == f"/{TOPOLOGY['broker']['compose_db']}"
    backend = env[TOPOLOGY["result_backend"]["env"]]
    assert backend.startswith(TOPOLOGY["result_backend"]["scheme"] + "://")
    metadata = urlparse(env[TOPOLOGY["metadata_db"]["env"]])
    assert metadata.scheme == TOPOLOGY["metadata_db"]["scheme"] and metadata.hostname == "postgres"
    assert metadata.path == f"/{TOPOLOGY['metadata_db']['compose_database']}"
    assert urlparse(env[TOPOLOGY["metadata_db"]["async_env"]]).scheme == TOPOLOGY["metadata_db"]["async_scheme"]

    ledger = json.loads(env[TOPOLOGY["ledger"]["env"]])
    assert ledger["conn_type"] == TOPOLOGY["ledger"]["conn_type"]
    assert ledger["host"] == "postgres" and ledger["schema"] == TOPOLOGY["ledger"]["compose_database"]
    assert ledger["schema"] != TOPOLOGY["metadata_db"]["compose_database"], "ledger and metadata share a DB"
    init_sql = "\n".join(p.read_text() for p in (REPO / "docker" / "postgres-init").glob("*.sql"))
    assert f"CREATE DATABASE {ledger['schema']}" in init_sql

    budget = urlparse(env[TOPOLOGY["fortnox_budget"]["env"]])
    assert budget.scheme == TOPOLOGY["fortnox_budget"]["backend"] and budget.hostname == "redis"
    assert budget.path == f"/{TOPOLOGY['fortnox_budget']['compose_db']}" != broker.path
    execution = urlparse(env[TOPOLOGY["execution_api_env"]])
    assert execution.hostname == "airflow-apiserver" and execution.path == "/execution/"


def test_the_local_runner_uses_the_same_settings(services: dict[str, dict[str, Any]]) -> None:
    compose_env, local = env_of(services["airflow-worker"]), local_env()
    for key, value in TOPOLOGY["airflow_env"].items():
        assert local[key] == value == compose_env[key]
    for key in (TOPOLOGY["broker"]["env"], TOPOLOGY["fortnox_budget"]["env"]):
        assert urlparse(local[key]).scheme == urlparse(compose_env[key]).scheme
    assert local[TOPOLOGY["broker"]["env"]] != local[TOPOLOGY["fortnox_budget"]["env"]]
    for key in (TOPOLOGY["metadata_db"]["env"], TOPOLOGY["metadata_db"]["async_env"]):
        assert urlparse(local[key]).scheme == urlparse(compose_env[key]).scheme
    assert local[TOPOLOGY["result_backend"]["env"]].split("://")[0] == \
        compose_env[TOPOLOGY["result_backend"]["env"]].split("://")[0]
    ledger_local, ledger_compose = (json.loads(e[TOPOLOGY["ledger"]["env"]]) for e in (local, compose_env))
    assert ledger_local["conn_type"] == ledger_compose["conn_type"] == TOPOLOGY["ledger"]["conn_type"]
    assert set(ledger_local) == set(ledger_compose)
    for key in (TOPOLOGY["jwt_secret_env"], TOPOLOGY["ledger"]["secret_key_env"], TOPOLOGY["execution_api_env"]):
        assert local[key] and compose_env[key]


def test_workers_scale_and_start_after_init_and_api(services: dict[str, dict[str, Any]]) -> None:
    worker = services["airflow-worker"]
    assert "container_name" not in worker and "ports" not in worker, "--scale airflow-worker=N needs neither"
    assert worker["depends_on"]["airflow-apiserver"]["condition"] == "service_healthy"
    for name in AIRFLOW_SERVICES:
        depends = services[name]["depends_on"]
        assert depends["airflow-init"]["condition"] == "service_completed_successfully", name
        assert depends["postgres"]["condition"] == depends["redis"]["condition"] == "service_healthy", name
        assert services[name].get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
    init = " ".join(services["airflow-init"]["command"])
    assert "airflow db migrate" in init and "python -m jetfort.bootstrap" in init
    assert init.index("airflow db migrate") < init.index("python -m jetfort.bootstrap")
    setup = services["sandbox-setup"]
    assert setup["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"
    assert {"fortnox-sandbox", "jetshop-sandbox", "norce-sandbox"} <= set(setup["depends_on"])
    assert (REPO / setup["entrypoint"][-1].replace("/opt/jetfort/", "")).is_file()


def test_no_secret_is_written_into_the_file(compose: dict[str, Any]) -> None:
    raw = yaml.safe_load(COMPOSE.read_text())
    for name, service in raw["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if SECRET_NAME.search(key) and not key.endswith("_FILE"):  # a path names no secret
                assert str(value).startswith("${") and str(value).endswith("}"), \
                    f"{name}: {key} must be a ${{VAR:-dev-default}} reference"
        for key, value in (service.get("environment") or {}).items():
            masked = VARIABLE.sub("VAR", str(value))  # a URL's password must be a ${...} reference
            for match in re.finditer(r"://[^:@/]+:([^@/]+)@", masked):
                assert match.group(1) == "VAR", f"{name}: {key} carries a literal password"


def test_dockerfile_extends_the_official_image_with_the_committed_constraints() -> None:
    dockerfile = (REPO / "docker" / "Dockerfile").read_text()
    assert re.search(r"^ARG AIRFLOW_IMAGE=apache/airflow:3\.3\.2-python3\.11$", dockerfile, re.M)
    assert re.search(r"^FROM \$\{AIRFLOW_IMAGE\}$", dockerfile, re.M)
    constraints = re.search(r"-c (/opt/jetfort/(constraints/\S+))", dockerfile)
    assert constraints and (REPO / constraints.group(2)).is_file()
    assert "-r /opt/jetfort/requirements.txt" in dockerfile
    assert re.search(r"pip install .*--no-deps /opt/jetfort$", dockerfile, re.M)
    ignored = [line.strip() for line in (REPO / "docker" / "Dockerfile.dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")]
    assert ignored[0] == "*" and "!plugins/" in ignored and ".venv" not in " ".join(ignored[1:])
