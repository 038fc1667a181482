"""A status run started by events does all its work in its first task, for latency.

Every task of a run costs a scheduler loop and a new task process (seconds each on the
LocalExecutor), and a status change reaches the shop only when its push ran. So a run triggered by
the tenant's Fortnox events or by the orders DAG's ``orders_posted`` asset (see
:mod:`jetfort.tasks.order_status.events`) does, inside ``read_changes``:

1. the event read (only the documents and shop orders the events name),
2. the push of **those** shop orders, shop by shop (another run's pending orders are left to it and to
   the scheduled run, the safety net); a shop order an event says changed while Fortnox's REST API
   shows nothing new yet is re-read (for at most ``RECHECK_BUDGET`` seconds) only after the others
   were pushed, then pushed; the shop orders the orders DAG just linked are read last, with at most
   ``SAFETY_NET_SHARE`` of the company's Fortnox budget (a post of many orders names them all, and
   the event runs of the same company must not wait behind that read), then pushed,
3. the summary (XCom key ``summary``, as the summary task writes it),
4. ``commit_events``' work: the run's event batches marked applied, only once all of the above
   succeeded (a crash or a shop left unfinished replays the events, never skips them),

then the DAG's other tasks are skipped (``read_changes`` is a short-circuit task). Scheduled,
manual and backfill runs keep the full layout: ``read_changes → push_status[shop] → summary``.
A transient failure of one shop's push fails the task after every shop was tried; Airflow's retry
reads and pushes again, and the ledger's compare-and-set makes each status change happen once.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from jetfort.tasks.events_commit import commit_events
from jetfort.tasks.order_status.common import StatusPushIncomplete, runtime_for
from jetfort.tasks.order_status.events import PURPOSE, event_work
from jetfort.tasks.order_status.push import push_status
from jetfort.tasks.order_status.read import read_changes, read_posted, recheck
from jetfort.tasks.order_status.summary import summarize
from jetfort.tasks.runtime import TenantRuntime

log = logging.getLogger(__name__)


def is_event_run(context: Mapping[str, Any], tenant: str) -> bool:
    """Triggered by the tenant's Fortnox events or by the orders DAG's ``orders_posted`` asset."""
    work = event_work(context, tenant)
    return work is not None and work.ours


def apply_events(tenant: str, shops: Sequence[str], context: Mapping[str, Any], *,
                 runtime: TenantRuntime | None = None) -> dict[str, Any]:
    """Read, push, summarize and commit an event run in one go; the run's summary."""
    rt = runtime_for(tenant, runtime)
    try:
        read = read_changes(tenant, context, runtime=rt)
        pushes, unfinished = _push(tenant, shops, context, rt, read.get("shop_orders") or [])
        if read.get("unsettled"):  # REST showed nothing new for these yet: re-read them after the pushes
            again = recheck(tenant, context, read["unsettled"], runtime=rt)
            read["rechecked"] = {"shop_orders": len(read["unsettled"]), "states": again["states"]}
            more, unfinished_too = _push(tenant, shops, context, rt, again["shop_orders"])
            pushes += more
            unfinished += unfinished_too
        if read.get("posted_later"):  # a bulk read, after this run's events reached the shop
            posted = read_posted(tenant, context, read.pop("posted_later"), runtime=rt)
            read["posted_read"] = {"shop_orders": posted["affected"], "states": posted["states"]}
            more, unfinished_too = _push(tenant, shops, context, rt, posted["shop_orders"])
            pushes += more
            unfinished += unfinished_too
        if unfinished:
            raise StatusPushIncomplete(f"tenant {tenant}: {len(unfinished)} shop push(es) not finished, the run's "
                                       "events stay unapplied until a retry finishes them: " + " | ".join(unfinished))
        summary = summarize(tenant, read, pushes, shops=shops, runtime=rt)
        summary["events_committed"] = commit_events(tenant, PURPOSE, context, runtime=rt)
    finally:
        if runtime is None:
            rt.close()
    return summary


def _push(tenant: str, shops: Sequence[str], context: Mapping[str, Any], rt: TenantRuntime,
          keys: Sequence[str]) -> tuple[list[dict[str, Any] | None], list[str]]:
    """Push these shop orders, shop by shop; (each shop's result or None, what was not finished)."""
    pushes: list[dict[str, Any] | None] = []
    unfinished: list[str] = []
    for shop in shops:
        mine = [key for key in keys if key.startswith(f"{shop}:")]
        if not mine:
            pushes.append({"shop": shop, "orders": 0, "left_to_other_runs": 0, "states": {}})
            continue
        try:
            pushes.append(push_status(tenant, shop, context, runtime=rt, only=mine))
        except StatusPushIncomplete as exc:  # the other shops go on; the task fails at the end
            log.warning("%s", exc)
            pushes.append(None)
            unfinished.append(str(exc))
    return pushes, unfinished
