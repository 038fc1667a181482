"""Point jetfort at running sandboxes: a Fortnox company, the shops' logins, Airflow connections.

The shops: two Jetshop sandbox shops (:data:`SHOP_CONNECTIONS`) and, given the Norce sandbox's URL,
its seeded demo application (:data:`NORCE_CONNECTION`) with the Basic-auth login of its order
receiver (:data:`NORCE_RECEIVER_CONNECTION`).

Used three ways: tests put the connections in ``AIRFLOW_CONN_*`` environment variables,
``make demo`` and ``make up`` write them (and the example tenants' Variables) into the Airflow
metastore with the ``airflow`` CLI, the way a data engineer should for real accounts: from a file
only its owner can read (``airflow connections import``), so no secret reaches Airflow's audit log
(the ``log`` table, the UI's Audit Log, ``GET /api/v2/eventLogs``), a process listing or a log.
``airflow connections add --conn-json`` would put the ``extra`` (the Fortnox refresh token) there in
plain text: Airflow's CLI action logging masks only top-level keys with a sensitive name.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from jetfort.rules import parse_tenant

REPO = Path(__file__).resolve().parents[1]
EXAMPLE_TENANTS = REPO / "include" / "mappings" / "tenants"
SOAP_PATH = "/Webservice20/v3.0/webservice.asmx"
#: connection id → Jetshop sandbox ShopId, as the example tenants name them
SHOP_CONNECTIONS = {"jetshop_demo_se": "demoshop", "jetshop_demo_nordic": "nordicshop"}
#: the Norce shop of the example tenants (type ``norce``) and the Basic-auth login its order
#: receiver checks pushes against (named in the Norce connection's ``receiver_conn_id``)
NORCE_CONNECTION = "norce_demo"
NORCE_RECEIVER_CONNECTION = "norce_receiver_demo"
NORCE_RECEIVER_LOGIN = "norce-push"
#: where Airflow's api-server serves jetfort's Norce order receiver (jetfort.norce.plugin)
NORCE_RECEIVER_PREFIX = "/jetfort-norce"
#: the Norce connection's extra beyond what the sandbox tells (``GET /_sandbox/credentials``)
NORCE_DEMO_EXTRA: dict[str, Any] = {
    # the Jetshop sandbox's shop is "demoshop" too: a tenant with both keeps their ledger keys apart
    "shop_id": "norce-demoshop", "warehouse_code": "MAIN", "location_code": "MAIN",
    "timezone": "Europe/Stockholm",
    # Fortnox's demo articles name no manufacturer; Norce creates no product without one
    "default_manufacturer": "JETFORT-DEMO",
}


@dataclass
class SandboxEnvironment:
    fortnox_url: str
    jetshop_url: str
    company: dict[str, Any]
    connections: dict[str, dict[str, Any]] = field(default_factory=dict)
    norce_url: str | None = None

    @property
    def fortnox_tenant_id(self) -> int:
        return int(self.company["tenant_id"])

    def env(self) -> dict[str, str]:
        """``AIRFLOW_CONN_<ID>`` variables (JSON form) for every connection."""
        return {f"AIRFLOW_CONN_{conn_id.upper()}": json.dumps(conn) for conn_id, conn in self.connections.items()}


def norce_connections(norce_url: str, *, conn_id: str = NORCE_CONNECTION,
                      receiver_conn_id: str = NORCE_RECEIVER_CONNECTION,
                      receiver_password: str | None = None) -> dict[str, dict[str, Any]]:
    """The Norce sandbox's seeded demo application (:data:`NORCE_CONNECTION`: client id and secret,
    slug, environment, application and account id as the sandbox tells them) and the Basic-auth
    login of its order receiver (:data:`NORCE_RECEIVER_CONNECTION`, a fresh random password unless given)."""
    seeded = httpx.get(f"{norce_url}/_sandbox/credentials", timeout=30).raise_for_status().json()
    return {
        conn_id: {
            "conn_type": "norce",
            "description": "Norce Commerce demo shop (the Norce sandbox)",
            "host": norce_url,
            "login": seeded["client_id"],
            "password": seeded["client_secret"],
            "extra": {"slug": seeded["slug"], "environment": seeded["environment"],
                      "application_id": seeded["application_id"], "account_id": seeded["account_id"],
                      **NORCE_DEMO_EXTRA, "receiver_conn_id": receiver_conn_id},
        },
        receiver_conn_id: {
            "conn_type": "generic",
            "description": f"Basic auth Norce must send to jetfort's order receiver ({conn_id})",
            "login": NORCE_RECEIVER_LOGIN,
            "password": receiver_password or secrets.token_urlsafe(24),
            "extra": {},
        },
    }


def norce_receiver_url(airflow_url: str, conn_id: str = NORCE_CONNECTION) -> str:
    """The URL Norce pushes ``conn_id``'s orders to: the receiver in the api-server at ``airflow_url``."""
    return f"{airflow_url.rstrip('/')}{NORCE_RECEIVER_PREFIX}/{conn_id}/orders"


def point_norce_pushes(norce_url: str, receiver_url: str, receiver: Mapping[str, Any]) -> None:
    """Make the Norce sandbox push new orders to ``receiver_url`` with the receiver connection's Basic
    login (in a request body, never on a command line or in a log)."""
    httpx.post(f"{norce_url}/_sandbox/push-target", timeout=30, json={
        "url": receiver_url, "username": receiver["login"], "password": receiver["password"]}).raise_for_status()


def provision(fortnox_url: str, jetshop_url: str, *, company_name: str = "Demo Company AB",
              fortnox_conn_id: str = "fortnox_demo", seed: int | None = None,
              rate_window: float | None = None, norce_url: str | None = None) -> SandboxEnvironment:
    """Create a fresh Fortnox company in the sandbox and build the connections for it and the shops.

    ``rate_window``: the sandbox's rate window in seconds when it runs a shorter one than Fortnox's
    5 s, written into the Fortnox connection's extra (the client paces its budget by it).
    ``norce_url``: the Norce sandbox, for :func:`norce_connections` (left out without it)."""
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
                "events_url": events_url(fortnox_url),  # the sandbox's Fortnox WebSocket (topics-v1)
                **({"rate_window": rate_window} if rate_window is not None else {}),
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
    if norce_url is not None:
        connections.update(norce_connections(norce_url))
    return SandboxEnvironment(fortnox_url, jetshop_url, company, connections, norce_url)


#: what the example tenants name in Fortnox beyond the seeded company: the collective customer of
#: demo_ecom, the channel projects (WEBNC: the Norce shop of demo_norce and demo_mixed), the reseller
#: price list AF and the freight/fee row articles of demo_erp and demo_combo (a real company sets them up
#: once; the orders DAG's pre-flight reports them when missing)
EXAMPLE_REGISTERS: dict[str, list[dict[str, Any]]] = {
    "customers": [{"CustomerNumber": "1000", "Name": "Webbshop privatkunder", "Type": "PRIVATE",
                   "TermsOfPayment": "0"}],
    "projects": [{"ProjectNumber": "WEBSE", "Description": "Webbshop Sverige"},
                 {"ProjectNumber": "WEBFI", "Description": "Webbshop Finland"},
                 {"ProjectNumber": "WEBNC", "Description": "Webbshop Norce"}],
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


def secret_values(connections: Mapping[str, Mapping[str, Any]]) -> set[str]:
    """Every value in the connections that must never be shown: passwords and every ``extra``
    value whose name is a secret's (tokens, keys, secrets, passwords)."""
    words = ("password", "secret", "token", "key")
    found: set[str] = set()
    for conn in connections.values():
        if conn.get("password"):
            found.add(str(conn["password"]))
        extra = conn.get("extra") or {}
        if isinstance(extra, str):
            extra = json.loads(extra)
        for name, value in extra.items():
            if value and any(word in name.lower() for word in words):
                found.add(str(value))
    return found


def _scrub(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


@contextmanager
def _private_json(payload: Any) -> Iterator[Path]:
    """``payload`` as a JSON file only this user can read, in a private directory, deleted afterwards."""
    with tempfile.TemporaryDirectory(prefix="jetfort-setup-") as tmp:  # mkdtemp: mode 0700
        path = Path(tmp) / "payload.json"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(payload, handle)
        yield path


def store_connections(connections: Mapping[str, Mapping[str, Any]]) -> None:
    """Create or replace the connections in the Airflow metastore with ``airflow connections import
    --overwrite`` of a 0600 file: the audit log records the command with the file's name only, and
    the command prints only the ids."""
    if not connections:
        return
    payload = {conn_id: {**conn, "extra": conn["extra"] if isinstance(conn.get("extra"), str | None)
                         else json.dumps(conn["extra"])}
               for conn_id, conn in connections.items()}
    with _private_json(payload) as path:
        done = _airflow("connections", "import", str(path), "--overwrite")
    imported = {line.removeprefix("Imported connection ").strip()
                for line in done.stdout.splitlines() if line.startswith("Imported connection ")}
    missing = sorted(set(connections) - imported)
    if done.returncode != 0 or missing:
        detail = _scrub(f"{done.stdout.strip()}\n{done.stderr.strip()}"[-800:], secret_values(connections))
        raise SystemExit(f"airflow connections import failed for {', '.join(missing) or 'some connections'}: "
                         f"{detail}")


def store_tenant_variables(tenants: Mapping[str, str]) -> None:
    """Create or replace ``jetfort_tenant_<id>`` for each tenant (one ``airflow variables import``)."""
    if not tenants:
        return
    payload = {f"jetfort_tenant_{tenant_id}": {"value": rules, "description": f"jetfort tenant rules ({tenant_id})"}
               for tenant_id, rules in tenants.items()}
    with _private_json(payload) as path:
        done = _airflow("variables", "import", str(path), "--action-on-existing-key", "overwrite")
    if done.returncode != 0 or f"{len(payload)} of {len(payload)} variables successfully updated" not in done.stdout:
        raise SystemExit(f"airflow variables import failed: {(done.stdout + done.stderr).strip()[-800:]}")


def events_url(fortnox_url: str) -> str:
    """The Fortnox sandbox's WebSocket endpoint (same port as its REST API)."""
    scheme, _, rest = fortnox_url.rstrip("/").partition("://")
    return f"{'wss' if scheme == 'https' else 'ws'}://{rest}/topics-v1"


def with_events(text: str) -> str:
    """A tenant's rules with Fortnox events on: the catalog DAG always, the status DAG where the rules
    run it (status_map on, as in erp and combo)."""
    rules = json.loads(text)
    status = parse_tenant("events_check", text).status_map.enabled
    rules["events"] = {**rules.get("events", {}), "enabled": True, "status": status, "catalog": True}
    return json.dumps(rules, ensure_ascii=False, indent=2)


def configure(*, fortnox_url: str, jetshop_url: str, tenants: dict[str, str] | None = None,
              extra_connections: dict[str, dict[str, Any]] | None = None,
              company_per_tenant: bool = False, norce_url: str | None = None,
              norce_receiver: str | None = None, events: bool = False) -> SandboxEnvironment:
    """Write the connections and tenant Variables into the Airflow metastore (idempotent: a second
    call replaces them, pointing the Fortnox connection at a newly provisioned sandbox company).

    ``extra_connections``: more connections (conn id → the same shape as :func:`provision`'s, e.g.
    the ledger's), stored the same way and returned in the environment's ``connections``.
    ``company_per_tenant``: every tenant gets a Fortnox sandbox company of its own and a connection
    ``fortnox_<tenant>`` (its rules' ``fortnox_conn_id`` rewritten to it), as a tenant is one Fortnox
    company: tenants running side by side (``make up``) never book into one company.
    ``norce_url``: the Norce sandbox; adds :func:`norce_connections` (one set, shared by the tenants).
    ``norce_receiver``: the order receiver's URL (:func:`norce_receiver_url`) the sandbox then pushes
    new orders to, with the receiver connection's login.
    ``events``: every tenant's status and catalog DAGs also run on the sandbox's Fortnox events
    (:func:`with_events`; the Fortnox connections name the sandbox's WebSocket in ``events_url``).
    No secret is passed on a command line, printed or logged.
    """
    chosen = example_tenants() if tenants is None else dict(tenants)
    if events:
        chosen = {tenant_id: with_events(text) for tenant_id, text in chosen.items()}
    if company_per_tenant and chosen:
        envs = {}
        for tenant_id, text in sorted(chosen.items()):
            conn_id = f"fortnox_{tenant_id}"
            envs[tenant_id] = provision(fortnox_url, jetshop_url, company_name=f"Demo {tenant_id} AB",
                                        fortnox_conn_id=conn_id)
            rules = json.loads(text)
            rules["fortnox_conn_id"] = conn_id
            chosen[tenant_id] = json.dumps(rules, ensure_ascii=False, indent=2)
        env = next(iter(envs.values()))
        for other in envs.values():
            env.connections.update(other.connections)
        companies = ", ".join(f"{t} → {e.fortnox_tenant_id}" for t, e in envs.items())
    else:
        env = provision(fortnox_url, jetshop_url)
        companies = str(env.fortnox_tenant_id)
    if norce_url is not None:
        env.norce_url = norce_url
        env.connections.update(norce_connections(norce_url))
    env.connections.update(extra_connections or {})
    store_connections(env.connections)
    store_tenant_variables(chosen)
    if norce_url is not None and norce_receiver is not None:
        point_norce_pushes(norce_url, norce_receiver, env.connections[NORCE_RECEIVER_CONNECTION])
    print(f"configured: connections {', '.join(env.connections)}; "
          f"tenants {', '.join(chosen)} (Fortnox sandbox company {companies})")
    return env
