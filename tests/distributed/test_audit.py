"""The instruments of the distributed test: the audited Fortnox sandbox counts what it saw.

The CeleryExecutor test proves "no company over its limit" and "no refresh token lost" from these
counters, so they are checked here against requests whose outcome is known (runs in ``make test``).
"""

from __future__ import annotations

import base64
import warnings
from typing import Any

import pytest

with warnings.catch_warnings():  # starlette's note about httpx2, raised at import time
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from sandbox.fortnox.audited import audited_fortnox_app, max_in_window


@pytest.fixture
def sandbox() -> tuple[TestClient, dict[str, Any]]:
    client = TestClient(audited_fortnox_app(rate_limit=25, rate_window=60.0, access_ttl=900.0))
    company = client.post("/_sandbox/companies", json={"name": "Audit AB"}).json()
    return client, company


def refresh(client: TestClient, company: dict[str, Any], token: str) -> Any:
    basic = base64.b64encode(f"{company['client_id']}:{company['client_secret']}".encode()).decode()
    return client.post("/oauth-v1/token", content=f"grant_type=refresh_token&refresh_token={token}",
                       headers={"Authorization": f"Basic {basic}",
                                "Content-Type": "application/x-www-form-urlencoded"})


def test_counts_arrivals_accepted_and_rejected(sandbox: tuple[TestClient, dict[str, Any]]) -> None:
    client, company = sandbox
    token = client.post("/_sandbox/tokens", json={"tenant_id": company["tenant_id"], "client_id": company["client_id"],
                                                  "kind": "access"}).json()["token"]
    codes = [client.get("/3/companyinformation", headers={"Authorization": f"Bearer {token}"}).status_code
             for _ in range(30)]
    assert codes.count(200) == 25 and codes.count(429) == 5
    seen = client.get("/_sandbox/dist/audit").json()["companies"][str(company["tenant_id"])]
    assert seen["requests"] == 30 and seen["rejected_429"] == 5
    assert seen["max_in_window"] == 30 and seen["max_accepted_in_window"] == 25


def test_counts_rotations_and_a_reused_refresh_token(sandbox: tuple[TestClient, dict[str, Any]]) -> None:
    client, company = sandbox
    first = refresh(client, company, company["refresh_token"])
    assert first.status_code == 200
    assert refresh(client, company, first.json()["refresh_token"]).status_code == 200
    lost = refresh(client, company, company["refresh_token"])  # single use: a lost rotation looks like this
    assert lost.status_code == 400 and lost.json()["error"] == "invalid_grant"
    audit = client.get("/_sandbox/dist/audit").json()
    assert audit["companies"][str(company["tenant_id"])]["refresh_rotations"] == 2
    assert audit["invalid_grant"] == {str(company["tenant_id"]): 1}


def test_max_in_window_is_half_open() -> None:
    assert max_in_window([], 1.0) == 0
    assert max_in_window([0.0, 0.5, 0.99, 1.0, 1.5], 1.0) == 3
    assert max_in_window([0.0, 1.0, 2.0], 1.0) == 1
