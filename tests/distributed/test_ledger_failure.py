"""A Celery worker that cannot read the ledger connection fails the task with the reason, and
writes nothing anywhere else (``make test-distributed``; one tenant, one order).

The stack (``sandbox/celery_stack.py``) keeps the ledger connection only in the workers' secrets
backend (Airflow's ``[workers] secrets_backend``, ``tests/jetfort/ledger/secrets_down.py``; the
API server does not know the connection, so it cannot answer for a worker). Once the stack is up,
its worker is replaced by one that cannot read the ledger connection, the way a deployment breaks:

1. the worker's secrets backend is down for ``jetfort_ledger``: Airflow itself reports that as
   "not defined", and a worker that then took the embedded SQLite default would post to Fortnox
   with a ledger of its own;
2. the worker has no ledger connection at all (no secrets backend): on the CeleryExecutor a
   SQLite file per worker is never right.

Each time the orders run fails, a failed task's log names the connection and the reason, no
SQLite file (or key file) appears under the worker's AIRFLOW_HOME or working directory, and the
order reached neither Fortnox nor its transferred status in the shop.
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from sandbox.celery_stack import CeleryStack, example_tenants
from tests.jetfort.ledger import secrets_down

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]

SHOP_TZ = ZoneInfo("Europe/Stockholm")
SHOP = "demoshop"
TRANSFERRED = 6  # demo_combo's transferred status of demoshop
LEDGER_CONN_ENV = "AIRFLOW_CONN_JETFORT_LEDGER"
BACKEND_ENV, BACKEND_KWARGS_ENV = "AIRFLOW__WORKERS__SECRETS_BACKEND", "AIRFLOW__WORKERS__SECRETS_BACKEND_KWARGS"


@pytest.fixture
def stack(postgres_url_base: str, redis_url: str, request: pytest.FixtureRequest) -> Iterator[CeleryStack]:
    tenants = example_tenants(1)
    for spec in tenants:
        spec.rules["schedules"]["orders"] = "@daily"
        spec.rules["schedules"]["order_status"] = "@daily"
        spec.rules["retries"] = {"count": 0, "delay_seconds": 5}  # the first failure is the answer
    stack = CeleryStack(postgres_url=postgres_url_base, redis_url=redis_url, tenants=tenants, workers=1,
                        workdir=Path(tempfile.mkdtemp(prefix="jetfort-ledger-failure-")))
    url = stack.ledger_url
    ledger = {"conn_type": "jetfort_ledger", "host": url.host, "port": url.port or 5432, "login": url.username or "",
              "password": url.password or "", "schema": stack.ledger_db_name}
    stack.extra_env.update({LEDGER_CONN_ENV: "",  # an empty AIRFLOW_CONN_* defines nothing
                            BACKEND_ENV: secrets_down.BACKEND,
                            BACKEND_KWARGS_ENV: json.dumps({"connections": {"jetfort_ledger": ledger}})})
    with stack as started:
        yield started
        report = getattr(request.node, "rep_call", None)
        if report is None or not report.passed:
            print(f"\n===== logs in {started.logs} =====\n{started.log_tails(lines=60)}", flush=True)


def midnight(days_ago: int) -> dt.datetime:
    today = dt.datetime.now(SHOP_TZ).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - dt.timedelta(days=days_ago)


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat()


def replace_worker(stack: CeleryStack, index: int, *, drop: tuple[str, ...], add: dict[str, str]) -> None:
    """Stop the running worker and start ``worker-<index>`` with its environment changed."""
    stack.kill(f"worker-{index - 1}")
    for name in drop:
        stack.env.pop(name, None)
    stack.env.update(add)
    stack.start_worker(index)


def add_order(stack: CeleryStack, when: dt.datetime) -> int:
    jetshop = stack.tenants[0].jetshop_url
    stamp = when.astimezone(SHOP_TZ).replace(tzinfo=None).isoformat()
    (order_id,) = httpx.post(f"{jetshop}/_sandbox/shops/{SHOP}/orders/generate", timeout=60,
                             json={"count": 1, "seed": 7, "start": stamp}).raise_for_status().json()["order_ids"]
    httpx.post(f"{jetshop}/_sandbox/shops/{SHOP}/orders/touch", timeout=60,
               json={"order_ids": [order_id], "when": stamp}).raise_for_status()
    return int(order_id)


def fortnox_documents(stack: CeleryStack) -> int:
    company = stack.tenants[0].fortnox_tenant
    return sum(len(httpx.get(f"{stack.fortnox_url}/_sandbox/companies/{company}/state/{kind}", timeout=60)
                   .raise_for_status().json()[kind]) for kind in ("invoices", "orders"))


def transferred(stack: CeleryStack, order_id: int) -> bool:
    orders = httpx.get(f"{stack.tenants[0].jetshop_url}/_sandbox/shops/{SHOP}/orders", timeout=60,
                       params={"status_id": TRANSFERRED}).raise_for_status().json()
    return any(int(o["OrderId"]) == order_id for o in orders)


def sqlite_files(stack: CeleryStack) -> list[str]:
    """What a SQLite fallback would leave: ``jetfort_ledger.db`` (its WAL files and its key file
    ``jetfort_ledger.key``) under AIRFLOW_HOME; not the logs of the ``jetfort_ledger_retention`` DAG's file."""
    return sorted(str(p) for p in stack.workdir.rglob("*")
                  if p.is_file() and (p.suffix in (".db", ".key", ".sqlite") or p.name.startswith("jetfort_ledger.")))


def failed_task_logs(stack: CeleryStack, dag_id: str, run_id: str) -> dict[str, str]:
    failed = [ti["task_id"] for ti in stack.task_instances(dag_id, run_id) if ti["state"] == "failed"]
    logs = {}
    for task_id in failed:
        files = sorted((stack.home / "logs").rglob(f"dag_id={dag_id}/run_id={run_id}/task_id={task_id}/**/*.log"))
        logs[task_id] = "\n".join(f.read_text(errors="replace") for f in files)
    return logs


def run_and_fail(stack: CeleryStack, dag_id: str, day: dt.datetime, run_id: str, reason: str) -> None:
    run = stack.trigger(dag_id, start=iso(day), end=iso(day + dt.timedelta(days=1)), run_id=run_id)
    states = stack.wait_runs([(dag_id, run)], 300)
    assert states[(dag_id, run)] == "failed", states
    logs = failed_task_logs(stack, dag_id, run)
    assert logs, f"{run_id}: the run failed without a failed task"
    named = [task for task, text in logs.items() if "jetfort_ledger" in text and reason in text]
    assert named, f"{run_id}: no failed task's log says {reason!r}: {sorted(logs)}"
    print(f"{run_id}: failed in {sorted(logs)}; the log names the connection and says {reason!r}", flush=True)


@pytest.mark.timeout(1200)
def test_a_worker_that_cannot_read_the_ledger_fails_the_task_and_writes_nothing(stack: CeleryStack) -> None:
    dag_id = f"jetfort__{stack.tenants[0].tenant_id}__orders"
    stack.wait_for_dags(180, [dag_id])
    day = midnight(2)
    order_id = add_order(stack, day + dt.timedelta(hours=12))
    assert sqlite_files(stack) == []

    kwargs = json.loads(stack.env[BACKEND_KWARGS_ENV])
    replace_worker(stack, 2, drop=(), add={BACKEND_KWARGS_ENV: json.dumps({**kwargs, "down": "jetfort_ledger"})})
    stack.unpause(dag_id)
    run_and_fail(stack, dag_id, day, "secrets_backend_down", secrets_down.REASON)

    replace_worker(stack, 3, drop=(BACKEND_ENV, BACKEND_KWARGS_ENV), add={})
    run_and_fail(stack, dag_id, day - dt.timedelta(days=1), "no_ledger_connection", "no ledger connection")

    assert sqlite_files(stack) == []
    assert fortnox_documents(stack) == 0
    assert not transferred(stack, order_id)
