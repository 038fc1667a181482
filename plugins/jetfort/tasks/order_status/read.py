"""read_changes: the states of every linked shop order whose Fortnox documents changed, recorded.

See :mod:`jetfort.tasks.order_status` for what is recorded (kinds ``order_status`` and ``status``).
A run triggered by Fortnox events (or by the orders DAG's ``orders_posted`` asset) reads only the
documents and shop orders those name and leaves the polling cursor alone
(:mod:`jetfort.tasks.order_status.events`).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from jetfort.errors import PermanentError
from jetfort.ledger.store import Record
from jetfort.mapping import status as mapping
from jetfort.mapping.orders import KEY_PREFIX
from jetfort.tasks.order_status.common import (
    CURSOR,
    KIND_FACTS,
    KIND_LINK,
    KIND_STATUS,
    LINKED,
    PENDING,
    PUSHING,
    QUARANTINED,
    UNMAPPED,
    invoice_index,
    order_key,
    runtime_for,
)
from jetfort.tasks.order_status.events import (
    RECHECK_BUDGET,
    SAFETY_NET_SHARE,
    EventWork,
    event_documents,
    event_work,
    settled,
)
from jetfort.tasks.params import check_status_params, range_window
from jetfort.tasks.runtime import TenantRuntime, Window, run_window

if TYPE_CHECKING:
    from jetfort.fortnox.models import FortnoxInvoice, FortnoxOrder

log = logging.getLogger(__name__)


def read_changes(tenant: str, context: Mapping[str, Any], *, runtime: TenantRuntime | None = None,
                 now: dt.datetime | None = None) -> dict[str, Any]:
    """Derive the states of every linked shop order whose Fortnox documents changed; record them.

    An event run's result also lists ``shop_orders`` (the keys it recorded), ``unsettled``: shop
    orders an event says changed but whose documents showed nothing new, for :func:`recheck`, and
    ``posted_later``: the shop orders the orders DAG just linked, not read yet, for :func:`read_posted`."""
    rt = runtime_for(tenant, runtime)
    try:
        return _read_changes(rt, context, now=now)
    finally:
        if runtime is None:
            rt.close()


def recheck(tenant: str, context: Mapping[str, Any], keys: Iterable[str], *,
            runtime: TenantRuntime | None = None) -> dict[str, Any]:
    """Re-read (bounded, see :func:`~jetfort.tasks.order_status.events.settled`) shop orders an event
    said changed while Fortnox's REST API showed nothing new yet; record what they show now."""
    rt = runtime_for(tenant, runtime)
    try:
        return _record_keys(rt, context, keys, settle=True)
    finally:
        if runtime is None:
            rt.close()


def read_posted(tenant: str, context: Mapping[str, Any], keys: Iterable[str], *,
                runtime: TenantRuntime | None = None) -> dict[str, Any]:
    """Read and record the shop orders the orders DAG just linked (an event run's ``posted_later``).

    A bulk read (a post of many orders names them all) that seldom finds anything to push: it takes
    at most :data:`~jetfort.tasks.order_status.events.SAFETY_NET_SHARE` of the company's Fortnox
    budget from here on, so the event runs of the same company find request slots meanwhile."""
    rt = runtime_for(tenant, runtime)
    try:
        rt.yield_fortnox_budget(SAFETY_NET_SHARE)
        return _record_keys(rt, context, keys, settle=False)
    finally:
        if runtime is None:
            rt.close()


def _record_keys(rt: TenantRuntime, context: Mapping[str, Any], keys: Iterable[str], *,
                 settle: bool) -> dict[str, Any]:
    """An event run's later read of given shop orders, recorded (``settle``: re-read, bounded, while
    REST shows nothing new); the result lists ``shop_orders``, the keys linked."""
    affected, _unknown = _requested(_LinkFinder(rt.ledger, rt.tenant), keys)
    derived = settled(affected, lambda key: _derive(rt, affected[key]), _unchanged(rt),
                      budget=RECHECK_BUDGET) if settle else None
    shops = {shop.key for shop in rt.rules.shops}
    result = _record(rt, context, affected, [], dry_run=False, shops=shops, read={"window": None},
                     derived=derived)
    return {**result, "shop_orders": sorted(affected)}


def _read_changes(rt: TenantRuntime, context: Mapping[str, Any], *, now: dt.datetime | None) -> dict[str, Any]:
    rules, ledger, tenant = rt.rules, rt.ledger, rt.tenant
    params = context.get("params") or {}
    check_status_params(params, timezone=rules.schedules.timezone)
    shops = {shop.key for shop in rules.shops}
    dry_run = bool(params.get("dry_run"))
    finder = _LinkFinder(ledger, tenant)
    affected, unknown_keys = _requested(finder, params.get("orders") or [])
    work = event_work(context, tenant)
    if work is not None and work.ours:  # the documents the events name; the polling cursor stays
        derived: dict[str, mapping.Derived] = {}
        read = _event_read(rt, finder, work, affected, derived)
        result = _record(rt, context, affected, unknown_keys, dry_run=dry_run, shops=shops, read=read,
                         derived=derived)
        return {**result, "shop_orders": sorted(affected)}  # what the run pushes (bounded by its events)
    # since/until: Fortnox lists documents by "changed since" only, so a range reads from its start on
    window = range_window(params, timezone=rules.schedules.timezone) or run_window(
        context, ledger=ledger, tenant=tenant, cursor=CURSOR,
        overlap_minutes=rules.schedules.window_overlap_minutes, now=now)
    log.info("order status window %s → %s (%s)", window.start.isoformat(), window.end.isoformat(), window.source)
    if window.source == "data_interval" and rules.events_purpose("order_status") is not None:
        rt.yield_fortnox_budget(SAFETY_NET_SHARE)  # the safety net: the event runs go first
        log.info("Fortnox events are on: this scheduled read takes at most %d %% of the company's request budget",
                 round(SAFETY_NET_SHARE * 100))
    changed_orders, changed_invoices = _changed(rt, finder, window, affected)
    result = _record(rt, context, affected, unknown_keys, dry_run=dry_run, shops=shops, read={
        "window": window.as_dict(), "changed_orders": changed_orders, "changed_invoices": changed_invoices})
    cursor = ledger.get_cursor(tenant, CURSOR)
    if not dry_run and window.source != "params" and (
            cursor is None or dt.datetime.fromisoformat(cursor) < window.end):
        ledger.set_cursor(tenant, CURSOR, window.end.isoformat())
    return result


def _event_read(rt: TenantRuntime, finder: _LinkFinder, work: EventWork, affected: dict[str, Record],
                derived: dict[str, mapping.Derived]) -> dict[str, Any]:
    """An event run's reads: the documents its Fortnox events name (``derived``: their states, each
    document read once); the shop orders the orders DAG linked are only listed (``posted_later``)."""
    changed: set[str] = set()
    just_read: dict[tuple[str, str], Any] = {}
    events = event_documents(rt, finder, work, affected, changed=changed, read=just_read,
                             key_attr=_IDEMPOTENCY_ATTR[rt.rules.orders.idempotency_field])
    unsettled: list[str] = []
    derived.update(settled(changed, lambda key: _derive(rt, affected[key], just_read), _unchanged(rt),
                           budget=0.0, unsettled=unsettled))
    for key in sorted(set(affected) - set(derived)):  # named by other events (created, cancelled, booked)
        try:
            derived[key] = _derive(rt, affected[key], just_read)
        except PermanentError:
            continue  # the recorder reads it again and quarantines it with the reason
    posted, not_linked = _requested(finder, work.posted)
    later = sorted(set(posted) - set(affected))  # read by read_posted, once this run's events are pushed
    log.info("order status from events: %s; %d shop order(s) just linked by the orders DAG", events, len(posted))
    return {"window": None, "events": events, "posted": len(posted),
            **({"posted_not_linked": not_linked} if not_linked else {}),
            **({"unsettled": unsettled} if unsettled else {}),
            **({"posted_later": later} if later else {})}


def _unchanged(rt: TenantRuntime) -> Callable[[str, mapping.Derived], bool]:
    """Whether a shop order's derived status facts show nothing new since the ledger's last read."""
    def same(key: str, now: mapping.Derived) -> bool:
        before = rt.ledger.get(rt.tenant, KIND_FACTS, key)
        if before is None:
            return not now.states
        return all((before.detail or {}).get(k) == v for k, v in now.to_detail().items())
    return same


def _record(rt: TenantRuntime, context: Mapping[str, Any], affected: dict[str, Record], unknown_keys: list[str], *,
            dry_run: bool, shops: set[str], read: dict[str, Any],
            derived: Mapping[str, mapping.Derived] | None = None) -> dict[str, Any]:
    """Derive and record the states of the affected shop orders; the run's result."""
    recorder = _Recorder(rt, str(context.get("run_id") or ""), dry_run=dry_run)
    for key, link in sorted(affected.items()):
        shop_key, order_id = order_key(link)
        if shop_key not in shops:
            log.warning("%s is linked to shop %r, which the tenant rules no longer have; skipped", key, shop_key)
            continue
        recorder.order(key, link, shop_key, order_id, (derived or {}).get(key))
    result = {
        **read, "affected": len(affected), "states": dict(recorder.states),
        "quarantined": recorder.quarantined,
        "pending": {shop: recorder.pending.get(shop, 0) for shop in sorted(shops)},
        **({"not_linked": unknown_keys} if unknown_keys else {}),
        **({"dry_run": True, "planned": dict(recorder.planned)} if dry_run else {}),
    }
    log.info("read_changes: %s", {k: v for k, v in result.items() if k != "planned"})
    return result


def _requested(finder: _LinkFinder, keys: Iterable[Any]) -> tuple[dict[str, Record], list[str]]:
    """Manual re-check of given shop orders, whatever the window: their links, and the keys not linked."""
    affected: dict[str, Record] = {}
    unknown_keys: list[str] = []
    for key in keys:
        link = finder.by_source_key(str(key))
        if link is not None:
            affected[link.source_key] = link
        else:
            unknown_keys.append(str(key))
    if unknown_keys:
        log.warning("not linked to a Fortnox document in the ledger (nothing to re-check): %s", unknown_keys)
    return affected, unknown_keys


def _changed(rt: TenantRuntime, finder: _LinkFinder, window: Window, affected: dict[str, Record]) -> tuple[int, int]:
    """Adds the links of the Fortnox orders and invoices changed in the window; (orders, invoices) seen."""
    changed_orders = changed_invoices = 0
    attr = _IDEMPOTENCY_ATTR[rt.rules.orders.idempotency_field]
    fortnox = rt.fortnox
    for item in fortnox.orders_changed_since(window.start):
        changed_orders += 1
        link = finder.for_document("order", str(item.document_number), getattr(item, attr))
        if link is not None:
            affected[link.source_key] = link
    for inv in fortnox.invoices_changed_since(window.start):
        changed_invoices += 1
        link = finder.for_document("invoice", str(inv.document_number), getattr(inv, attr))
        if link is not None:
            affected[link.source_key] = link
    return changed_orders, changed_invoices


class _Recorder:
    """Records one affected shop order's derived facts and status records (a dry run only plans them)."""

    def __init__(self, rt: TenantRuntime, run_id: str, *, dry_run: bool) -> None:
        self.rt, self.ledger, self.tenant, self.run_id, self.dry_run = rt, rt.ledger, rt.tenant, run_id, dry_run
        self.states: dict[str, int] = defaultdict(int)
        self.pending: dict[str, int] = defaultdict(int)
        self.quarantined = 0
        self.planned: dict[str, dict[str, Any]] = defaultdict(dict)  # dry run: what would be recorded, per shop
        self.open_quarantine = {(q.kind, q.source_key) for q in self.ledger.open_quarantine(self.tenant)}

    def order(self, key: str, link: Record, shop_key: str, order_id: int,
              derived: mapping.Derived | None = None) -> None:
        try:
            derived = derived or _derive(self.rt, link)
        except PermanentError as exc:  # e.g. the linked document is gone: this order waits, the rest go on
            self.quarantined += 1
            if self.dry_run:
                log.warning("[dry run] %s would be quarantined: %s", key, exc)
                return
            self.ledger.quarantine(self.tenant, KIND_FACTS, key, reason="fortnox_read_failed", message=(
                f"{exc} — check Fortnox {link.target_type} {link.target_key} linked to shop order {key}, "
                "then resolve this entry"), run_id=self.run_id)
            return
        detail = {**derived.to_detail(), "shop": shop_key, "order_id": order_id,
                  "order_number": (link.detail or {}).get("order_number"),
                  "link": {"type": link.target_type, "number": link.target_key}}
        if self.dry_run:
            planned = {"facts": detail, "states": _would_record(self.rt, key, shop_key, derived.states,
                                                                self.open_quarantine)}
            self.planned[shop_key][key] = planned
            for state, record_state in planned["states"].items():
                self.states[state] += 1
                self.pending[shop_key] += record_state in (PENDING, PUSHING)
            return
        self._facts(key, link, derived, detail)
        for state in derived.states:
            self._status(key, shop_key, state, derived)

    def _facts(self, key: str, link: Record, derived: mapping.Derived, detail: dict[str, Any]) -> None:
        ledger, tenant = self.ledger, self.tenant
        top = derived.states[-1] if derived.states else "open"
        previous = ledger.get(tenant, KIND_FACTS, key)
        if previous is not None and previous.state == QUARANTINED:
            ledger.resolve_quarantine(tenant, KIND_FACTS, key)  # readable again
        if previous is None:
            ledger.ensure_record(tenant, KIND_FACTS, key, state=top, detail=detail)
        if previous is None or previous.detail != detail or previous.state != top:
            ledger.transition(tenant, KIND_FACTS, key, top, step="read", detail=detail, run_id=self.run_id,
                              message="; ".join(derived.reasons[s] for s in derived.states) or "no state yet")
        if derived.invoice_number and link.target_type == "order":
            index = invoice_index(derived.invoice_number)
            if ledger.get_cursor(tenant, index) != key:
                ledger.set_cursor(tenant, index, key)  # its later payments find this order directly

    def _status(self, key: str, shop_key: str, state: str, derived: mapping.Derived) -> None:
        ledger, tenant = self.ledger, self.tenant
        self.states[state] += 1
        skey = f"{key}:{state}"
        record = ledger.ensure_record(tenant, KIND_STATUS, skey, state=PENDING,
                                      detail={"reason": derived.reasons[state], "date": derived.dates[state]})
        mapped_now = getattr(self.rt.rules.status_map.states_for(shop_key), state) is not None
        if (record.state == UNMAPPED and mapped_now) or (
                record.state == QUARANTINED and (KIND_STATUS, skey) not in self.open_quarantine):
            # the status map now maps the state / a person resolved the quarantine: try again
            ledger.transition(tenant, KIND_STATUS, skey, PENDING, step="retry", expect=[record.state],
                              run_id=self.run_id, message="seen again")
            record = ledger.get(tenant, KIND_STATUS, skey) or record
        if record.state in (PENDING, PUSHING):
            self.pending[shop_key] += 1


def _would_record(rt: TenantRuntime, key: str, shop_key: str, derived: Iterable[str],
                  open_quarantine: set[tuple[str, str]]) -> dict[str, str]:
    """Dry run: the state each derived status record would have after a real read (nothing written)."""
    out: dict[str, str] = {}
    for state in derived:
        record = rt.ledger.get(rt.tenant, KIND_STATUS, f"{key}:{state}")
        current = record.state if record is not None else PENDING
        mapped_now = getattr(rt.rules.status_map.states_for(shop_key), state) is not None
        if (current == UNMAPPED and mapped_now) or (
                current == QUARANTINED and (KIND_STATUS, f"{key}:{state}") not in open_quarantine):
            current = PENDING
        out[state] = current
    return out


_IDEMPOTENCY_ATTR = {"ExternalInvoiceReference1": "external_invoice_reference1",
                     "ExternalInvoiceReference2": "external_invoice_reference2"}


class _LinkFinder:
    """Finds the orders flow's link of a changed Fortnox document without reading every link.

    A document jetfort posted carries the idempotency key ``jetfort:<shop>:<order id>`` (copied to
    an invoice made from the order), which names the link directly; an invoice seen before is in the
    invoice index. Only hashed keys (``jetfort:h:…``, for keys too long to fit) need the full list of
    links, read once and only then.
    """

    def __init__(self, ledger: Any, tenant: str) -> None:
        self.ledger = ledger
        self.tenant = tenant
        self._cache: dict[str, Record | None] = {}
        self._by_target: dict[tuple[str, str], Record] | None = None

    def by_source_key(self, source_key: str) -> Record | None:
        if source_key not in self._cache:
            record = self.ledger.get(self.tenant, KIND_LINK, source_key)
            ok = record is not None and record.state in LINKED and record.target_key
            self._cache[source_key] = record if ok else None
        return self._cache[source_key]

    def for_document(self, doc_type: str, number: str, key: str | None) -> Record | None:
        link = None
        if doc_type == "invoice":
            indexed = self.ledger.get_cursor(self.tenant, invoice_index(number))
            link = self.by_source_key(indexed) if indexed else None
        if link is None and key and key.startswith(f"{KEY_PREFIX}:"):
            shop, _, order_id = key[len(KEY_PREFIX) + 1:].partition(":")
            if shop == "h":
                link = self._all().get((doc_type, number))
            elif order_id.isdigit():
                link = self.by_source_key(f"{shop}:{order_id}")
        if link is None:
            return None
        if link.target_type == doc_type and link.target_key == number:
            return link
        if doc_type == "invoice" and link.target_type == "order":
            return link  # an invoice made from the linked order (the order tells which one)
        return None

    def _all(self) -> dict[tuple[str, str], Record]:
        if self._by_target is None:
            self._by_target = {(str(r.target_type), str(r.target_key)): r
                               for r in self.ledger.records(self.tenant, KIND_LINK, states=LINKED) if r.target_key}
        return self._by_target


def _derive(rt: TenantRuntime, link: Record, just_read: dict[tuple[str, str], Any] | None = None) -> mapping.Derived:
    """Read the linked document (and the invoice made from it, and its payments) and derive.

    ``just_read``: documents this run read moments ago (an event run's), each used once instead of a
    second GET; a re-read of the same document (REST lagging an event) then GETs it afresh."""
    fortnox = rt.fortnox
    fresh = just_read if just_read is not None else {}
    field = rt.rules.status_map.tracking_field
    order: FortnoxOrder | None = None
    invoice: FortnoxInvoice | None = None
    assert link.target_key is not None
    if link.target_type == "invoice":
        invoice_number: str | None = link.target_key
    else:
        order = fresh.pop(("order", link.target_key), None) or fortnox.get_order(link.target_key)
        invoice_number = order.invoice_reference
    if invoice_number:
        invoice = fresh.pop(("invoice", invoice_number), None) or fortnox.get_invoice(invoice_number)
    credit_note = None
    if invoice is not None and invoice.credit_invoice_reference and not invoice.credit:
        credit_note = fortnox.get_invoice(invoice.credit_invoice_reference)  # partial or full credit?
    order_facts = mapping.order_facts(order, tracking_field=field) if order is not None else None
    invoice_facts = (mapping.invoice_facts(invoice, tracking_field=field, credit_note=credit_note)
                     if invoice is not None else None)
    payments: list[mapping.PaymentFacts] = []
    if invoice_facts is not None and invoice_facts.final_pay_date is None and invoice_facts.balance == 0:
        payments = [mapping.payment_facts(p) for p in fortnox.list_invoice_payments(invoice_facts.document_number)]
    return mapping.derive(order_facts, invoice_facts, payments)

