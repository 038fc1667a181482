"""The Fortnox sandbox in a thread, a company whose integration registered a redirect URI, a Fortnox
connection for it with no refresh token (the consent brings the first one), and a browser-like helper
that opens the sandbox's consent page and presses one of its buttons."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest

from jetfort.ledger import Ledger
from jetfort.rules import TenantRules, parse_tenant
from sandbox.fortnox import FortnoxSandbox, create_app
from sandbox.fortnox.emulator import Credentials
from sandbox.server import serve_in_thread
from tests.sandbox.fortnox.consent_page import give_consent

REPO = Path(__file__).resolve().parents[3]
REDIRECT = "https://airflow.example/jetfort/oauth/callback"
CONN_ID = "fortnox_onboard"


@dataclass
class Sandbox:
    base: str
    sandbox: FortnoxSandbox


@dataclass
class Company:
    sandbox: Sandbox
    credentials: Credentials
    rules: TenantRules

    def consent(self, url: str, decision: str = "approve") -> dict[str, str]:
        """What a browser does on Fortnox's consent page: open it, press a button, follow to the callback."""
        location = urlsplit(give_consent(url, decision=decision))
        assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
        return dict(parse_qsl(location.query))


@pytest.fixture(scope="module")
def fortnox() -> Iterator[Sandbox]:
    app = create_app(seed=7)
    with serve_in_thread(app) as base:
        yield Sandbox(base, app.sandbox)


def example_rules(tenant: str = "demo_erp", **changes: object) -> TenantRules:
    raw = json.loads((REPO / "include" / "mappings" / "tenants" / f"{tenant}.json").read_text())
    return parse_tenant(tenant, {**raw, "fortnox_conn_id": CONN_ID, **changes})


@pytest.fixture
def company(fortnox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Company:
    credentials = fortnox.sandbox.create_company(client_id=None, redirect_uri=REDIRECT)
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps({
        "conn_type": "fortnox", "host": fortnox.base, "login": credentials.client_id,
        "password": credentials.client_secret,
        "extra": {"company": f"onboard-{credentials.tenant_id}", "auth_url": f"{fortnox.base}/oauth-v1/token",
                  "budget": "local", "redirect_uri": REDIRECT}}))
    return Company(fortnox, credentials, example_rules())


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    ledger = Ledger.from_url(f"sqlite:///{tmp_path / 'ledger.db'}")
    yield ledger
    ledger.engine.dispose()
