"""``make demo``: the whole sync, end to end, against both sandboxes on the embedded default.

1. migrates Airflow's metadata DB (SQLite under ``$AIRFLOW_HOME``) and a fresh demo ledger;
2. starts the Fortnox and Jetshop sandboxes, provisions a Fortnox company and writes the Airflow
   connections and the example tenants' Variables (as a data engineer would for real accounts);
3. runs the ``demo_combo`` tenant (two shops into one Fortnox) through Airflow with
   ``airflow dags test``: orders → Fortnox, then some documents are delivered, invoiced, paid and
   cancelled in Fortnox and the status DAG brings that back to the shops (tracking, e-mails,
   capture), then the catalog DAG syncs products, prices and stock;
4. prints what happened, read from each DAG's ``summary`` task and from the sandboxes themselves.
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
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from sandbox import demo_setup
from sandbox.server import serve_in_thread

TENANT = "demo_combo"
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


@contextmanager
def _sandboxes() -> Iterator[tuple[str, Any, str, Any]]:
    from sandbox.fortnox.app import create_app as fortnox_app
    from sandbox.jetshop.app import create_app as jetshop_app

    fapp, japp = fortnox_app(seed=1), jetshop_app(seed=1)
    with ExitStack() as stack:
        furl = stack.enter_context(serve_in_thread(fapp))
        jurl = stack.enter_context(serve_in_thread(japp))
        yield furl, fapp, jurl, japp


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


def _run(dag_id: str, title: str) -> Any:
    _say(title)
    log = DEMO / f"{dag_id}.log"
    started = time.monotonic()
    rc = _airflow("dags", "test", dag_id, log=log)
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
        print(format_table(summary))
    elif summary is not None:
        print(json.dumps(summary, indent=2, default=str))


def _print_quarantine() -> None:
    from jetfort.ledger import Ledger

    entries = Ledger.from_url(os.environ["JETFORT_LEDGER_URL"]).open_quarantine(TENANT)
    if entries:
        print(f"In quarantine ({len(entries)}), each with the reason a person can act on:")
    for entry in entries:
        print(f"  {entry.kind} {entry.source_key}: {entry.reason} [{entry.field}] {entry.message}")


def main() -> None:
    shutil.rmtree(DEMO, ignore_errors=True)
    DEMO.mkdir(parents=True)
    os.environ["JETFORT_LEDGER_URL"] = f"sqlite:///{DEMO / 'ledger.db'}"

    _say("Airflow metadata DB")
    if _airflow("db", "migrate") != 0:
        raise SystemExit("airflow db migrate failed")
    print(f"AIRFLOW_HOME={HOME}")

    with _sandboxes() as (fortnox_url, fortnox_app, jetshop_url, jetshop_app):
        _say("Sandboxes")
        print(f"Fortnox sandbox {fortnox_url} · Jetshop sandbox {jetshop_url}")
        # the seeded orders arrive a few minutes ago: inside the last complete interval the run covers
        arrived = (dt.datetime.now(ZoneInfo("Europe/Stockholm")) - dt.timedelta(minutes=6)).replace(tzinfo=None)
        for shop in ("demoshop", "nordicshop"):
            httpx.post(f"{jetshop_url}/_sandbox/shops/{shop}/orders/touch", json={"when": arrived.isoformat()},
                       timeout=30).raise_for_status()
        env = demo_setup.configure(fortnox_url=fortnox_url, jetshop_url=jetshop_url)
        # this process (a plain script) reads connections and rules from the environment
        os.environ.update(env.env())
        rules = json.loads(demo_setup.example_tenants()[TENANT])
        rules["retries"] = {"delay_seconds": 2}  # the demo waits out retries: keep them short
        os.environ[f"AIRFLOW_VAR_JETFORT_TENANT_{TENANT.upper()}"] = json.dumps(rules)
        if subprocess.run([sys.executable, "-m", "jetfort.bootstrap"], stdout=subprocess.DEVNULL).returncode:
            raise SystemExit("python -m jetfort.bootstrap failed")

        orders = _run(f"jetfort__{TENANT}__orders", "Orders: Jetshop → Fortnox (two shops, one Fortnox company)")
        del orders
        counts = fortnox_app.state.sandbox.company(env.fortnox_tenant_id).counts()
        print(f"Fortnox now holds {counts['invoices']} invoices, {counts['orders']} orders, "
              f"{counts['customers']} customers")
        _print_quarantine()

        _say("Meanwhile in Fortnox: documents are delivered, invoiced, paid and cancelled")
        from sandbox.demo_status import advance_demo_orders

        advance_demo_orders(TENANT, per_state=2)

        _run(f"jetfort__{TENANT}__order_status", "Order status: Fortnox → Jetshop (status, tracking, e-mail, capture)")
        shop_state = jetshop_app.state.jetshop
        for shop in ("demoshop", "nordicshop"):
            print(f"{shop}: {len(shop_state.status_changes(shop))} status changes, "
                  f"{len(shop_state.captures(shop))} captures, {len(shop_state.emails(shop))} e-mails to customers")

        _run(f"jetfort__{TENANT}__catalog", "Catalog: products shop → Fortnox; prices, price lists, stock → shop")
        _run(f"jetfort__{TENANT}__catalog", "Catalog again, nothing changed: no writes (no echo loop)")

    _say("Done")
    print(f"Ledger: {DEMO / 'ledger.db'} · logs: {DEMO}")
    print("Browse it in Airflow's UI with: make up   (stop with: make down)")


if __name__ == "__main__":
    main()
