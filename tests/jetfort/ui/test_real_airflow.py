"""The page inside a real ``airflow api-server`` (its own AIRFLOW_HOME, the orders DAG of one example
tenant serialized, SimpleAuthManager with admin and viewer): the plugin is mounted and listed in the
navigation, and a retry creates a real run of the orders DAG through Airflow's own REST API, with the
order number in its conf and the logged-in user as the run's triggering user. No scheduler runs, so
the run stays queued."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import lxml.html
import pytest

from jetfort.ledger import Ledger

REPO = Path(__file__).resolve().parents[3]
TENANT = "demo_erp"
DAG = f"jetfort__{TENANT}__orders"

pytestmark = pytest.mark.airflow


@dataclass
class Server:
    url: str
    passwords: dict[str, str]
    ledger: Ledger

    def client(self, who: str) -> tuple[httpx.Client, str]:
        client = httpx.Client(base_url=self.url, timeout=30)
        answer = client.post("/auth/token", json={"username": who, "password": self.passwords[who]})
        assert answer.status_code == 201, answer.text
        token = answer.json()["access_token"]
        client.cookies.set("_token", token)
        return client, token


def _free_port() -> int:
    for port in range(18840, 18850):  # helper D's range
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) != 0:
                return port
    raise RuntimeError("no free port in 18840-18849")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("airflow-home")
    (home / "dags").mkdir()
    (home / "tenants").mkdir()
    shutil.copy(REPO / "dags" / "jetfort_orders.py", home / "dags")
    shutil.copy(REPO / "include" / "mappings" / "tenants" / f"{TENANT}.json", home / "tenants")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "JETFORT"))}
    env = {**keep, "AIRFLOW_HOME": str(home), "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
           "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "AIRFLOW__CORE__PLUGINS_FOLDER": str(home / "plugins"),
           "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin,viewer:viewer",
           "AIRFLOW__API__BASE_URL": f"{url}/", "AIRFLOW__API_AUTH__JWT_SECRET": "real-airflow-test-" + "k" * 48,
           "JETFORT_TENANTS_DIR": str(home / "tenants"), "JETFORT_MAPPINGS_DIR": str(REPO / "include" / "mappings"),
           "JETFORT_LEDGER_URL": f"sqlite:///{home / 'ledger.db'}",
           "PYTHONPATH": os.pathsep.join([str(REPO / "plugins"), str(REPO)])}
    for command in (["db", "migrate"], ["dags", "reserialize"]):
        subprocess.run([sys.executable, "-m", "airflow", *command], env=env, check=True, capture_output=True,
                       timeout=300)
    log = (home / "api-server.log").open("w")
    process = subprocess.Popen([sys.executable, "-m", "airflow", "api-server", "--host", "127.0.0.1", "--port",
                                str(port)], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{url}/api/v2/monitor/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None, (home / "api-server.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "api-server did not start"
            time.sleep(0.5)
        passwords = json.loads((home / "simple_auth_manager_passwords.json.generated").read_text())
        ledger = Ledger.from_url(env["JETFORT_LEDGER_URL"])
        ledger.ensure_records(TENANT, "order", [("se:1001", {"shop": "se", "order_id": 1001, "order_number": "5001"})])
        ledger.quarantine(TENANT, "order", "se:1001", reason="invalid_value", field="customer.email",
                          message="order 5001: customer.email is not an e-mail address", payload={"order_number": "5001"})
        yield Server(url, passwords, ledger)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        log.close()


def test_airflow_lists_the_page_in_its_navigation(server: Server) -> None:
    client, token = server.client("viewer")
    plugins = {p["name"]: p for p in client.get("/api/v2/plugins", headers={"Authorization": f"Bearer {token}"})
               .json()["plugins"]}
    [view] = plugins["jetfort_ui"]["external_views"]
    assert (view["href"], view["url_route"], view["destination"], view["nav_top_level"]) == \
        ("/jetfort/", "jetfort", "nav", True)


def test_viewer_sees_the_entry_but_may_not_retry(server: Server) -> None:
    client, token = server.client("viewer")
    doc = lxml.html.fromstring(client.get("/jetfort/quarantine").text)
    [row] = doc.xpath(f'//*[@id="quarantine"]//tr[@data-tenant="{TENANT}"][@data-order="5001"]')
    assert row.get("data-reason") == "invalid_value"
    assert row.xpath(".//button") == []
    def runs() -> int:
        return int(client.get(f"/api/v2/dags/{DAG}/dagRuns", headers={"Authorization": f"Bearer {token}"}).json()[
            "total_entries"])

    before = runs()
    refused = client.post("/jetfort/api/quarantine/retry", json={"tenant": TENANT, "keys": ["se:1001"]},
                          headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 403
    assert runs() == before


def test_retry_creates_a_real_run_as_the_logged_in_user(server: Server) -> None:
    client, token = server.client("admin")
    doc = lxml.html.fromstring(client.get("/jetfort/quarantine").text)
    assert len(doc.xpath('//tr[@data-order="5001"]//button[@data-action="retry"]')) == 1
    csrf = doc.xpath('//meta[@name="jetfort-csrf"]/@content')[0]
    answer = client.post("/jetfort/api/quarantine/retry", json={"tenant": TENANT, "keys": ["se:1001"]},
                         headers={"X-Jetfort-CSRF": csrf, "Origin": server.url})
    assert answer.status_code == 200, answer.text
    run_id = answer.json()["dag_run_id"]
    run = client.get(f"/api/v2/dags/{DAG}/dagRuns/{run_id}", headers={"Authorization": f"Bearer {token}"}).json()
    assert run["conf"] == {"order_numbers": ["5001"]}
    assert run["triggering_user_name"] == "admin"
    assert run["state"] == "queued"
    trail = lxml.html.fromstring(client.get("/jetfort/trail", params={"tenant": TENANT, "key": "se:1001"}).text)
    [step] = trail.xpath('//li[@data-step="retry_requested"]')
    [link] = step.xpath('.//a[@data-link="dag-run"]')
    assert client.get(link.get("href")).status_code == 200  # Airflow's UI serves the run's page
