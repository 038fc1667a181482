"""Map: each seen order's customer plan and Fortnox document; what cannot go is quarantined.

The plan cap (``monthly_order_cap``) holds what is over it (state ``held``) until next month.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from jetfort.ledger.store import Record
from jetfort.mapping.customers import plan_customer
from jetfort.mapping.orders import FortnoxFacts, map_document
from jetfort.mapping.problems import MappingProblem
from jetfort.shop.models import ShopOrder
from jetfort.tasks.orders.common import (
    KIND,
    LINKED_STATES,
    carried_counts,
    fortnox_calls,
    order_from,
    order_id_of,
    utcnow,
)
from jetfort.tasks.orders.customers import cached_customer, match_values, prime_customers, vat_type_of
from jetfort.tasks.orders.facts import FACT_REASONS, RECHECK_AFTER, load_facts
from jetfort.tasks.runtime import TenantRuntime

log = logging.getLogger(__name__)

CUSTOMER_PLACEHOLDER = "0"


def _month_start(now: dt.datetime) -> dt.datetime:
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _article_payloads(mapped: Any) -> list[dict[str, Any]]:
    out = []
    for article in mapped.articles_to_create or ():
        out.append(article.to_payload() if hasattr(article, "to_payload") else dict(article))
    return out


def map_one(runtime: TenantRuntime, shop_key: str, order: ShopOrder, facts: Any,
            customer_number: str | None = None, plan: Any = None) -> tuple[Any, Any]:
    """(customer plan, mapped document) for one order; raises MappingProblem. Pure apart from caches.

    ``plan``: the order's customer plan when the caller has already made it."""
    rules = runtime.rules
    if plan is None:
        plan = plan_customer(order, rules, shop_key)
    if customer_number is None:
        customer_number = cached_customer(runtime, plan) or plan.use_collective or CUSTOMER_PLACEHOLDER
    # map_document runs the tenant's document plugins itself
    return plan, map_document(order, rules, shop_key, customer_number=customer_number, facts=facts)


def quarantine_problem(runtime: TenantRuntime, key: str, order: ShopOrder, problem: Any,
                       run_id: str | None, payload: Any = None) -> None:
    """A ledger quarantine row for an order mapping (or a plugin's rule) refused."""
    reason = getattr(problem, "reason", "mapping_failed")
    field_name = getattr(problem, "field", None)
    message = getattr(problem, "message", str(problem))
    text = message if order.order_number in message else f"order {order.order_number}: {message}"
    runtime.ledger.quarantine(runtime.tenant, KIND, key, reason=reason, field=field_name, message=text,
                              payload=payload if payload is not None else {"order_number": order.order_number},
                              run_id=run_id)
    log.warning("quarantined order %s (%s): %s [%s]", order.order_number, key, message, reason)


def plan_line(key: str, order_number: Any, outcome: str, **more: Any) -> dict[str, Any]:
    """A dry run's line for one order (the summary lists them as they are)."""
    return {"shop": key.split(":", 1)[0], "key": key, "order": order_number, "outcome": outcome, **more}


def map_shop(runtime: TenantRuntime, shop_key: str, batch: Mapping[str, Any], *, dry_run: bool = False,
             fresh_facts: bool = False, run_id: str | None = None) -> dict[str, Any]:
    """Build each order's customer plan and Fortnox document, check totals; quarantine what cannot go.

    ``fresh_facts`` re-reads Fortnox facts now (an on-demand re-sync after a fix in Fortnox)."""
    ledger, tenant, rules = runtime.ledger, runtime.tenant, runtime.rules
    counts = carried_counts(shop_key, batch)
    calls_before = fortnox_calls(runtime)
    keys: list[str] = list(batch.get("keys") or [])
    found = ledger.get_many(tenant, KIND, keys)
    records = {key: found.get(key) for key in keys}
    dry_run = dry_run or bool(batch.get("dry_run"))
    work = _orders_to_map(runtime, shop_key, records, batch) if dry_run else _seen_orders(records)
    if not work.todo:
        return {**counts, "keys": work.out_keys, "plan": work.dry_lines, "dry_run": dry_run,
                "fortnox_calls": counts["fortnox_calls"] + fortnox_calls(runtime) - calls_before}

    wanted = {row.article_number for o in work.orders.values() for row in o.rows if row.article_number}
    facts, facts_at = load_facts(runtime, need_articles=wanted, store=not dry_run,
                                 **({"max_age": dt.timedelta(0)} if fresh_facts else {}))
    cap = rules.monthly_order_cap
    room: int | None = None
    if cap is not None:
        used = ledger.count(tenant, KIND, ["posting", "posted", "acknowledged"], since=_month_start(utcnow()))
        room = max(0, cap - used)
        log.info("plan cap %s orders/month: %s used, room for %s", cap, used, room)
    results, problems = _map_all(runtime, shop_key, work, facts, facts_at, dry_run)

    outcome = _Outcomes(shop_key, counts, work.dry_lines, run_id, dry_run, cap, room)
    for key in work.todo:
        order = work.orders[key]
        if key in problems:
            outcome.problem(runtime, key, order, problems[key])
        else:
            outcome.mapped(key, order, records[key], *results[key])
    if outcome.changes:
        changed = ledger.transition_many(tenant, KIND, outcome.changes)
        work.out_keys.extend(c["source_key"] for c in outcome.changes
                             if c["state"] == "mapped" and c["source_key"] in changed)
    if dry_run:
        log.info("[dry run] shop %s: %d order(s) mapped, %d would be quarantined; nothing written",
                 shop_key, len(results), len(problems))
    counts["fortnox_calls"] += fortnox_calls(runtime) - calls_before
    return {**counts, "keys": work.out_keys, "dry_run": dry_run, "plan": work.dry_lines}


@dataclass
class _Work:
    """The orders map builds documents for, and the keys it hands on whatever it finds."""

    todo: list[str]
    orders: dict[str, ShopOrder]
    out_keys: list[str] = field(default_factory=list)
    dry_lines: list[dict[str, Any]] = field(default_factory=list)  # dry run: per order, what a real run would do


def _seen_orders(records: Mapping[str, Record | None]) -> _Work:
    todo = [k for k, r in records.items() if r is not None and r.state == "seen"]
    # "mapped" here was mapped by an earlier try of this task (extract resets it every run)
    out_keys = [k for k, r in records.items() if r is not None and r.state in ("mapped", "posting", "posted")]
    orders = {key: order_from(records[key]) for key in todo}  # type: ignore[arg-type]
    return _Work(todo, orders, out_keys)


def _orders_to_map(runtime: TenantRuntime, shop_key: str, records: Mapping[str, Record | None],
                   batch: Mapping[str, Any]) -> _Work:
    """A dry run's orders: extract recorded nothing, so they come from the shop again, as it has them."""
    todo = list(batch.get("fresh") or [])
    shop = runtime.shop(shop_key)
    work = _Work(todo, {key: shop.get_order(order_id_of(key)) for key in todo})
    for key, record in records.items():  # claimed or linked by an earlier run: post/acknowledge go on
        if key not in work.orders and record is not None:
            work.dry_lines.append(plan_line(key, (record.detail or {}).get("order_number"),
                                            "already_linked" if record.state in LINKED_STATES else "would_post",
                                            note=f"state {record.state} from an earlier run"))
    return work


def _map_all(runtime: TenantRuntime, shop_key: str, work: _Work, facts: FortnoxFacts, facts_at: dt.datetime,
             dry_run: bool) -> tuple[dict[str, tuple[Any, Any]], dict[str, Any]]:
    """(plan, mapped) per order that maps, and the problem of each that does not."""
    problems: dict[str, Any] = {}
    plans: dict[str, Any] = {}
    for key in work.todo:
        try:
            plans[key] = plan_customer(work.orders[key], runtime.rules, shop_key)
        except MappingProblem as problem:
            problems[key] = problem
    prime_customers(runtime, plans.values())
    results: dict[str, tuple[Any, Any]] = {}
    for key, plan in plans.items():
        try:
            results[key] = map_one(runtime, shop_key, work.orders[key], facts, plan=plan)
        except MappingProblem as problem:
            problems[key] = problem
    # a fact may have been fixed in Fortnox since the cache was filled: look again once
    if any(getattr(p, "reason", "") in FACT_REASONS for p in problems.values()) and \
            utcnow() - facts_at > RECHECK_AFTER:
        facts, facts_at = load_facts(runtime, max_age=dt.timedelta(0), store=not dry_run)
        for key in [k for k, p in problems.items() if getattr(p, "reason", "") in FACT_REASONS]:
            try:
                results[key] = map_one(runtime, shop_key, work.orders[key], facts)
                del problems[key]
            except MappingProblem as problem:
                problems[key] = problem
    return results, problems


class _Outcomes:
    """What map does with each order: quarantine it, hold it (plan cap) or record its document."""

    def __init__(self, shop_key: str, counts: dict[str, Any], dry_lines: list[dict[str, Any]],
                 run_id: str | None, dry_run: bool, cap: int | None, room: int | None) -> None:
        self.shop_key, self.counts, self.dry_lines, self.run_id = shop_key, counts, dry_lines, run_id
        self.dry_run, self.cap, self.room = dry_run, cap, room
        self.changes: list[dict[str, Any]] = []

    def problem(self, runtime: TenantRuntime, key: str, order: ShopOrder, problem: Any) -> None:
        self.counts["quarantined"] += 1
        if self.dry_run:
            log.warning("[dry run] order %s would be quarantined: %s", order.order_number, problem)
            self.dry_lines.append(plan_line(key, order.order_number, "would_quarantine",
                                            reason=str(getattr(problem, "reason", "mapping_failed"))))
            return
        quarantine_problem(runtime, key, order, problem, self.run_id,
                           payload={"order_number": order.order_number, **problem.as_dict()}
                           if hasattr(problem, "as_dict") else None)

    def mapped(self, key: str, order: ShopOrder, record: Record | None, buyer: Any, mapped: Any) -> None:
        document = dict(mapped.document.to_payload())
        totals = {"shop_total": str(mapped.shop_total), "fortnox_total": str(mapped.fortnox_total)}
        if self.dry_run and (self.room is None or self.room > 0):
            self._dry_post(key, order, buyer, mapped, document)
            return
        if self.room is not None:
            if self.room <= 0:
                self._hold(key, order)
                return
            self.room -= 1
        detail = {**((record.detail if record else None) or {}), "doc_kind": mapped.kind, "document": document,
                  "idempotency_key": mapped.idempotency_key, "idempotency_field": mapped.idempotency_field,
                  "articles_to_create": _article_payloads(mapped), "totals": totals,
                  "notes": [str(n) for n in (mapped.notes or ())],
                  # what post needs to find a remembered customer without planning the buyer again
                  "customer_keys": {"matches": [list(m) for m in match_values(buyer)],
                                    "vat_type": vat_type_of(buyer)}}
        # the audit keeps the totals; the document is the record's detail until posted, and the post step's
        # audit keeps what was sent (the mapped document twice cost 1 KB per order)
        self.changes.append({"source_key": key, "state": "mapped", "step": "map", "expect": ["seen"],
                             "detail": detail, "payload": {"totals": totals},
                             "run_id": self.run_id, "message": f"{mapped.kind}: shop total {mapped.shop_total}, "
                                                               f"Fortnox total {mapped.fortnox_total}"})

    def _dry_post(self, key: str, order: ShopOrder, buyer: Any, mapped: Any, document: dict[str, Any]) -> None:
        log.info("[dry run] order %s → Fortnox %s (customer %s; shop total %s, Fortnox total %s):\n%s",
                 order.order_number, mapped.kind, buyer.org_number or buyer.email or buyer.use_collective or "new",
                 mapped.shop_total, mapped.fortnox_total,
                 json.dumps({"Invoice" if mapped.kind == "invoice" else "Order": document},
                            ensure_ascii=False, indent=1, default=str))
        self.dry_lines.append(plan_line(key, order.order_number, "would_post",
                                        note=f"{mapped.kind}, total {mapped.fortnox_total} {order.currency}"))
        self.room = None if self.room is None else self.room - 1

    def _hold(self, key: str, order: ShopOrder) -> None:
        self.counts["held"] += 1
        if self.dry_run:
            self.dry_lines.append(plan_line(key, order.order_number, "would_hold",
                                            reason=f"monthly order cap {self.cap}"))
            return
        self.changes.append({"source_key": key, "state": "held", "step": "map", "expect": ["seen"],
                             "run_id": self.run_id, "message": f"monthly order cap {self.cap} reached; held until "
                                                               "next month or a raised cap"})
