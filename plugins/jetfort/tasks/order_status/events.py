"""Status runs driven by events: the linked shop orders an asset-triggered run has to look at.

An asset-triggered run of ``jetfort__<tenant>__order_status`` has no data interval; its
``context["triggering_asset_events"]`` holds

* the batches of the tenant's Fortnox event trigger (topics ``orders`` and ``invoices``;
  :mod:`jetfort.tasks.events_commit`): the entity ids name Fortnox orders and invoices (an
  ``invoicepayment-*`` event names the payment or its invoice: both are read);
* the orders DAG's ``orders_posted`` asset events (:mod:`jetfort.assets`): the shop orders it just
  linked to a Fortnox document.

:func:`event_documents` reads each named document once (duplicates and replays of the same event
collapse to one read) and finds its link through the ledger, as the polling read does; a document
not linked to a shop order is ignored. ``read_changes`` then derives and records the states of the
linked orders exactly as for a scheduled run, and the ledger's status records make every push
happen once, however often an event came. Fortnox may send an event before its REST API shows the
change: a document that does not show what the event says (cancelled, booked) is re-read a few
times (bounded); a changed shop order whose status facts show nothing new is re-read briefly after
the run's pushes (:mod:`jetfort.tasks.order_status.event_run`); then each is taken as REST shows it:
the next scheduled run is the safety net (event runs never move the polling cursor).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from jetfort.assets import orders_posted_name
from jetfort.errors import PermanentError
from jetfort.fortnox.errors import FortnoxNotFound
from jetfort.fortnox.models.documents import InvoicePayment
from jetfort.ledger.store import Record
from jetfort.tasks.events_commit import run_batches
from jetfort.tasks.runtime import TenantRuntime

log = logging.getLogger(__name__)

PURPOSE = "status"
#: invoices-topic event types whose entityId may be an invoice payment's Number (or its invoice's)
PAYMENT_TYPES = frozenset({"invoicepayment-bookkeep-v1", "invoicepayment-deleted-v1"})
#: event type → (attribute, value) the document shows once Fortnox's REST API reflects the event
SHOWS: dict[str, tuple[str, bool]] = {
    "order-cancelled-v1": ("cancelled", True),
    "invoice-cancelled-v1": ("cancelled", True),
    "invoice-bookkeep-v1": ("booked", True),
}
#: event types that say a linked document changed: when REST shows nothing new for the shop order's
#: status facts, it may not reflect the change yet (re-read a few times)
CHANGE_TYPES = frozenset({"order-updated-v1", "invoice-updated-v1", "invoicepayment-bookkeep-v1"})
#: waits before each re-read of a document REST does not show as the event says
REREAD_DELAYS = (0.5, 1.2, 2.5)
#: at most this many seconds of such waits for the documents whose events say what REST must show
REREAD_BUDGET = 8.0
#: at most this many seconds of waits, after the run's pushes, for shop orders an event said changed
#: but whose status facts REST showed nothing new for (most such events change something else, e.g. an
#: address: every second waited holds an executor slot)
RECHECK_BUDGET = 2.0
#: with events on, the scheduled (safety-net) read takes at most this share of the company's Fortnox
#: budget: a window of many changed documents must not keep the event runs of the same company
#: waiting for request slots (they get the rest, 15 of Fortnox's 25 per 5 s; the read of a window of
#: 50 changed documents then takes about 25 s instead of 10)
SAFETY_NET_SHARE = 0.4


class _Finder(Protocol):
    def for_document(self, doc_type: str, number: str, key: str | None) -> Record | None: ...


@dataclass
class EventWork:
    """What an asset-triggered status run was asked to look at."""

    batches: list[dict[str, Any]] = field(default_factory=list)
    #: (kind "order" | "invoice" | "payment", number) → the event types seen for it, first seen first
    documents: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    #: shop order keys (``<shop>:<order id>``) the orders DAG linked
    posted: list[str] = field(default_factory=list)
    posted_events: int = 0
    events: int = 0
    foreign: int = 0  # events of other topics or without an entity id (ignored)

    @property
    def ours(self) -> bool:
        """Triggered by jetfort's own asset events (else, e.g. an asset event made by hand: poll)."""
        return bool(self.batches) or self.posted_events > 0


def event_work(context: Mapping[str, Any], tenant: str) -> EventWork | None:
    """The run's event work; None for a run not triggered by assets (scheduled, manual, backfill)."""
    triggering = context.get("triggering_asset_events")
    if not triggering:
        return None
    work = EventWork(batches=run_batches(context, tenant, PURPOSE))
    for batch in work.batches:
        for event in batch.get("events") or ():
            work.events += 1
            kind = _kind(event)
            if kind is None:
                work.foreign += 1
                continue
            work.documents.setdefault((kind, str(event["entityId"])), set()).add(str(event.get("type")))
    wanted = orders_posted_name(tenant)
    for asset, asset_events in triggering.items():
        if getattr(asset, "name", None) != wanted:
            continue
        for asset_event in asset_events:
            linked = (getattr(asset_event, "extra", None) or {}).get("linked")
            if isinstance(linked, list):
                work.posted_events += 1
                work.posted.extend(str(k) for k in linked if str(k) not in work.posted)
    return work


def _kind(event: Mapping[str, Any]) -> str | None:
    if not event.get("entityId"):
        return None
    if event.get("topic") == "orders":
        return "order"
    if event.get("topic") == "invoices":
        return "payment" if event.get("type") in PAYMENT_TYPES else "invoice"
    return None


def pause(seconds: float) -> None:
    """The wait before a re-read (tests replace it)."""
    time.sleep(seconds)


def event_documents(rt: TenantRuntime, finder: _Finder, work: EventWork, affected: dict[str, Record], *,
                    key_attr: str, changed: set[str], read: dict[tuple[str, str], Any] | None = None) -> dict[str, int]:
    """Add the links of the documents the events name to ``affected`` (and to ``changed`` the shop
    orders an event says changed, see :data:`CHANGE_TYPES`); counts for the run's result. ``read``
    receives each document read, by (type, number), so the derivation that follows need not GET it
    again (each GET spends the company's Fortnox budget)."""
    reader = _Reader(rt)
    counts: Counter[str] = Counter()
    for (kind, number), types in work.documents.items():
        counts[f"{kind}s"] += 1
        found = reader.documents(kind, number, types)
        if read is not None:
            read.update(((doc_type, str(doc.document_number)), doc) for doc_type, doc in found)
        if not found:
            counts["not_found"] += 1
            continue
        links = [link for doc_type, doc in found
                 if (link := finder.for_document(doc_type, str(doc.document_number), getattr(doc, key_attr, None)))]
        if not links:
            counts["not_linked"] += 1
            log.info("Fortnox %s is not linked to a shop order; its events are ignored",
                     " / ".join(f"{t} {d.document_number}" for t, d in found))
        for link in links:
            affected[link.source_key] = link
            if types & CHANGE_TYPES:
                changed.add(link.source_key)
    counts["lagging"] = reader.lagging
    return {"events": work.events, "batches": len(work.batches), **dict(counts)}


def settled(keys: Iterable[str], derive: Callable[[str], Any], same: Callable[[str, Any], bool], *,
            budget: float, unsettled: list[str] | None = None) -> dict[str, Any]:
    """Derivations of shop orders an event says changed: ``derive(key)``, re-done while
    ``same(key, derived)`` says REST shows nothing new yet, waiting :data:`REREAD_DELAYS` in turn
    for at most ``budget`` seconds in all; a key whose documents cannot be read (a permanent error)
    is left out; transient errors fail the task (Airflow retries it).

    ``unsettled`` receives the keys that still show nothing new: with ``budget=0`` each key is read
    once, so the caller pushes what is new first and re-checks only those afterwards."""
    out: dict[str, Any] = {}
    for key in sorted(keys):
        delays = list(REREAD_DELAYS)
        try:
            derived = derive(key)
            while same(key, derived) and delays and delays[0] <= budget:
                delay = delays.pop(0)
                budget -= delay
                pause(delay)
                derived = derive(key)
        except PermanentError as exc:  # the recorder reads it again and quarantines it, as for any read
            log.info("shop order %s: reading its documents failed (%s); recorded by the usual read", key, exc)
            continue
        if same(key, derived):
            if unsettled is not None:
                unsettled.append(key)
            else:
                log.info("shop order %s: REST shows nothing new for its status since the event; the next "
                         "scheduled run reads it again", key)
        out[key] = derived
    return out


class _Reader:
    """Reads the documents events name, re-reading (bounded) while REST does not show the event yet."""

    def __init__(self, rt: TenantRuntime) -> None:
        self.fortnox = rt.fortnox
        self.budget = REREAD_BUDGET
        self.lagging = 0

    def documents(self, kind: str, number: str, types: set[str]) -> list[tuple[str, Any]]:
        """[(document type, document)] the event names; empty when Fortnox does not have it."""
        if kind == "payment":
            return self._payment_documents(number)
        if kind == "order":
            found = self._read(lambda: self.fortnox.get_order(number), types, f"order {number}")
        else:
            found = self._read(lambda: self.fortnox.get_invoice(number), types, f"invoice {number}")
        return [(kind, found)] if found is not None else []

    def _payment_documents(self, number: str) -> list[tuple[str, Any]]:
        """An ``invoicepayment-*`` event's entityId: the payment's Number (Fortnox's example) or its
        invoice's DocumentNumber (the sandbox's choice; unconfirmed which Fortnox sends): both are
        read, once each, and whichever is linked counts."""
        found: dict[str, Any] = {}
        for read in (lambda: self._payment_invoice(number), lambda: self.fortnox.get_invoice(number)):
            try:
                invoice = read()
            except FortnoxNotFound:
                continue
            if invoice is not None:
                found.setdefault(str(invoice.document_number), invoice)
        return [("invoice", invoice) for invoice in found.values()]

    def _payment_invoice(self, number: str) -> Any:
        answer = self.fortnox.get_json(f"3/invoicepayments/{number}") or {}
        payment = InvoicePayment.model_validate(answer.get("InvoicePayment") or {})
        if payment.invoice_number is None:
            return None
        return self._read(lambda: self.fortnox.get_invoice(str(payment.invoice_number)), set(),
                          f"invoice {payment.invoice_number}")

    def _read(self, read: Callable[[], Any], types: set[str], what: str) -> Any:
        expected = [SHOWS[t] for t in sorted(types) if t in SHOWS]
        deleted = any(t.endswith("-deleted-v1") for t in types)
        delays = list(REREAD_DELAYS)
        while True:
            try:
                doc = read()
                missing = [f"{attr}={value}" for attr, value in expected if getattr(doc, attr, None) != value]
            except FortnoxNotFound:
                doc, missing = None, ["the document"]
                if deleted:  # gone, as the event said
                    log.info("Fortnox %s is deleted; its event is ignored", what)
                    return None
            if not missing:
                return doc
            if not delays or delays[0] > self.budget:
                self.lagging += 1
                log.warning("Fortnox REST does not show %s for %s yet (events %s); taken as it is now, the next "
                            "scheduled run reads it again", ", ".join(missing), what, sorted(types))
                return doc
            delay = delays.pop(0)
            self.budget -= delay
            pause(delay)
