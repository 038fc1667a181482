"""Recovery and adoption: never a second document for an order, whatever happened before.

**Claims.** Before the first create, post claims the batch: ``mapped → posting`` with a
compare-and-set in one transaction (a concurrent worker loses and leaves those orders alone). A
record found in ``posting`` was left there by a crashed try of this run, a dropped answer or a
dead run; it is taken over (after :data:`POSTING_STALE_AFTER` when another run claimed it) and
never created again before Fortnox has been asked for its idempotency key.

**Lookups (~1 Fortnox call per order).** A per-order search before each create would double the
calls. Instead :class:`IdempotencyLookup` makes one list query per batch: every Fortnox document
modified since the earliest moment a document of the batch can have been created (minus
:data:`LIST_LOOKUP_MARGIN` for clock skew): an order's date, never later than now, or the time an
earlier try claimed it (see :func:`earliest_document`). Fortnox's ``lastmodified`` only moves
forward, so that list contains any document already carrying one of the batch's keys: an exact-equality lookup for the whole batch in one or a few paged calls (Fortnox's
own search matches substrings). Orders older than :data:`LIST_LOOKUP_MAX_AGE` and takeovers from
dead runs get a targeted lookup instead; a match is *adopted*.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from jetfort.ledger.store import Record
from jetfort.tasks.orders.common import KIND, aware, step_in_run
from jetfort.tasks.runtime import TenantRuntime

log = logging.getLogger(__name__)

#: a record in ``posting`` written by another run is left alone for this long (it may be live)
POSTING_STALE_AFTER = dt.timedelta(minutes=5)
#: orders older than this get a targeted idempotency lookup instead of the batch list
LIST_LOOKUP_MAX_AGE = dt.timedelta(days=2)
LIST_LOOKUP_MARGIN = dt.timedelta(hours=1)


class IdempotencyLookup:
    """Exact-equality idempotency lookup: one list query per batch, targeted queries when needed."""

    def __init__(self, runtime: TenantRuntime, kind: str, field: str) -> None:
        self.hook = runtime.fortnox
        self.kind = kind
        self.field = field
        self.known: dict[str, str] | None = None

    def prime(self, since: dt.datetime) -> None:
        known: dict[str, str] = {}
        # a cancelled one counts too: never a second
        # credit invoices are left out: PUT credit copies the original's key into the credit
        for value, number in self.hook.document_references(self.kind, self.field, since=since - LIST_LOOKUP_MARGIN,
                                                           credit=False):
            current = known.get(value)
            if current is None or int(number) < int(current):
                known[value] = number
        self.known = known

    def listed(self, key: str) -> str | None:
        return None if self.known is None else self.known.get(key)

    def find(self, key: str) -> str | None:
        if self.kind == "invoice":  # never a credit invoice (it may carry a copy of the order's key)
            hits: list[Any] = list(self.hook.find_invoices_by_reference(key, field=self.field, credit=False))
        else:
            hits = list(self.hook.find_orders_by_reference(key, field=self.field))
        return str(hits[0].document_number) if hits else None


def earliest_document(detail: Mapping[str, Any], record: Record | None, now: dt.datetime) -> dt.datetime:
    """The earliest a Fortnox document for this order can have been created: the order's date,
    never later than now (a shop clock or time zone set ahead must not hide what an earlier try
    posted), or, for a record an earlier try left in ``posting``, when it was claimed (our clock)."""
    start = min(aware(dt.datetime.fromisoformat(detail["order_date"])), now)
    if record is not None and record.state == "posting":
        start = min(start, record.updated_at)
    return start


def batch_lookups(runtime: TenantRuntime, todo: Sequence[str], details: Mapping[str, Mapping[str, Any]],
                  records: Mapping[str, Record | None], now: dt.datetime) -> dict[str, IdempotencyLookup]:
    """One lookup per document kind of the batch, primed with the list of its recent orders."""
    rules = runtime.rules
    kind_of = {k: str(details[k].get("doc_kind") or rules.orders.document) for k in todo}
    lookups = {kind: IdempotencyLookup(runtime, kind, rules.orders.idempotency_field)
               for kind in set(kind_of.values())}
    for kind, lookup in lookups.items():
        starts = [earliest_document(details[k], records.get(k), now) for k in todo if kind_of[k] == kind]
        recent = [d for d in starts if now - d <= LIST_LOOKUP_MAX_AGE]
        if recent:
            lookup.prime(min(recent))
    return lookups


@dataclass
class Claim:
    """The outcome of claiming a batch: what this try posts, and how."""

    mine: list[str] = field(default_factory=list)  # claimed now, or in posting by an earlier try of this run
    recovering: set[str] = field(default_factory=set)  # found in posting (crash, lost answer, takeover)
    owned: set[str] = field(default_factory=set)  # in posting by an earlier try of this run
    retry_later: int = 0  # another run has them

    def needs_search(self, key: str) -> bool:
        """A takeover from a dead run: its document may be older than the batch list shows."""
        return key in self.recovering and key not in self.owned


def claim_batch(runtime: TenantRuntime, todo: Sequence[str], records: Mapping[str, Record | None],
                details: Mapping[str, Mapping[str, Any]], *, run_id: str | None, owner: str,
                now: dt.datetime) -> Claim:
    """Claim every order before the first POST, in one transaction: mapped → posting (compare-and-set),
    and take over records left in posting by a crashed try of this run or a dead run."""
    ledger, tenant, rules = runtime.ledger, runtime.tenant, runtime.rules
    claim = Claim()
    changes: list[dict[str, Any]] = []
    for key in todo:
        record = records[key]
        assert record is not None
        detail = details[key]
        if record.state != "posting":
            changes.append({"source_key": key, "state": "posting", "step": "post", "expect": ["mapped"],
                            "run_id": run_id, "count_attempt": True,
                            "message": f"posting {detail.get('doc_kind')} with "
                                       f"{rules.orders.idempotency_field}={detail.get('idempotency_key')}"})
            continue
        # who claimed it: the audit's last post step names the run
        mine = step_in_run(ledger, tenant, key, run_id, ("post",)) is not None
        if not (mine or now - record.updated_at > POSTING_STALE_AFTER):
            log.warning("order %s is being posted by another run; leaving it to that run",
                        detail.get("order_number"))
            claim.retry_later += 1
            continue
        claim.recovering.add(key)
        if mine:
            claim.owned.add(key)
        else:
            changes.append({"source_key": key, "state": "posting", "step": "post", "expect": ["posting"],
                            "run_id": run_id, "message": f"taken over by {owner} (stale since "
                                                         f"{record.updated_at.isoformat()})"})
    claimed = ledger.transition_many(tenant, KIND, changes)
    claim.mine = [k for k in todo if k in claimed or k in claim.owned]
    claim.retry_later += sum(1 for c in changes if c["source_key"] not in claimed)
    return claim
