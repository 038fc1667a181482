"""Find: shop orders that reached Fortnox and were since cancelled in the shop or got returns."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from jetfort.ledger.store import Record
from jetfort.mapping.credits import credit_key
from jetfort.shop.errors import ShopNotFound, ShopUnreadableOrder
from jetfort.shop.models import ShopOrder
from jetfort.tasks.orders.common import KIND as ORDER_KIND
from jetfort.tasks.orders.common import LINKED_STATES, order_from, source_key
from jetfort.tasks.runtime import TenantRuntime, Window

log = logging.getLogger(__name__)

KIND = "credit"
#: credit records a run re-examines even when the shop order did not change inside the window
OPEN_STATES = ("pending", "crediting", "waiting", "quarantined")
DONE = "credited"
#: the event key under which a posted order the shop sends unreadable is quarantined (its returns and
#: status cannot be known); closed as ``readable`` once the order reads again
UNREADABLE = "read"


def event_key(shop_key: str, order_id: int, event: str) -> str:
    """Ledger source key of one money-back event: ``<shop>:<order id>:r<return id>`` / ``:cancel``."""
    return f"{shop_key}:{order_id}:{event}"


@dataclass
class Candidate:
    """A posted shop order with money-back events not yet done in Fortnox."""

    shop_key: str
    current: ShopOrder  # as the shop shows it now (returns, status)
    link: Record  # the orders flow's record (what was posted, and where)
    cancelled: bool
    events: list[str] = field(default_factory=list)  # "r<id>" oldest first, then "cancel"
    records: dict[str, Record] = field(default_factory=dict)  # every credit record of the order

    @property
    def posted(self) -> ShopOrder:
        return order_from(self.link)

    def key(self, event: str) -> str:
        return event_key(self.shop_key, self.current.order_id, event)

    def idempotency_key(self, event: str) -> str:
        return credit_key(self.shop_key, self.current.order_id, event)


def find_candidates(runtime: TenantRuntime, shop_key: str, window: Window | None,
                    order_numbers: Sequence[str] = (), *, dry_run: bool = False) -> list[Candidate]:
    """Orders modified in ``window`` (any status) or named, plus those with unfinished credit records,
    that the ledger links to a Fortnox document and that the shop cancelled or took goods back of."""
    hook = runtime.shop(shop_key)
    found: dict[int, ShopOrder] = {}
    unreadable: list[ShopUnreadableOrder] = []
    if window is not None:
        for order in hook.iter_orders(modified_from=window.start, modified_to=window.end, unreadable=unreadable):
            found.setdefault(order.order_id, order)
    wanted: list[dict[str, Any]] = [{"order_number": str(n)} for n in order_numbers]
    prefix = f"{shop_key}:"
    wanted += [{"order_id": int(r.source_key.split(":")[1])} for r in
               runtime.ledger.records(runtime.tenant, KIND, states=OPEN_STATES) if r.source_key.startswith(prefix)]
    for ask in wanted:
        if ask.get("order_id") in found:
            continue
        try:
            order = hook.get_order(**ask)
        except ShopUnreadableOrder as problem:
            unreadable.append(problem)
            continue
        except ShopNotFound:
            log.warning("shop %s: order %s not found in the shop", shop_key, ask)
            continue
        found[order.order_id] = order
    if not dry_run:
        _unreadable(runtime, shop_key, unreadable, found)
    if not found:
        return []
    cancelled_ids = {s.status_id for s in hook.get_statuses() if s.is_cancelled}
    links = runtime.ledger.get_many(runtime.tenant, ORDER_KIND, [source_key(shop_key, i) for i in found])
    credit_records = _credit_records(runtime, shop_key)
    out = []
    for order_id in sorted(found):
        order = found[order_id]
        link = links.get(source_key(shop_key, order_id))
        if link is None or link.state not in LINKED_STATES or not link.target_key:
            continue  # never reached Fortnox: the orders flow decides what happens to it
        candidate = Candidate(shop_key, order, link, order.status_id in cancelled_ids,
                              records=credit_records.get(order_id, {}))
        events = [f"r{ret.return_id}" for ret in order.returns]
        if candidate.cancelled:
            events.append("cancel")
        candidate.events = [e for e in events if _open(candidate.records.get(e))]
        if candidate.events:
            out.append(candidate)
    return out


def _unreadable(runtime: TenantRuntime, shop_key: str, problems: Sequence[ShopUnreadableOrder],
                found: Mapping[int, ShopOrder]) -> None:
    """A posted order the shop sends with a value jetfort cannot read: its returns and status cannot be
    known, so it is quarantined (event ``read``, reason ``unreadable_value``, the element named) and
    looked at again every run; one that reads again is closed. Orders never posted are the orders
    flow's to quarantine."""
    ledger, tenant = runtime.ledger, runtime.tenant
    ids = {p.order_id for p in problems if p.order_id is not None}
    links = ledger.get_many(tenant, ORDER_KIND, [source_key(shop_key, i) for i in ids | set(found)])
    for problem in problems:
        link = links.get(source_key(shop_key, problem.order_id)) if problem.order_id is not None else None
        if link is None or link.state not in LINKED_STATES:
            log.warning("shop %s: %s", shop_key, problem)
            continue
        ledger.quarantine(tenant, KIND, event_key(shop_key, int(problem.order_id or 0), UNREADABLE),
                          reason="unreadable_value", field=problem.field_path, message=str(problem))
    readable = [event_key(shop_key, i, UNREADABLE) for i in found]
    for key, record in ledger.get_many(tenant, KIND, readable).items():
        if record.state in OPEN_STATES:
            ledger.transition(tenant, KIND, key, "readable", step="read", message="the shop's order reads again")
            ledger.resolve_quarantine(tenant, KIND, key)


def _open(record: Record | None) -> bool:
    return record is None or record.state != DONE


def _credit_records(runtime: TenantRuntime, shop_key: str) -> dict[int, dict[str, Record]]:
    """order id → event → credit record, for the shop."""
    out: dict[int, dict[str, Record]] = {}
    prefix = f"{shop_key}:"
    for record in runtime.ledger.records(runtime.tenant, KIND):
        if record.source_key.startswith(prefix):
            _shop, order_id, event = record.source_key.split(":", 2)
            out.setdefault(int(order_id), {})[event] = record
    return out


def credited_details(records: Mapping[str, Record]) -> list[dict[str, Any]]:
    """The ledger details of the order's done credits (what each credited)."""
    return [dict(r.detail or {}) for r in records.values() if r.state == DONE and (r.detail or {}).get("rows")
            is not None]
