"""The ``/_sandbox`` control panel, the Python handle and the documented start command."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import requests

from sandbox.server import free_port

from .conftest import Server

REPO = Path(__file__).resolve().parents[3]


def test_create_company_over_http_then_use_it_like_a_client(server: Server) -> None:
    session = requests.Session()
    created = session.post(f"{server.base}/_sandbox/companies", json={"name": "Demo AB", "seed": 11})
    assert created.status_code == 201
    creds = created.json()
    assert set(creds) == {"tenant_id", "client_id", "client_secret", "refresh_token", "authorization_code"}
    token = session.post(f"{server.base}/oauth-v1/token", auth=(creds["client_id"], creds["client_secret"]),
                         data={"grant_type": "refresh_token", "refresh_token": creds["refresh_token"]}).json()
    headers = {"Authorization": f"Bearer {token['access_token']}", "Content-Type": "application/json"}
    info = session.get(f"{server.base}/3/companyinformation", headers=headers).json()["CompanyInformation"]
    assert info["CompanyName"] == "Demo AB" and info["DatabaseNumber"] == creds["tenant_id"]
    session.post(f"{server.base}/3/orders", headers=headers, json={"Order": {"CustomerNumber": "1"}})
    counts = session.get(f"{server.base}/_sandbox/companies/{creds['tenant_id']}/counts").json()
    assert counts["orders"] == 1
    orders = session.get(f"{server.base}/_sandbox/companies/{creds['tenant_id']}/state/orders").json()["orders"]
    assert orders[0]["CustomerNumber"] == "1"
    more = session.post(f"{server.base}/_sandbox/tokens", json={"tenant_id": creds["tenant_id"],
                                                                "client_id": creds["client_id"]}).json()
    rotated = session.post(f"{server.base}/oauth-v1/token", auth=(creds["client_id"], creds["client_secret"]),
                           data={"grant_type": "refresh_token", "refresh_token": more["token"]})
    assert rotated.status_code == 200
    assert session.post(f"{server.base}/_sandbox/companies", json={"colour": "red"}).status_code == 422


def test_stock_can_be_set_and_expire_endpoint_kills_live_tokens(server: Server) -> None:
    session = requests.Session()
    creds = server.sandbox.create_company()
    token = server.sandbox.mint_access_token(creds.tenant_id, creds.client_id)
    headers = {"Authorization": f"Bearer {token}"}
    assert session.put(f"{server.base}/_sandbox/companies/{creds.tenant_id}/stock",
                       json={"itemId": "1002", "inStock": 7, "reserved": 2}).status_code == 200
    balance = session.get(f"{server.base}/api/warehouse/status-v1/stockbalance?itemIds=1002", headers=headers).json()
    assert balance == [{"itemId": "1002", "stockPointCode": "LAGER1", "inStock": 7, "availableStock": 5}]
    article = session.get(f"{server.base}/3/articles/1002", headers=headers).json()["Article"]
    assert (article["QuantityInStock"], article["ReservedQuantity"], article["DisposableQuantity"]) == (7, 2, 5)
    expired = session.post(f"{server.base}/_sandbox/tokens/expire", json={"tenant_id": creds.tenant_id}).json()
    assert expired["expired"] >= 1
    assert session.get(f"{server.base}/3/articles/1002", headers=headers).status_code == 401


def test_reset_restores_seed_data_and_clears_counters(server: Server) -> None:
    creds = server.sandbox.create_company()
    company = server.sandbox.company(creds.tenant_id)
    articles = dict(company.data["articles"])
    token = server.sandbox.mint_access_token(creds.tenant_id, creds.client_id)
    requests.post(f"{server.base}/3/customers", json={"Customer": {"Name": "Temp"}},
                  headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    assert server.sandbox.counts(creds.tenant_id)["customers"] == 18
    assert requests.post(f"{server.base}/_sandbox/reset").json() == {"ok": True}
    assert server.sandbox.counts(creds.tenant_id)["customers"] == 17
    assert company.data["articles"].keys() == articles.keys()
    assert server.sandbox.stats(creds.tenant_id)["clients"] == {}
    assert requests.get(f"{server.base}/_sandbox/requests").json()["total"] == 0


def test_documented_start_command_serves_the_sandbox() -> None:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "sandbox", "fortnox", "--host", "127.0.0.1", "--port", str(port),
                                "--seed", "1"], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                listed = requests.get(f"http://127.0.0.1:{port}/_sandbox/companies", timeout=1)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline and process.poll() is None, "sandbox did not start"
                time.sleep(0.1)
        default = listed.json()["default_tenant_id"]
        token = requests.post(f"http://127.0.0.1:{port}/_sandbox/tokens",
                              json={"tenant_id": default, "kind": "access"}).json()["token"]
        customers = requests.get(f"http://127.0.0.1:{port}/3/customers",
                                 headers={"Authorization": f"Bearer {token}"}).json()
        assert customers["MetaInformation"]["@TotalResources"] == 17
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_admin_client_drives_a_sandbox_in_another_process(server: Server) -> None:
    from sandbox.fortnox.admin_client import SandboxAdmin

    with SandboxAdmin(server.base) as admin:
        creds = admin.create_company(name="Bench AB")
        tenant = creds["tenant_id"]
        token = admin.mint(tenant, creds["client_id"], kind="access")
        admin.set_stock(tenant, "1001", 3)
        balance = requests.get(f"{server.base}/api/warehouse/status-v1/stockbalance?itemIds=1001",
                               headers={"Authorization": f"Bearer {token}"}).json()
        assert balance[0]["inStock"] == 3
        assert admin.set_faults(forced={"server_error": 1})["forced"] == {"server_error": 1}
        assert requests.get(f"{server.base}/3/units", headers={"Authorization": f"Bearer {token}"}).status_code == 500
        admin.clear_faults()
        assert admin.stats(tenant)["clients"][creds["client_id"]]["accepted"] == 2
        assert admin.counts(tenant)["articles"] == 23 and admin.state(tenant, "stock")
        assert admin.expire_tokens(tenant) >= 1
        assert requests.get(f"{server.base}/3/units", headers={"Authorization": f"Bearer {token}"}).status_code == 401
        assert admin.token_url == f"{server.base}/oauth-v1/token"


def test_secrets_lists_every_credential_the_sandbox_issued_used_ones_too(server: Server) -> None:
    session = requests.Session()
    creds = session.post(f"{server.base}/_sandbox/companies", json={"name": "Leak AB"}).json()
    first = session.post(f"{server.base}/oauth-v1/token", auth=(creds["client_id"], creds["client_secret"]),
                         data={"grant_type": "refresh_token", "refresh_token": creds["refresh_token"]}).json()
    second = session.post(f"{server.base}/oauth-v1/token", auth=(creds["client_id"], creds["client_secret"]),
                          data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}).json()
    issued = session.get(f"{server.base}/_sandbox/secrets").json()
    pairs = set(zip(issued["kinds"], issued["secrets"], strict=True))
    assert {("client_secret", creds["client_secret"]), ("authorization_code", creds["authorization_code"]),
            ("refresh_token", creds["refresh_token"]), ("refresh_token", first["refresh_token"]),
            ("refresh_token", second["refresh_token"]), ("access_token", first["access_token"]),
            ("access_token", second["access_token"])} <= pairs
