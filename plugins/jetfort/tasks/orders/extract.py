"""Extract: the shop's released orders (window + pushed + unfinished ledger records), recorded as ``seen``.

* Orders the shop pushed to jetfort's receiver (Norce) are read from the ledger's inbox beside the
  window's pull; an order that arrives both ways is one order (one ledger key), posted once. A pushed
  order leaves the inbox only after this stage recorded it.

* An order the shop sends with a value jetfort cannot read (``1,5`` as a quantity) is quarantined
  here, by itself, with the element and the text (reason ``unreadable_value``); the page's other
  orders go on. It comes back every run (an open record) until the shop's data can be read.
* An order already in Fortnox that the shop sets back to a release status (re-released) is never
  posted again: it is logged and audited as "already posted as invoice N" and acknowledged again
  (the shop gets the transferred status back).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from jetfort.ledger.store import Record
from jetfort.shop.errors import ShopNotFound, ShopUnreadableOrder
from jetfort.shop.models import ShopOrder
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
from jetfort.tasks.orders.inbox import PushedOrders, mark_consumed, note_unusable, read_pushed
from jetfort.tasks.runtime import TenantRuntime, Window, run_window

if TYPE_CHECKING:
    from jetfort.shop.interface import ShopBackend

log = logging.getLogger(__name__)


def extract_shop(runtime: TenantRuntime, shop_key: str, *, context: Mapping[str, Any],
                 order_numbers: Sequence[str] = (), run_id: str | None = None, dry_run: bool = False,
                 window: Window | None = None) -> dict[str, Any]:
    """Find the shop's released orders (window + unfinished ledger records) and record them as seen.

    ``window``: a range given by the params (``since``/``until``) instead of the run's own; it
    leaves the cursor alone. ``dry_run`` records nothing: the result lists under ``fresh`` the
    orders a real run would (re)map, and the map stage reads them from the shop again."""
    rules, ledger, tenant = runtime.rules, runtime.ledger, runtime.tenant
    hook = runtime.shop(shop_key)
    triggers = set(rules.orders.trigger_statuses_for(shop_key))
    unreadable: list[ShopUnreadableOrder] = []
    pushed: PushedOrders | None = None  # a run for given order numbers reads no inbox
    if order_numbers:
        window = None
        found = _orders_by_number(hook, shop_key, order_numbers, unreadable)
    else:
        window = window or run_window(context, ledger=ledger, tenant=tenant, cursor=f"orders:{shop_key}",
                                      overlap_minutes=rules.schedules.window_overlap_minutes)
        log.info("shop %s: window %s → %s (%s), trigger statuses %s", shop_key, window.start.isoformat(),
                 window.end.isoformat(), window.source, sorted(triggers))
        found = _orders_in_window(runtime, hook, shop_key, window, triggers, unreadable)
        pushed = read_pushed(runtime, shop_key, hook)  # orders the shop pushed; a pulled copy wins
        for order in pushed.orders:
            found.setdefault(order.order_id, order)
        unreadable.extend(pushed.unreadable)

    existing = ledger.get_many(tenant, KIND, [source_key(shop_key, order_id) for order_id in found])
    sorting = _Sorting(runtime, shop_key, triggers, run_id)
    for order_id in sorted(found):
        sorting.add(found[order_id], existing.get(source_key(shop_key, order_id)))
    unkeyed = _quarantine_unreadable(runtime, shop_key, unreadable, sorting.counts, run_id, dry_run)
    counts, keys = sorting.counts, sorting.keys
    if dry_run:  # what a real run would map from scratch: new orders and the ones it would re-read
        remap = {c["source_key"] for c in sorting.changes if c["state"] == "seen"}
        log.info("[dry run] shop %s: %d order(s) found, nothing recorded", shop_key, len(keys))
        return {**counts, "keys": keys, "fresh": [k for k in keys if k in remap], "dry_run": True,
                "window": window.as_dict() if window else None, **unkeyed}
    ledger.ensure_records(tenant, KIND, sorting.fresh, state="seen")
    ledger.transition_many(tenant, KIND, sorting.changes)
    if pushed is not None:
        _consume_pushed(runtime, shop_key, pushed)
    if window is not None and window.source != "params":  # a range run leaves the schedule's cursor
        previous = ledger.get_cursor(tenant, f"orders:{shop_key}")
        if previous is None or dt.datetime.fromisoformat(previous) < window.end:
            ledger.set_cursor(tenant, f"orders:{shop_key}", window.end.isoformat())
    log.info("shop %s: %d order(s) to process, %d skipped", shop_key, len(keys), counts["skipped"])
    return {**counts, "keys": keys, "window": window.as_dict() if window else None, **unkeyed}


def _consume_pushed(runtime: TenantRuntime, shop_key: str, pushed: PushedOrders) -> None:
    """Take the pushed orders extract has now recorded off the inbox; one without a readable id stays."""
    keep = {ref: str(problem) for ref, problem in zip(pushed.unreadable_refs, pushed.unreadable, strict=True)
            if problem.order_id is None}
    note_unusable(runtime, shop_key, keep)
    mark_consumed(runtime, shop_key, pushed.consumable(keep=keep))


def _quarantine_unreadable(runtime: TenantRuntime, shop_key: str, problems: Sequence[ShopUnreadableOrder],
                           counts: dict[str, Any], run_id: str | None, dry_run: bool) -> dict[str, Any]:
    """Quarantine each order the shop sent with an unreadable value, by itself (reason ``unreadable_value``).

    An order already linked to a Fortnox document is left as it is (logged); one whose own id cannot
    be read has no key to quarantine under: it is logged as an error and listed under ``unreadable``."""
    ledger, tenant = runtime.ledger, runtime.tenant
    keyed = [p for p in problems if p.order_id is not None]
    unkeyed = [str(p) for p in problems if p.order_id is None]
    for text in unkeyed:
        log.error("shop %s: an order in the shop's reply cannot be read and has no readable id: %s", shop_key, text)
    keys = {id(p): source_key(shop_key, p.order_id) for p in problems if p.order_id is not None}
    existing = ledger.get_many(tenant, KIND, list(keys.values())) if keys else {}
    for problem in keyed:
        key = keys[id(problem)]
        record = existing.get(key)
        if record is not None and record.state in LINKED_STATES:
            log.warning("shop %s: order %s is already in Fortnox (%s %s) but the shop's data of it cannot be "
                        "read now: %s", shop_key, problem.order_number or problem.order_id, record.target_type,
                        record.target_key, problem)
            continue
        counts["quarantined"] += 1
        if dry_run:
            log.warning("[dry run] order %s would be quarantined: %s", problem.order_number, problem)
            continue
        payload = {"order_number": problem.order_number, "field": problem.field_path, "text": problem.text}
        if record is None:
            ledger.ensure_records(tenant, KIND, [(key, {"shop": shop_key, "order_id": problem.order_id,
                                                        "order_number": problem.order_number})],
                                  state="quarantined")
        ledger.quarantine(tenant, KIND, key, reason="unreadable_value", field=problem.field_path,
                          message=str(problem), payload=payload, run_id=run_id)
        log.warning("quarantined order %s (%s): %s [unreadable_value]", problem.order_number, key, problem)
    return {"unreadable": unkeyed} if unkeyed else {}


def _orders_by_number(hook: ShopBackend, shop_key: str, order_numbers: Sequence[str],
                      unreadable: list[ShopUnreadableOrder]) -> dict[int, ShopOrder]:
    found: dict[int, ShopOrder] = {}
    for number in order_numbers:
        try:
            order = hook.get_order(order_number=str(number))
        except ShopNotFound:
            log.info("shop %s: order number %s not found (may be another shop's)", shop_key, number)
            continue
        except ShopUnreadableOrder as problem:
            unreadable.append(problem)
            continue
        found[order.order_id] = order
    return found


def _orders_in_window(runtime: TenantRuntime, hook: ShopBackend, shop_key: str, window: Window,
                      triggers: set[int], unreadable: list[ShopUnreadableOrder]) -> dict[int, ShopOrder]:
    found: dict[int, ShopOrder] = {}
    refused: set[int | None] = set()
    for status_id in sorted(triggers):
        problems: list[ShopUnreadableOrder] = []
        for order in hook.iter_orders(status_id=status_id, modified_from=window.start, modified_to=window.end,
                                      unreadable=problems):
            found.setdefault(order.order_id, order)
        for problem in problems:
            if problem.order_id is None or problem.order_id not in refused:
                refused.add(problem.order_id)
                unreadable.append(problem)
    # unfinished records (quarantined, held, crashed mid-post, not yet acknowledged) come back
    prefix = f"{shop_key}:"
    for open_record in runtime.ledger.records(runtime.tenant, KIND, states=OPEN_STATES):
        if not open_record.source_key.startswith(prefix):
            continue
        order_id = order_id_of(open_record.source_key)
        if order_id in found or order_id in refused:
            continue
        try:
            found[order_id] = hook.get_order(order_id)
        except ShopUnreadableOrder as problem:
            unreadable.append(problem)
        except ShopNotFound:
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
            # re-released: set back to a release status after it was posted and acknowledged. Never
            # posted again; acknowledged again (post passes "posted" on, acknowledge sets the status)
            already = f"already posted as {record.target_type} {record.target_key}"
            log.warning("shop %s: order %s was released again (status %s): %s; not sent again, "
                        "the shop gets the transferred status back", shop_key, order.order_number,
                        order.status_id, already)
            self.changes.append({"source_key": key, "state": "posted", "step": "extract", "expect": list(DONE_STATES),
                                 "message": f"{message}: released again in the shop; {already}; not sent again, "
                                            "acknowledged again", "run_id": self.run_id})
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
