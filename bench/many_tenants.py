"""Many tenants on the Celery stack (issue 18): N tenants x 1 shop on the container-less CeleryExecutor
topology (``sandbox/celery_stack.py``; one Fortnox sandbox and one Jetshop sandbox serve every
company and shop), every tenant's orders DAG due at the same moment::

    .venv/bin/python bench/many_tenants.py [--tenants 200] [--interval 30] [--orders 2] [--workers 2]

Needs PostgreSQL and Redis as ``make test-distributed`` does (``JETFORT_TEST_POSTGRES_URL``,
``JETFORT_TEST_REDIS_URL``); the stack's databases are dropped and its work dir removed afterwards.

1. The stack with N tenants (demo_ecom's rules: one shop, invoices), each with its own Fortnox
   company (its own 25 per 5 s budget) and its own shop in the shared Jetshop sandbox; every DAG
   paused.
2. Once it is up, ``--orders`` released orders per shop are placed; the interval they fall in ends
   ``--lead`` minutes later, on a whole minute.
3. At the interval's end every tenant's orders DAG gets a cron of ``--interval`` minutes ending
   intervals there (the rules Variable, as an operator changes it; the DAG files are parsed again),
   then the orders DAGs are unpaused (one bulk ``PATCH /api/v2/dags``): the scheduler owes every
   tenant the run of that interval at once, the worst case of a shared schedule, and every
   tenant's first run (pre-flight, Fortnox facts). The time this takes counts against the runs.
4. It waits until every run has ended or the next interval has ended too.

Prints, from Airflow's REST API, the sandboxes and PostgreSQL (never from jetfort):

* per run: interval end → run ended (goal: every run inside its interval, i.e. ≤ ``--interval``),
  interval end → first task started, and the spread of both over the tenants (no tenant starves:
  the last tenant's first task against the median);
* orders placed vs Fortnox invoices carrying their keys, per tenant (all must be there);
* each company's budget from the Fortnox sandbox's own log: requests, 429s, the most arrivals in any
  window against the limit;
* the scheduler's loop time (its own ``Ran scheduling loop in … ms`` debug line, this one logger at
  DEBUG), median / p95 / max while the runs were due;
* database connections (``pg_stat_activity``) to the metadata and ledger databases, most seen;
* the machine's CPU busy share over the interval.

Exits non-zero when a run failed or ended outside its interval, an order has no invoice, or a
company's budget was exceeded.
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import json
import re
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "plugins"), str(Path(__file__).resolve().parent)]

from status_latency import SHOP_TZ, _moment  # noqa: E402

from sandbox.celery_stack import CeleryStack, StackError, TenantSpec, local_stack  # noqa: E402

TRIGGER_STATUS = 1  # demo_ecom's release status
LOOP_LINE = re.compile(r"Ran scheduling loop in ([0-9.]+) ms")


def tenants(count: int) -> list[TenantSpec]:
    """``count`` tenants with demo_ecom's rules (one shop, invoices), ``mt001`` on."""
    base = {k: v for k, v in json.loads((REPO / "include" / "mappings" / "tenants" / "demo_ecom.json").read_text()).items()
            if k != "$schema"}
    return [TenantSpec(tenant_id=f"mt{n:03d}", rules={**copy.deepcopy(base), "display_name": f"Many-tenants bench {n}"})
            for n in range(1, count + 1)]


def orders_dag(spec: TenantSpec) -> str:
    return f"jetfort__{spec.tenant_id}__orders"


def cron_ending_at(end: dt.datetime, minutes: int) -> str:
    """A cron of ``minutes`` (a divisor of 60) with an interval ending at ``end`` (a whole minute)."""
    if 60 % minutes:
        raise SystemExit(f"--interval must divide 60, not {minutes}")
    return f"{end.minute % minutes}-59/{minutes} * * * *"


def set_schedules(stack: CeleryStack, cron: str) -> None:
    for spec in stack.tenants:
        rules = {**spec.rules, "schedules": {**spec.rules.get("schedules", {}), "orders": cron}}
        stack.api("PATCH", f"/api/v2/variables/jetfort_tenant_{spec.tenant_id}",
                  json_body={"key": f"jetfort_tenant_{spec.tenant_id}", "value": json.dumps(rules)})
    deadline = time.monotonic() + 600
    pending = {orders_dag(s) for s in stack.tenants}
    while pending and time.monotonic() < deadline:
        for dag_id in sorted(pending):
            try:
                details = stack.api("GET", f"/api/v2/dags/{dag_id}/details")
            except StackError:  # not serialized yet
                continue
            if cron in str(details.get("timetable_summary")):
                pending.discard(dag_id)
        if pending:
            time.sleep(5)
    if pending:
        raise SystemExit(f"{len(pending)} orders DAGs not on {cron!r} within 600 s, e.g. {sorted(pending)[:3]}")


def place_orders(stack: CeleryStack, count: int) -> dict[str, list[int]]:
    now = dt.datetime.now(SHOP_TZ).replace(microsecond=0, tzinfo=None)
    placed: dict[str, list[int]] = {}
    with httpx.Client(timeout=60) as client:
        for n, spec in enumerate(stack.tenants):
            shop = spec.jetshop_shops["se"]
            made = client.post(f"{spec.jetshop_url}/_sandbox/shops/{shop}/orders/generate", json={
                "count": count, "seed": 7000 + n, "start": now.isoformat(), "status_id": TRIGGER_STATUS})
            ids = [int(i) for i in made.raise_for_status().json()["order_ids"]]
            client.post(f"{spec.jetshop_url}/_sandbox/shops/{shop}/orders/touch",
                        json={"order_ids": ids, "when": now.isoformat()}).raise_for_status()
            placed[spec.tenant_id] = ids
    return placed


class Sampler(threading.Thread):
    """Every few seconds: connections per database (pg_stat_activity) and the machine's CPU."""

    def __init__(self, stack: CeleryStack, every: float = 3.0) -> None:
        super().__init__(daemon=True)
        self.stack, self.every = stack, every
        self.connections: dict[str, list[int]] = defaultdict(list)
        self.stop_event = threading.Event()

    @staticmethod
    def cpu() -> tuple[float, float]:
        fields = [float(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        idle = fields[3] + fields[4]
        return sum(fields) - idle, sum(fields)

    def run(self) -> None:
        import sqlalchemy as sa

        engine = sa.create_engine(self.stack.pg_admin_url, pool_size=1)
        names = (self.stack.db_name, self.stack.ledger_db_name)
        try:
            while not self.stop_event.wait(self.every):
                with engine.connect() as conn:
                    rows: dict[str, int] = dict(conn.execute(sa.text(
                        "SELECT datname, count(*) FROM pg_stat_activity WHERE datname IN (:a, :b) GROUP BY datname"),
                        {"a": names[0], "b": names[1]}).all())
                for name in names:
                    self.connections[name].append(int(rows.get(name, 0)))
        finally:
            engine.dispose()


def runs_ending(stack: CeleryStack, interval_end: dt.datetime) -> dict[str, dict[str, Any]]:
    """Tenant → its orders run of the interval ending ``interval_end`` (batch list, 100 a page)."""
    by_dag = {orders_dag(spec): spec.tenant_id for spec in stack.tenants}
    found: dict[str, dict[str, Any]] = {}
    offset = 0
    while True:
        page = stack.api("POST", "/api/v2/dags/~/dagRuns/list", json_body={
            "dag_ids": sorted(by_dag), "page_offset": offset, "page_limit": 100,
            "logical_date_gte": (interval_end - dt.timedelta(days=1)).isoformat()})
        for run in page["dag_runs"]:
            if _moment(run.get("data_interval_end")) == interval_end:
                found[by_dag[run["dag_id"]]] = dict(run)
        offset += len(page["dag_runs"])
        if not page["dag_runs"] or offset >= page["total_entries"]:
            return found


def wait_runs(stack: CeleryStack, interval_end: dt.datetime, until: dt.datetime) -> dict[str, dict[str, Any]]:
    while True:
        runs = runs_ending(stack, interval_end)
        done = sum(1 for r in runs.values() if r.get("state") in ("success", "failed"))
        print(f"[{dt.datetime.now(dt.UTC):%H:%M:%S}] runs ended {done}/{len(stack.tenants)}", flush=True)
        if done == len(stack.tenants) or dt.datetime.now(dt.UTC) > until:
            return runs
        stack.check_alive()
        time.sleep(30)


def first_task_start(stack: CeleryStack, spec: TenantSpec, run: dict[str, Any]) -> dt.datetime | None:
    tis = stack.task_instances(orders_dag(spec), run["dag_run_id"])
    starts = [m for m in (_moment(t.get("start_date")) for t in tis) if m]
    return min(starts) if starts else None


def invoices_missing(stack: CeleryStack, placed: dict[str, list[int]]) -> dict[str, list[int]]:
    missing = {}
    with httpx.Client(timeout=60) as client:
        for spec in stack.tenants:
            docs = client.get(f"{stack.fortnox_url}/_sandbox/companies/{spec.fortnox_tenant}/state/invoices")
            keys = {str(d.get("ExternalInvoiceReference1")) for d in docs.raise_for_status().json()["invoices"]}
            lost = [i for i in placed[spec.tenant_id] if f"jetfort:se:{i}" not in keys]
            if lost:
                missing[spec.tenant_id] = lost
    return missing


def quantiles(values: list[float]) -> str:
    if not values:
        return "none"
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return (f"min {ordered[0]:.1f}, median {statistics.median(ordered):.1f}, p95 {p95:.1f}, "
            f"max {ordered[-1]:.1f}")


def loop_times(stack: CeleryStack, since: float) -> list[float]:
    """Scheduling-loop durations (ms) the scheduler logged since byte offset ``since`` of its log."""
    log = stack.procs["scheduler"].log
    with open(log, "rb") as fh:
        fh.seek(int(since))
        text = fh.read().decode(errors="replace")
    return [float(m) for m in LOOP_LINE.findall(text)]


def measure(stack: CeleryStack, args: argparse.Namespace) -> int:
    now = dt.datetime.now(dt.UTC)
    interval_end = (now + dt.timedelta(minutes=args.lead + 1)).replace(second=0, microsecond=0)
    cron = cron_ending_at(interval_end, args.interval)
    placed = place_orders(stack, args.orders)
    print(f"placed {sum(map(len, placed.values()))} orders in {len(placed)} shops; the measured interval ends "
          f"{interval_end:%H:%M:%S} UTC", flush=True)
    time.sleep(max(0.0, (interval_end - dt.datetime.now(dt.UTC)).total_seconds()) + 1)
    # Only now the cron: Airflow computes a paused DAG's next run when it parses it, and with
    # catchup off that is the latest interval complete then; set earlier, unpausing would first run
    # the interval before the measured one.
    set_schedules(stack, cron)
    print(f"orders DAGs on {cron!r} {(dt.datetime.now(dt.UTC) - interval_end).total_seconds():.1f} s after the "
          f"interval's end (rules Variables set, DAG files parsed again)", flush=True)

    log_offset = stack.procs["scheduler"].log.stat().st_size
    busy0, total0 = Sampler.cpu()
    sampler = Sampler(stack)
    sampler.start()
    body = stack.api("PATCH", "/api/v2/dags", params={"dag_id_pattern": "__orders", "update_mask": ["is_paused"]},
                     json_body={"is_paused": False})
    unpaused_at = dt.datetime.now(dt.UTC)
    unpaused = stack.api("GET", "/api/v2/dags", params={"dag_id_pattern": "__orders", "paused": False,
                                                        "limit": 1})["total_entries"]
    print(f"unpaused {unpaused} orders DAGs (matched {body['total_entries']}) {(unpaused_at - interval_end).total_seconds():.1f} s after "
          f"the interval's end", flush=True)
    deadline = interval_end + dt.timedelta(minutes=args.interval)
    runs = wait_runs(stack, interval_end, deadline + dt.timedelta(minutes=args.grace))
    busy1, total1 = Sampler.cpu()
    sampler.stop_event.set()
    sampler.join(10)

    ended: list[float] = []
    after_unpause: list[float] = []
    first_start: list[float] = []
    late: list[str] = []
    states = Counter(r.get("state") for r in runs.values())
    for spec in stack.tenants:
        run = runs.get(spec.tenant_id)
        end = _moment(run.get("end_date")) if run else None
        if run is None or run.get("state") != "success" or end is None or end > deadline:
            late.append(spec.tenant_id)
        if end is not None:
            ended.append((end - interval_end).total_seconds())
            after_unpause.append((end - unpaused_at).total_seconds())
        start = first_task_start(stack, spec, run) if run else None
        if start is not None:
            first_start.append((start - interval_end).total_seconds())
    missing = invoices_missing(stack, placed)
    audit = stack.fortnox_audit()
    companies = audit["companies"]
    over = {t: c["max_in_window"] for t, c in companies.items() if c["max_in_window"] > audit["limit"]}
    loops = loop_times(stack, log_offset)

    print(f"\n{len(stack.tenants)} tenants x 1 shop, CeleryExecutor, {stack.workers} workers x "
          f"{stack.topology['airflow_env']['AIRFLOW__CELERY__WORKER_CONCURRENCY']} slots, interval {args.interval} min, "
          f"{args.orders} orders per shop")
    print(f"  runs: {dict(states)} of {len(stack.tenants)}; {len(stack.tenants) - len(late)} ended successfully "
          f"inside their interval (goal: all){'; not: ' + ', '.join(late[:10]) if late else ''}")
    print(f"  interval end → run ended, s:            {quantiles(ended)}  (interval {args.interval * 60} s)")
    print(f"  unpaused → run ended, s:                {quantiles(after_unpause)}")
    print(f"  interval end → first task started, s:   {quantiles(first_start)}")
    if first_start:
        print(f"  starvation: last tenant's first task {max(first_start):.1f} s vs median "
              f"{statistics.median(first_start):.1f} s after the interval's end")
    print(f"  invoices: {sum(map(len, placed.values())) - sum(map(len, missing.values()))} of "
          f"{sum(map(len, placed.values()))} orders{'; missing in ' + ', '.join(sorted(missing)[:10]) if missing else ''}")
    requests = [c["requests"] for c in companies.values()]
    print(f"  Fortnox: {sum(requests)} requests from {len(companies)} companies (per company {quantiles(requests)}); "
          f"429s {sum(c['rejected_429'] for c in companies.values())}; most in any {audit['window']} s window "
          f"{max((c['max_in_window'] for c in companies.values()), default=0)} (limit {audit['limit']})"
          f"{'; OVER in ' + ', '.join(sorted(over)) if over else ''}")
    print(f"  scheduler loop, ms ({len(loops)} loops): {quantiles(loops)}")
    for name, label in ((stack.db_name, "metadata"), (stack.ledger_db_name, "ledger")):
        seen = sampler.connections.get(name) or [0]
        print(f"  connections to the {label} database: most {max(seen)}, median {statistics.median(seen):.0f} "
              f"({len(seen)} samples)")
    print(f"  CPU busy {100 * (busy1 - busy0) / max(1.0, total1 - total0):.0f} % of the machine "
          f"({(busy1 - busy0) / 100:.0f} CPU-s) from the interval's end to the last run's end")
    return 1 if late or missing or over else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tenants", type=int, default=200)
    parser.add_argument("--interval", type=int, default=30, help="minutes between a tenant's runs (divides 60)")
    parser.add_argument("--orders", type=int, default=2, help="orders placed per shop in the measured interval")
    parser.add_argument("--workers", type=int, default=2, help="Celery workers (concurrency from topology.json)")
    parser.add_argument("--lead", type=int, default=1, help="minutes (at least) from placing the orders to the interval's end")
    parser.add_argument("--grace", type=int, default=10, help="minutes to wait past the next interval's end")
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="jetfort-bench-many-"))
    started = time.monotonic()
    try:
        env = {"AIRFLOW__LOGGING__NAMESPACE_LEVELS": "airflow.jobs.scheduler_job_runner=DEBUG",
               # each DAG file parsed every 30 s, Airflow's default as docker-compose.yaml runs it
               # (the test topology's 10 s would keep a core busy re-parsing 200 tenants)
               "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "30"}
        with local_stack(workdir / "stack", tenants=tenants(args.tenants), workers=args.workers,
                         shared_jetshop=True, extra_env=env, startup_timeout=900) as stack:
            print(f"stack with {args.tenants} tenants up in {time.monotonic() - started:.0f} s", flush=True)
            return measure(stack, args)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
