"""The jetfort page behind Airflow's real SimpleAuthManager (users admin and viewer, logged in through its
own ``/auth/token`` route), a ledger filled through the ledger's own API as the flows fill it, the
example tenants, and a small fake of Airflow's REST API that records what it receives.

Secrets are planted everywhere a page could leak one from (the Fortnox connection's client secret and
refresh token, the stored OAuth tokens, a payload field, the JWT signing secret); tests search every page."""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

JWT_SECRET = "planted-jwt-secret-5b1f0c-" + "0123456789abcdef" * 3
os.environ["AIRFLOW__API_AUTH__JWT_SECRET"] = JWT_SECRET  # before Airflow builds its token signer
os.environ["AIRFLOW__CORE__AUTH_MANAGER"] = (
    "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager")
os.environ["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"] = "admin:admin,viewer:viewer"
os.environ["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS"] = "False"

REPO = Path(__file__).resolve().parents[3]
TENANT = "demo_erp"  # example tenant: one shop "se", Fortnox connection fortnox_demo
OTHER = "demo_ecom"
COMPANY = "demo-co"
SECRETS = {
    "client_secret": "planted-client-secret-7a9d",
    "conn_refresh": "planted-conn-refresh-token-2c4e",
    "stored_refresh": "planted-stored-refresh-token-88f1",
    "stored_access": "planted-stored-access-token-31b0",
    "payload_key": "planted-payload-api-key-6d2a",
    "jwt_secret": JWT_SECRET,
}
ORIGIN = "http://testserver"
CALLBACK = f"{ORIGIN}/jetfort/oauth/callback"  # the page's Fortnox callback, registered for the sandbox's integration
RUN_MAP = "scheduled__2026-12-05T08:00:00+00:00"
RUN_POST = "manual__2026-12-05T09:00:00+00:00"
RUN_STATUS = "scheduled__2026-12-05T10:00:00+00:00"


@dataclass
class Received:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


@dataclass
class FakeAirflowApi:
    """Airflow's REST API as far as the page uses it; every request is recorded."""

    url: str = ""
    received: list[Received] = field(default_factory=list)

    def writes(self) -> list[Received]:
        return [r for r in self.received if r.method == "POST"]


def _handler(fake: FakeAirflowApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _answer(self, status: int, body: Any) -> None:
            raw = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def _record(self) -> Received:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            got = Received(self.command, parts.path, parse_qs(parts.query), {k.lower(): v for k, v in self.headers.items()},
                           json.loads(raw) if raw else None)
            fake.received.append(got)
            return got

        def do_GET(self) -> None:
            got = self._record()
            if not got.headers.get("authorization", "").startswith("Bearer "):
                return self._answer(401, {"detail": "Not authenticated"})
            if got.path == "/api/v2/dags":
                tenant = got.query["tags"][0].split(":", 1)[1]
                dags = [{"dag_id": f"jetfort__{tenant}__{part}", "is_paused": False,
                         "next_dagrun_run_after": "2026-12-05T12:00:00+00:00", "tags": [{"name": f"tenant:{tenant}"}]}
                        for part in ("orders", "order_status")]
                return self._answer(200, {"dags": dags, "total_entries": len(dags)})
            if got.path.endswith("/dagRuns"):
                dag = got.path.split("/")[4]
                state = "failed" if dag.endswith("__orders") else "success"
                return self._answer(200, {"dag_runs": [{"dag_run_id": RUN_MAP, "dag_id": dag, "state": state,
                                                        "run_after": "2026-12-05T08:00:00+00:00"}],
                                          "total_entries": 1})
            return self._answer(404, {"detail": f"no route {got.path}"})

        def do_POST(self) -> None:
            got = self._record()
            if not got.headers.get("authorization", "").startswith("Bearer "):
                return self._answer(401, {"detail": "Not authenticated"})
            if got.path == "/api/v2/variables":
                return self._answer(201, {"key": got.body["key"], "value": got.body["value"],
                                          "description": got.body.get("description")})
            dag = got.path.split("/")[4]
            return self._answer(200, {"dag_run_id": "manual__2026-12-05T11:00:00.123456+00:00", "dag_id": dag,
                                      "state": "queued", "conf": got.body.get("conf")})

    return Handler


@pytest.fixture
def fake_airflow() -> Iterator[FakeAirflowApi]:
    fake = FakeAirflowApi()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    fake.url = f"http://127.0.0.1:{server.server_address[1]}/"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()


def fill_ledger(ledger: Any) -> None:
    """What the orders and status flows leave in the ledger for two shop orders of the tenant: 5001
    quarantined by the mapping (invalid customer e-mail), 5002 posted as invoice 42, acknowledged, its
    delivery pushed and its payment captured; plus a Fortnox rejection on another tenant."""
    from jetfort.ledger.tokens import TokenStore

    ledger.ensure_records(TENANT, "order", [("se:1001", {"shop": "se", "order_id": 1001, "order_number": "5001"}),
                                           ("se:1002", {"shop": "se", "order_id": 1002, "order_number": "5002"})])
    ledger.transition(TENANT, "order", "se:1001", "seen", step="extract", run_id=RUN_MAP, message="order 5001 status 2")
    ledger.quarantine(TENANT, "order", "se:1001", reason="invalid_value", field="customer.email",
                      message="order 5001: customer.email 'anna(at)example' is not an e-mail address",
                      payload={"order_number": "5001", "Customer": {"Name": "Anna <b>Svensson</b>"},
                               "api_key": SECRETS["payload_key"]}, run_id=RUN_MAP)
    ledger.transition(TENANT, "order", "se:1002", "seen", step="extract", run_id=RUN_POST, message="order 5002 status 2")
    ledger.transition(TENANT, "order", "se:1002", "posted", step="post", run_id=RUN_POST, target_type="invoice",
                      target_key="42", message="created invoice 42")
    ledger.transition(TENANT, "order", "se:1002", "acknowledged", step="acknowledge", run_id=RUN_POST,
                      message="shop status set to transferred")
    ledger.ensure_record(TENANT, "status", "se:1002:delivered", state="pending")
    ledger.transition(TENANT, "status", "se:1002:delivered", "pushed", step="push", run_id=RUN_STATUS,
                      message="shop status delivered, tracking 123")
    ledger.ensure_record(TENANT, "capture", "se:1002", state="pending")
    ledger.transition(TENANT, "capture", "se:1002", "captured", step="capture", run_id=RUN_STATUS,
                      message="captured 499.00 SEK")
    ledger.ensure_records(OTHER, "order", [("se:7", {"shop": "se", "order_id": 7, "order_number": "9007"})])
    ledger.quarantine(OTHER, "order", "se:7", reason="fortnox_rejected", field="CustomerNumber", code="2000204",
                      message="order 9007: Fortnox: Kunden hittades inte", payload={"order_number": "9007"}, run_id=RUN_MAP)
    TokenStore(ledger).seed(f"fortnox:{COMPANY}:client-id-1", refresh_token=SECRETS["stored_refresh"],
                            access_token=SECRETS["stored_access"],
                            expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=50))


@dataclass
class Ui:
    client: Any
    ledger: Any
    fake: FakeAirflowApi
    tokens: dict[str, str]

    def login(self, who: str) -> None:
        """As the Airflow UI does: the JWT in the ``_token`` cookie (and the page's CSRF cookie from a page)."""
        self.client.cookies.clear()
        self.client.cookies.set("_token", self.tokens[who])


@pytest.fixture
def ui(airflow_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_airflow: FakeAirflowApi) -> Iterator[Ui]:
    from airflow.api_fastapi.app import init_auth_manager
    from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    import jetfort.factory
    from jetfort.ledger import Ledger
    from jetfort.ui.app import create_app

    monkeypatch.setenv("JETFORT_TENANTS_DIR", str(REPO / "include" / "mappings" / "tenants"))
    monkeypatch.setattr(jetfort.factory, "_cache", None)
    monkeypatch.setenv("AIRFLOW_CONN_FORTNOX_DEMO", json.dumps({
        "conn_type": "fortnox", "host": "http://127.0.0.1:9", "login": "client-id-1",
        "password": SECRETS["client_secret"],
        "extra": {"company": COMPANY, "refresh_token": SECRETS["conn_refresh"], "budget": "ledger"}}))
    ledger = Ledger.from_url(f"sqlite:///{tmp_path / 'ledger.db'}")
    fill_ledger(ledger)
    main = FastAPI()
    init_auth_manager(main)  # SimpleAuthManager: mounts its login app at /auth, as the api-server does
    main.mount("/jetfort", create_app(ledger=ledger, airflow_api_url=fake_airflow.url))
    client = TestClient(main, base_url="http://testserver")
    passwords = SimpleAuthManager.get_passwords()
    tokens = {}
    for who in ("admin", "viewer"):
        answer = client.post("/auth/token", json={"username": who, "password": passwords[who]})
        assert answer.status_code == 201, answer.text
        tokens[who] = answer.json()["access_token"]
    yield Ui(client, ledger, fake_airflow, tokens)
    client.close()
    ledger.engine.dispose()


@pytest.fixture(scope="module")
def fortnox_base() -> Iterator[tuple[str, Any]]:
    """The Fortnox sandbox in a thread (base URL, sandbox)."""
    from sandbox.fortnox import create_app
    from sandbox.server import serve_in_thread

    app = create_app(seed=7)
    with serve_in_thread(app) as base:
        yield base, app.sandbox


@pytest.fixture
def company(fortnox_base: tuple[str, Any], ui: Ui, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The example tenant's connection, now pointing at a sandbox company whose integration registered the page's
    callback as its redirect URI; the connection holds no refresh token."""
    base, sandbox = fortnox_base
    creds = sandbox.create_company(redirect_uri=CALLBACK)
    monkeypatch.setenv("AIRFLOW_CONN_FORTNOX_DEMO", json.dumps({
        "conn_type": "fortnox", "host": base, "login": creds.client_id, "password": creds.client_secret,
        "extra": {"company": f"ui-{creds.tenant_id}", "auth_url": f"{base}/oauth-v1/token", "budget": "local"}}))
    return creds
