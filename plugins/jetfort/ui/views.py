"""What each page shows, assembled from the ledger, the tenant rules and Airflow's API (no HTTP here).

The overview's Fortnox part names a company and its token's expiry and last refresh; the connection
itself (client secret, refresh token) is never read beyond its ``company``/``budget``/``rate_window``
fields, and a Redis budget URL (which may hold a password) is shown by its scheme only.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from airflow.api_fastapi.app import API_ROOT_PATH
from airflow.sdk import BaseHook
from airflow.utils.types import DagRunType

from jetfort.factory import dag_id, load_tenants
from jetfort.fortnox.budget import BUDGET_ENV, FORTNOX_LIMIT, FORTNOX_WINDOW
from jetfort.ledger.store import Ledger, utcnow
from jetfort.rules import TenantRules
from jetfort.tasks.catalog.report import report_dir
from jetfort.tasks.order_status.wiring import READ_TASK_ID
from jetfort.tasks.orders_run import WHOLE_RUN_TASK_ID, WHOLE_RUN_TYPE
from jetfort.ui import data
from jetfort.ui.airflow_api import AirflowApi, AirflowApiError
from jetfort.ui.auth import Access, access

log = logging.getLogger(__name__)

#: (ledger kind, audit step) → (DAG part, task id); ``None`` as step: every step of the kind
TASKS: dict[tuple[str, str | None], tuple[str, str | None]] = {
    ("order", "extract"): ("orders", "shop.extract"),
    ("order", "map"): ("orders", "shop.map"),
    ("order", "customer"): ("orders", "shop.map"),
    ("order", "post"): ("orders", "shop.post"),
    ("order", "adopt"): ("orders", "shop.post"),
    ("order", "settle"): ("orders", "shop.post"),
    ("order", "acknowledge"): ("orders", "shop.acknowledge"),
    ("order", None): ("orders", None),
    ("credit", None): ("orders", "shop.credits"),
    ("order_status", None): ("order_status", READ_TASK_ID),
    ("status", "retry"): ("order_status", READ_TASK_ID),
    ("status", None): ("order_status", "push_status"),
    ("capture", None): ("order_status", "push_status"),
}
#: tasks mapped over the tenant's shops (their map index is the shop's place in the rules)
MAPPED = ("shop.extract", "shop.map", "shop.post", "shop.acknowledge", "shop.credits", "push_status")


@dataclass
class TenantView:
    tenant: str
    access: Access
    rules: TenantRules | None
    counts: data.Counts
    flows: list[dict[str, Any]] = field(default_factory=list)
    flows_error: str | None = None
    company: str | None = None
    budget: str = ""
    tokens: list[data.TokenHealth] = field(default_factory=list)
    fortnox_error: str | None = None


def all_tenants(ledger: Ledger) -> tuple[dict[str, TenantRules], set[str]]:
    """The tenants' rules (as the DAG files read them) and every tenant id known to rules or ledger."""
    rules, errors = load_tenants()
    return rules, set(rules) | set(errors) | data.ledger_tenants(ledger)


def visible(user: Any, tenants: set[str]) -> dict[str, Access]:
    """tenant → the user's access, for the tenants the user may see."""
    found = {t: access(user, t) for t in sorted(tenants)}
    return {t: a for t, a in found.items() if a.read}


def ui_root() -> str:
    """The Airflow UI's root path (``[api] base_url``'s path), for links into it."""
    return API_ROOT_PATH if API_ROOT_PATH.endswith("/") else API_ROOT_PATH + "/"


def run_link(dag: str, run_id: str) -> str:
    return f"{ui_root()}dags/{quote(dag, safe='')}/runs/{quote(run_id, safe='')}"


def task_link(dag: str, run_id: str, task: str, map_index: int | None) -> str:
    link = f"{run_link(dag, run_id)}/tasks/{quote(task, safe='')}"
    return link if map_index is None else f"{link}/mapped/{map_index}"


def step_links(tenant: str, rules: TenantRules | None, step: data.TrailStep) -> dict[str, str]:
    """Links to the DAG run (and task log, when the step tells the task) that wrote ``step``."""
    if not step.run_id:
        return {}
    part, task = TASKS.get((step.kind, step.step)) or TASKS.get((step.kind, None)) or (None, None)
    if part is None:
        return {}
    run_type = DagRunType.from_run_id(step.run_id)
    if part == "order_status" and run_type is DagRunType.ASSET_TRIGGERED:
        task = READ_TASK_ID  # an event run does every step in its first task and skips the others
    if part == "orders" and task is not None and run_type.value == WHOLE_RUN_TYPE:
        task = WHOLE_RUN_TASK_ID  # so does a scheduled orders run
    dag = dag_id(tenant, part)
    links = {"dag-run": run_link(dag, step.run_id)}
    if task is not None:
        index = None
        if task in MAPPED:
            shops = [s.key for s in rules.shops] if rules is not None else []
            shop = step.source_key.split(":", 1)[0]
            if shop not in shops:
                return links
            index = shops.index(shop)
        links["task-log"] = task_link(dag, step.run_id, task, index)
    return links


def _fortnox(view: TenantView, ledger: Ledger, rules: TenantRules) -> None:
    """Company, budget use and token health of the tenant's Fortnox connection."""
    try:
        extra = BaseHook.get_connection(rules.fortnox_conn_id).extra_dejson
    except Exception as exc:
        view.fortnox_error = f"connection {rules.fortnox_conn_id!r} cannot be read ({type(exc).__name__})"
        return
    view.company = str(extra.get("company") or rules.fortnox_conn_id)
    backend = str(extra.get("budget") or os.environ.get(BUDGET_ENV) or "ledger")
    window = float(extra.get("rate_window") or FORTNOX_WINDOW)
    if backend == "ledger":
        used, newest = data.budget_use(ledger, view.company, window, time.time())
        last = "" if newest is None else f"; last request {dt.datetime.fromtimestamp(newest, dt.UTC):%Y-%m-%d %H:%M:%S} UTC"
        view.budget = f"{used} of {FORTNOX_LIMIT} requests in the last {window:g} s{last}"
    else:
        view.budget = f"kept in {backend.split(':', 1)[0]} (not in the ledger; not shown)"
    view.tokens = data.token_health(ledger, view.company)


def _tenant_views(user: Any, ledger: Ledger) -> list[TenantView]:
    """The overview's ledger part for each tenant the user may see (blocking: run in a thread)."""
    rules, tenants = all_tenants(ledger)
    views = []
    for tenant, acc in visible(user, tenants).items():
        tenant_rules = rules.get(tenant)
        zone = tenant_rules.schedules.timezone if tenant_rules else "UTC"
        view = TenantView(tenant, acc, tenant_rules, data.counts(ledger, tenant, zone))
        if tenant_rules is not None:
            _fortnox(view, ledger, tenant_rules)
        views.append(view)
    return views


async def overview(user: Any, api: AirflowApi, ledger: Ledger) -> list[TenantView]:
    """Per visible tenant: ledger counts, Fortnox budget and tokens, and its DAGs from Airflow's API."""
    views = await asyncio.to_thread(_tenant_views, user, ledger)
    found = await asyncio.gather(*(api.tenant_dags(v.tenant) for v in views), return_exceptions=True)
    for view, flows in zip(views, found, strict=True):
        if isinstance(flows, AirflowApiError):
            view.flows_error = str(flows)
        elif isinstance(flows, BaseException):
            view.flows_error = f"Airflow API not reachable: {type(flows).__name__}: {flows}"
        else:
            view.flows = flows
    return views


def overview_json(views: Sequence[TenantView]) -> list[dict[str, Any]]:
    return [{
        "tenant": v.tenant, "orders_today": v.counts.orders_today, "quarantined": v.counts.quarantined,
        "held": v.counts.held, "company": v.company, "budget": v.budget, "fortnox_error": v.fortnox_error,
        "tokens": [{"client": t.key_client, "status": t.status(),
                    "expires_at": t.expires_at.isoformat() if t.expires_at else None,
                    "refreshed_at": t.refreshed_at.isoformat() if t.refreshed_at else None} for t in v.tokens],
        "flows": [{"dag_id": f["dag_id"], "is_paused": f.get("is_paused"),
                   "next_run": f.get("next_dagrun_run_after"),
                   "last_run": {k: (f.get("last_run") or {}).get(k) for k in ("dag_run_id", "state", "run_after")}
                   if f.get("last_run") else None} for f in v.flows],
        "flows_error": v.flows_error,
        "may": {"retry": v.access.retry, "dismiss": v.access.dismiss}} for v in views]


def quarantine(user: Any, ledger: Ledger, filters: Mapping[str, str]) -> dict[str, Any]:
    rules, tenants = all_tenants(ledger)
    allowed = visible(user, tenants)
    entries = data.open_entries(ledger, allowed, tenant=filters.get("tenant") or None,
                                shop=filters.get("shop") or None, reason=filters.get("reason") or None)
    shops = sorted({s.key for t in allowed if t in rules for s in rules[t].shops})
    return {"entries": entries, "access": allowed, "tenants": list(allowed), "shops": shops,
            "reasons": data.reasons(ledger, list(allowed)), "filters": dict(filters)}


def trail(ledger: Ledger, tenant: str, key: str) -> dict[str, Any]:
    rules, _ = all_tenants(ledger)
    steps = data.trail(ledger, tenant, key)
    for step in steps:
        step.links = step_links(tenant, rules.get(tenant), step)
    order = data.order_record(ledger, tenant, key)
    detail = (order.detail or {}) if order is not None else {}
    return {"tenant": tenant, "key": key, "steps": steps, "records": data.related_records(ledger, tenant, key),
            "order_number": detail.get("order_number"), "order": order,
            "notes": data.notes(ledger, tenant, list(data.TRAIL_EXACT + data.TRAIL_PREFIXED), key),
            "open": data.open_entries(ledger, [tenant], source_key=key)}


def latest_plot(tenant: str) -> Path | None:
    """The newest drift plot of the tenant (``report_dir``), if any."""
    plots = sorted(report_dir(tenant).glob("*.png"), key=lambda p: p.stat().st_mtime) \
        if report_dir(tenant).is_dir() else []
    return plots[-1] if plots else None


def drift(user: Any, ledger: Ledger) -> list[dict[str, Any]]:
    _, tenants = all_tenants(ledger)
    out = []
    for tenant in visible(user, tenants):
        plot = latest_plot(tenant)
        out.append({"tenant": tenant, "plot": plot.name if plot else None,
                    "at": dt.datetime.fromtimestamp(plot.stat().st_mtime, dt.UTC) if plot else None})
    return out


def now() -> dt.datetime:
    return utcnow()
