"""Point jetfort at running sandboxes: a Fortnox company, the shops' logins, Airflow connections.

Used three ways: tests put the connections in ``AIRFLOW_CONN_*`` environment variables,
``make demo`` and ``make up`` write them (and the example tenants' Variables) into the Airflow
metastore with the ``airflow`` CLI, exactly as a data engineer would for real accounts.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
EXAMPLE_TENANTS = REPO / "include" / "mappings" / "tenants"
SOAP_PATH = "/Webservice20/v3.0/webservice.asmx"
#: connection id → Jetshop sandbox ShopId, as the example tenants name them
SHOP_CONNECTIONS = {"jetshop_demo_se": "demoshop", "jetshop_demo_nordic": "nordicshop"}


@dataclass
class SandboxEnvironment:
    fortnox_url: str
    jetshop_url: str
    company: dict[str, Any]
    connections: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def fortnox_tenant_id(self) -> int:
        return int(self.company["tenant_id"])

    def env(self) -> dict[str, str]:
        """``AIRFLOW_CONN_<ID>`` variables (JSON form) for every connection."""
        return {f"AIRFLOW_CONN_{conn_id.upper()}": json.dumps(conn) for conn_id, conn in self.connections.items()}


def provision(fortnox_url: str, jetshop_url: str, *, company_name: str = "Demo Company AB",
              fortnox_conn_id: str = "fortnox_demo", seed: int | None = None) -> SandboxEnvironment:
    """Create a fresh Fortnox company in the sandbox and build the connections for it and the shops."""
    body: dict[str, Any] = {"name": company_name}
    if seed is not None:
        body["seed"] = seed
    company = httpx.post(f"{fortnox_url}/_sandbox/companies", json=body, timeout=30).raise_for_status().json()
    add_example_registers(fortnox_url, company)
    shops = {s["shop_id"]: s for s in httpx.get(f"{jetshop_url}/_sandbox/shops", timeout=30).raise_for_status().json()}
    connections: dict[str, dict[str, Any]] = {
        fortnox_conn_id: {
            "conn_type": "fortnox",
            "host": fortnox_url,
            "login": company["client_id"],
            "password": company["client_secret"],
            "extra": {
                "refresh_token": company["refresh_token"],
                "auth_url": f"{fortnox_url}/oauth-v1/token",
                "company": f"{fortnox_conn_id}-{company['tenant_id']}",
            },
        }
    }
    for conn_id, shop_id in SHOP_CONNECTIONS.items():
        shop = shops[shop_id]
        connections[conn_id] = {
            "conn_type": "jetshop",
            "host": f"{jetshop_url}{SOAP_PATH}",
            "login": shop["login"],
            "password": shop["password"],
            "extra": {"shop_id": shop_id},
        }
    return SandboxEnvironment(fortnox_url, jetshop_url, company, connections)


#: what the example tenants name in Fortnox beyond the seeded company: the collective customer of
#: demo_ecom, the channel projects, the reseller price list AF and the freight/fee row articles of demo_erp and demo_combo (a real company sets them up
#: once; the orders DAG's pre-flight reports them when missing)
EXAMPLE_REGISTERS: dict[str, list[dict[str, Any]]] = {
    "customers": [{"CustomerNumber": "1000", "Name": "Webbshop privatkunder", "Type": "PRIVATE",
                   "TermsOfPayment": "0"}],
    "projects": [{"ProjectNumber": "WEBSE", "Description": "Webbshop Sverige"},
                 {"ProjectNumber": "WEBFI", "Description": "Webbshop Finland"}],
    "pricelists": [{"Code": "AF", "Description": "Återförsäljare (Fortnox-priser till Jetshop)"}],
    "articles": [{"ArticleNumber": "FRAKT", "Description": "Frakt", "Type": "SERVICE", "StockGoods": False},
                 {"ArticleNumber": "AVGIFT", "Description": "Betalningsavgift", "Type": "SERVICE",
                  "StockGoods": False}],
}


def add_example_registers(fortnox_url: str, company: dict[str, Any]) -> None:
    """Create :data:`EXAMPLE_REGISTERS` in a sandbox company through the API (an access token minted
    by the sandbox admin, so the connection's single-use refresh token stays unspent)."""
    minted = httpx.post(f"{fortnox_url}/_sandbox/tokens", timeout=30, json={
        "tenant_id": company["tenant_id"], "client_id": company["client_id"], "kind": "access"})
    token = minted.raise_for_status().json()["token"]
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    for collection, envelope in (("customers", "Customer"), ("pricelists", "PriceList"), ("projects", "Project"),
                                 ("articles", "Article")):
        for entity in EXAMPLE_REGISTERS[collection]:
            answer = httpx.post(f"{fortnox_url}/3/{collection}", json={envelope: entity}, headers=headers, timeout=30)
            if answer.status_code not in (200, 201, 400):  # 400: already there
                answer.raise_for_status()


def example_tenants() -> dict[str, str]:
    """tenant id → rules JSON of the shipped examples."""
    return {path.stem: path.read_text() for path in sorted(EXAMPLE_TENANTS.glob("*.json"))}


def _airflow(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "airflow", *args], capture_output=True, text=True)


def configure(*, fortnox_url: str, jetshop_url: str, tenants: dict[str, str] | None = None) -> SandboxEnvironment:
    """Write the connections and tenant Variables into the Airflow metastore (idempotent)."""
    env = provision(fortnox_url, jetshop_url)
    for conn_id, conn in env.connections.items():
        _airflow("connections", "delete", conn_id)
        done = _airflow("connections", "add", conn_id, "--conn-json", json.dumps(conn))
        if done.returncode != 0:
            raise SystemExit(f"airflow connections add {conn_id} failed: {done.stderr.strip()[-500:]}")
    for tenant_id, rules in (tenants or example_tenants()).items():
        done = _airflow("variables", "set", f"jetfort_tenant_{tenant_id}", rules,
                        "--description", f"jetfort tenant rules ({tenant_id})")
        if done.returncode != 0:
            raise SystemExit(f"airflow variables set jetfort_tenant_{tenant_id} failed: {done.stderr.strip()[-500:]}")
    print(f"configured: connections {', '.join(env.connections)}; "
          f"tenants {', '.join(tenants or example_tenants())} (Fortnox sandbox company {env.fortnox_tenant_id})")
    return env
