"""Extract: the shop's released orders (window + unfinished ledger records), recorded as ``seen``."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from jetfort.jetshop.errors import JetshopNotFound
from jetfort.jetshop.models import ShopOrder
from jetfort.ledger.store import Record
from jetfort.tasks.orders.common import (
    DONE_STATES,
    KIND,
    LINKED_STATES,
    OPEN_STATES,
    channel_for,
    new_counts,
    order_detail,
    order_id_of,
    source_key,
)
from jetfort.tasks.runtime import TenantRuntime, Window, run_window

if TYPE_CHECKING:
    from jetfort.jetshop.hook import JetshopHook

log = logging.getLogger(__name__)


def extract_shop(runtime: TenantRuntime, shop_key: str, *, context: Mapping[str, Any],
                 order_numbers: Sequence[str] = (), run_id: str | None = None, dry_run: bool = False,
                 window: Window | None = None) -> dict[str, Any]:
    """Find the shop's released orders (window + unfinished ledger records) and record them as seen.

    ``window``: a range given by the params (``since``/``until``) instead of the run's own; it
    leaves the cursor alone. ``dry_run`` records nothing: the result lists under ``fresh`` the
    orders a real run would (re)map, and the map stage reads them from the shop again."""
    rules, ledger, tenant = runtime.rules, runtime.ledger, runtime.tenant
    hook = runtime.jetshop(shop_key)
    triggers = set(rules.orders.trigger_statuses_for(shop_key))
    if order_numbers:
        window = None
        found = _orders_by_number(hook, shop_key, order_numbers)
    else:
        window = window or run_window(context, ledger=ledger, tenant=tenant, cursor=f"orders:{shop_key}",
                                      overlap_minutes=rules.schedules.window_overlap_minutes)
        log.info("shop %s: window %s → %s (%s), trigger statuses %s", shop_key, window.start.isoformat(),
                 window.end.isoformat(), window.source, sorted(triggers))
        found = _orders_in_window(runtime, hook, shop_key, window, triggers)

    existing = ledger.get_many(tenant, KIND, [source_key(shop_key, order_id) for order_id in found])
    sorting = _Sorting(runtime, shop_key, triggers, run_id)
    for order_id in sorted(found):
        sorting.add(found[order_id], existing.get(source_key(shop_key, order_id)))
    counts, keys = sorting.counts, sorting.keys
    if dry_run:  # what a real run would map from scratch: new orders and the ones it would re-read
        remap = {c["source_key"] for c in sorting.changes if c["state"] == "seen"}
        log.info("[dry run] shop %s: %d order(s) found, nothing recorded", shop_key, len(keys))
        return {**counts, "keys": keys, "fresh": [k for k in keys if k in remap], "dry_run": True,
                "window": window.as_dict() if window else None}
    ledger.ensure_records(tenant, KIND, sorting.fresh, state="seen")
    ledger.transition_many(tenant, KIND, sorting.changes)
    if window is not None and window.source != "params":  # a range run leaves the schedule's cursor
        previous = ledger.get_cursor(tenant, f"orders:{shop_key}")
        if previous is None or dt.datetime.fromisoformat(previous) < window.end:
            ledger.set_cursor(tenant, f"orders:{shop_key}", window.end.isoformat())
    log.info("shop %s: %d order(s) to process, %d skipped", shop_key, len(keys), counts["skipped"])
    return {**counts, "keys": keys, "window": window.as_dict() if window else None}


def _orders_by_number(hook: JetshopHook, shop_key: str, order_numbers: Sequence[str]) -> dict[int, ShopOrder]:
    found: dict[int, ShopOrder] = {}
    for number in order_numbers:
        try:
            order = hook.get_order(order_number=str(number))
        except JetshopNotFound:
            log.info("shop %s: order number %s not found (may be another shop's)", shop_key, number)
            continue
        found[order.order_id] = order
    return found


def _orders_in_window(runtime: TenantRuntime, hook: JetshopHook, shop_key: str, window: Window,
                      triggers: set[int]) -> dict[int, ShopOrder]:
    found: dict[int, ShopOrder] = {}
    for status_id in sorted(triggers):
        for order in hook.iter_orders(status_id=status_id, modified_from=window.start, modified_to=window.end):
            found.setdefault(order.order_id, order)
    # unfinished records (quarantined, held, crashed mid-post, not yet acknowledged) come back
    prefix = f"{shop_key}:"
    for open_record in runtime.ledger.records(runtime.tenant, KIND, states=OPEN_STATES):
        if not open_record.source_key.startswith(prefix):
            continue
        order_id = order_id_of(open_record.source_key)
        if order_id in found:
            continue
        try:
            found[order_id] = hook.get_order(order_id)
        except JetshopNotFound:
            log.warning("shop %s: order %s is in the ledger (%s) but gone from the shop",
                        shop_key, order_id, open_record.state)
    return found


class _Sorting:
    """What extract does with each found order: record it new, re-read it, skip it or close it."""

    def __init__(self, runtime: TenantRuntime, shop_key: str, triggers: set[int], run_id: str | None) -> None:
        self.rules, self.shop_key, self.triggers, self.run_id = runtime.rules, shop_key, triggers, run_id
        self.counts = new_counts(shop_key)
        self.keys: list[str] = []
        self.fresh: list[tuple[str, dict[str, Any]]] = []
        self.changes: list[dict[str, Any]] = []

    def add(self, order: ShopOrder, record: Record | None) -> None:
        shop_key, key = self.shop_key, source_key(self.shop_key, order.order_id)
        if channel_for(self.rules, shop_key, order) is None:
            log.info("shop %s: order %s comes from channel %s, which the rules do not list; synced "
                     "without channel tags", shop_key, order.order_number, order.channel_id)
        if order.status_id not in self.triggers:
            self._not_released(key, order, record)
            return
        detail = order_detail(shop_key, order)
        message = f"order {order.order_number} status {order.status_id}"
        if record is None:  # new: recorded at the end, all in one transaction
            self.fresh.append((key, detail))
            self.changes.append({"source_key": key, "state": "seen", "step": "extract", "expect": ["seen"],
                                 "message": message, "run_id": self.run_id})
        elif record.state in DONE_STATES:
            log.info("shop %s: order %s is already in Fortnox (%s %s); not sent again", shop_key,
                     order.order_number, record.target_type, record.target_key)
            self.counts["skipped"] += 1
            return
        elif record.state in ("seen", "mapped", "held", "quarantined"):
            # re-read: the shop may have changed the order; mapping starts over from what it says now
            keep = {k: v for k, v in (record.detail or {}).items() if k in ("customer_number",)}
            self.changes.append({"source_key": key, "state": "seen", "step": "extract",
                                 "expect": ["seen", "mapped", "held", "quarantined"],
                                 "detail": {**detail, **keep}, "message": f"{message} (was {record.state})",
                                 "run_id": self.run_id})
        self.counts["seen"] += 1
        self.keys.append(key)

    def _not_released(self, key: str, order: ShopOrder, record: Record | None) -> None:
        if record is not None and record.state == "posted":
            # the shop moved the order on by itself after we posted it: nothing left to do
            self.changes.append({"source_key": key, "state": "acknowledged", "step": "acknowledge",
                                 "expect": ["posted"], "run_id": self.run_id,
                                 "message": f"shop status is already {order.status_id}; left as is"})
            return
        if record is None or record.state not in LINKED_STATES:
            log.info("shop %s: skipped %s: status %s is not a trigger status", self.shop_key,
                     order.order_number, order.status_id)
            self.counts["skipped"] += 1
