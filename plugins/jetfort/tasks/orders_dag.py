"""The orders DAG's tasks (called by :func:`jetfort.factory.tenant_dags` from ``dags/jetfort_orders.py``)::

    preflight → shop[<shop key>]: extract → map → post → acknowledge → credits → summary

The stage functions live in :mod:`jetfort.tasks.orders`; this module is their Airflow wiring: params,
XCom, skips and the run's summary.

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
import time
from collections.abc import Callable, Mapping
from typing import Any

from airflow.sdk import get_current_context, task, task_group
from airflow.sdk.exceptions import AirflowSkipException

from jetfort.assets import posted_outlets
from jetfort.factory import tenant_of
from jetfort.rules import TenantRules
from jetfort.tasks import preflight as checks
from jetfort.tasks.credits import COUNTS as CREDIT_COUNTS
from jetfort.tasks.credits import credit_shop
from jetfort.tasks.orders import (
    COUNT_FIELDS,
    KIND,
    OrdersRunFailed,
    acknowledge_shop,
    extract_shop,
    map_shop,
    open_runtime,
    post_shop,
)
from jetfort.tasks.params import OrderParams, order_params_of, range_window
from jetfort.tasks.runtime import TenantRuntime, format_table
from jetfort.tasks.summary import (
    SUMMARY_FIELDS,
    order_lines_text,
    run_outcomes,
    shop_row,
    total_row,
)

log = logging.getLogger(__name__)

STAGES = ("extract", "map", "post", "acknowledge")

Stage = Callable[[TenantRuntime, OrderParams, Mapping[str, Any]], dict[str, Any]]


def _all(ti: Any, task_id: str, key: str) -> list[dict[str, Any]]:
    """Every map index's value of ``key`` (one request; absent values are simply not there)."""
    found = ti.xcom_pull(task_ids=task_id, key=key)
    if found is None:
        return []
    return [v for v in (found if isinstance(found, list) else [found]) if isinstance(v, dict)]


def stage_counts(stage: str, result: Mapping[str, Any]) -> dict[str, Any]:
    """The counts a stage logs as a table (the credits stage counts its own things)."""
    fields = CREDIT_COUNTS if stage == "credits" else COUNT_FIELDS
    return {k: v for k, v in result.items() if k in ("shop", *fields)}


def shop_status(stages: Mapping[str, Mapping[str, Any]]) -> str:
    """``ok``, or the stage where the shop stopped (an extract that found nothing ends the shop well)."""
    for stage in STAGES:
        reported = stages.get(stage)
        if not reported or not reported.get("finished"):
            return f"failed at {stage}"
        if stage == "extract" and not reported.get("handed_on"):
            break
    credits = stages.get("credits")
    if not credits or not credits.get("finished"):
        return "failed at credits"
    return "ok"


def build_orders(rules: TenantRules) -> None:
    """Add the orders tasks to the DAG being built."""
    tenant = tenant_of(rules)
    shops = [shop.key for shop in rules.shops]
    timezone = rules.schedules.timezone

    def params_of(context: Mapping[str, Any]) -> OrderParams:
        return order_params_of(context, timezone=timezone)

    @task(task_id="preflight")
    def preflight() -> dict[str, Any]:
        context = get_current_context()
        params = params_of(context)  # invalid params fail here, before any shop is touched
        with open_runtime(tenant) as runtime:  # a dry run checks the same and remembers nothing
            return checks.preflight_tenant(runtime, force=params.preflight_only, remember=not params.dry_run)

    def run_stage(name: str, shop_key: str, body: Stage) -> dict[str, Any]:
        context = get_current_context()
        context["shop_key"] = shop_key  # type: ignore[typeddict-unknown-key]  # map_index_template
        params = params_of(context)
        if params.preflight_only:
            raise AirflowSkipException("preflight_only: no orders are synced in this run")
        started = time.process_time()
        with open_runtime(tenant) as runtime:
            result = body(runtime, params, context)
        result["cpu_seconds"] = round(time.process_time() - started, 3)
        handed_on = len(result.get("keys") or [])
        log.info("%s for shop %s:\n%s", name, shop_key,
                 format_table([stage_counts(name, result)]))
        context["ti"].xcom_push(key="summary", value={
            **{k: v for k, v in result.items() if k != "keys"}, "stage": name, "finished": True,
            "handed_on": handed_on})
        if name == "extract" and not handed_on:
            raise AirflowSkipException(f"shop {shop_key}: no order to sync; map, post and acknowledge are skipped")
        return result

    @task(task_id="extract", map_index_template="{{ shop_key }}")
    def extract(shop_key: str) -> dict[str, Any]:
        return run_stage("extract", shop_key, lambda rt, params, ctx: extract_shop(
            rt, shop_key, context=ctx, order_numbers=params.order_numbers, run_id=ctx.get("run_id"),
            dry_run=params.dry_run, window=range_window(ctx.get("params") or {}, timezone=timezone)))

    @task(task_id="map", map_index_template="{{ shop_key }}")
    def map_(batch: dict[str, Any]) -> dict[str, Any]:
        return run_stage("map", batch["shop"], lambda rt, params, ctx: map_shop(
            rt, batch["shop"], batch, dry_run=params.dry_run, fresh_facts=bool(params.order_numbers),
            run_id=ctx.get("run_id")))

    post = _post_task(rules, run_stage)

    @task(task_id="acknowledge", map_index_template="{{ shop_key }}")
    def acknowledge(batch: dict[str, Any]) -> dict[str, Any]:
        return run_stage("acknowledge", batch["shop"], lambda rt, params, ctx: acknowledge_shop(
            rt, batch["shop"], batch, run_id=ctx.get("run_id")))

    @task(task_id="credits", map_index_template="{{ shop_key }}", trigger_rule="none_failed")
    def credits(shop_key: str) -> dict[str, Any]:
        return run_stage("credits", shop_key, lambda rt, params, ctx: credit_shop(
            rt, shop_key, context=ctx, order_numbers=params.order_numbers, run_id=ctx.get("run_id"),
            dry_run=params.dry_run, window=range_window(ctx.get("params") or {}, timezone=timezone)))

    checked = preflight()

    @task_group(group_id="shop")
    def shop_flow(shop_key: str) -> Any:
        found = extract(shop_key)
        checked >> found  # no shop syncs before the tenant passed pre-flight
        money_back = credits(shop_key)  # after pre-flight and this run's orders (posted, acknowledged)
        checked >> money_back << acknowledge(post(map_(found)))  # type: ignore[arg-type]
        return money_back

    @task(task_id="summary", trigger_rule="all_done")
    def summary() -> list[dict[str, Any]]:
        context = get_current_context()
        return summarize_run(context, tenant, shops)

    shop_flow.expand(shop_key=shops) >> summary()


def _post_task(rules: TenantRules, run_stage: Callable[[str, str, Stage], dict[str, Any]]) -> Any:
    """The post task. With status events on, its outlet asset (:func:`jetfort.assets.orders_posted`)
    names the shop orders it linked, and the status DAG checks them at once."""
    outlets = posted_outlets(rules)

    @task(task_id="post", map_index_template="{{ shop_key }}", outlets=outlets)
    def post(batch: dict[str, Any]) -> dict[str, Any]:
        result = run_stage("post", batch["shop"], lambda rt, params, ctx: post_shop(
            rt, batch["shop"], batch, run_id=ctx.get("run_id")))
        for asset in outlets:  # keys only (``<shop>:<order id>``), no customer data
            get_current_context()["outlet_events"][asset].extra = {
                "shop": batch["shop"], "linked": list(result.get("keys") or [])}
        return result

    return post


def summarize_run(context: Mapping[str, Any], tenant: str, shops: list[str]) -> list[dict[str, Any]]:
    """Per shop: status, counts and one line per order saying what this run did; raises if a shop failed."""
    ti = context["ti"]
    raw = context.get("params") or {}
    dry_run, preflight_only = bool(raw.get("dry_run")), bool(raw.get("preflight_only"))
    stages: dict[str, dict[str, dict[str, Any]]] = {shop: {} for shop in shops}
    for stage in (*STAGES, "credits"):
        for value in _all(ti, f"shop.{stage}", "summary"):
            if value.get("shop") in stages:
                stages[str(value["shop"])][stage] = value
    if dry_run:
        lines = [line for shop in shops for line in (stages[shop].get("map") or {}).get("plan") or ()]
    else:
        with open_runtime(tenant) as runtime:
            lines = run_outcomes(runtime.ledger, tenant, KIND, str(context.get("run_id")))
    rows: list[dict[str, Any]] = []
    failed: dict[str, str] = {}
    for shop in shops:
        status = "ok" if preflight_only else shop_status(stages[shop])
        if status != "ok":
            failed[shop] = status
        linked_now = set((stages[shop].get("post") or {}).get("linked_now") or ())
        shop_lines = [line for line in lines if line["shop"] == shop]
        for line in shop_lines:
            if line["outcome"] in ("posted", "adopted") and line["key"] not in linked_now:
                line["note"] = "linked by an earlier try of this run"
        rows.append(shop_row(shop, shop_lines, stages[shop], "dry run" if dry_run and status == "ok" else status))
        money_back = stages[shop].get("credits") or {}
        rows[-1]["credits"] = {k: money_back.get(k, 0) for k in CREDIT_COUNTS if money_back.get(k)}
    if not _all(ti, "preflight", "return_value"):
        log.error("tenant %s: pre-flight did not pass; no shop was synced (see the preflight task's log)", tenant)
        raise OrdersRunFailed(f"tenant {tenant}: pre-flight did not pass; its log lists every gap")
    if len(rows) > 1:
        rows.append(total_row(rows, bool(failed)))
    log.info("orders run for tenant %s%s:\n%s\n\n%s", tenant, " (dry run: nothing was written)" if dry_run else "",
             format_table(rows, ["shop", *SUMMARY_FIELDS, "status"]),
             format_table(order_lines_text(line for line in lines if line["shop"] in stages)))
    ti.xcom_push(key="summary", value=rows)
    if failed:
        raise OrdersRunFailed(f"tenant {tenant}: " + "; ".join(f"shop {s} {why}" for s, why in failed.items())
                              + " — see that task's log; cleared tasks resume where they stopped")
    return rows
