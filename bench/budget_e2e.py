"""How much of Fortnox's allowed rate a whole orders run uses end to end (issue 18: goal ≥ 0.95, 0 rate-limit
answers), at Fortnox's real limit of 25 requests per 5 s, through ``airflow dags test`` as a user runs it::

    .venv/bin/python bench/budget_e2e.py [--orders 500] [--buyers 100] [--warm 0] [--repeat 1] [--keep]

Per repeat: a fresh Fortnox company in the Fortnox sandbox (a subprocess, 25 per 5 s), a backlog of
``--orders`` released orders from ``--buyers`` new buyers in the Jetshop sandbox, a tenant of its own
(demo_ecom's rules without the collective customer, so every buyer is looked up and created), its own
``AIRFLOW_HOME`` (SQLite metadata, SQLite ledger) in a temp dir, then ``airflow dags test`` of the
tenant's orders DAG: a manual run over the backlog's half hour (the DAG's ``since``/``until`` params).
This is a tenant's first run: it checks the rules against Fortnox (pre-flight) before it posts. With
``--warm N`` a first run of ``N`` earlier orders goes before it (pre-flight passed and remembered,
Fortnox facts cached), so the measured run is a backlog as a tenant already in service meets it
(after a Fortnox outage, say); its buyers are new ones still.

Measured from the Fortnox sandbox's own request log (arrival times, status), never from jetfort:

* **budget use** = the shortest time Fortnox's sliding window allows for the run's requests divided by
  the time they took (the span from the run's first Fortnox request to its last). Requests ``i`` and
  ``i + 25`` can never arrive within 5 s of each other, so ``n`` requests need at least
  ``floor((n - 1) / 25) * 5 s``; a client sending at the limit throughout scores 1.0, jetfort's budget
  (its window padded for arrival jitter, see ``jetfort.fortnox.budget``) at most 5 / 5.2 = 0.962;
* the same as a rate, ``(requests - 25) / (span * 25 / 5 s)`` (25 requests are free at the start),
  which also counts against the run how its last window happened to be cut;
* 429 answers (goal 0), the most requests the sandbox accepted in any 5 s window;
* where the rest went: every stretch in which the client's own (padded) budget had a free slot but no
  request was sent, with the requests on either side and the tasks Airflow ran then (``airflow tasks
  states-for-dag-run``), and the run's wall time before its first and after its last Fortnox request.

The run's own figure is from ``dags test``; a scheduled run's task starts cost more (see
``bench/run_overhead.py``). The temp dir is removed unless ``--keep``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "plugins"), str(Path(__file__).resolve().parent)]

from orders_flow import add_orders, start  # noqa: E402

from jetfort.fortnox.budget import padded_window  # noqa: E402

LIMIT, WINDOW = 25, 5.0
TENANT = "budget"
DAG_ID = f"jetfort__{TENANT}__orders"


def add_backlog(jetshop: str, count: int, buyers: int, when: dt.datetime, prefix: str = "buyer") -> None:
    add_orders(jetshop, [f"{prefix}{i}@example.se" for i in range(buyers)], count, when)


def airflow_env(home: Path, connections: dict[str, str]) -> dict[str, str]:
    from cryptography.fernet import Fernet

    tenants = home / "tenants"
    tenants.mkdir()
    from sandbox import demo_setup

    rules = json.loads((demo_setup.EXAMPLE_TENANTS / "demo_ecom.json").read_text())
    rules["orders"].pop("collective_customer_number", None)  # every buyer a customer of their own
    (tenants / f"{TENANT}.json").write_text(json.dumps(rules))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "JETFORT_"))}
    env.update(connections)
    env.update({
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__CORE__ALLOWED_DESERIALIZATION_CLASSES": "airflow.* jetfort.*",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        "JETFORT_TENANTS_DIR": str(tenants),
        "JETFORT_MAPPINGS_DIR": str(ROOT / "include" / "mappings"),
        "JETFORT_LEDGER_URL": f"sqlite:///{home / 'ledger.db'}",
        "JETFORT_LEDGER_SECRET_KEY": Fernet.generate_key().decode(),
        "PYTHONPATH": os.pathsep.join([str(ROOT / "plugins"), str(ROOT)]),
    })
    return env


def airflow(env: dict[str, str], *args: str, timeout: float = 1800) -> str:
    done = subprocess.run([str(Path(sys.executable).with_name("airflow")), *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise SystemExit(f"airflow {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return done.stdout


def task_spans(env: dict[str, str], run_id: str) -> list[tuple[str, float, float]]:
    raw = airflow(env, "tasks", "states-for-dag-run", DAG_ID, run_id, "-o", "json")
    spans = []
    for row in json.loads(raw[raw.index("["):]):
        if row.get("start_date") and row.get("end_date"):
            name = row["task_id"]
            spans.append((name, _epoch(row["start_date"]), _epoch(row["end_date"])))
    return sorted(spans, key=lambda s: s[1])


def _epoch(text: str) -> float:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def measure(args: argparse.Namespace, fortnox: str, jetshop: str, home: Path) -> dict[str, Any]:
    from sandbox import demo_setup

    setup = demo_setup.provision(fortnox, jetshop)  # no rate_window: the client paces Fortnox's real 5 s
    tenant_id = setup.fortnox_tenant_id
    env = airflow_env(home, setup.env())
    airflow(env, "db", "migrate")
    now = dt.datetime.now(ZoneInfo("Europe/Stockholm")).replace(microsecond=0)
    if args.warm:
        add_backlog(jetshop, args.warm, 10, now - dt.timedelta(minutes=50), prefix="early")
        airflow(env, "dags", "test", DAG_ID, "--conf", json.dumps({
            "since": (now - dt.timedelta(hours=1)).isoformat(), "until": (now - dt.timedelta(minutes=40)).isoformat()}))
    add_backlog(jetshop, args.orders, args.buyers, now - dt.timedelta(minutes=5))
    seen = httpx.get(f"{fortnox}/_sandbox/requests", params={"limit": 1}).json()["total"]
    wall0 = time.time()
    # a manual run over the backlog's range (the DAG's `since` param), as a user catches up a backlog
    since = {"since": (now - dt.timedelta(minutes=30)).isoformat(), "until": (now + dt.timedelta(minutes=1)).isoformat()}
    out = airflow(env, "dags", "test", DAG_ID, "--conf", json.dumps(since))
    wall1 = time.time()
    (home / "dags_test.log").write_text(out)
    total = httpx.get(f"{fortnox}/_sandbox/requests", params={"limit": 1}).json()["total"]
    log = httpx.get(f"{fortnox}/_sandbox/requests", params={"limit": total - seen}).json()["requests"]
    mine = [e for e in log if e.get("tenant") == tenant_id]
    counts = httpx.get(f"{fortnox}/_sandbox/companies/{tenant_id}/counts").json()
    stats = httpx.get(f"{fortnox}/_sandbox/companies/{tenant_id}/stats").json()
    raw = airflow(env, "dags", "list-runs", DAG_ID, "-o", "json")
    run = max(json.loads(raw[raw.index("["):]), key=lambda r: r["run_after"])
    spans = task_spans(env, run["run_id"])
    (home / "fortnox_requests.json").write_text(json.dumps(mine))
    if run["state"] != "success" or counts.get("invoices") != args.warm + args.orders:
        raise SystemExit(f"the run did not sync the backlog: run {run['state']}, {counts.get('invoices')} invoices "
                         f"for {args.warm} + {args.orders} orders; its log: {home / 'dags_test.log'} (run with --keep "
                         "to keep it)")
    return {"log": mine, "wall": (wall0, wall1), "counts": counts, "stats": stats, "spans": spans}


def report(result: dict[str, Any], orders: int) -> float:
    log = result["log"]
    stamps = [e["t"] for e in log]
    span = stamps[-1] - stamps[0]
    shortest = (len(log) - 1) // LIMIT * WINDOW
    use = shortest / span
    as_rate = (len(log) - LIMIT) / (span * LIMIT / WINDOW)
    by_status: dict[Any, int] = {}
    by_kind: dict[str, int] = {}
    for e in log:
        by_status[e.get("status")] = by_status.get(e.get("status"), 0) + 1
        kind = f"{e['method']} /{'/'.join(e['path'].strip('/').split('/')[:2])}" + ("?" if e.get("query") else "")
        by_kind[kind] = by_kind.get(kind, 0) + 1
    wall0, wall1 = result["wall"]
    clients = result["stats"].get("clients", {})
    print(f"  {len(log)} Fortnox requests in {span:.1f} s (first→last); run wall {wall1 - wall0:.1f} s "
          f"(start→first request {stamps[0] - wall0:.1f} s, last request→end {wall1 - stamps[-1]:.1f} s)")
    print(f"  documents: {json.dumps(result['counts'], sort_keys=True)}")
    print(f"  by status: {by_status}; accepted/429/max in window: "
          + "; ".join(f"{c['accepted']}/{c['rejected_429']}/{c['max_in_window']}" for c in clients.values()))
    print("  requests: " + ", ".join(f"{k} {v}" for k, v in sorted(by_kind.items(), key=lambda kv: -kv[1])))
    print(f"  requests per order: {len(log) / orders:.3f}")
    # the client could have sent request i at max(its previous request, the arrival of request i - 25 plus
    # the client's padded window): any later is budget left unused (idle client, not a full window)
    enforced = padded_window(WINDOW)
    idle = []
    for i in range(1, len(log)):
        free_at = max(stamps[i - 1], stamps[i - LIMIT] + enforced if i >= LIMIT else stamps[0])
        if stamps[i] - free_at > 0.05:
            idle.append((stamps[i] - free_at, log[i - 1], log[i]))
    lost = sum(g for g, _, _ in idle)
    print(f"  budget free but no request sent: {lost:.1f} s in all ({lost / span:.1%} of the span; padded "
          f"window {enforced:g} s caps use at {WINDOW / enforced:.3f}); the longest:")
    for g, a, b in sorted(idle, key=lambda x: -x[0])[:8]:
        running = [n for n, s, e in result["spans"] if s < b["t"] and e > a["t"]]
        print(f"    {g:5.1f} s at +{a['t'] - stamps[0]:6.1f}: {a['method']} {a['path']} → {b['method']} {b['path']}"
              f"; tasks then: {', '.join(running) or '(none)'}")
    for name, s, e in result["spans"]:
        print(f"    task {name:<32} +{s - stamps[0]:7.1f} … +{e - stamps[0]:7.1f} s ({e - s:.1f} s)")
    print(f"  BUDGET USE {use:.3f} (Fortnox allows these {len(log)} requests in {shortest:g} s, they took {span:.1f} s; "
          f"goal >= 0.95); as a rate {as_rate:.3f}; 429 answers: {by_status.get(429, 0)} (goal 0)")
    return use


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=500)
    parser.add_argument("--buyers", type=int, default=100, help="distinct new buyers in the backlog")
    parser.add_argument("--warm", type=int, default=0, help="orders of a first run before the measured one")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the temp dirs (AIRFLOW_HOME, logs)")
    args = parser.parse_args()

    from sandbox.server import free_port

    fport, jport = free_port(), free_port()
    procs = [start("fortnox", fport), start("jetshop", jport)]
    homes: list[Path] = []
    uses = []
    try:
        fortnox, jetshop = f"http://127.0.0.1:{fport}", f"http://127.0.0.1:{jport}"
        httpx.put(f"{fortnox}/_sandbox/ratelimit", json={"limit": LIMIT, "window": WINDOW}).raise_for_status()
        for i in range(args.repeat):
            homes.append(Path(tempfile.mkdtemp(prefix="jetfort-bench-budget-")))
            print(f"run {i + 1}: {args.orders} orders from {args.buyers} new buyers, Fortnox {LIMIT} per {WINDOW:g} s, "
                  + (f"after a first run of {args.warm} orders" if args.warm else "the tenant's first run"))
            result = measure(args, fortnox, jetshop, homes[-1])
            uses.append(report(result, args.orders))
        if len(uses) > 1:
            print(f"budget use over {len(uses)} runs: " + ", ".join(f"{u:.3f}" for u in uses))
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=10)
        for home in homes:
            if args.keep:
                print(f"kept {home}")
            else:
                shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
