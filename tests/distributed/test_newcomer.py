"""The operator's path as a newcomer walks it, on the stack ``make up`` gives (issue 13).

One scripted run, in the order a data engineer would go, from the repository (CI's checkout is a
fresh clone) with nothing but the README's commands and the official tools:

1. ``make up`` on its own ``AIRFLOW_HOME`` and free ports (so it never meets a developer's stack);
2. orders spread over the 7 past days appear in the Jetshop sandbox;
3. ``airflow backfill create`` over those 7 days for one tenant's orders DAG (the CLI, with the
   environment file ``make up`` writes) → every backfill run successful; from the stack's first
   runs to the backfill's end, never more task instances queued or running at once than the
   executor has slots (sampled in the metadata DB): the rest wait "scheduled", where the scheduler
   starts them by priority weight (Airflow 3.3's LocalExecutor would take them all, first come
   first served);
4. a range re-sync over the same week in one run (params ``since``/``until``) triggered through the
   official ``apache-airflow-client`` → successful, nothing created twice;
5. every order of the week has exactly one Fortnox document (counted in the Fortnox sandbox, keyed
   by the idempotency reference, never from jetfort's own view) and is acknowledged in the shop;
6. the scheduler killed by PID → the supervisor restarts it, and the next scheduled run succeeds;
6b. a new tenant on the running stack: a new Fortnox sandbox company and its connection (imported
   from a 0600 file, as the README shows), then ``airflow variables set jetfort_tenant_<new>`` and
   no other command → its orders DAG appears unpaused, a run of it succeeds, and the shop's
   released orders of that run's range are in the new company, once each;
7. every secret value (Fortnox client secret, every refresh and access token the sandbox issued,
   the shop passwords, the ledger's encryption key, the admin password) searched for in the
   metadata database (every table: audit ``log``, XCom, rendered fields ...), the ledger database,
   every task log and every process log → 0 hits;
8. ``make down`` leaves no process of the stack.

Runs in ``make test-distributed`` (``JETFORT_DISTRIBUTED=1``); prints its figures.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import psutil
import pytest
import sqlalchemy as sa

from sandbox import demo_setup
from sandbox.celery_stack import free_port

REPO = Path(__file__).resolve().parents[2]
TENANT = "demo_ecom"
ORDERS_DAG = f"jetfort__{TENANT}__orders"
SHOP = "demoshop"  # demo_ecom's shop "se" (connection jetshop_demo_se)
TRANSFERRED_STATUS = 6  # demo_ecom's orders.transferred_status
SHOP_TZ = ZoneInfo("Europe/Stockholm")
IDEMPOTENCY_FIELD = "ExternalInvoiceReference1"
DAYS = 7
ORDERS_PER_DAY = 3
#: the tenant added to the running stack, with demo_ecom's rules and a Fortnox company of its own
NEW_TENANT = "newcomer"
NEW_ORDERS_DAG = f"jetfort__{NEW_TENANT}__orders"
NEW_ORDERS = 3
NEW_ORDERS_DAYS_AGO = 10  # outside the week the other steps sync: only the new tenant's run reads it
FIGURES: dict[str, Any] = {}


class Stack:
    """What ``make up`` made, read the way a user reads it: the env file, the status file, the ports."""

    def __init__(self, home: Path, ports: dict[str, int]) -> None:
        self.home = home
        self.ports = ports
        self.make_env = {**os.environ, "AIRFLOW_HOME": str(home), **{k: str(v) for k, v in ports.items()}}
        self.make_vars = [f"AIRFLOW_HOME={home}", *(f"{k}={v}" for k, v in ports.items())]

    def make(self, target: str, timeout: float) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["make", "--no-print-directory", target, *self.make_vars], cwd=REPO,
                              env=self.make_env, capture_output=True, text=True, timeout=timeout)

    @property
    def airflow_env(self) -> dict[str, str]:
        """``$AIRFLOW_HOME/stack.env`` as ``source`` would read it."""
        env = dict(self.make_env)
        for line in (self.home / "stack.env").read_text().splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            key, _, value = line.removeprefix("export ").partition("=")
            env[key] = value.strip().strip("'\"")
        return env

    def airflow(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(REPO / ".venv" / "bin" / "airflow"), *args], cwd=REPO, env=self.airflow_env,
                              capture_output=True, text=True, timeout=timeout)

    def status(self) -> dict[str, Any]:
        return dict(json.loads((self.home / "run" / "status.json").read_text()))

    def process(self, name: str) -> dict[str, Any]:
        return dict(self.status()["processes"][name])

    @property
    def fortnox_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['JETFORT_FORTNOX_PORT']}"

    @property
    def jetshop_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['JETFORT_JETSHOP_PORT']}"

    @property
    def norce_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['JETFORT_NORCE_PORT']}"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['JETFORT_UI_PORT']}"

    def admin_password(self) -> str:
        return self.password("admin")

    def password(self, user: str) -> str:
        files = sorted(self.home.glob("simple_auth_manager_passwords.json*"))
        assert files, f"no password file under {self.home}"
        assert files[0].stat().st_mode & 0o077 == 0, f"{files[0]} is readable by others"
        return str(json.loads(files[0].read_text())[user])


def stack_pids(stack: Stack) -> list[int]:
    """Processes that belong to the stack: started with its AIRFLOW_HOME, or listening on its ports."""
    found = set()
    ports = set(stack.ports.values())
    for proc in psutil.process_iter(["pid"]):
        try:
            ours = proc.environ().get("AIRFLOW_HOME") == str(stack.home) and proc.pid != os.getpid()
            listening = any(c.laddr and c.laddr.port in ports and c.status == psutil.CONN_LISTEN
                            for c in proc.net_connections())
            if ours or listening:
                found.add(proc.pid)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return sorted(found)


PORT_NAMES = ("JETFORT_UI_PORT", "JETFORT_FORTNOX_PORT", "JETFORT_JETSHOP_PORT", "JETFORT_NORCE_PORT",
              "JETFORT_LOG_PORT", "JETFORT_TRIGGER_LOG_PORT")


@contextmanager
def running_stack(prefix: str, figures: dict[str, Any], *, make: Callable[[Path, dict[str, int]], Stack] = Stack,
                  keep: Callable[[], bool] = lambda: False) -> Iterator[Any]:
    """``make up`` on its own AIRFLOW_HOME and free ports, ``make down`` afterwards. Its directory is
    removed unless something was left running or ``keep()`` says so (then its path is printed)."""
    # not under pytest's basetemp: every pytest session that starts chmods that tree to 0700, and run
    # as root the stack's PostgreSQL (user embedded_postgres) must keep traversing to its data directory
    base = Path(tempfile.mkdtemp(prefix=prefix))
    made = make(base / "airflow", {name: free_port() for name in PORT_NAMES})
    started = time.monotonic()
    up = made.make("up", timeout=900)
    figures["make up (s)"] = round(time.monotonic() - started)
    try:
        assert up.returncode == 0, f"make up failed:\n{up.stdout[-3000:]}\n{up.stderr[-3000:]}"
        yield made
    finally:
        down = made.make("down", timeout=180)
        print(down.stdout[-2000:], down.stderr[-2000:])
        print(f"\n{prefix.strip('-')} figures:\n" + "\n".join(f"  {k}: {v}" for k, v in figures.items()))
        if down.returncode == 0 and not stack_pids(made) and not keep():
            shutil.rmtree(base, ignore_errors=True)
        else:
            print(f"left for inspection: {base}")


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    with running_stack("jetfort-newcomer-", FIGURES) as made:
        yield made


def api_client(stack: Stack) -> Any:
    import airflow_client.client as client

    token = httpx.post(f"{stack.api_url}/auth/token", timeout=30,
                       json={"username": "admin", "password": stack.admin_password()})
    token.raise_for_status()
    config = client.Configuration(host=stack.api_url, access_token=token.json()["access_token"])
    return client.ApiClient(config)


def runs_of(api: Any, dag_id: str, **filters: Any) -> list[Any]:
    from airflow_client.client.api.dag_run_api import DagRunApi

    runs: list[Any] = []
    while True:
        page = DagRunApi(api).get_dag_runs(dag_id, limit=100, offset=len(runs), order_by=["id"], **filters)
        runs.extend(page.dag_runs)
        if len(runs) >= page.total_entries or not page.dag_runs:
            return runs


def wait_runs(api: Any, dag_id: str, seconds: float, **filters: Any) -> list[Any]:
    deadline = time.monotonic() + seconds
    runs: list[Any] = []
    while time.monotonic() < deadline:
        runs = runs_of(api, dag_id, **filters)
        if runs and all(str(r.state.value) in ("success", "failed") for r in runs):
            return runs
        time.sleep(5)
    states = Counter(str(r.state.value) for r in runs)
    raise AssertionError(f"{dag_id}: runs not finished after {seconds:.0f}s: {dict(states)}")


@contextmanager
def tasks_in_the_executor(stack: Stack, every: float = 0.25) -> Iterator[list[int]]:
    """How many task instances are queued or running (the metadata DB), sampled every ``every``
    seconds while the block runs; the samples, filled in as they come."""
    samples: list[int] = []
    stop = threading.Event()
    engine = sa.create_engine(stack.airflow_env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    count = sa.text("SELECT count(*) FROM task_instance WHERE state IN ('queued', 'running')")

    def sample() -> None:
        with engine.connect() as conn:
            while not stop.is_set():
                samples.append(int(conn.execute(count).scalar_one()))
                conn.commit()  # a fresh snapshot each time
                stop.wait(every)

    sampler = threading.Thread(target=sample, name="tasks-in-the-executor", daemon=True)
    sampler.start()
    try:
        yield samples
    finally:
        stop.set()
        sampler.join(timeout=30)
        engine.dispose()


def add_orders(stack: Stack, when: dt.datetime, count: int, seed: int) -> list[int]:
    """``count`` released orders in the shop, created and last modified at ``when`` (shop time)."""
    stamp = when.astimezone(SHOP_TZ).replace(tzinfo=None).isoformat()
    made = httpx.post(f"{stack.jetshop_url}/_sandbox/shops/{SHOP}/orders/generate", timeout=60,
                      json={"count": count, "seed": seed, "start": stamp})
    new = [int(i) for i in made.raise_for_status().json()["order_ids"]]
    httpx.post(f"{stack.jetshop_url}/_sandbox/shops/{SHOP}/orders/touch", timeout=60,
               json={"order_ids": new, "when": stamp}).raise_for_status()
    return new


def add_week_of_orders(stack: Stack, today: dt.datetime) -> list[int]:
    """``ORDERS_PER_DAY`` orders on each of the ``DAYS`` past days, at midday shop time."""
    ids: list[int] = []
    for days_ago in range(DAYS, 0, -1):
        ids.extend(add_orders(stack, today - dt.timedelta(days=days_ago, hours=-12), ORDERS_PER_DAY, 100 + days_ago))
    return ids


def posted_documents(stack: Stack) -> dict[tuple[int, str], list[str]]:
    """(Fortnox company, idempotency key) → the documents a sync posted with it. Each demo tenant books
    into a company of its own, so a key with two documents in one company is a duplicate. Documents
    Fortnox derives from a posted one carry its references too and are not counted: a credit note
    (``Credit``) and an invoice made from an order (``OrderReference``), which the live sandbox makes."""
    companies = httpx.get(f"{stack.fortnox_url}/_sandbox/companies", timeout=60).raise_for_status().json()["companies"]
    found: dict[tuple[int, str], list[str]] = {}
    for company in companies:
        for collection in ("invoices", "orders"):
            body = httpx.get(f"{stack.fortnox_url}/_sandbox/companies/{company['tenant_id']}/state/{collection}",
                             timeout=60).raise_for_status().json()
            for doc in body[collection]:
                derived = str(doc.get("Credit")) == "true" or str(doc.get("OrderReference") or "0") != "0"
                if doc.get(IDEMPOTENCY_FIELD) and not derived:
                    found.setdefault((int(company["tenant_id"]), str(doc[IDEMPOTENCY_FIELD])), []).append(
                        f"{collection} {doc['DocumentNumber']}")
    return found


def duplicates(stack: Stack) -> dict[tuple[int, str], list[str]]:
    return {key: docs for key, docs in posted_documents(stack).items() if len(docs) > 1}


def transferred(stack: Stack, ids: list[int]) -> int:
    orders = httpx.get(f"{stack.jetshop_url}/_sandbox/shops/{SHOP}/orders", timeout=60,
                       params={"status_id": TRANSFERRED_STATUS}).raise_for_status().json()
    return len({o["OrderId"] for o in orders} & set(ids))


def secret_values(stack: Stack) -> dict[str, str]:
    """Every secret the stack holds, read from where it was made (the sandboxes, the env file)."""
    found: dict[str, str] = {"admin password": stack.admin_password(), "viewer password": stack.password("viewer")}
    issued = httpx.get(f"{stack.fortnox_url}/_sandbox/secrets", timeout=60).raise_for_status().json()
    for i, value in enumerate(issued["secrets"]):
        found[f"fortnox secret #{i} ({issued['kinds'][i]})"] = value
    for shop in httpx.get(f"{stack.jetshop_url}/_sandbox/shops", timeout=60).raise_for_status().json():
        found[f"shop password {shop['shop_id']}"] = shop["password"]
    norce = httpx.get(f"{stack.norce_url}/_sandbox/secrets", timeout=60).raise_for_status().json()
    for i, value in enumerate(norce["secrets"]):
        found[f"norce secret #{i} ({norce['kinds'][i]})"] = value
    for key, value in stack.airflow_env.items():
        if key.endswith(("SECRET_KEY", "FERNET_KEY", "JWT_SECRET")) and value:
            found[key] = value
    return {name: value for name, value in found.items() if len(value) >= 8}


def scan_databases(stack: Stack, secrets: dict[str, str]) -> list[str]:
    hits = []
    urls = {"metadata": stack.airflow_env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]}
    ledger = stack.airflow_env.get("JETFORT_LEDGER_URL")
    if ledger:
        urls["ledger"] = ledger
    for db, url in urls.items():
        engine = sa.create_engine(url)
        try:
            meta = sa.MetaData()
            meta.reflect(engine)
            with engine.connect() as conn:
                for table in meta.sorted_tables:
                    for row in conn.execute(sa.select(table)):
                        text = " ".join(str(v) for v in row)
                        hits.extend(f"{db}.{table.name}: {name}" for name, value in secrets.items() if value in text)
        finally:
            engine.dispose()
    return hits


def scan_files(stack: Stack, secrets: dict[str, str]) -> list[str]:
    """Task logs and process logs: every file under AIRFLOW_HOME but the secret stores themselves."""
    stores = {"stack.env", "stack.secret", "simple_auth_manager_passwords.json.generated"}
    hits = []
    for path in stack.home.rglob("*"):
        parts = path.relative_to(stack.home).parts
        if not path.is_file() or (parts[0] == "postgres" and parts[1:] != ("log",)):  # data files; its log counts
            continue
        if path.name in stores:
            assert path.stat().st_mode & 0o077 == 0, f"{path} holds secrets and is readable by others"
            continue
        text = path.read_text(errors="replace")
        hits.extend(f"{path.relative_to(stack.home)}: {name}" for name, value in secrets.items() if value in text)
    return hits


@pytest.mark.timeout(2400)  # make up, 169 backfill runs, a re-sync, the next scheduled run, the searches
def test_newcomer_backfill_resync_restart_secrets_down(stack: Stack) -> None:
    from airflow_client.client.api.dag_run_api import DagRunApi
    from airflow_client.client.models.trigger_dag_run_post_body import TriggerDAGRunPostBody

    api = api_client(stack)
    today = dt.datetime.now(SHOP_TZ).replace(hour=0, minute=0, second=0, microsecond=0)
    slots = int(stack.airflow_env["AIRFLOW__CORE__PARALLELISM"])
    with tasks_in_the_executor(stack) as in_executor:  # the stack's first runs, then the backfill
        week = add_week_of_orders(stack, today)
        start, end = today - dt.timedelta(days=DAYS), today

        # --- 7-day backfill through the CLI, as the README shows it -----------------------------
        began = time.monotonic()
        created = stack.airflow("backfill", "create", "--dag-id", ORDERS_DAG, "--from-date", start.isoformat(),
                                "--to-date", end.isoformat(), "--max-active-runs", "4")
        assert created.returncode == 0, (
            f"airflow backfill create failed:\n{created.stdout[-2000:]}{created.stderr[-2000:]}")
        backfill = wait_runs(api, ORDERS_DAG, 1500, run_type=["backfill"])
    FIGURES["tasks queued or running at once: most of the samples"] = (
        f"{max(in_executor, default=0)} ({len(in_executor)} samples, {slots} executor slots)")
    assert len(in_executor) > 100 and max(in_executor) >= 2, "the sampler saw no tasks at work"
    assert max(in_executor) <= slots, (
        f"{max(in_executor)} task instances queued or running at once, for {slots} executor slots: "
        "the rest wait in the executor's first-come queue, whatever their priority weight")
    FIGURES["backfill: runs created"] = len(backfill)
    FIGURES["backfill: wall time (s)"] = round(time.monotonic() - began)
    failed = [r.dag_run_id for r in backfill if str(r.state.value) != "success"]
    assert not failed, f"{len(failed)} backfill runs not successful, e.g. {failed[:5]}"
    # a backfill does not repeat an interval the scheduler already ran (the stack's first scheduled runs
    # fall inside the week when it starts just after midnight shop time): every hour must have a run
    covered = {r.logical_date for r in runs_of(api, ORDERS_DAG)
               if r.logical_date is not None and start <= r.logical_date <= end}
    assert len(covered) >= DAYS * 24, (f"a week of hourly runs expected: {len(backfill)} backfill runs, "
                                       f"{len(covered)} hours of the week with a run")
    assert transferred(stack, week) == len(week)
    assert duplicates(stack) == {}, "duplicate Fortnox documents after the backfill"
    documents_after_backfill = len(posted_documents(stack))

    # --- the same week re-examined in one run, through the official client ------------------------
    began = time.monotonic()
    body = TriggerDAGRunPostBody(dag_run_id=f"resync-{int(time.time())}", logical_date=None,
                                 conf={"since": start.isoformat(), "until": end.isoformat()})
    DagRunApi(api).trigger_dag_run(ORDERS_DAG, body)
    [resync] = wait_runs(api, ORDERS_DAG, 900, run_id_pattern="resync-")
    FIGURES["range re-sync: wall time (s)"] = round(time.monotonic() - began)
    assert str(resync.state.value) == "success"
    doubled = duplicates(stack)
    FIGURES["duplicate Fortnox documents"] = sum(len(docs) - 1 for docs in doubled.values())
    assert doubled == {}, "duplicate Fortnox documents after the range re-sync"
    assert len(posted_documents(stack)) >= documents_after_backfill

    # --- the scheduler killed by PID: restarted, and the next scheduled run succeeds --------------
    old = stack.process("scheduler")
    killed_at = dt.datetime.now(dt.UTC)
    began = time.monotonic()
    os.kill(int(old["pid"]), signal.SIGKILL)
    while time.monotonic() - began < 120:
        now = stack.process("scheduler")
        if now.get("pid") != old["pid"] and now.get("state") == "running":
            break
        time.sleep(0.5)
    else:
        raise AssertionError(f"scheduler not restarted within 120 s: {stack.process('scheduler')}")
    FIGURES["scheduler restart (s)"] = round(time.monotonic() - began, 1)
    assert stack.make("status", timeout=60).returncode == 0
    next_run = wait_for_scheduled_run(api, killed_at, seconds=480)
    FIGURES["next scheduled run after the kill"] = f"{next_run.dag_id} {next_run.dag_run_id}: {next_run.state.value}"
    assert str(next_run.state.value) == "success"

    # --- a new tenant on the running stack: its Variable is all it takes ------------------------
    add_tenant_to_running_stack(stack, api, today)

    # --- no secret anywhere -----------------------------------------------------------------------
    secrets = secret_values(stack)
    assert len(secrets) >= 5, sorted(secrets)
    hits = scan_databases(stack, secrets) + scan_files(stack, secrets)
    FIGURES["secret values searched"] = len(secrets)
    FIGURES["secret hits"] = len(hits)
    assert not hits, "secrets found:\n" + "\n".join(hits[:50])

    # --- make down leaves nothing -------------------------------------------------------------------
    assert stack.make("down", timeout=180).returncode == 0
    deadline = time.monotonic() + 30
    while stack_pids(stack) and time.monotonic() < deadline:
        time.sleep(1)
    assert stack_pids(stack) == [], "processes left after make down"


def add_tenant_to_running_stack(stack: Stack, api: Any, today: dt.datetime) -> None:
    """A new Fortnox company and connection, then ``airflow variables set`` and no other command: the
    tenant's orders DAG appears unpaused, and a run over a range of released shop orders succeeds and
    books each of them into the new company once."""
    from airflow_client.client.api.dag_run_api import DagRunApi
    from airflow_client.client.models.trigger_dag_run_post_body import TriggerDAGRunPostBody

    conn_id = f"fortnox_{NEW_TENANT}"
    company = demo_setup.provision(stack.fortnox_url, stack.jetshop_url, company_name=f"{NEW_TENANT} AB",
                                   fortnox_conn_id=conn_id)
    conn = company.connections[conn_id]
    with demo_setup._private_json({conn_id: {**conn, "extra": json.dumps(conn["extra"])}}) as path:
        imported = stack.airflow("connections", "import", str(path))
    assert imported.returncode == 0 and f"Imported connection {conn_id}" in imported.stdout, (
        f"airflow connections import failed (exit {imported.returncode})")
    day = today - dt.timedelta(days=NEW_ORDERS_DAYS_AGO)
    ids = add_orders(stack, day + dt.timedelta(hours=12), NEW_ORDERS, seed=900)
    rules = json.loads((REPO / "include" / "mappings" / "tenants" / "demo_ecom.json").read_text())
    rules.update(fortnox_conn_id=conn_id, display_name="Newcomer added to a running stack")

    began = time.monotonic()
    variable = stack.airflow("variables", "set", f"jetfort_tenant_{NEW_TENANT}", json.dumps(rules))
    assert variable.returncode == 0, f"airflow variables set failed:\n{variable.stderr[-2000:]}"
    wait_for_unpaused_dag(api, NEW_ORDERS_DAG, seconds=600)
    FIGURES["new tenant: Variable set → orders DAG unpaused (s)"] = round(time.monotonic() - began)
    body = TriggerDAGRunPostBody(dag_run_id=f"newcomer-{int(time.time())}", logical_date=None,
                                 conf={"since": day.isoformat(), "until": (day + dt.timedelta(days=1)).isoformat()})
    DagRunApi(api).trigger_dag_run(NEW_ORDERS_DAG, body)
    [run] = wait_runs(api, NEW_ORDERS_DAG, 900, run_id_pattern="newcomer-")
    FIGURES["new tenant: Variable set → successful orders run (s)"] = round(time.monotonic() - began)
    assert str(run.state.value) == "success", f"{NEW_ORDERS_DAG} {run.dag_run_id}: {run.state.value}"
    in_company = {key: docs for (tenant, key), docs in posted_documents(stack).items()
                  if tenant == company.fortnox_tenant_id}
    expected = {f"jetfort:se:{order_id}" for order_id in ids}
    FIGURES["new tenant: documents in its Fortnox company"] = sum(map(len, in_company.values()))
    assert {key: len(in_company.get(key, [])) for key in expected} == dict.fromkeys(expected, 1), in_company
    assert transferred(stack, ids) == len(ids)


def wait_for_unpaused_dag(api: Any, dag_id: str, seconds: float) -> None:
    """Until the dag-processor has parsed ``dag_id`` and it is unpaused (nothing done to it here)."""
    from airflow_client.client.api.dag_api import DAGApi

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = [d for d in DAGApi(api).get_dags(dag_id_pattern=dag_id, limit=10).dags if d.dag_id == dag_id]
        if found and not found[0].is_paused:
            return
        time.sleep(5)
    raise AssertionError(f"{dag_id} not listed unpaused within {seconds:.0f}s of its tenant Variable")


def wait_for_scheduled_run(api: Any, after: dt.datetime, seconds: float) -> Any:
    """The first scheduled run of any jetfort DAG queued after ``after``, once it finished."""
    from airflow_client.client.api.dag_api import DAGApi

    dag_ids = [d.dag_id for d in DAGApi(api).get_dags(limit=100, tags=["jetfort"]).dags]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        candidates = []
        for dag_id in dag_ids:
            candidates.extend(runs_of(api, dag_id, run_type=["scheduled"], run_after_gt=after))
        done = [r for r in candidates if str(r.state.value) in ("success", "failed")]
        if done:
            return min(done, key=lambda r: r.run_after)
        time.sleep(10)
    raise AssertionError(f"no scheduled run finished within {seconds:.0f}s after the scheduler restart")
