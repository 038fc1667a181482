"""Status latency: from a change in Fortnox to the shop's status change, events vs polling (issue 16).

Runs on the ``make up`` stack (``python -m sandbox.stack up``) with its OWN ``AIRFLOW_HOME`` in a temp
dir and its own ports (default 18870-18875), so it never meets a developer's stack::

    nice -n 10 .venv/bin/python bench/status_latency.py [--changes 60] [--poll-cron '* * * * *'] [--keep]

What it does, for tenant ``demo_erp`` (its own Fortnox company, shop ``demoshop``):

1. ``make up``'s stack; ``--changes`` released shop orders per mode placed in the Jetshop sandbox and
   posted to Fortnox by a manual run of the tenant's orders DAG (the official REST API);
2. **events**: the tenant's rules Variable with ``events`` on (``airflow variables set``, as the README
   shows); once the dag-processor shows the status DAG on its asset-or-time schedule, one linked
   Fortnox order after the other gets its tracking number through the Fortnox REST API (a change a
   warehouse makes), about one per ``--pace`` seconds;
3. **polling**: events off and the status cron set to ``--poll-cron`` (default every minute, the
   tightest a cron allows; jetfort's default is every 15 minutes, whose mean wait alone is 7.5 min),
   the same kind of change on the other documents;
4. the latency of one change = the moment the shop shows the status change that carries the change's
   tracking number (the Jetshop sandbox's own record, polled every ``--poll`` seconds) minus the
   moment the Fortnox API answered the change. When the order's next status change in the shop is
   another one (another tracking number, cancelled: the stack's live Fortnox sandbox moved the
   document too), the change is counted as "preempted", not measured.

``--burst`` (events mode) brings the top of the hour into the measurement, whatever the hour:
``--burst-after`` seconds after the first change, the bench starts a run of each DAG whose schedule
fires at minute 0 (every demo tenant's orders DAG hourly, status DAG every 15 minutes, as the
defaults have them) through the REST API, with the logical date of that moment, so each run reads
the data interval a scheduled one would (the status DAG's is then a safety-net read).

Prints p50/p95/max per mode and whether the goal (p95 <= 10 s with events) was met, and for the
events mode where the seconds went (Airflow's records of the event runs: first asset event → run queued,
task queued → started, running, run ended; how many asset events ran only with a later event, as
Airflow 3.3 leaves an event that came while the DAG's queued asset row waited for the scheduler out
of the run then made, and how long they waited; the DAG-file parse each task logged; how long each task
that ended meanwhile still held its executor slot, from the supervisor's log; how many scheduled
runs of other DAGs started during the measurement, a cron burst that competes for executor slots
and the Fortnox budget); exits non-zero
only when it could not measure (the stack did not come up). ``make down`` and the temp dir are cleaned up (``--keep`` keeps
the stack running and its directory for inspection). ``JETFORT_PARALLELISM`` in the environment sets
the stack's executor slots, as it does for ``make up``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from croniter import croniter

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "plugins")]

from jetfort.rules import VARIABLE_PREFIX, parse_tenant  # noqa: E402

TENANT = "demo_erp"
SHOP = "demoshop"
ORDERS_DAG = f"jetfort__{TENANT}__orders"
STATUS_DAG = f"jetfort__{TENANT}__order_status"
DELIVERED = 3
#: demo_erp's orders.transferred_status: the shop status of a posted order nothing moved on yet
TRANSFERRED = 6
#: shop status "Behandlas": in demo_erp's orders.trigger_statuses and in no other demo tenant's of that shop
#: (they take status 1), so their scheduled orders runs never post the bench's orders first
TRIGGER_STATUS = 2
SHOP_TZ = ZoneInfo("Europe/Stockholm")
GOAL_P95 = 10.0
#: what Airflow's task runner logs once it parsed the task's DAG file
_PARSE_MS = re.compile(r'"dag_file_parse_ms":\s*(\d+)')
#: the LocalExecutor's supervisor when its task process is reaped (Airflow 3.3's log line)
_WORKLOAD = re.compile(r"Workload finished.*?duration=([0-9.]+).*?workload_id=([0-9a-f-]+)")
PORT_NAMES = ("JETFORT_UI_PORT", "JETFORT_FORTNOX_PORT", "JETFORT_JETSHOP_PORT", "JETFORT_NORCE_PORT",
              "JETFORT_LOG_PORT", "JETFORT_TRIGGER_LOG_PORT")


class BenchError(RuntimeError):
    pass


@dataclass
class Stack:
    home: Path
    ports: dict[str, int]
    token: str = ""

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "AIRFLOW_HOME": str(self.home), **{k: str(v) for k, v in self.ports.items()}}

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    @property
    def api(self) -> str:
        return self.url("JETFORT_UI_PORT")

    @property
    def fortnox(self) -> str:
        return self.url("JETFORT_FORTNOX_PORT")

    @property
    def jetshop(self) -> str:
        return self.url("JETFORT_JETSHOP_PORT")

    def stack(self, command: str, timeout: float) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "sandbox.stack", command], cwd=REPO, env=self.env,
                              capture_output=True, text=True, timeout=timeout)

    @property
    def airflow_env(self) -> dict[str, str]:
        """``$AIRFLOW_HOME/stack.env`` as ``source`` reads it."""
        env = dict(self.env)
        for line in (self.home / "stack.env").read_text().splitlines():
            if line.startswith("export "):
                key, _, value = line.removeprefix("export ").partition("=")
                env[key] = value.strip().strip("'\"")
        return env

    def airflow(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([sys.executable, "-m", "airflow", *args], cwd=REPO, env=self.airflow_env,
                              capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise BenchError(f"airflow {args[0]} {args[1] if len(args) > 1 else ''} failed: {done.stderr[-1500:]}")
        return done

    def rest(self, method: str, path: str, **kwargs: Any) -> Any:
        if not self.token:
            password = json.loads(next(self.home.glob("simple_auth_manager_passwords.json*")).read_text())["admin"]
            answer = httpx.post(f"{self.api}/auth/token", json={"username": "admin", "password": password}, timeout=30)
            self.token = answer.raise_for_status().json()["access_token"]
        answer = httpx.request(method, f"{self.api}/api/v2{path}", timeout=60,
                               headers={"Authorization": f"Bearer {self.token}"}, **kwargs)
        return answer.raise_for_status().json()


@dataclass
class Measured:
    mode: str
    latencies: list[float] = field(default_factory=list)
    preempted: int = 0
    missing: int = 0
    #: shop order id → Fortnox order number of each change the shop never showed
    missing_orders: dict[int, str] = field(default_factory=dict)
    #: the DAGs the burst started
    burst: list[str] = field(default_factory=list)


# ------------------------------------------------------------------------------------------------ set-up
def tenant_rules(stack: Stack, tenant: str = TENANT) -> dict[str, Any]:
    out = stack.airflow("variables", "get", f"jetfort_tenant_{tenant}").stdout
    if "{" not in out:
        raise BenchError(f"the Variable jetfort_tenant_{tenant} holds no JSON object")
    return dict(json.JSONDecoder().raw_decode(out[out.index("{"):])[0])


def set_mode(stack: Stack, rules: dict[str, Any], mode: str, poll_cron: str) -> None:
    """Events on (the cron as the tenant had it) or off (status cron ``poll_cron``); waits until the
    dag-processor serves the status DAG with that schedule."""
    new = json.loads(json.dumps(rules))
    if mode == "events":
        new["events"] = {**(rules.get("events") or {}), "enabled": True, "status": True}
    else:
        new["events"] = {**(rules.get("events") or {}), "enabled": False}
        new.setdefault("schedules", {})["order_status"] = poll_cron
    stack.airflow("variables", "set", f"jetfort_tenant_{TENANT}", json.dumps(new))
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        details = stack.rest("GET", f"/dags/{STATUS_DAG}/details")
        summary = str(details.get("timetable_summary") or "") + str(details.get("timetable_description") or "")
        assets = "asset" in summary.lower() or "Asset" in str(details.get("timetable_summary"))
        wanted = (mode == "events" and assets) or (mode == "polling" and not assets and poll_cron in summary)
        if wanted and not details.get("is_paused"):
            return
        time.sleep(5)
    raise BenchError(f"{STATUS_DAG} not on its {mode} schedule within 600 s of the Variable")


def fires_at_minute_zero(cron: str) -> bool:
    """Whether a cron (presets such as ``@hourly`` too) fires at minute 0 of some hour of a day."""
    day = dt.datetime(2026, 1, 1)
    return any(croniter.match(cron, day.replace(hour=hour)) for hour in range(24))


def top_of_the_hour(stack: Stack) -> list[str]:
    """The DAGs whose schedule fires at minute 0: each demo tenant's orders and status DAG, unless
    its rules (read as jetfort reads them, defaults included) move that cron off the hour."""
    out = stack.airflow("variables", "list", "-o", "json").stdout
    listed = json.JSONDecoder().raw_decode(out[out.index("["):])[0]
    existing = {d["dag_id"] for d in stack.rest("GET", "/dags", params={"dag_id_pattern": "jetfort__", "limit": 1000})["dags"]}
    dags: list[str] = []
    for key in sorted(str(v["key"]) for v in listed if str(v["key"]).startswith(VARIABLE_PREFIX)):
        tenant = key.removeprefix(VARIABLE_PREFIX)
        schedules = parse_tenant(tenant, tenant_rules(stack, tenant)).schedules
        for flow in ("orders", "order_status"):
            cron = getattr(schedules, flow)
            if f"jetfort__{tenant}__{flow}" in existing and cron and fires_at_minute_zero(cron):
                dags.append(f"jetfort__{tenant}__{flow}")
    return dags


def fire(stack: Stack, dags: list[str], fired: list[str]) -> None:
    """A run of each DAG with the logical date of now, as the cron would start it (REST API)."""
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    for dag in dags:
        stack.rest("POST", f"/dags/{dag}/dagRuns", json={
            "dag_run_id": f"burst__{now:%Y%m%dT%H%M%S}", "logical_date": now.isoformat()})
        fired.append(dag)


def company_of(stack: Stack) -> dict[str, Any]:
    companies = httpx.get(f"{stack.fortnox}/_sandbox/companies", timeout=30).raise_for_status().json()["companies"]
    for company in companies:
        if TENANT in str(company.get("name", "")):
            return dict(company)
    raise BenchError(f"no Fortnox sandbox company of {TENANT}: {[c.get('name') for c in companies]}")


def post_orders(stack: Stack, count: int, seed: int) -> dict[int, str]:
    """``count`` released shop orders posted by a manual orders run: shop order id → Fortnox order number."""
    now = dt.datetime.now(SHOP_TZ).replace(microsecond=0)
    start = (now - dt.timedelta(minutes=30)).replace(tzinfo=None)
    made = httpx.post(f"{stack.jetshop}/_sandbox/shops/{SHOP}/orders/generate", timeout=60,
                      json={"count": count, "seed": seed, "start": start.isoformat(), "status_id": TRIGGER_STATUS})
    ids = [int(i) for i in made.raise_for_status().json()["order_ids"]]
    httpx.post(f"{stack.jetshop}/_sandbox/shops/{SHOP}/orders/touch", timeout=60,
               json={"order_ids": ids, "when": start.isoformat()}).raise_for_status()
    run_id = f"bench-{seed}-{int(time.time())}"
    stack.rest("POST", f"/dags/{ORDERS_DAG}/dagRuns", json={
        "dag_run_id": run_id, "logical_date": None,
        "conf": {"since": (now - dt.timedelta(hours=1)).isoformat(), "until": (now + dt.timedelta(minutes=5)).isoformat()}})
    deadline = time.monotonic() + 900
    while True:
        state = stack.rest("GET", f"/dags/{ORDERS_DAG}/dagRuns/{run_id}")["state"]
        if state in ("success", "failed"):
            break
        if time.monotonic() > deadline:
            raise BenchError(f"{ORDERS_DAG} {run_id} not finished in 900 s")
        time.sleep(3)
    if state != "success":
        raise BenchError(f"{ORDERS_DAG} {run_id} {state}")
    tenant_id = company_of(stack)["tenant_id"]
    docs = httpx.get(f"{stack.fortnox}/_sandbox/companies/{tenant_id}/state/orders", timeout=60)
    by_key = {str(d.get("ExternalInvoiceReference1")): str(d["DocumentNumber"]) for d in docs.raise_for_status().json()["orders"]}
    linked = {oid: by_key[f"jetfort:se:{oid}"] for oid in ids if f"jetfort:se:{oid}" in by_key}
    if len(linked) < count * 0.9:
        summary = stack.rest("GET", f"/dags/{ORDERS_DAG}/dagRuns/{run_id}/taskInstances/summary/xcomEntries/summary")
        raise BenchError(f"only {len(linked)} of {count} shop orders ({ids[:3]}...) were posted as Fortnox orders "
                         f"in company {tenant_id} ({len(by_key)} orders there); the run's summary: "
                         f"{str(summary.get('value'))[:1500]}")
    return linked


def access_token(stack: Stack) -> str:
    company = company_of(stack)
    minted = httpx.post(f"{stack.fortnox}/_sandbox/tokens", timeout=30,
                        json={"tenant_id": company["tenant_id"], "kind": "access"})
    return str(minted.raise_for_status().json()["token"])


# ------------------------------------------------------------------------------------------------ measuring
def measure(stack: Stack, mode: str, linked: dict[int, str], *, count: int, pace: float, poll: float,
            wait: float, burst: list[str] | None = None, burst_after: float = 0.0) -> Measured:
    """Change ``count`` linked Fortnox orders (tracking number through the REST API), one after the
    other; time the shop's status. An order the live sandbox already moved on (the shop shows a status
    other than "transferred" for it) is counted as preempted and not changed: the next one is.
    ``burst``: DAGs started (:func:`fire`, in a thread) ``burst_after`` s after the first change."""
    token = access_token(stack)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    # shop order → (tracking, monotonic time of the change, how many shop status changes there were before it)
    changed: dict[int, tuple[str, float, int]] = {}
    seen: dict[int, float] = {}
    result = Measured(mode)
    pending = list(linked.items())
    last_change = 0.0
    deadline: float | None = None
    first_change: float | None = None
    firing: threading.Thread | None = None
    with httpx.Client(timeout=30) as client:
        shop = client.get(f"{stack.jetshop}/_sandbox/status-changes", params={"shop_id": SHOP}).json()
        while True:
            now = time.monotonic()
            if burst and firing is None and first_change is not None and now - first_change >= burst_after:
                firing = threading.Thread(target=fire, args=(stack, burst, result.burst), daemon=True)
                firing.start()
            moved = {int(c["order_id"]) for c in shop if int(c["to_status_id"]) != TRANSFERRED}
            while pending and pending[0][0] in moved:
                pending.pop(0)
                result.preempted += 1
            if pending and len(changed) < count and now - last_change >= pace:
                order_id, number = pending.pop(0)
                tracking = f"BN{order_id:09d}SE"
                answer = client.put(f"{stack.fortnox}/3/orders/{number}", headers=headers,
                                    json={"Order": {"ExternalInvoiceReference2": tracking}})
                if answer.status_code == 401:
                    headers["Authorization"] = f"Bearer {access_token(stack)}"
                    answer = client.put(f"{stack.fortnox}/3/orders/{number}", headers=headers,
                                        json={"Order": {"ExternalInvoiceReference2": tracking}})
                if answer.status_code in (400, 409):  # the live sandbox moved it on first (invoiced, ...)
                    result.preempted += 1
                    last_change = now
                    continue
                answer.raise_for_status()
                changed[order_id] = (tracking, time.monotonic(), len(shop))
                last_change = now
                first_change = first_change or now
            if deadline is None and (len(changed) >= count or not pending):
                deadline = time.monotonic() + wait
            shop = client.get(f"{stack.jetshop}/_sandbox/status-changes", params={"shop_id": SHOP}).json()
            observed = time.monotonic()
            for index, change in enumerate(shop):
                oid = int(change["order_id"])
                if oid not in changed or oid in seen or index < changed[oid][2]:
                    continue
                tracking, at, _ = changed[oid]
                seen[oid] = observed
                if int(change["to_status_id"]) == DELIVERED and change.get("tracking_number") == tracking:
                    result.latencies.append(observed - at)
                else:  # the live sandbox moved the document on (another tracking number, cancelled, ...)
                    result.preempted += 1
            if deadline is not None and (len(seen) == len(changed) or time.monotonic() > deadline):
                result.missing = len(changed) - len(seen)
                result.missing_orders = {oid: linked[oid] for oid in sorted(set(changed) - set(seen))}
                return result
            time.sleep(poll)


def _moment(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


def _seconds(start: dt.datetime | None, end: dt.datetime | None) -> float | None:
    return (end - start).total_seconds() if start and end else None


def phases(stack: Stack, began: dt.datetime, ended: dt.datetime) -> str:
    """Where the seconds went, from Airflow's own records of the event status runs between ``began``
    and ``ended`` (REST API), the DAG-file parse each task logged, and the other DAGs' scheduled runs
    that started meanwhile (a cron burst competes for the executor slots and the Fortnox budget)."""
    runs = stack.rest("GET", f"/dags/{STATUS_DAG}/dagRuns", params={
        "run_after_gte": began.isoformat(), "run_after_lte": ended.isoformat(), "limit": 1000})["dag_runs"]
    spans: dict[str, list[float]] = {"first asset event → run queued": [], "run queued → task scheduled": [],
                                     "task scheduled → queued": [], "task queued → started": [],
                                     "task running": [], "task ended → run ended": []}
    waited: list[float] = []  # per asset event: its run's trigger moment (run_after) minus the event
    for run in (r for r in runs if r["run_type"] == "asset_triggered"):
        path = f"/dags/{STATUS_DAG}/dagRuns/{run['dag_run_id']}"
        events = stack.rest("GET", f"{path}/upstreamAssetEvents")["asset_events"]
        waited += [w for w in (_seconds(_moment(e["timestamp"]), _moment(run.get("run_after"))) for e in events)
                   if w is not None]
        task = stack.rest("GET", f"{path}/taskInstances/read_changes")
        first_event = min((_moment(e["timestamp"]) for e in events), default=None)  # the one that waited longest
        scheduled, queued, start, end = (_moment(task.get(k)) for k in ("scheduled_when", "queued_when", "start_date", "end_date"))
        for name, value in (("first asset event → run queued", _seconds(first_event, _moment(run["queued_at"]))),
                            ("run queued → task scheduled", _seconds(_moment(run["queued_at"]), scheduled)),
                            ("task scheduled → queued", _seconds(scheduled, queued)),
                            ("task queued → started", _seconds(queued, start)), ("task running", _seconds(start, end)),
                            ("task ended → run ended", _seconds(end, _moment(run["end_date"])))):
            if value is not None:
                spans[name].append(value)
    parse = [float(m) for log in (stack.home / "logs" / f"dag_id={STATUS_DAG}").glob("run_id=asset_triggered__*/*/*.log")
             for m in _PARSE_MS.findall(log.read_text(errors="replace"))]
    others = stack.rest("POST", "/dags/~/dagRuns/list", json={
        "start_date_gte": began.isoformat(), "start_date_lte": ended.isoformat(), "page_limit": 1000})["dag_runs"]
    cron = sum(1 for r in others if r["run_type"] in ("scheduled", "backfill", "manual"))
    lines = [f"  event status runs: {len(spans['task running'])}; other runs started meanwhile "
             f"(scheduled, backfill, the burst's): {cron}"]
    for name, values in spans.items():
        lines.append(f"  {name:<31} p50 {percentile(values, 50):6.2f} s   p95 {percentile(values, 95):6.2f} s")
    # Airflow 3.3 queues one run per asset and DAG; an asset event that came while that row waited for
    # the scheduler is not in the run then made (its run_after is the row's time): it waits for a later event
    later = [w for w in waited if w > 0.5]
    lines.append(f"  {'asset events run by a later one':<31} {len(later)} of {len(waited)}"
                 + (f"; waited p50 {percentile(later, 50):.2f} s, max {max(later):.2f} s" if later else ""))
    lines.append(f"  {'DAG-file parse in the task':<31} p50 {percentile(parse, 50):6.0f} ms  p95 {percentile(parse, 95):6.0f} ms")
    held = slot_held(stack, began, ended)
    lines.append(f"  {'slot held after a task ended':<31} p50 {percentile(held, 50):6.2f} s   p95 {percentile(held, 95):6.2f} s"
                 f"   ({len(held)} tasks of every DAG; over 0.5 s: {sum(h > 0.5 for h in held)})")
    return "\n".join(lines)


def slot_held(stack: Stack, began: dt.datetime, ended: dt.datetime) -> list[float]:
    """Per task instance that ended in the measurement: how long its executor slot stayed taken after
    the task ended (the supervisor's "Workload finished" duration in the scheduler's log, whose
    LocalExecutor runs them, minus the task's own start → end in Airflow's records)."""
    log = stack.home / "stack-logs" / "scheduler.log"
    finished = {m[1]: float(m[0]) for m in _WORKLOAD.findall(log.read_text(errors="replace"))} if log.exists() else {}
    tasks = stack.rest("GET", "/dags/~/dagRuns/~/taskInstances", params={
        "end_date_gte": began.isoformat(), "end_date_lte": ended.isoformat(), "limit": 1000})["task_instances"]
    held = []
    for task in tasks:
        running = _seconds(_moment(task.get("start_date")), _moment(task.get("end_date")))
        if task.get("id") in finished and running is not None:
            held.append(finished[task["id"]] - running)
    return held


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def table(results: list[Measured], poll_cron: str) -> str:
    rows = [f"{'mode':<26}{'changes':>8}{'p50 s':>9}{'p95 s':>9}{'max s':>9}{'preempted':>11}{'missing':>9}"]
    for r in results:
        label = r.mode if r.mode == "events" else f"polling ({poll_cron})"
        rows.append(f"{label:<26}{len(r.latencies):>8}{percentile(r.latencies, 50):>9.1f}"
                    f"{percentile(r.latencies, 95):>9.1f}{max(r.latencies, default=float('nan')):>9.1f}"
                    f"{r.preempted:>11}{r.missing:>9}")
    return "\n".join(rows)


# ------------------------------------------------------------------------------------------------ main
def tear_down(stack: Stack, base: Path, *, keep: bool) -> None:
    """``make down`` and the bench's temp dir removed, or (``keep``) both left and where they are said."""
    if keep:
        print(f"stack kept running in {stack.home} (python -m sandbox.stack down with that AIRFLOW_HOME)")
        return
    down = stack.stack("down", timeout=300)
    if down.returncode == 0:
        shutil.rmtree(base, ignore_errors=True)
    else:
        print(f"make down failed; left for inspection: {base}\n{down.stdout[-2000:]}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--changes", type=int, default=60, help="changes measured per mode (>= 50)")
    parser.add_argument("--pace", type=float, default=1.0, help="seconds between two changes")
    parser.add_argument("--poll", type=float, default=0.25, help="seconds between two looks at the shop")
    parser.add_argument("--poll-cron", default="* * * * *", help="the status DAG's cron in the polling mode")
    parser.add_argument("--modes", default="events,polling")
    parser.add_argument("--wait", type=float, default=300.0,
                        help="seconds to wait for the shop after the last change (a change not seen is 'missing')")
    parser.add_argument("--burst", action="store_true",
                        help="events mode: the DAGs of the top of the hour start inside the measurement")
    parser.add_argument("--burst-after", type=float, default=20.0,
                        help="seconds from the first change to the burst")
    parser.add_argument("--first-port", type=int, default=18870)
    parser.add_argument("--keep", action="store_true", help="leave the stack running and its directory")
    args = parser.parse_args(argv)
    if args.changes < 50:
        parser.error("--changes must be at least 50 (the acceptance asks for p95 over >= 50)")
    base = Path(tempfile.mkdtemp(prefix="jetfort-bench-latency-"))
    stack = Stack(base / "airflow", {name: args.first_port + i for i, name in enumerate(PORT_NAMES)})
    results: list[Measured] = []
    started = time.monotonic()
    try:
        up = stack.stack("up", timeout=1200)
        if up.returncode != 0:
            raise BenchError(f"the stack did not come up:\n{up.stdout[-3000:]}\n{up.stderr[-3000:]}")
        print(f"stack up in {time.monotonic() - started:.0f} s ({stack.home})", flush=True)
        rules = tenant_rules(stack)
        for i, mode in enumerate(m.strip() for m in args.modes.split(",")):
            set_mode(stack, rules, mode, args.poll_cron)
            burst = top_of_the_hour(stack) if args.burst and mode == "events" else None
            linked = post_orders(stack, args.changes, seed=4200 + i)
            print(f"{mode}: {len(linked)} linked Fortnox orders; changing them ...", flush=True)
            began = dt.datetime.now(dt.UTC)
            results.append(measure(stack, mode, linked, count=args.changes, pace=args.pace, poll=args.poll,
                                   wait=args.wait, burst=burst, burst_after=args.burst_after))
            ended = dt.datetime.now(dt.UTC)
            load = os.getloadavg()[0]
            print(f"{table(results[-1:], args.poll_cron)}\n  measured {began:%H:%M:%S} to {ended:%H:%M:%S} UTC; "
                  f"load average (1 min) at the end {load:.1f} on {os.cpu_count()} cores", flush=True)
            if results[-1].burst:
                print(f"  the burst started {len(results[-1].burst)} runs: {', '.join(results[-1].burst)}", flush=True)
            if results[-1].missing_orders:
                print(f"  missing (shop order: Fortnox order): {results[-1].missing_orders}", flush=True)
            if mode == "events":
                try:
                    print(phases(stack, began, ended), flush=True)
                except httpx.HTTPError as exc:  # a figure lost, not the measurement
                    print(f"  (where the seconds went: Airflow's API did not answer: {exc})", flush=True)
    except BenchError as exc:
        print(f"bench FAILED: {exc}", file=sys.stderr)
        return 1
    finally:
        if results:
            print("\nchange in Fortnox → status in the shop (seconds)\n" + table(results, args.poll_cron))
        tear_down(stack, base, keep=args.keep)
    events = next((r for r in results if r.mode == "events"), None)
    # a figure, not a test: the goal's verdict is printed, the exit status says only whether it ran
    if events is None or len(events.latencies) < 50 or events.missing:
        print(f"goal p95 <= {GOAL_P95:.0f} s with events: MISSED (too few changes measured with events; "
              "a missing one is slower than --wait)")
        return 0
    p95 = percentile(events.latencies, 95)
    print(f"goal p95 <= {GOAL_P95:.0f} s with events: {'MET' if p95 <= GOAL_P95 else 'MISSED'} ({p95:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
