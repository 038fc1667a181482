"""Per-run overhead of a scheduled orders run (issue 18): from the end of its data interval to the
Fortnox document of one order placed inside it, under the real scheduler, with the LocalExecutor on the
``make up`` stack (its own ``AIRFLOW_HOME`` in a temp dir, its own ports, default 18880-18885) or with
the CeleryExecutor on the container-less docker-compose topology (``sandbox/celery_stack.py``: its own
PostgreSQL databases and Redis databases, dropped afterwards; needs PostgreSQL and Redis, as
``make test-distributed`` does: ``JETFORT_TEST_POSTGRES_URL`` / ``JETFORT_TEST_REDIS_URL``)::

    .venv/bin/python bench/run_overhead.py [--executor local|celery] [--samples 6] [--keep]

What it does, for tenant ``demo_erp`` (its own Fortnox company, shop ``demoshop``):

1. the stack; the tenant's orders DAG on a one-minute cron (``airflow variables set``; on the Celery
   stack the tenant's rules have it from the start);
2. per sample, some 25 s before a minute ends, one released shop order is placed in the Jetshop
   sandbox (modified inside that minute, so the run of the minute's interval takes it);
3. the overhead = the moment the Fortnox sandbox holds the order's document (its idempotency key,
   looked for every ``--poll`` s) minus the interval's end (the minute boundary);
4. where the seconds went, from Airflow's own records of that run (REST API): interval end → run
   queued, run queued → first task queued, the tasks' own running time, and the time between tasks
   (scheduling and starting a process for each).

The live sandboxes keep placing orders of their own, which the same runs also post; a sample counts
only the bench's order. Prints each sample and the median; exits non-zero only when it could not
measure. ``make down`` (or the Celery stack's stop) and the temp dir are cleaned up (``--keep`` keeps the
``make up`` stack running; the Celery stack always stops).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(Path(__file__).resolve().parent), str(REPO), str(REPO / "plugins")]

from status_latency import (  # noqa: E402
    ORDERS_DAG,
    PORT_NAMES,
    SHOP,
    SHOP_TZ,
    TENANT,
    TRIGGER_STATUS,
    BenchError,
    Stack,
    _moment,
    _seconds,
    company_of,
    tear_down,
    tenant_rules,
)

CRON = "* * * * *"


@dataclass
class CeleryView:
    """The Celery stack in the shape the sampling reads (status_latency's ``Stack``): the sandboxes'
    URLs and Airflow's REST API."""

    stack: Any
    jetshop: str

    @property
    def fortnox(self) -> str:
        return str(self.stack.fortnox_url)

    def rest(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.stack.api(method, f"/api/v2{path}", params=kwargs.get("params"), json_body=kwargs.get("json"))


@contextlib.contextmanager
def celery_stack(workdir: Path) -> Iterator[CeleryView]:
    """The Celery topology with one tenant, demo_erp's rules (its orders DAG on a one-minute cron)."""
    from sandbox.celery_stack import TenantSpec, local_stack

    rules = json.loads((REPO / "include" / "mappings" / "tenants" / f"{TENANT}.json").read_text())
    rules.pop("$schema", None)
    rules.setdefault("schedules", {})["orders"] = CRON
    with local_stack(workdir, tenants=[TenantSpec(tenant_id=TENANT, rules=rules)]) as stack:
        stack.unpause(ORDERS_DAG)
        yield CeleryView(stack, stack.tenants[0].jetshop_url)


def every_minute(stack: Stack) -> None:
    """The tenant's orders DAG on a one-minute cron; waits until the dag-processor serves it so."""
    rules = tenant_rules(stack)
    rules.setdefault("schedules", {})["orders"] = CRON
    stack.airflow("variables", "set", f"jetfort_tenant_{TENANT}", json.dumps(rules))
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        details = stack.rest("GET", f"/dags/{ORDERS_DAG}/details")
        if CRON in str(details.get("timetable_summary")) and not details.get("is_paused"):
            return
        time.sleep(5)
    raise BenchError(f"{ORDERS_DAG} not on a one-minute schedule within 600 s of the Variable")


def place_order(stack: Stack, seed: int) -> int:
    now = dt.datetime.now(SHOP_TZ).replace(microsecond=0, tzinfo=None)
    made = httpx.post(f"{stack.jetshop}/_sandbox/shops/{SHOP}/orders/generate", timeout=60,
                      json={"count": 1, "seed": seed, "start": now.isoformat(), "status_id": TRIGGER_STATUS})
    [order_id] = [int(i) for i in made.raise_for_status().json()["order_ids"]]
    httpx.post(f"{stack.jetshop}/_sandbox/shops/{SHOP}/orders/touch", timeout=60,
               json={"order_ids": [order_id], "when": now.isoformat()}).raise_for_status()
    return order_id


def wait_for_document(stack: Stack, tenant_id: str, order_id: int, poll: float, seconds: float) -> dt.datetime:
    key = f"jetfort:se:{order_id}"
    deadline = time.monotonic() + seconds
    with httpx.Client(timeout=30) as client:
        while time.monotonic() < deadline:
            docs = client.get(f"{stack.fortnox}/_sandbox/companies/{tenant_id}/state/orders").json()["orders"]
            if any(str(d.get("ExternalInvoiceReference1")) == key for d in docs):
                return dt.datetime.now(dt.UTC)
            time.sleep(poll)
    raise BenchError(f"no Fortnox document with {key} within {seconds:.0f} s")


def run_of(stack: Stack, interval_end: dt.datetime) -> dict[str, Any]:
    runs = stack.rest("GET", f"/dags/{ORDERS_DAG}/dagRuns", params={
        "run_type": ["scheduled"], "logical_date_gte": (interval_end - dt.timedelta(seconds=61)).isoformat(),
        "logical_date_lte": interval_end.isoformat(), "limit": 10})["dag_runs"]
    for run in runs:
        if _moment(run.get("data_interval_end")) == interval_end:
            return dict(run)
    raise BenchError(f"no scheduled run of {ORDERS_DAG} with the interval ending {interval_end.isoformat()}")


def phases(stack: Stack, run: dict[str, Any], document: dt.datetime) -> dict[str, float]:
    tis = stack.rest("GET", f"/dags/{ORDERS_DAG}/dagRuns/{run['dag_run_id']}/taskInstances",
                     params={"limit": 100})["task_instances"]
    # a scheduled run's preflight may still be running; the tasks it skipped never ran
    started = [t for t in tis if t.get("start_date") and t.get("state") != "skipped"]
    end = _moment(run["data_interval_end"])
    first_queued = min((_moment(t["queued_when"]) for t in tis if t.get("queued_when")), default=None)
    # the tasks that ran before the document existed: their own time, and the gaps between them
    before = [t for t in started if _moment(t["start_date"]) < document]  # type: ignore[operator]
    running = sum(_seconds(_moment(t["start_date"]),
                           min(_moment(t.get("end_date")) or document, document)) or 0.0  # type: ignore[type-var]
                  for t in before)
    queued_to_doc = _seconds(first_queued, document) or 0.0
    return {"interval end → run queued": _seconds(end, _moment(run.get("queued_at"))) or 0.0,
            "run queued → first task queued": _seconds(_moment(run.get("queued_at")), first_queued) or 0.0,
            "tasks running (before the document)": running,
            "between tasks (schedule, queue, start a process)": queued_to_doc - running,
            "tasks before the document": float(len(before))}


def measure(stack: Any, args: argparse.Namespace) -> list[tuple[float, dict[str, float]]]:
    """``args.samples`` scheduled runs, one a minute: (overhead, where it went) of each."""
    tenant_id = company_of(stack)["tenant_id"]
    samples: list[tuple[float, dict[str, float]]] = []
    while len(samples) < args.samples:
        now = dt.datetime.now(dt.UTC)
        interval_end = (now + dt.timedelta(minutes=1)).replace(second=0, microsecond=0)
        wait = (interval_end - now).total_seconds() - args.lead
        if wait < 0:
            time.sleep(-wait + 1)
            continue
        time.sleep(wait)
        order_id = place_order(stack, seed=9000 + len(samples))
        document = wait_for_document(stack, tenant_id, order_id, args.poll, 600)
        overhead = (document - interval_end).total_seconds()
        figures = phases(stack, run_of(stack, interval_end), document)
        samples.append((overhead, figures))
        print(f"sample {len(samples)}: interval end {interval_end:%H:%M:%S} → document {overhead:5.1f} s ("
              + "; ".join(f"{k} {v:.1f}" for k, v in figures.items()) + ")", flush=True)
    return samples


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--executor", choices=("local", "celery"), default="local",
                        help="local: the make-up stack (LocalExecutor); celery: the CeleryExecutor topology")
    parser.add_argument("--samples", type=int, default=6, help="scheduled runs measured (one a minute)")
    parser.add_argument("--poll", type=float, default=0.25, help="seconds between two looks at Fortnox")
    parser.add_argument("--lead", type=float, default=25.0, help="seconds before the minute's end an order is placed")
    parser.add_argument("--first-port", type=int, default=18880)
    parser.add_argument("--keep", action="store_true", help="leave the make-up stack running and its directory")
    args = parser.parse_args(argv)
    base = Path(tempfile.mkdtemp(prefix="jetfort-bench-overhead-"))
    samples: list[tuple[float, dict[str, float]]] = []
    started = time.monotonic()
    try:
        if args.executor == "celery":
            try:
                with celery_stack(base / "celery") as view:
                    print(f"Celery stack up in {time.monotonic() - started:.0f} s ({base})", flush=True)
                    samples = measure(view, args)
            finally:
                shutil.rmtree(base, ignore_errors=True)
        else:
            stack = Stack(base / "airflow", {name: args.first_port + i for i, name in enumerate(PORT_NAMES)})
            try:
                up = stack.stack("up", timeout=1200)
                if up.returncode != 0:
                    raise BenchError(f"the stack did not come up:\n{up.stdout[-3000:]}\n{up.stderr[-3000:]}")
                print(f"stack up in {time.monotonic() - started:.0f} s ({stack.home})", flush=True)
                every_minute(stack)
                samples = measure(stack, args)
            finally:
                tear_down(stack, base, keep=args.keep)
    except BenchError as exc:
        print(f"bench FAILED: {exc}", file=sys.stderr)
        return 1
    executor = {"local": "LocalExecutor", "celery": "CeleryExecutor"}[args.executor]
    print(f"\nper-run overhead, {executor}, median of {len(samples)}: "
          f"{statistics.median(s for s, _ in samples):.1f} s from the interval's end to the Fortnox document")
    for key in samples[0][1]:
        print(f"  {key:<50} median {statistics.median(f[key] for _, f in samples):6.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
