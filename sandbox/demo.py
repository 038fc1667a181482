"""``make demo``: the whole sync, end to end, against the sandboxes on the embedded default.

1. migrates Airflow's metadata DB (SQLite under ``$AIRFLOW_HOME``) and a fresh demo ledger;
2. starts the Fortnox, Jetshop and Norce sandboxes, provisions a Fortnox company and writes the
   Airflow connections and the example tenants' Variables (as a data engineer would for real accounts);
3. runs the ``demo_combo`` tenant (two Jetshop shops into one Fortnox) through Airflow with
   ``airflow dags test``: orders → Fortnox, then some documents are delivered, invoiced, paid and
   cancelled in Fortnox and the status DAG brings that back to the shops (tracking, e-mails,
   capture), then the catalog DAG syncs products, prices and stock;
4. runs the ``demo_norce`` tenant (a Norce Commerce shop) the same way: a new order pushed to
   jetfort's order receiver and the seeded ones pulled through Norce's Query API, status back with
   ``SendOrderStatus``, delivery notes and capture by ``CreateInvoice``, then products, prices and
   stock as Norce import jobs;
5. prints what happened, read from each DAG's ``summary`` task and from the sandboxes themselves.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from sandbox import demo_setup
from sandbox.server import serve_in_thread

TENANT = "demo_combo"
NORCE_TENANT = "demo_norce"
HOME = Path(os.environ.get("AIRFLOW_HOME", ".airflow")).resolve()
DEMO = HOME / "demo"


def _say(title: str) -> None:
    print(f"\n== {title}", flush=True)


def _airflow(*args: str, log: Path | None = None) -> int:
    cmd = [sys.executable, "-m", "airflow", *args]
    if log is None:
        return subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
    with log.open("w") as out:
        return subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT).returncode


@dataclass
class Sandboxes:
    """The three sandboxes the demo runs against: base URLs and the in-process apps (their state)."""

    fortnox_url: str
    fortnox_app: Any
    jetshop_url: str
    jetshop_app: Any
    norce_url: str
    norce_app: Any


@contextmanager
def _sandboxes() -> Iterator[Sandboxes]:
    from sandbox.fortnox.app import create_app as fortnox_app
    from sandbox.jetshop.app import create_app as jetshop_app
    from sandbox.norce.app import create_app as norce_app

    fapp, japp, napp = fortnox_app(seed=1), jetshop_app(seed=1), norce_app(seed=1)
    with ExitStack() as stack:
        furl = stack.enter_context(serve_in_thread(fapp))
        jurl = stack.enter_context(serve_in_thread(japp))
        nurl = stack.enter_context(serve_in_thread(napp))
        yield Sandboxes(furl, fapp, jurl, japp, nurl, napp)


def _summary(dag_id: str) -> Any:
    """The return value of the latest run's ``summary`` task, from Airflow's metadata DB."""
    from airflow.models.dagrun import DagRun
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        run = session.query(DagRun).filter(DagRun.dag_id == dag_id).order_by(DagRun.id.desc()).first()
        if run is None:
            return None
        row = (session.query(XComModel)
               .filter_by(dag_id=dag_id, run_id=run.run_id, task_id="summary", key="return_value").first())
        value = None if row is None else row.value
    return json.loads(value) if isinstance(value, str | bytes) else value


def _run(dag_id: str, title: str, conf: dict[str, Any] | None = None) -> Any:
    _say(title)
    log = DEMO / f"{dag_id}.log"
    started = time.monotonic()
    rc = _airflow("dags", "test", dag_id, *(("--conf", json.dumps(conf)) if conf else ()), log=log)
    took = time.monotonic() - started
    print(f"airflow dags test {dag_id}: {'success' if rc == 0 else 'FAILED'} in {took:.0f} s (log: {log})")
    summary = _summary(dag_id)
    _print_summary(summary)
    if rc != 0:
        raise SystemExit(f"{dag_id} failed; see {log}")
    return summary


def _print_summary(summary: Any) -> None:
    from jetfort.tasks.runtime import format_table

    if isinstance(summary, dict) and isinstance(summary.get("table"), str):
        print(summary["table"])
    elif isinstance(summary, dict) and isinstance(summary.get("rows"), list):
        print(format_table(summary["rows"]))
        window = summary.get("window")
        if isinstance(window, dict):
            print(f"window {window.get('start')} → {window.get('end')} ({window.get('source')})")
    elif isinstance(summary, list) and summary and isinstance(summary[0], dict):
        # the per-order list and credit details stay in the task log; the table shows the counts
        print(format_table([{k: v for k, v in row.items() if not isinstance(v, list | dict)} for row in summary]))
    elif summary is not None:
        print(json.dumps(summary, indent=2, default=str))


def _print_quarantine(tenant: str) -> None:
    from jetfort.ledger import Ledger

    entries = Ledger.from_url(os.environ["JETFORT_LEDGER_URL"]).open_quarantine(tenant)
    if entries:
        print(f"In quarantine ({len(entries)}), each with the reason a person can act on:")
    for entry in entries:
        print(f"  {entry.kind} {entry.source_key}: {entry.reason} [{entry.field}] {entry.message}")


def _advance(tenant: str) -> None:
    """Move some of the tenant's Fortnox documents on (delivered, invoiced, paid, cancelled)."""
    from sandbox.demo_status import advance_demo_orders  # imports jetfort's task runtime: only when used

    advance_demo_orders(tenant, per_state=2)


#: a checkout in the Norce shop while the demo runs (the sandbox's admin order spec)
PUSHED_ORDER = {"rows": [{"part_no": "1001", "qty": 1}, {"part_no": "1004", "qty": 2}], "freight_inc_vat": "49.00",
                "buyer": {"first_name": "Greta", "last_name": "Nilsson", "email": "greta@example.se",
                          "phone": "+46709876543", "line1": "Kungsgatan 12", "zip_code": "41119",
                          "city": "Göteborg", "country": "SE"}}


def _push_norce_order(sbx: Sandboxes, env: demo_setup.SandboxEnvironment) -> None:
    """A buyer checks out in the Norce shop: Norce pushes the order to jetfort's order receiver (served
    here as Airflow's api-server serves it), which keeps it in the ledger for the orders DAG."""
    from jetfort.ledger import Ledger  # jetfort's runtime: imported once the demo's environment is set
    from jetfort.norce.receiver import create_receiver_app

    app = create_receiver_app(lambda: Ledger.from_url(os.environ["JETFORT_LEDGER_URL"]))
    with serve_in_thread(app) as receiver_url:
        demo_setup.point_norce_pushes(sbx.norce_url, demo_setup.norce_receiver_url(receiver_url),
                                      env.connections[demo_setup.NORCE_RECEIVER_CONNECTION])
        ref = httpx.post(f"{sbx.norce_url}/_sandbox/orders", json=PUSHED_ORDER,
                         timeout=30).raise_for_status().json()["client_order_ref"]
        deadline = time.monotonic() + 30
        state = "pending"
        while state == "pending" and time.monotonic() < deadline:
            httpx.post(f"{sbx.norce_url}/_sandbox/push/run", timeout=30).raise_for_status()
            found = httpx.get(f"{sbx.norce_url}/_sandbox/push", params={"ref": ref}, timeout=30).json()["deliveries"]
            state = found[-1]["state"] if found else "pending"
            time.sleep(0.2)
        httpx.post(f"{sbx.norce_url}/_sandbox/push-target", json={"url": None}, timeout=30).raise_for_status()
    print(f"Norce pushed order {ref} to jetfort's order receiver: {state}")


def _print_norce(state: Any) -> None:
    """What jetfort did in the Norce sandbox, read from the sandbox itself."""
    orders = state.order_list()
    changes = sum(1 for order in orders for step in order.history
                  if step.get("changed") and str(step.get("by", "")).startswith("Connect"))
    notes = sum(len(order.delivery_notes) for order in orders)
    print(f"Norce demoshop: {changes} status changes, {notes} delivery notes (tracking), "
          f"{len(state.captures())} captures by CreateInvoice")


def _use_tenant(tenant: str) -> None:
    """This process (a plain script) reads the tenant's rules from the environment; short retries."""
    rules = json.loads(demo_setup.example_tenants()[tenant])
    rules["retries"] = {"delay_seconds": 2}  # the demo waits out retries: keep them short
    os.environ[f"AIRFLOW_VAR_JETFORT_TENANT_{tenant.upper()}"] = json.dumps(rules)


def _combo(sbx: Sandboxes, env: demo_setup.SandboxEnvironment) -> None:
    """demo_combo: two Jetshop shops into one Fortnox company, all three flows."""
    _run(f"jetfort__{TENANT}__orders", "Orders: Jetshop → Fortnox (two shops, one Fortnox company)")
    counts = sbx.fortnox_app.state.sandbox.company(env.fortnox_tenant_id).counts()
    print(f"Fortnox now holds {counts['invoices']} invoices, {counts['orders']} orders, "
          f"{counts['customers']} customers")
    _print_quarantine(TENANT)

    _say("Meanwhile in Fortnox: documents are delivered, invoiced, paid and cancelled")
    _advance(TENANT)

    _run(f"jetfort__{TENANT}__order_status", "Order status: Fortnox → Jetshop (status, tracking, e-mail, capture)")
    shop_state = sbx.jetshop_app.state.jetshop
    for shop in ("demoshop", "nordicshop"):
        print(f"{shop}: {len(shop_state.status_changes(shop))} status changes, "
              f"{len(shop_state.captures(shop))} captures, {len(shop_state.emails(shop))} e-mails to customers")

    _run(f"jetfort__{TENANT}__catalog", "Catalog: products shop → Fortnox; prices, price lists, stock → shop")
    _run(f"jetfort__{TENANT}__catalog", "Catalog again, nothing changed: no writes (no echo loop)")


def _norce(sbx: Sandboxes, env: demo_setup.SandboxEnvironment) -> None:
    """demo_norce: a Norce Commerce shop; orders pushed and pulled, status and capture back, catalog jobs."""
    _say("Meanwhile in the Norce shop: a buyer checks out")
    _push_norce_order(sbx, env)
    # the seeded Norce orders span the last six days: one run over that week, as a user re-examines a range
    since = (dt.datetime.now(dt.UTC) - dt.timedelta(days=7)).isoformat(timespec="seconds")
    _run(f"jetfort__{NORCE_TENANT}__orders", "Orders: Norce → Fortnox (pushed, and pulled through the Query API)",
         conf={"since": since})
    _print_quarantine(NORCE_TENANT)

    _say("Meanwhile in Fortnox: the Norce shop's documents are delivered, invoiced, paid and cancelled")
    _advance(NORCE_TENANT)

    _run(f"jetfort__{NORCE_TENANT}__order_status",
         "Order status: Fortnox → Norce (SendOrderStatus, delivery notes with tracking, capture by CreateInvoice)")
    _print_norce(sbx.norce_app.state.norce)
    _run(f"jetfort__{NORCE_TENANT}__catalog", "Catalog: products, prices, stock → Norce (import jobs)")


def main() -> None:
    shutil.rmtree(DEMO, ignore_errors=True)
    DEMO.mkdir(parents=True)
    os.environ["JETFORT_LEDGER_URL"] = f"sqlite:///{DEMO / 'ledger.db'}"

    _say("Airflow metadata DB")
    if _airflow("db", "migrate") != 0:
        raise SystemExit("airflow db migrate failed")
    print(f"AIRFLOW_HOME={HOME}")

    with _sandboxes() as sbx:
        _say("Sandboxes")
        print(f"Fortnox sandbox {sbx.fortnox_url} · Jetshop sandbox {sbx.jetshop_url} · Norce sandbox {sbx.norce_url}")
        # the seeded orders arrive a few minutes ago: inside the last complete interval the run covers
        arrived = (dt.datetime.now(ZoneInfo("Europe/Stockholm")) - dt.timedelta(minutes=6)).replace(tzinfo=None)
        for shop in ("demoshop", "nordicshop"):
            httpx.post(f"{sbx.jetshop_url}/_sandbox/shops/{shop}/orders/touch", json={"when": arrived.isoformat()},
                       timeout=30).raise_for_status()
        env = demo_setup.configure(fortnox_url=sbx.fortnox_url, jetshop_url=sbx.jetshop_url, norce_url=sbx.norce_url)
        # this process (a plain script) reads connections and rules from the environment
        os.environ.update(env.env())
        for tenant in (TENANT, NORCE_TENANT):
            _use_tenant(tenant)
        if subprocess.run([sys.executable, "-m", "jetfort.bootstrap"], stdout=subprocess.DEVNULL).returncode:
            raise SystemExit("python -m jetfort.bootstrap failed")
        _combo(sbx, env)
        _norce(sbx, env)

    _say("Done")
    print(f"Ledger: {DEMO / 'ledger.db'} · logs: {DEMO}")
    print("Browse it in Airflow's UI with: make up   (stop with: make down)")


if __name__ == "__main__":
    main()
