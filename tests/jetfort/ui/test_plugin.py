"""The jetfort page as Airflow loads it: the ``jetfort_ui`` entry point of pyproject.toml, its FastAPI app
mounted by the api-server's own ``init_plugins`` under ``/jetfort`` beside the Norce receiver, its nav
entry, and a plugin module that costs task processes nothing to import.

As in tests/jetfort/norce/test_receiver_plugin.py, the entry points are read from pyproject.toml and
registered for subprocesses through a throwaway distribution, so these tests check the declaration."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from importlib import metadata
from pathlib import Path

import pytest

from tests.jetfort.plugin_probe import GROUP, declared_plugins, probe_environment

NAME = "jetfort_ui"
TARGET = "jetfort.ui.plugin:JetfortUiPlugin"


@pytest.fixture
def probe_env(tmp_path: Path) -> dict[str, str]:
    return probe_environment(tmp_path)


def test_pyproject_declares_the_ui_plugin_and_the_installed_jetfort_has_it() -> None:
    assert declared_plugins()[NAME] == TARGET
    found = {ep.name: ep.value for ep in metadata.distribution("jetfort").entry_points if ep.group == GROUP}
    assert found.get(NAME) == TARGET, "re-install jetfort after the pyproject.toml change (`make install`)"


_MOUNT = textwrap.dedent("""
    import json
    from fastapi import FastAPI
    from fastapi.testclient import TestClient
    from airflow.api_fastapi.app import init_auth_manager, init_plugins  # what the api-server runs on start

    app = FastAPI()
    init_plugins(app)
    init_auth_manager(app)
    client = TestClient(app)
    page = client.get("/jetfort/quarantine", follow_redirects=False)
    print(json.dumps({
        "page": [page.status_code, page.headers.get("location")],
        "api": client.get("/jetfort/api/quarantine").status_code,
        "norce": client.post("/jetfort-norce/norce_demo/orders", json={}).status_code,
    }))
""")


def test_the_api_server_mounts_the_page_and_it_asks_for_a_login(probe_env: dict[str, str], tmp_path: Path) -> None:
    env = {**probe_env, "JETFORT_LEDGER_URL": f"sqlite:///{tmp_path / 'ledger.db'}"}
    done = subprocess.run([sys.executable, "-c", _MOUNT], env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    answers = json.loads(done.stdout.strip().splitlines()[-1])
    assert answers["page"][0] == 303 and answers["page"][1].startswith("/auth/login")
    assert answers["api"] == 401
    assert answers["norce"] == 401  # the Norce receiver is still mounted beside it (and refuses anonymous pushes)


def test_airflow_lists_the_page_in_its_navigation(probe_env: dict[str, str]) -> None:
    done = subprocess.run([sys.executable, "-m", "airflow", "plugins", "--output", "json"], env=probe_env,
                          capture_output=True, text=True, timeout=180, check=True)
    plugins = {p["name"]: p for p in json.loads(done.stdout[done.stdout.index("["):])}
    assert NAME in plugins, done.stdout + done.stderr
    [app] = plugins[NAME]["fastapi_apps"]
    assert (app["url_prefix"], app["app"]) == ("/jetfort", "jetfort.lazyasgi.LazyAsgiApp")
    [view] = plugins[NAME]["external_views"]
    assert (view["name"], view["href"], view["destination"], view["url_route"]) == ("jetfort", "/jetfort/", "nav",
                                                                                    "jetfort")


_IMPORT_COST = textwrap.dedent("""
    import json, sys
    import airflow.sdk.plugins_manager  # loaded in every task process before plugins are
    before = set(sys.modules)
    import jetfort.ui.plugin
    print(json.dumps(sorted(set(sys.modules) - before)))
""")


def test_importing_the_plugin_loads_nothing_heavy(probe_env: dict[str, str]) -> None:
    done = subprocess.run([sys.executable, "-c", _IMPORT_COST], env=probe_env, capture_output=True, text=True,
                          timeout=120, check=True)
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    heavy = [m for m in loaded if m.split(".")[0] in ("fastapi", "starlette", "pydantic", "sqlalchemy", "jinja2", "httpx")
             or m.startswith(("jetfort.ledger", "jetfort.ui.app", "jetfort.factory", "jetfort.tasks"))]
    assert heavy == []
    assert "jetfort.ui.plugin" in loaded
