"""Post: each mapped order becomes exactly one Fortnox document, linked in the ledger.

The protocol for one shop's batch (:class:`ShopPosting`), step by step:

1. **read** the batch's records; count what an earlier try of this run already linked;
2. **claim** the orders (``mapped → posting``, see :mod:`~jetfort.tasks.orders.recovery`);
3. per order: **find** an existing document by its idempotency key (adopt it), else resolve the
   customer, create missing articles and **create** the document; a lost answer
   (:class:`~jetfort.fortnox.errors.FortnoxAmbiguousWrite`) is **looked up** before it is tried
   again;
4. **link** it (``posting → posted``, target and payload): links are **flushed** to the ledger
   every :data:`LINK_FLUSH` orders and at the end, whatever happened (a crash loses at most these;
   recovery adopts them next time);
5. what Fortnox or the mapping refuses is **quarantined**, what fails for a transient reason stays
   in ``posting`` and is resumed on the retry (:class:`~jetfort.tasks.orders.common.PostingIncomplete`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jetfort.errors import TransientError
from jetfort.fortnox.errors import (
    FortnoxAmbiguousWrite,
    FortnoxPermanentError,
    FortnoxTransientError,
    FortnoxValidationError,
)
from jetfort.ledger.store import Record
from jetfort.mapping.customers import plan_customer
from jetfort.mapping.problems import MappingProblem
from jetfort.tasks.orders.common import (
    CREATE_ATTEMPTS,
    KIND,
    PostingIncomplete,
    carried_counts,
    fortnox_calls,
    order_from,
    step_in_run,
    utcnow,
)
from jetfort.tasks.orders.customers import (
    cached_customer,
    forget_customer,
    prime_customers,
    resolve_customer,
    stored_plan,
)
from jetfort.tasks.orders.facts import create_articles
from jetfort.tasks.orders.map_orders import quarantine_problem
from jetfort.tasks.orders.recovery import (
    LIST_LOOKUP_MAX_AGE,
    Claim,
    IdempotencyLookup,
    batch_lookups,
    claim_batch,
    earliest_document,
)
from jetfort.tasks.runtime import TenantRuntime
from jetfort.tasks.summary import push_partial

log = logging.getLogger(__name__)

#: links are committed in groups of this many (a crash loses at most these; recovery adopts them)
LINK_FLUSH = 25


def post_shop(runtime: TenantRuntime, shop_key: str, batch: Mapping[str, Any], *,
              run_id: str | None = None, owner: str | None = None) -> dict[str, Any]:
    """Create each mapped order's Fortnox document effectively once and link it in the ledger."""
    return ShopPosting(runtime, shop_key, run_id=run_id, owner=owner or f"{run_id}|{shop_key}").run(batch)


#: what a mapped order's detail holds for its create only: the document to send (once posted, the post
#: step's audit has it as sent), the articles to create and the buyer's keys for a remembered customer
CREATE_ONLY = ("document", "articles_to_create", "customer_keys")


@dataclass
class ClaimedOrder:
    """One claimed order on its way to Fortnox."""

    key: str
    record: Record
    detail: dict[str, Any]
    doc_kind: str
    lookup: IdempotencyLookup
    plan: Any = None  # the buyer's customer plan, once post has one

    @property
    def idempotency_key(self) -> str:
        return str(self.detail["idempotency_key"])

    @property
    def number(self) -> str:
        return str(self.detail.get("order_number"))


class ShopPosting:
    """The post stage of one shop: the protocol's steps (see the module docstring) as methods."""

    def __init__(self, runtime: TenantRuntime, shop_key: str, *, run_id: str | None, owner: str) -> None:
        self.runtime, self.shop_key, self.run_id, self.owner = runtime, shop_key, run_id, owner
        self.ledger, self.tenant, self.rules = runtime.ledger, runtime.tenant, runtime.rules
        self.counts: dict[str, Any] = {}
        self.calls_before = fortnox_calls(runtime)
        self.now = utcnow()
        self.out_keys: list[str] = []  # linked keys handed on to acknowledge
        self.linked_now: list[str] = []  # what this try linked (the summary tells it from an earlier try's work)
        self.pending: list[dict[str, Any]] = []  # links not yet in the ledger
        self.linked: list[str] = []  # "order → document" of the pending links, logged as one line per flush
        self.quarantined: set[str] = set()
        self.stored_plans: dict[str, Any] = {}
        self.failures: list[str] = []

    # ------------------------------------------------------------------------------------ the run
    def run(self, batch: Mapping[str, Any]) -> dict[str, Any]:
        self.counts = carried_counts(self.shop_key, batch)
        records, todo = self.read_batch(list(batch.get("keys") or []))
        if batch.get("dry_run") or not todo:
            return {**self.counts, "keys": self.out_keys, "fortnox_calls": self.calls_total()}
        details = {k: dict(records[k].detail or {}) for k in todo}  # type: ignore[union-attr]
        lookups = batch_lookups(self.runtime, todo, details, records, self.now)
        claim = claim_batch(self.runtime, todo, records, details, run_id=self.run_id, owner=self.owner,
                            now=self.now)
        self.counts["retry_later"] += claim.retry_later
        self.quarantined = {q.source_key for q in self.ledger.open_quarantine(self.tenant, KIND)}
        # the buyers' remembered customers, from what map stored (no second planning of the buyer)
        self.stored_plans = {k: stored for k in claim.mine if not details[k].get("customer_number")
                             and (stored := stored_plan(details[k])) is not None}
        prime_customers(self.runtime, self.stored_plans.values())
        try:
            for key in claim.mine:
                record = records[key]
                assert record is not None
                doc_kind = str(details[key].get("doc_kind") or self.rules.orders.document)
                if len(self.pending) >= LINK_FLUSH:
                    self.flush_links()
                self.post_one(ClaimedOrder(key, record, details[key], doc_kind, lookups[doc_kind]), claim)
        finally:
            self.flush_links()
        self.counts["fortnox_calls"] = self.calls_total()
        result = {**self.counts, "keys": self.out_keys, "linked_now": self.linked_now}
        if self.failures:
            push_partial(result)
            raise PostingIncomplete(f"shop {self.shop_key}: {len(self.failures)} order(s) not posted yet "
                                    "(resumed on retry): " + "; ".join(self.failures[:10]))
        return result

    def read_batch(self, keys: list[str]) -> tuple[dict[str, Record | None], list[str]]:
        """The batch's records and the keys to post; counts what an earlier try of this run linked."""
        found = self.ledger.get_many(self.tenant, KIND, keys)
        records = {key: found.get(key) for key in keys}
        todo = [k for k, r in records.items() if r is not None and r.state in ("mapped", "posting")]
        self.out_keys = [k for k, r in records.items() if r is not None and r.state == "posted"]
        for key in self.out_keys:  # linked by an earlier try of this run: count it where it was done
            step = step_in_run(self.ledger, self.tenant, key, self.run_id, ("post", "adopt"))
            if step:
                self.counts["adopted" if step == "adopt" else "posted"] += 1
        return records, todo

    def calls_total(self) -> int:
        return int(self.counts["fortnox_calls"]) + fortnox_calls(self.runtime) - self.calls_before

    # ------------------------------------------------------------------------------------ one order
    def post_one(self, order: ClaimedOrder, claim: Claim) -> None:
        """Adopt or create the order's document; quarantine or defer it when that fails."""
        try:
            existing = self.find_existing(order, claim)
            if existing is not None:
                self.link(order, existing, adopted=True)
                return
            self.create(order)
        except MappingProblem as problem:  # e.g. a plugin's customer rule refuses the buyer
            quarantine_problem(self.runtime, order.key, order_from(order.record), problem, self.run_id)
            self.counts["quarantined"] += 1
        except FortnoxValidationError as exc:
            self.quarantine_rejected(order, exc)
        except (FortnoxTransientError, TransientError) as exc:
            self.failures.append(f"{order.number}: {exc}")
            self.counts["retry_later"] += 1
            log.warning("order %s stays in posting (resumed on retry): %s", order.number, exc)
        except FortnoxPermanentError:
            self.counts["fortnox_calls"] = self.calls_total()
            raise

    def find_existing(self, order: ClaimedOrder, claim: Claim) -> str | None:
        """The document already carrying the order's idempotency key (exact equality), if any."""
        existing = order.lookup.listed(order.idempotency_key)
        # the batch list was read after any earlier try of this run, so it already shows what
        # that try created; a targeted search is for old orders and takeovers from dead runs
        if existing is None and (claim.needs_search(order.key) or order.lookup.known is None
                                 or self.now - earliest_document(order.detail, order.record, self.now)
                                 > LIST_LOOKUP_MAX_AGE):
            existing = order.lookup.find(order.idempotency_key)
        return existing

    def create(self, order: ClaimedOrder) -> None:
        """Resolve the customer, create missing articles, create the document and link it."""
        detail = order.detail
        order.plan = self.stored_plans.get(order.key)
        customer_number = detail.get("customer_number") or (
            cached_customer(self.runtime, order.plan) if order.plan else None)
        if not customer_number:
            order.plan = plan_customer(order_from(order.record), self.rules, self.shop_key)
            customer_number = resolve_customer(self.runtime, order.plan, order.key, detail, self.run_id)
        if detail.get("articles_to_create"):
            create_articles(self.runtime, detail["articles_to_create"])
        # the document was validated by its model when it was mapped; sent as it was stored
        payload = {**detail["document"], "CustomerNumber": customer_number}
        number, adopted = self.create_document(order, payload)
        self.link(order, number, adopted=adopted, customer_number=customer_number,
                  sent={"Invoice" if order.doc_kind == "invoice" else "Order": payload})

    def create_document(self, order: ClaimedOrder, payload: dict[str, Any]) -> tuple[str, bool]:
        """(document number, adopted): a lost answer is looked up before the create is tried again."""
        for _attempt in range(CREATE_ATTEMPTS):
            try:
                return self.runtime.fortnox.create_document(order.doc_kind, payload), False
            except FortnoxAmbiguousWrite:
                log.warning("order %s: the create's answer was lost; looking it up", order.number)
                number = order.lookup.find(order.idempotency_key)
                if number is not None:
                    return number, True
        raise PostingIncomplete(f"order {order.number}: create answered ambiguously {CREATE_ATTEMPTS} times")

    # ------------------------------------------------------------------------------------ ledger
    def link(self, order: ClaimedOrder, number: str, *, adopted: bool, sent: Any = None,
             customer_number: str | None = None) -> None:
        """Note ``posting → posted`` for the order (written at the next flush), with the record's detail
        less what only the create needed (:data:`CREATE_ONLY`: the post step's audit keeps what was sent)."""
        kind = order.doc_kind
        detail = {k: v for k, v in order.detail.items() if k not in CREATE_ONLY}
        if customer_number:
            detail["customer_number"] = customer_number
        self.pending.append({"source_key": order.key, "state": "posted", "step": "adopt" if adopted else "post",
                             "expect": ["posting"], "target_type": kind, "target_key": number, "payload": sent,
                             "detail": detail, "run_id": self.run_id,
                             "message": f"{'adopted existing' if adopted else 'created'} Fortnox {kind} {number}"})
        self.counts["adopted" if adopted else "posted"] += 1
        self.out_keys.append(order.key)
        self.linked_now.append(order.key)
        self.linked.append(f"{order.number} → {kind} {number}{' (adopted)' if adopted else ''}")

    def flush_links(self) -> None:
        """Write the pending links in one transaction and close the quarantine they resolve."""
        if not self.pending:
            return
        self.ledger.transition_many(self.tenant, KIND, self.pending)
        for change in self.pending:
            if change["source_key"] in self.quarantined:
                self.ledger.resolve_quarantine(self.tenant, KIND, change["source_key"])
        log.info("shop %s: %d order(s) → Fortnox: %s", self.shop_key, len(self.linked), ", ".join(self.linked))
        self.pending.clear()
        self.linked.clear()

    def quarantine_rejected(self, order: ClaimedOrder, exc: FortnoxValidationError) -> None:
        """Fortnox refused the document (4xx): a quarantine row naming the field, code and message."""
        shop_order = order_from(order.record)
        if order.plan is not None:  # the remembered customer may be what Fortnox refused: look again next time
            forget_customer(self.runtime, order.plan)
        self.ledger.quarantine(self.tenant, KIND, order.key, reason="fortnox_rejected", field=field_from(exc),
                               code=str(exc.code) if exc.code is not None else str(exc.status),
                               message=f"order {shop_order.order_number}: Fortnox said {exc.message}",
                               payload=order.detail.get("document"), run_id=self.run_id)
        self.counts["quarantined"] += 1
        log.warning("order %s quarantined: Fortnox %s", order.number, exc)


def field_from(exc: Any) -> str | None:
    """The Fortnox field a 400 names, when its message quotes one (e.g. 'Ogiltigt värde för fält X')."""
    match = re.search(r"\b([A-Z][A-Za-z0-9]+(?:\.[A-Z][A-Za-z0-9]+)*)\b", str(getattr(exc, "message", "")))
    return match.group(1) if match else None
