"""The catalog's Airflow wiring: the task runners (counts out as XCom, payloads stay in the ledger) and
the builders of the three DAGs per tenant that ``dags/jetfort_catalog.py`` wires:

* ``jetfort__<tenant>__catalog`` — the flow's steps (products first), ``await_jobs``, then the summary table;
* ``jetfort__<tenant>__catalog_initial`` — manual, the whole assortment across (Params), ``await_jobs``;
* ``jetfort__<tenant>__drift`` — full comparison, report (CSV + PNG), corrections per rule, ``await_jobs``.

``await_jobs`` is a sensor in reschedule mode (no worker slot held between pokes) that settles the
tenant's open shop jobs (:mod:`jetfort.tasks.catalog.jobs`); with none open (always so for Jetshop) its
first poke succeeds at once. When products go to the shop (erp), ``await_product_jobs`` does the same
between the products and the prices/stock steps, so prices and stock reach products created in this run.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from airflow.sdk import get_current_context, task
from airflow.sdk.bases.sensor import BaseSensorOperator, PokeReturnValue

from jetfort.factory import tenant_of
from jetfort.rules import TenantRules
from jetfort.tasks.catalog.base import INITIAL_COLUMNS, SUMMARY_COLUMNS, Counts
from jetfort.tasks.catalog.initial import DIRECTIONS
from jetfort.tasks.catalog.jobs import CATALOG_SUMMARY_COLUMNS, JOBS_ENTITY
from jetfort.tasks.catalog.report import report_dir, write_report
from jetfort.tasks.catalog.sync import CatalogSync
from jetfort.tasks.params import param
from jetfort.tasks.runtime import TenantRuntime, format_table

log = logging.getLogger(__name__)

STEPS: dict[str, Callable[[CatalogSync], Counts]] = {
    "products_to_fortnox": lambda s: s.products_to_fortnox(),
    "products_to_shop": lambda s: s.products_to_shop(),
    "prices_to_shop": lambda s: s.prices_to_shop(),
    "stock_to_shop": lambda s: s.stock_to_shop(),
}


def flow_steps(rules: TenantRules) -> list[str]:
    """The catalog steps of a flow, in order (products first: prices and stock need them)."""
    if rules.flow == "ecom":
        return ["products_to_fortnox"]
    first = "products_to_shop" if rules.flow == "erp" else "products_to_fortnox"
    steps = [first, "prices_to_shop"]
    if rules.stock.enabled:
        steps.append("stock_to_shop")
    return steps


#: How often ``await_jobs`` asks the shop, and how long it waits before failing (its jobs stay open in
#: the ledger and the next run's sensor settles them; nothing is lost or recorded as written).
JOBS_POKE_INTERVAL = dt.timedelta(seconds=30)
JOBS_TIMEOUT = dt.timedelta(minutes=45)


def default_direction(rules: TenantRules) -> str:
    return "fortnox_to_shop" if rules.flow == "erp" else "shop_to_fortnox"


# ================================================================================ task runners
def _push_summary(context: Mapping[str, Any], rows: list[dict[str, Any]]) -> None:
    ti = context.get("ti") or context.get("task_instance")
    if ti is not None:
        ti.xcom_push(key="summary", value=rows)


def run_step(tenant_id: str, step: str, context: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One catalog step as an Airflow task: counts out (XCom), payloads stay in the ledger."""
    with TenantRuntime.for_tenant(tenant_id) as rt:
        sync = CatalogSync(rt, run_id=context.get("run_id"))
        counts = STEPS[step](sync)
    rows = [{**counts.row(), "pending_jobs": sync.jobs.recorded, "job_failures": 0}]
    log.info("jetfort catalog %s · %s\n%s", tenant_id, step, format_table(rows, CATALOG_SUMMARY_COLUMNS))
    _push_summary(context, rows)
    return rows


def poke_jobs(tenant_id: str, context: Mapping[str, Any], entity: str = JOBS_ENTITY) -> tuple[bool, list[dict[str, Any]]]:
    """One poke of ``await_jobs``: settle what the shop finished; done when no job of the tenant is open."""
    with TenantRuntime.for_tenant(tenant_id) as rt:
        tally = CatalogSync(rt, run_id=context.get("run_id")).settle_jobs()
    rows = [tally.row(entity)]
    done = not tally.still_open
    if tally.checked:
        log.info("jetfort catalog %s · %s\n%s", tenant_id, entity, format_table(rows, CATALOG_SUMMARY_COLUMNS))
    if done:
        _push_summary(context, rows)
    return done, rows


class ShopJobsSensor(BaseSensorOperator):
    """Waits until the tenant's shop jobs are settled, recording each one's outcome as it settles.

    Reschedule mode: between pokes the task gives its worker slot back (Norce imports take minutes).
    """

    def __init__(self, *, tenant_id: str, entity: str = JOBS_ENTITY, **kwargs: Any) -> None:
        kwargs.setdefault("poke_interval", JOBS_POKE_INTERVAL)
        kwargs.setdefault("timeout", JOBS_TIMEOUT)
        super().__init__(mode="reschedule", **kwargs)
        self.tenant_id = tenant_id
        self.entity = entity

    def poke(self, context: Any) -> PokeReturnValue:
        done, rows = poke_jobs(self.tenant_id, context, self.entity)
        return PokeReturnValue(is_done=done, xcom_value=rows if done else None)


def summarize(tenant_id: str, step_rows: Iterable[Any], context: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The run's summary table (one row per entity), logged and returned."""
    rows = [row for result in step_rows if result for row in result]
    log.info("jetfort catalog summary · tenant %s · run %s\n%s", tenant_id, context.get("run_id"),
             format_table(rows, CATALOG_SUMMARY_COLUMNS))
    print(catalog_summary_table(rows))
    _push_summary(context, rows)
    return rows


def catalog_summary_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """The summary as a plain-text table (what the demo prints)."""
    return format_table(list(rows), CATALOG_SUMMARY_COLUMNS)


def run_initial(tenant_id: str, context: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The manual initial sync (Params: direction, dry_run, article_filter)."""
    params = dict(context.get("params") or {})
    direction = str(params.get("direction") or "")
    globs = params.get("article_filter") or []
    if isinstance(globs, str):
        globs = [g.strip() for g in globs.split(",") if g.strip()]
    with TenantRuntime.for_tenant(tenant_id) as rt:
        sync = CatalogSync(rt, run_id=context.get("run_id"), dry_run=bool(params.get("dry_run")),
                           extra_include=globs)
        counts = sync.initial(direction)
    rows = [{**counts.row(INITIAL_COLUMNS), "pending_jobs": sync.jobs.recorded}]
    title = f"jetfort initial sync · tenant {tenant_id} · {direction}{' (dry run)' if sync.dry_run else ''}"
    table = format_table(rows, [*INITIAL_COLUMNS, "pending_jobs"])
    log.info("%s\n%s", title, table)
    print(f"{title}\n{table}")
    _push_summary(context, rows)
    return rows


def run_drift(tenant_id: str, context: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The drift report task: compare, write CSV + PNG under $AIRFLOW_HOME/jetfort/reports, correct per rule."""
    run_id = str(context.get("run_id") or dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S"))
    with TenantRuntime.for_tenant(tenant_id) as rt:
        counts, frame = CatalogSync(rt, run_id=run_id).drift()
    csv_path, png_path = write_report(frame, counts, report_dir(tenant_id), run_id)
    rows = [c.row() for c in counts]
    differences = format_table([{str(k): v for k, v in r.items()} for r in frame.to_dict("records")]) \
        if len(frame) else ""
    log.info("jetfort drift · tenant %s · %d difference(s)\n%s\n%s\nreport: %s, %s", tenant_id, len(frame),
             format_table(rows, SUMMARY_COLUMNS), differences, csv_path, png_path)
    _push_summary(context, rows)
    ti = context.get("ti")
    if ti is not None:
        ti.xcom_push(key="report", value={"csv": str(csv_path), "png": str(png_path), "differences": len(frame)})
    return rows


# ================================================================================ DAG builders
def _context() -> Mapping[str, Any]:
    return get_current_context()


def _task(fn: Callable[..., Any], task_id: str, **kwargs: Any) -> Any:
    fn.__name__ = task_id
    return task(task_id=task_id, multiple_outputs=False, **kwargs)(fn)


def await_jobs(tenant: str, task_id: str = "await_jobs", entity: str = JOBS_ENTITY) -> ShopJobsSensor:
    """The sensor that settles the tenant's open shop jobs (reschedule mode)."""
    return ShopJobsSensor(task_id=task_id, tenant_id=tenant, entity=entity)


def build_catalog(rules: TenantRules) -> None:
    """``jetfort__<tenant>__catalog``: the flow's steps (products first), the shop jobs, the summary table."""
    tenant = tenant_of(rules)
    outputs = []
    first: Any = None
    for step in flow_steps(rules):
        def run(step: str = step) -> list[dict[str, Any]]:
            return run_step(tenant, step, _context())

        out = _task(run, step)()
        outputs.append(out)
        if first is not None:
            first >> out
        elif step == "products_to_shop":  # prices and stock go only to products the shop holds
            first = await_jobs(tenant, "await_product_jobs", f"{JOBS_ENTITY} (products)")
            out >> first
            outputs.append(first.output)
        else:
            first = out
    if any(step.endswith("_to_shop") for step in flow_steps(rules)):
        jobs = await_jobs(tenant)
        for out in outputs:
            out >> jobs
        outputs.append(jobs.output)

    def summary(*results: Any) -> list[dict[str, Any]]:
        return summarize(tenant, results, _context())

    _task(summary, "summary")(*outputs)


def initial_params() -> dict[str, Any]:
    return {
        "direction": param(None, type=["null", "string"], enum=[None, *DIRECTIONS],
                           description="shop_to_fortnox | fortnox_to_shop; empty: the flow's product master "
                                       "(shop for ecom/combo, Fortnox for erp)"),
        "dry_run": param(False, type="boolean", description="Count what would be written; write nothing."),
        "article_filter": param([], type="array", items={"type": "string"},
                                description="Article-number globs to include (e.g. ['10*']); empty: all in scope."),
    }


def build_initial(rules: TenantRules) -> None:
    """``jetfort__<tenant>__catalog_initial``: manual, the whole assortment across."""
    tenant = tenant_of(rules)
    fallback = default_direction(rules)

    def initial_sync() -> list[dict[str, Any]]:
        context = dict(_context())
        params = dict(context.get("params") or {})
        params["direction"] = params.get("direction") or fallback
        context["params"] = params
        return run_initial(tenant, context)

    _task(initial_sync, "initial_sync")() >> await_jobs(tenant)


def build_drift(rules: TenantRules) -> None:
    """``jetfort__<tenant>__drift``: full comparison, report (CSV + PNG), corrections per rule."""
    tenant = tenant_of(rules)

    def drift_report() -> list[dict[str, Any]]:
        return run_drift(tenant, _context())

    _task(drift_report, "drift_report")() >> await_jobs(tenant)
