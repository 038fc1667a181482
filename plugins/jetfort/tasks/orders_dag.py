"""The orders DAG's tasks (called by :func:`jetfort.factory.tenant_dags` from ``dags/jetfort_orders.py``)::

    preflight → shop[<shop key>]: extract → map → post → acknowledge → credits → summary

The stage functions live in :mod:`jetfort.tasks.orders`; this module is their Airflow wiring: params,
XCom, skips and the run's summary. A scheduled run does all of it in ``preflight`` and skips the rest
(:mod:`jetfort.tasks.orders_run`); manual runs, re-syncs, dry runs and backfills keep the layout.

**Empty runs are cheap.** When ``extract`` finds nothing for a shop it ends *skipped* (after
pushing its counts), and the scheduler marks that shop's ``map``, ``post`` and ``acknowledge``
skipped without starting a worker process for any of them. (A short-circuit operator cannot do
this inside a mapped task group in Airflow 3.3: its skip marker is looked up under map index -1.)
The summary still lists the shop as ``ok`` with its counts: a skipped shop is not a failure.

**credits** (:mod:`jetfort.tasks.credits`) runs after acknowledge, or after pre-flight when extract
found nothing to post (trigger rule ``none_failed``): shop orders cancelled or returned after they
reached Fortnox are cancelled or credited there. It reads its own window (cursor ``credits:<shop>``).

**Every stage pushes its counts under XCom key ``summary``** (``finished`` once it returned); the
summary task reads them for every shop at once, so no pull asks for a value an empty or failed
stage never wrote. What each order went through is read from the ledger (see
:mod:`jetfort.tasks.summary`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from contextlib import nullcontext
from typing import Any

from airflow.sdk import get_current_context, task, task_group
from airflow.sdk.exceptions import AirflowSkipException

from jetfort.assets import orders_posted, posted_outlets, whole_run_outlets
from jetfort.factory import tenant_of
from jetfort.rules import TenantRules
from jetfort.tasks import preflight as checks
from jetfort.tasks.orders import OrdersRunFailed, open_runtime
from jetfort.tasks.orders_run import (
    STAGES,
    WHOLE_RUN_TASK_ID,
    StageCalls,
    is_whole_run,
    raise_if_failed,
    run_stage,
    run_whole,
    summarize_stages,
)
from jetfort.tasks.params import OrderParams, order_params_of

log = logging.getLogger(__name__)

#: a stage task's work: (runtime, params, context) → its result
StageBody = Callable[[Any, OrderParams, Mapping[str, Any]], dict[str, Any]]


def _all(ti: Any, task_id: str, key: str) -> list[dict[str, Any]]:
    """Every map index's value of ``key`` (one request; absent values are simply not there)."""
    found = ti.xcom_pull(task_ids=task_id, key=key)
    if found is None:
        return []
    return [v for v in (found if isinstance(found, list) else [found]) if isinstance(v, dict)]


def build_orders(rules: TenantRules) -> None:
    """Add the orders tasks to the DAG being built."""
    tenant = tenant_of(rules)
    shops = [shop.key for shop in rules.shops]
    timezone = rules.schedules.timezone
    calls = StageCalls(timezone)

    def params_of(context: Mapping[str, Any]) -> OrderParams:
        return order_params_of(context, timezone=timezone)

    aliases = whole_run_outlets(rules)

    # multiple_outputs=False on every task: its dict result is one XCom (return_value). From the dict
    # annotation Airflow would infer True and store each key once more as an XCom of its own (a map
    # task's documents twice), and it evaluates that annotation for each task at every parse.
    @task.short_circuit(task_id=WHOLE_RUN_TASK_ID, outlets=aliases, multiple_outputs=False)
    def preflight() -> dict[str, Any] | None:
        context = get_current_context()
        params = params_of(context)  # invalid params fail here, before any shop is touched
        with open_runtime(tenant) as runtime:  # a dry run checks the same and remembers nothing
            checked = checks.preflight_tenant(runtime, force=params.preflight_only, remember=not params.dry_run)
            if not is_whole_run(context, params):
                return checked  # never empty: the stage tasks go on
            done = run_whole(runtime, shops, context, params, calls)
        context["ti"].xcom_push(key="summary", value=done.rows)
        for alias in aliases:  # one event per shop that linked orders: keys only (``<shop>:<order id>``)
            for shop, keys in done.linked.items():
                extra: dict[str, Any] = {"shop": shop, "linked": keys}
                context["outlet_events"][alias].add(orders_posted(tenant), extra=extra)
        done.raise_if_failed(tenant)
        return None  # the run is done: the stage tasks and the summary are skipped

    def stage_task(name: str, shop_key: str, body: StageBody) -> dict[str, Any]:
        context = get_current_context()
        context["shop_key"] = shop_key  # type: ignore[typeddict-unknown-key]  # map_index_template
        params = params_of(context)
        if params.preflight_only:
            raise AirflowSkipException("preflight_only: no orders are synced in this run")
        with open_runtime(tenant) as runtime:
            result, report = run_stage(name, shop_key, lambda: body(runtime, params, context))
        context["ti"].xcom_push(key="summary", value=report)
        if name == "extract" and not report["handed_on"]:
            raise AirflowSkipException(f"shop {shop_key}: no order to sync; map, post and acknowledge are skipped")
        return result

    @task(task_id="extract", map_index_template="{{ shop_key }}", multiple_outputs=False)
    def extract(shop_key: str) -> dict[str, Any]:
        return stage_task("extract", shop_key, lambda rt, params, ctx: calls.extract(rt, params, ctx, shop_key))

    @task(task_id="map", map_index_template="{{ shop_key }}", multiple_outputs=False)
    def map_(batch: dict[str, Any]) -> dict[str, Any]:
        return stage_task("map", batch["shop"], lambda rt, params, ctx: calls.map(rt, params, ctx, batch))

    post = _post_task(rules, stage_task, calls)

    @task(task_id="acknowledge", map_index_template="{{ shop_key }}", multiple_outputs=False)
    def acknowledge(batch: dict[str, Any]) -> dict[str, Any]:
        return stage_task("acknowledge", batch["shop"],
                          lambda rt, params, ctx: calls.acknowledge(rt, params, ctx, batch))

    @task(task_id="credits", map_index_template="{{ shop_key }}", trigger_rule="none_failed", multiple_outputs=False)
    def credits(shop_key: str) -> dict[str, Any]:
        return stage_task("credits", shop_key, lambda rt, params, ctx: calls.credits(rt, params, ctx, shop_key))

    checked = preflight()

    @task_group(group_id="shop")
    def shop_flow(shop_key: str) -> Any:
        found = extract(shop_key)
        checked >> found  # no shop syncs before the tenant passed pre-flight
        money_back = credits(shop_key)  # after pre-flight and this run's orders (posted, acknowledged)
        checked >> money_back << acknowledge(post(map_(found)))  # type: ignore[arg-type]
        return money_back

    @task(task_id="summary", trigger_rule="all_done", multiple_outputs=False)
    def summary() -> list[dict[str, Any]]:
        context = get_current_context()
        return summarize_run(context, tenant, shops)

    shop_flow.expand(shop_key=shops) >> summary()


def _post_task(rules: TenantRules, stage_task: Callable[[str, str, StageBody], dict[str, Any]],
               calls: StageCalls) -> Any:
    """The post task. With status events on, its outlet asset (:func:`jetfort.assets.orders_posted`)
    names the shop orders it linked, and the status DAG checks them at once."""
    outlets = posted_outlets(rules)

    @task(task_id="post", map_index_template="{{ shop_key }}", outlets=outlets, multiple_outputs=False)
    def post(batch: dict[str, Any]) -> dict[str, Any]:
        result = stage_task("post", batch["shop"], lambda rt, params, ctx: calls.post(rt, params, ctx, batch))
        for asset in outlets:  # keys only (``<shop>:<order id>``), no customer data
            get_current_context()["outlet_events"][asset].extra = {
                "shop": batch["shop"], "linked": list(result.get("keys") or [])}
        return result

    return post


def summarize_run(context: Mapping[str, Any], tenant: str, shops: list[str]) -> list[dict[str, Any]]:
    """The summary task: the stages' reports from XCom, the run's outcomes from the ledger; raises if a
    shop failed or pre-flight did not pass."""
    ti = context["ti"]
    raw = context.get("params") or {}
    dry_run, preflight_only = bool(raw.get("dry_run")), bool(raw.get("preflight_only"))
    stages: dict[str, dict[str, dict[str, Any]]] = {shop: {} for shop in shops}
    for stage in (*STAGES, "credits"):
        for value in _all(ti, f"shop.{stage}", "summary"):
            if value.get("shop") in stages:
                stages[str(value["shop"])][stage] = value
    if not _all(ti, "preflight", "return_value"):
        log.error("tenant %s: pre-flight did not pass; no shop was synced (see the preflight task's log)", tenant)
        raise OrdersRunFailed(f"tenant {tenant}: pre-flight did not pass; its log lists every gap")
    with nullcontext() if dry_run else open_runtime(tenant) as runtime:  # a dry run's plan is in XCom
        rows, failed = summarize_stages(runtime, tenant, shops, stages, run_id=str(context.get("run_id")),
                                        dry_run=dry_run, preflight_only=preflight_only)
    ti.xcom_push(key="summary", value=rows)
    raise_if_failed(tenant, failed)
    return rows
