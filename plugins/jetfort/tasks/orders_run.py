"""One orders run: its stages per shop, the summary, and a scheduled run done whole in one task.

The orders DAG (:mod:`jetfort.tasks.orders_dag`) is laid out as
``preflight → shop[<shop>]: extract → map → post → acknowledge → credits → summary``, so that a
run a data engineer starts (a re-sync, a date range, a dry run, a backfill) shows each stage and a
cleared stage resumes where it stopped.

**A scheduled run does it all in its first task.** Every task of a run costs a scheduler loop and
a new task process: seconds on the LocalExecutor, and on a small machine the CPU that decides how
many tenants one Airflow keeps up with. So a run of the DAG's own schedule (run type
``scheduled``, params at their defaults) does inside ``preflight``, shop by shop, what the stage
tasks would do, in the same order and with the same code, then writes the run's summary (XCom key
``summary`` of ``preflight``) and skips the other tasks (``preflight`` is a short-circuit task).
A shop that fails leaves the other shops to go on; the task then fails with the message the summary
task gives: at once when every such shop stopped on a permanent error (bad input, as a stage task
would), else Airflow retries it and the retry runs the whole run again (every stage is idempotent:
the ledger knows what is linked, posted and acknowledged). The shop orders it linked reach the
status DAG as the ``post`` task's do, through an asset alias that emits an event only for a shop
that linked some.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from jetfort.errors import PermanentError, TransientError
from jetfort.tasks.credits import COUNTS as CREDIT_COUNTS
from jetfort.tasks.credits import credit_shop
from jetfort.tasks.orders import (
    COUNT_FIELDS,
    KIND,
    OrdersRunFailed,
    acknowledge_shop,
    extract_shop,
    map_shop,
    post_shop,
)
from jetfort.tasks.params import OrderParams, range_window
from jetfort.tasks.runtime import TenantRuntime, format_table
from jetfort.tasks.summary import SUMMARY_FIELDS, order_lines_text, run_outcomes, shop_row, total_row

log = logging.getLogger(__name__)

#: a shop's stages in order; credits follows them (or extract, when it found nothing)
STAGES = ("extract", "map", "post", "acknowledge")
#: the run type whose runs are done whole in their first task
WHOLE_RUN_TYPE = "scheduled"
#: the orders DAG's first task: pre-flight, or all of a scheduled run
WHOLE_RUN_TASK_ID = "preflight"


@dataclass(frozen=True)
class StageCalls:
    """The stage functions of one tenant, called the same way by the stage tasks and a whole run."""

    timezone: str

    def extract(self, rt: TenantRuntime, params: OrderParams, ctx: Mapping[str, Any], shop_key: str) -> dict[str, Any]:
        return extract_shop(rt, shop_key, context=ctx, order_numbers=params.order_numbers, run_id=ctx.get("run_id"),
                            dry_run=params.dry_run, window=self._window(ctx))

    def map(self, rt: TenantRuntime, params: OrderParams, ctx: Mapping[str, Any], batch: dict[str, Any]) -> dict[str, Any]:
        return map_shop(rt, batch["shop"], batch, dry_run=params.dry_run, fresh_facts=bool(params.order_numbers),
                        run_id=ctx.get("run_id"))

    def post(self, rt: TenantRuntime, params: OrderParams, ctx: Mapping[str, Any], batch: dict[str, Any]) -> dict[str, Any]:
        return post_shop(rt, batch["shop"], batch, run_id=ctx.get("run_id"))

    def acknowledge(self, rt: TenantRuntime, params: OrderParams, ctx: Mapping[str, Any],
                    batch: dict[str, Any]) -> dict[str, Any]:
        return acknowledge_shop(rt, batch["shop"], batch, run_id=ctx.get("run_id"))

    def credits(self, rt: TenantRuntime, params: OrderParams, ctx: Mapping[str, Any], shop_key: str) -> dict[str, Any]:
        return credit_shop(rt, shop_key, context=ctx, order_numbers=params.order_numbers, run_id=ctx.get("run_id"),
                           dry_run=params.dry_run, window=self._window(ctx))

    def _window(self, ctx: Mapping[str, Any]) -> Any:
        return range_window(ctx.get("params") or {}, timezone=self.timezone)


def run_type_of(context: Mapping[str, Any]) -> str:
    run_type = getattr(context.get("dag_run"), "run_type", None)
    return str(getattr(run_type, "value", run_type) or "")


def is_whole_run(context: Mapping[str, Any], params: OrderParams) -> bool:
    """A run of the DAG's own schedule with default params: done whole in ``preflight``."""
    return run_type_of(context) == WHOLE_RUN_TYPE and params == OrderParams()


def stage_counts(stage: str, result: Mapping[str, Any]) -> dict[str, Any]:
    """The counts a stage logs as a table (the credits stage counts its own things)."""
    fields = CREDIT_COUNTS if stage == "credits" else COUNT_FIELDS
    return {k: v for k, v in result.items() if k in ("shop", *fields)}


def run_stage(name: str, shop_key: str, call: Callable[[], dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run one stage of one shop and log its counts: (its result, its report for the summary)."""
    started = time.process_time()
    result = call()
    result["cpu_seconds"] = round(time.process_time() - started, 3)
    log.info("%s for shop %s:\n%s", name, shop_key, format_table([stage_counts(name, result)]))
    report = {**{k: v for k, v in result.items() if k != "keys"}, "stage": name, "finished": True,
              "handed_on": len(result.get("keys") or [])}
    return result, report


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


def summarize_stages(runtime: TenantRuntime | None, tenant: str, shops: list[str],
                     stages: Mapping[str, Mapping[str, Mapping[str, Any]]], *, run_id: str, dry_run: bool,
                     preflight_only: bool) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Per shop: status, counts and one line per order saying what this run did; and the shops that
    failed (with the stage). ``runtime`` reads the run's outcomes from the ledger (None for a dry run)."""
    if runtime is None:
        lines = [line for shop in shops for line in (stages[shop].get("map") or {}).get("plan") or ()]
    else:
        lines = run_outcomes(runtime.ledger, tenant, KIND, run_id)
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
    if len(rows) > 1:
        rows.append(total_row(rows, bool(failed)))
    log.info("orders run for tenant %s%s:\n%s\n\n%s", tenant, " (dry run: nothing was written)" if dry_run else "",
             format_table(rows, ["shop", *SUMMARY_FIELDS, "status"]),
             format_table(order_lines_text(line for line in lines if line["shop"] in stages)))
    return rows, failed


class WholeRunUnfinished(TransientError):
    """A shop of a run done whole in ``preflight`` stopped on an error a retry may get past."""


def failure_message(tenant: str, failed: Mapping[str, str], *, whole: bool = False) -> str:
    how = (" — see this task's log; its retry (or a clear) runs the whole run again and creates nothing twice"
           if whole else " — see that task's log; cleared tasks resume where they stopped")
    return f"tenant {tenant}: " + "; ".join(f"shop {s} {why}" for s, why in failed.items()) + how


def raise_if_failed(tenant: str, failed: Mapping[str, str]) -> None:
    if failed:
        raise OrdersRunFailed(failure_message(tenant, failed))


@dataclass
class WholeRun:
    """What a whole run did: the summary rows, the shops that failed, the shop orders each shop linked,
    and each failed shop's error."""

    rows: list[dict[str, Any]]
    failed: dict[str, str]
    linked: dict[str, list[str]]
    errors: dict[str, Exception] = field(default_factory=dict)

    def raise_if_failed(self, tenant: str) -> None:
        """Fail the task as the stage task would have: at once when every failed shop stopped on a
        permanent error, else with an error Airflow retries (the retry runs the whole run again)."""
        if not self.failed:
            return
        message = failure_message(tenant, self.failed, whole=True)
        errors = list(self.errors.values())
        if errors and all(isinstance(e, PermanentError) for e in errors):
            raise OrdersRunFailed(message) from errors[0]
        raise WholeRunUnfinished(message) from next((e for e in errors if not isinstance(e, PermanentError)), None)


def run_whole(runtime: TenantRuntime, shops: list[str], context: Mapping[str, Any], params: OrderParams,
              calls: StageCalls) -> WholeRun:
    """Every stage of every shop in this task, then the summary (see the module's docstring)."""
    stages: dict[str, dict[str, dict[str, Any]]] = {shop: {} for shop in shops}
    linked: dict[str, list[str]] = {}
    errors: dict[str, Exception] = {}
    for shop in shops:
        linked[shop] = []
        try:
            _whole_shop(runtime, shop, context, params, calls, stages[shop], linked[shop])
        except Exception as exc:  # the other shops go on; the summary names this one's stage
            log.exception("shop %s stopped: %s: %s", shop, type(exc).__name__, exc)
            errors[shop] = exc
    rows, failed = summarize_stages(runtime, runtime.tenant, shops, stages, run_id=str(context.get("run_id")),
                                    dry_run=False, preflight_only=False)
    return WholeRun(rows, failed, {shop: keys for shop, keys in linked.items() if keys}, errors)


def _whole_shop(rt: TenantRuntime, shop: str, ctx: Mapping[str, Any], params: OrderParams, calls: StageCalls,
                reports: dict[str, dict[str, Any]], linked: list[str]) -> None:
    """One shop's stages in order; ``linked`` gets the shop orders its post linked (kept if a later
    stage fails)."""
    found, reports["extract"] = run_stage("extract", shop, lambda: calls.extract(rt, params, ctx, shop))
    if reports["extract"]["handed_on"]:
        mapped, reports["map"] = run_stage("map", shop, lambda: calls.map(rt, params, ctx, found))
        posted, reports["post"] = run_stage("post", shop, lambda: calls.post(rt, params, ctx, mapped))
        linked.extend(str(k) for k in posted.get("keys") or ())
        _acknowledged, reports["acknowledge"] = run_stage(
            "acknowledge", shop, lambda: calls.acknowledge(rt, params, ctx, posted))
    _credited, reports["credits"] = run_stage("credits", shop, lambda: calls.credits(rt, params, ctx, shop))
