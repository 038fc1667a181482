"""The receiver as Airflow loads it: an ``airflow.plugins`` entry point whose plugin Airflow lists and whose
FastAPI app the api-server mounts under ``/jetfort-norce``; importing the plugin costs task processes nothing.

The entry point is read from pyproject.toml and registered for the subprocesses through a throwaway
distribution on PYTHONPATH, so these tests check the declaration itself; the last test checks that the
installed jetfort carries it too (``make install`` re-installs after a pyproject.toml change)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from importlib import metadata
from pathlib import Path

import pytest

from jetfort.ledger import Ledger
from tests.jetfort.plugin_probe import GROUP, declared_plugins, probe_environment

NAME = "jetfort_norce_receiver"
TARGET = "jetfort.norce.plugin:NorceReceiverPlugin"


@pytest.fixture
def probe_env(tmp_path: Path) -> dict[str, str]:
    return probe_environment(tmp_path)


def test_pyproject_declares_the_receiver_plugin() -> None:
    assert declared_plugins()[NAME] == TARGET


def test_airflow_plugins_lists_the_receiver_app(probe_env: dict[str, str]) -> None:
    done = subprocess.run([sys.executable, "-m", "airflow", "plugins", "--output", "json"], env=probe_env,
                          capture_output=True, text=True, timeout=180, check=True)
    plugins = {p["name"]: p for p in json.loads(done.stdout[done.stdout.index("["):])}
    assert NAME in plugins, done.stdout + done.stderr
    [app] = plugins[NAME]["fastapi_apps"]
    assert (app["url_prefix"], app["app"]) == ("/jetfort-norce", "jetfort.norce.plugin.LazyReceiverApp")


_MOUNT = textwrap.dedent("""
    import base64, json, sys
    from fastapi import FastAPI
    from fastapi.testclient import TestClient
    from airflow.api_fastapi.app import init_plugins  # what the api-server runs on start

    app = FastAPI()
    init_plugins(app)
    client = TestClient(app)
    auth = {"Authorization": "Basic " + base64.b64encode(b"norce-push:mount-secret-99").decode()}
    order = {"ClientOrderRef": "4242", "CurrencyCode": "SEK", "Items": []}
    answers = {
        "ok": client.post("/jetfort-norce/norce_demo/orders", json=order, headers=auth),
        "legacy": client.post("/jetfort-norce/norce_demo/orders/CreateOrder", json=order, headers=auth),
        "anonymous": client.post("/jetfort-norce/norce_demo/orders", json=order),
        "get": client.get("/jetfort-norce/norce_demo/orders", headers=auth),
    }
    print(json.dumps({k: [r.status_code, r.json() if r.status_code != 405 else None] for k, r in answers.items()}))
""")


def test_the_api_server_mounts_the_receiver(probe_env: dict[str, str], tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    env = {**probe_env, "JETFORT_LEDGER_URL": url,
           "AIRFLOW_CONN_NORCE_DEMO": json.dumps({"conn_type": "norce", "extra": {
               "slug": "demoshop", "environment": "stage", "application_id": 1244,
               "receiver_conn_id": "norce_demo_receiver"}}),
           "AIRFLOW_CONN_NORCE_DEMO_RECEIVER": json.dumps({"conn_type": "generic", "login": "norce-push",
                                                           "password": "mount-secret-99"})}
    done = subprocess.run([sys.executable, "-c", _MOUNT], env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    answers = json.loads(done.stdout.strip().splitlines()[-1])
    assert answers["ok"][0] == 200 and answers["ok"][1]["StatusCode"] == "OK"
    assert answers["legacy"][0] == 200 and "already" in answers["legacy"][1]["Description"]
    assert answers["anonymous"][0] == 401 and answers["anonymous"][1]["StatusCode"] == "Failed"
    assert answers["get"][0] == 405
    entry = Ledger.from_url(url, migrate_schema=False).inbox_get("norce_demo", "4242")
    assert entry is not None and entry.push_count == 2
    assert "mount-secret-99" not in done.stdout + done.stderr


_IMPORT_COST = textwrap.dedent("""
    import json, sys
    import airflow.sdk.plugins_manager  # loaded in every task process before plugins are
    before = set(sys.modules)
    import jetfort.norce.plugin
    print(json.dumps(sorted(set(sys.modules) - before)))
""")


def test_importing_the_plugin_loads_nothing_heavy(probe_env: dict[str, str]) -> None:
    """Task processes load every plugin (for macros): the receiver's app must not come with it."""
    done = subprocess.run([sys.executable, "-c", _IMPORT_COST], env=probe_env, capture_output=True, text=True,
                          timeout=120, check=True)
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    heavy = [m for m in loaded if m.split(".")[0] in ("fastapi", "starlette", "pydantic", "sqlalchemy", "requests")
             or m.startswith(("jetfort.ledger", "jetfort.norce.receiver", "jetfort.shop"))]
    assert heavy == []
    assert "jetfort.norce.plugin" in loaded


def test_the_installed_jetfort_registers_the_plugin() -> None:
    found = {ep.name: ep.value for ep in metadata.distribution("jetfort").entry_points if ep.group == GROUP}
    assert found.get(NAME) == TARGET, (
        "the installed jetfort does not declare the receiver plugin yet: re-install it after the "
        "pyproject.toml change (`make install`, i.e. pip install --no-deps -e .)")
