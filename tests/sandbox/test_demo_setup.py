"""``demo_setup.configure()`` stores the demo's connections without any secret reaching Airflow's
audit log (the ``log`` table behind the UI's Audit Log and ``GET /api/v2/eventLogs``), any other
column of the metadata DB, its output, or a file left behind.

Runs against the Fortnox, Jetshop and Norce sandboxes in a private AIRFLOW_HOME migrated once for the module. Secret values
are only ever compared, never printed: a failure names the table and column, not the value.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from sandbox import demo_setup
from tests.harness import norce_sandbox, sandboxes

REPO = Path(__file__).resolve().parents[2]
TIMEOUT = 180
#: the order receiver as `make up` serves it: api-server on 8080, receiver plugin, conn norce_demo
RECEIVER_URL = "http://127.0.0.1:8080/jetfort-norce/norce_demo/orders"


def _digest(value: Any) -> str:
    return hashlib.sha256(str(value).encode()).hexdigest()


#: prints, per connection, digests of what Airflow hands a hook (never the values themselves)
_READ_BACK = """
import hashlib, json, sys
from airflow.models.connection import Connection
from airflow.utils.session import create_session
from sqlalchemy import select

def digest(value):
    return hashlib.sha256(str(value).encode()).hexdigest()

out = {}
with create_session() as session:
    for conn in session.scalars(select(Connection).where(Connection.conn_id.in_(sys.argv[1:]))):
        out[conn.conn_id] = {"conn_type": conn.conn_type, "host": conn.host, "login": digest(conn.login),
                             "password": digest(conn.password),
                             "extra": {k: digest(v) for k, v in conn.extra_dejson.items()}}
print(json.dumps(out))
"""


def _where_found(db_file: Path, secrets: Iterable[str]) -> list[str]:
    """``table.column`` (with a row count) of every metadata DB cell that contains one of the values."""
    secrets = [s for s in secrets if s]
    hits: list[str] = []
    engine = sa.create_engine(f"sqlite:///{db_file}")
    try:
        meta = sa.MetaData()
        meta.reflect(engine)
        with engine.connect() as conn:
            for table in meta.sorted_tables:
                names = list(table.columns.keys())
                for row in conn.execute(sa.select(table)):
                    for column, value in zip(names, row, strict=True):
                        if value is None:
                            continue
                        text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
                        if any(secret in text for secret in secrets):
                            hits.append(f"{table.name}.{column}")
    finally:
        engine.dispose()
    return hits


@pytest.fixture(scope="module")
def airflow_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A private, migrated AIRFLOW_HOME that configure()'s ``airflow`` calls use (through the env)."""
    home = tmp_path_factory.mktemp("demo-setup-home")
    with pytest.MonkeyPatch.context() as mp:
        for name in list(os.environ):
            if name.startswith(("AIRFLOW__DATABASE__", "AIRFLOW_CONN_", "AIRFLOW_VAR_")):
                mp.delenv(name)
        mp.setenv("AIRFLOW_HOME", str(home))
        mp.setenv("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", f"sqlite:///{home / 'airflow.db'}")
        migrated = subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], capture_output=True,
                                  text=True, timeout=TIMEOUT)
        assert migrated.returncode == 0, migrated.stderr[-2000:]
        yield home


@pytest.fixture(scope="module")
def configured(airflow_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """configure() run twice (as `make up` after `make down` does) with an extra ledger connection."""
    scratch = tmp_path_factory.mktemp("demo-setup-tmp")
    ledger = {"conn_type": "jetfort_ledger", "description": "test ledger",
              "extra": {"url": f"sqlite:///{scratch / 'ledger.db'}", "secret_key": Fernet.generate_key().decode()}}
    printed = io.StringIO()
    with (sandboxes(seed=3) as (fortnox_url, _fapp, jetshop_url, _japp), norce_sandbox(seed=3) as (norce_url, napp),
          pytest.MonkeyPatch.context() as mp):
        mp.setattr(tempfile, "tempdir", str(scratch))  # configure()'s private files go here (and must go)
        with redirect_stdout(printed), redirect_stderr(printed):
            runs = [demo_setup.configure(fortnox_url=fortnox_url, jetshop_url=jetshop_url, norce_url=norce_url,
                                         norce_receiver=RECEIVER_URL, extra_connections={"jetfort_ledger": ledger})
                    for _ in range(2)]
        yield {"runs": runs, "scratch": scratch, "db": airflow_home / "airflow.db", "printed": printed.getvalue(),
               "norce_url": norce_url, "push_target": napp.state.norce.pusher.target}


def _all_secrets(runs: list[demo_setup.SandboxEnvironment]) -> set[str]:
    found: set[str] = set()
    for env in runs:
        found |= demo_setup.secret_values(env.connections)
        found |= {str(env.company["client_secret"]), str(env.company["refresh_token"])}
    return found


def test_the_secrets_under_test_are_the_real_ones(configured: dict[str, Any]) -> None:
    """The oracle: client secret, refresh token, the shops' passwords (the Norce client secret and the
    Basic password of its order receiver too) and the ledger key, per run."""
    env = configured["runs"][-1]
    secrets = demo_setup.secret_values(env.connections)
    assert str(env.company["client_secret"]) in secrets and str(env.company["refresh_token"]) in secrets
    assert {str(env.connections[c]["password"]) for c in demo_setup.SHOP_CONNECTIONS} <= secrets
    # (booleans first: a failed `in` would print the set of secrets)
    norce_secret = "norce-demo-secret" in secrets  # the Norce sandbox's seeded client secret
    receiver_password = env.connections["norce_receiver_demo"]["password"] in secrets
    assert norce_secret, "the Norce client secret is not treated as a secret"
    assert receiver_password, "the order receiver's Basic password is not treated as a secret"
    assert env.connections["jetfort_ledger"]["extra"]["secret_key"] in secrets
    assert all(len(s) >= 8 for s in secrets)


def test_connections_are_stored_as_given_and_replaced_on_a_second_run(configured: dict[str, Any]) -> None:
    env = configured["runs"][-1]
    ids = sorted(env.connections)
    read = subprocess.run([sys.executable, "-c", _READ_BACK, *ids], capture_output=True, text=True, timeout=TIMEOUT)
    assert read.returncode == 0, read.stderr[-2000:]
    stored = json.loads(read.stdout.strip().splitlines()[-1])
    assert sorted(stored) == ids == sorted(["fortnox_demo", *demo_setup.SHOP_CONNECTIONS, "norce_demo",
                                            "norce_receiver_demo", "jetfort_ledger"])
    for conn_id, conn in env.connections.items():
        got = stored[conn_id]
        assert got["conn_type"] == conn["conn_type"], conn_id
        assert got["host"] == conn.get("host"), conn_id
        assert got["login"] == _digest(conn.get("login")), conn_id
        assert got["password"] == _digest(conn.get("password")), f"{conn_id}: password differs"
        assert got["extra"] == {k: _digest(v) for k, v in conn["extra"].items()}, f"{conn_id}: extra differs"
    # the second run's Fortnox company, not the first one's
    first = configured["runs"][0]
    assert first.company["tenant_id"] != env.company["tenant_id"]
    # ... and the second run's order-receiver password: a fresh random one (never a fixed default)
    receiver = env.connections["norce_receiver_demo"]["password"]
    fresh = receiver != first.connections["norce_receiver_demo"]["password"] and len(receiver) >= 24
    assert fresh, "the receiver password is not a fresh random one per run"


def test_the_norce_connection_names_the_seeded_demo_application_and_its_receiver(
        configured: dict[str, Any]) -> None:
    """What a data engineer types for the Norce sandbox's demo shop (values from spec and seed)."""
    conn = configured["runs"][-1].connections["norce_demo"]
    assert (conn["conn_type"], conn["host"], conn["login"]) == ("norce", configured["norce_url"], "jetfort-demo")
    assert conn["extra"]["slug"] == "demoshop" and conn["extra"]["environment"] == "stage"
    assert (conn["extra"]["application_id"], conn["extra"]["account_id"]) == (1244, 17)
    assert conn["extra"]["receiver_conn_id"] == "norce_receiver_demo"
    # the Jetshop sandbox's shop is "demoshop" too: a tenant with both keeps its ledger keys apart
    assert conn["extra"]["shop_id"] != demo_setup.SHOP_CONNECTIONS["jetshop_demo_se"]
    receiver = configured["runs"][-1].connections["norce_receiver_demo"]
    assert receiver["login"] == "norce-push" and receiver["password"]


def test_the_norce_sandbox_pushes_to_the_receiver_with_its_connections_login(configured: dict[str, Any]) -> None:
    from jetfort.norce.plugin import URL_PREFIX

    assert demo_setup.norce_receiver_url("http://127.0.0.1:8080/") == RECEIVER_URL
    assert RECEIVER_URL.startswith(f"http://127.0.0.1:8080{URL_PREFIX}/")  # where the plugin mounts it
    target = configured["push_target"]
    receiver = configured["runs"][-1].connections["norce_receiver_demo"]
    assert (target.url, target.username) == (RECEIVER_URL, "norce-push")
    same = target.password == receiver["password"]  # the second run's password, not the first one's
    assert same, "the sandbox pushes with another password than the receiver connection holds"


def test_no_secret_in_the_audit_log_or_anywhere_in_the_metadata_db(configured: dict[str, Any]) -> None:
    secrets = _all_secrets(configured["runs"])
    engine = sa.create_engine(f"sqlite:///{configured['db']}")
    try:
        with engine.connect() as conn:
            events = conn.execute(sa.text("SELECT event, extra FROM log")).all()
    finally:
        engine.dispose()
    # the CLI calls were audited (so the search below looks where the leak was) ...
    assert any(event == "cli_connections_import" for event, _ in events), sorted({e for e, _ in events})
    # ... with no secret in them, nor in any other column of any table
    assert _where_found(configured["db"], secrets) == []


def test_configure_leaves_no_file_behind(configured: dict[str, Any]) -> None:
    assert list(configured["scratch"].glob("jetfort-setup-*")) == []


def test_configure_prints_no_secret(configured: dict[str, Any]) -> None:
    printed = configured["printed"]
    assert printed.count("configured: connections fortnox_demo, jetshop_demo_se, jetshop_demo_nordic, norce_demo, "
                         "norce_receiver_demo, jetfort_ledger; tenants demo_combo, demo_ecom, demo_erp, demo_mixed, "
                         "demo_norce") == 2, printed
    leaked = [s for s in _all_secrets(configured["runs"]) if s in printed]
    assert not leaked, f"{len(leaked)} secret value(s) printed"


def test_the_search_finds_what_airflow_connections_add_leaks(airflow_home: Path) -> None:
    """Control for the search above: ``--conn-json`` (the old setup) does put ``extra`` in the log table.

    If Airflow starts masking it, this fails: then the README's advice can be relaxed."""
    canary = f"canary-refresh-{os.getpid()}-{os.urandom(6).hex()}"
    conn = {"conn_type": "fortnox", "host": "http://127.0.0.1:9", "login": "client",
            "extra": {"refresh_token": canary}}
    added = subprocess.run([sys.executable, "-m", "airflow", "connections", "add", "fortnox_canary", "--conn-json",
                            json.dumps(conn)], capture_output=True, text=True, timeout=TIMEOUT)
    assert added.returncode == 0, added.stderr[-2000:]
    assert "log.extra" in _where_found(airflow_home / "airflow.db", [canary])


def test_the_connections_file_is_private_and_only_its_name_is_on_the_command_line(
        monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}
    conns = {"fortnox_x": {"conn_type": "fortnox", "host": "http://h", "login": "id", "password": "pw-123456789",
                           "extra": {"refresh_token": "rt-123456789"}}}

    def fake_airflow(*args: str) -> subprocess.CompletedProcess[str]:
        path = Path(args[2])
        seen.update(args=args, mode=path.stat().st_mode & 0o777, dir_mode=path.parent.stat().st_mode & 0o777,
                    content=json.loads(path.read_text()), path=path)
        return subprocess.CompletedProcess(list(args), 0, "Imported connection fortnox_x\n", "")

    monkeypatch.setattr(demo_setup, "_airflow", fake_airflow)
    demo_setup.store_connections(conns)
    assert seen["args"][:2] == ("connections", "import") and "--overwrite" in seen["args"]
    assert not any("123456789" in arg for arg in seen["args"])
    assert (seen["mode"], seen["dir_mode"]) == (0o600, 0o700)
    assert json.loads(seen["content"]["fortnox_x"]["extra"]) == {"refresh_token": "rt-123456789"}
    assert not seen["path"].exists() and not seen["path"].parent.exists()


def test_a_failed_import_names_the_connection_without_its_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    conns = {"jetshop_x": {"conn_type": "jetshop", "host": "http://h", "login": "l", "password": "pw-987654321",
                           "extra": {"shop_id": "s"}}}

    def failing(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(list(args), 1, "", "could not store password pw-987654321")

    monkeypatch.setattr(demo_setup, "_airflow", failing)
    with pytest.raises(SystemExit) as raised:
        demo_setup.store_connections(conns)
    assert "jetshop_x" in str(raised.value) and "987654321" not in str(raised.value)


def test_company_per_tenant_gives_every_tenant_its_own_fortnox_company(airflow_home: Path) -> None:
    """``make up`` runs the example tenants side by side: a tenant is one Fortnox company, so no two
    of them may book into the same one (an invoice and an order for one shop order in one company)."""
    with sandboxes(seed=4) as (fortnox_url, fapp, jetshop_url, _japp), redirect_stdout(io.StringIO()):
        env = demo_setup.configure(fortnox_url=fortnox_url, jetshop_url=jetshop_url, company_per_tenant=True)
        companies = {c.tenant_id for c in fapp.state.sandbox.companies.values()}
    tenants = sorted(demo_setup.example_tenants())
    fortnox = {conn_id: conn for conn_id, conn in env.connections.items() if conn["conn_type"] == "fortnox"}
    assert sorted(fortnox) == [f"fortnox_{t}" for t in tenants]
    clients = {conn["login"] for conn in fortnox.values()}
    assert len(clients) == len(tenants)
    budgets = {conn["extra"]["company"] for conn in fortnox.values()}
    assert len(budgets) == len(tenants) and all(int(b.rsplit("-", 1)[1]) in companies for b in budgets)
    for tenant in tenants:
        stored = subprocess.run([sys.executable, "-m", "airflow", "variables", "get", f"jetfort_tenant_{tenant}"],
                                capture_output=True, text=True, timeout=TIMEOUT)
        assert stored.returncode == 0, stored.stderr[-2000:]
        rules = json.loads(stored.stdout[stored.stdout.index("{"):])  # the value, after any warning line
        assert rules["fortnox_conn_id"] == f"fortnox_{tenant}"
