"""Order status back: what happens to a linked document in Fortnox reaches the Jetshop order.

Three tasks (wired in ``dags/jetfort_order_status.py``):

``read_changes``
    Fortnox orders and invoices changed since the window start (data interval or cursor, minus the
    overlap). Only documents linked to a shop order in the ledger (kind ``order``, written by the
    orders flow) count. For each affected shop order the documents are read in full, the states
    are derived (:mod:`jetfort.mapping.status`) and stored in the ledger: the latest facts as
    kind ``order_status`` and one record per state as kind ``status`` (``<shop>:<order>:<state>``,
    state ``pending`` until pushed). Nothing is pushed here; nothing but counts goes to XCom.
``push_status`` (one mapped instance per shop)
    Pushes pending states in order (delivered, invoiced, paid; cancelled wins), each exactly once:
    a compare-and-set ``pending → pushing → pushed`` in the ledger guards against concurrent and
    retried runs, and a push whose answer was lost (``pushing``) is first checked against the shop
    order before anything is sent again. Before the status that captures, the payment is captured
    once (kind ``capture``, ``<shop>:<order>``), for the lower of the document total and the
    authorised amount, never for an order cancelled in Fortnox or in the shop; a refused capture is
    quarantined with the PSP's message and the status is still pushed.
``summary``
    A table per state: pushed, captured, e-mails, skipped, quarantined (XCom and key ``summary``).

Failures: a refusal by the shop (status or capture) is quarantined with the shop's message and a
hint; a transient failure leaves its record in doubt and fails the shop's task instance after the
other orders were handled, so Airflow retries it and the retry starts from the ledger.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from jetfort.errors import PermanentError, TransientError
from jetfort.ledger.store import Record
from jetfort.mapping import status as mapping
from jetfort.mapping.orders import KEY_PREFIX
from jetfort.tasks.params import check_status_params, range_window
from jetfort.tasks.runtime import TenantRuntime, format_table, run_window

if TYPE_CHECKING:
    from jetfort.fortnox.models import FortnoxInvoice, FortnoxOrder
    from jetfort.jetshop.hook import JetshopHook
    from jetfort.jetshop.models import OrderStatus, ShopOrder
    from jetfort.rules import StatusAction, TenantRules

log = logging.getLogger(__name__)

CURSOR = "order_status"
#: ledger kinds: the orders flow's link, the latest derived facts, one per pushed state, one capture
KIND_LINK = "order"
KIND_FACTS = "order_status"
KIND_STATUS = "status"
KIND_CAPTURE = "capture"
LINKED = ("posted", "acknowledged")
#: status record states
PENDING, PUSHING, PUSHED = "pending", "pushing", "pushed"
UNMAPPED, SUPERSEDED, QUARANTINED = "unmapped", "superseded", "quarantined"
#: capture record states
CAPTURING, CAPTURED, BLOCKED, NOT_CAPTURABLE = "capturing", "captured", "blocked", "not_capturable"
COUNTERS = ("pushed", "captured", "emails", "skipped", "quarantined")
#: a push/capture claimed by another run is left alone this long (it may still be in flight)
LEASE = dt.timedelta(minutes=10)


class StatusPushIncomplete(TransientError):
    """Some shop orders could not be finished for a transient reason; a retry continues them."""


class _InFlightElsewhere(Exception):
    """Another run claimed this push or capture moments ago; leave the order to it."""


def _runtime(tenant: str, runtime: TenantRuntime | None) -> TenantRuntime:
    return runtime if runtime is not None else TenantRuntime.for_tenant(tenant)


def _order_key(link: Record) -> tuple[str, int]:
    detail = link.detail or {}
    shop, _, order_id = link.source_key.partition(":")
    return str(detail.get("shop") or shop), int(detail.get("order_id") or order_id)


# ------------------------------------------------------------------------------------------------
# read_changes
# ------------------------------------------------------------------------------------------------


def read_changes(tenant: str, context: Mapping[str, Any], *, runtime: TenantRuntime | None = None,
                 now: dt.datetime | None = None) -> dict[str, Any]:
    """Derive the states of every linked shop order whose Fortnox documents changed; record them."""
    rt = _runtime(tenant, runtime)
    try:
        return _read_changes(rt, context, now=now)
    finally:
        if runtime is None:
            rt.close()


def _read_changes(rt: TenantRuntime, context: Mapping[str, Any], *, now: dt.datetime | None) -> dict[str, Any]:
    rules, ledger, tenant = rt.rules, rt.ledger, rt.tenant
    params = context.get("params") or {}
    check_status_params(params, timezone=rules.schedules.timezone)
    # since/until: Fortnox lists documents by "changed since" only, so a range reads from its start on
    window = range_window(params, timezone=rules.schedules.timezone) or run_window(
        context, ledger=ledger, tenant=tenant, cursor=CURSOR,
        overlap_minutes=rules.schedules.window_overlap_minutes, now=now)
    log.info("order status window %s → %s (%s)", window.start.isoformat(), window.end.isoformat(), window.source)
    shops = {shop.key for shop in rules.shops}
    dry_run = bool(params.get("dry_run"))
    planned: dict[str, dict[str, Any]] = defaultdict(dict)  # dry run: what would be recorded, per shop
    finder = _LinkFinder(ledger, tenant)
    affected: dict[str, Record] = {}
    unknown_keys: list[str] = []
    for key in params.get("orders") or []:  # manual re-check of given shop orders, whatever the window
        link = finder.by_source_key(str(key))
        if link is not None:
            affected[link.source_key] = link
        else:
            unknown_keys.append(str(key))
    if unknown_keys:
        log.warning("not linked to a Fortnox document in the ledger (nothing to re-check): %s", unknown_keys)
    changed_orders = changed_invoices = 0
    attr = _IDEMPOTENCY_ATTR[rules.orders.idempotency_field]
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

    states: dict[str, int] = defaultdict(int)
    pending: dict[str, int] = defaultdict(int)
    quarantined = 0
    open_quarantine = {(q.kind, q.source_key) for q in ledger.open_quarantine(tenant)}
    run_id = str(context.get("run_id") or "")
    for key, link in sorted(affected.items()):
        shop_key, order_id = _order_key(link)
        if shop_key not in shops:
            log.warning("%s is linked to shop %r, which the tenant rules no longer have; skipped", key, shop_key)
            continue
        try:
            derived = _derive(rt, link)
        except PermanentError as exc:  # e.g. the linked document is gone: this order waits, the rest go on
            quarantined += 1
            if dry_run:
                log.warning("[dry run] %s would be quarantined: %s", key, exc)
                continue
            ledger.quarantine(tenant, KIND_FACTS, key, reason="fortnox_read_failed", message=(
                f"{exc} — check Fortnox {link.target_type} {link.target_key} linked to shop order {key}, "
                "then resolve this entry"), run_id=run_id)
            continue
        detail = {**derived.to_detail(), "shop": shop_key, "order_id": order_id,
                  "order_number": (link.detail or {}).get("order_number"),
                  "link": {"type": link.target_type, "number": link.target_key}}
        top = derived.states[-1] if derived.states else "open"
        if dry_run:
            planned[shop_key][key] = {"facts": detail, "states": _would_record(rt, key, shop_key, derived.states,
                                                                                open_quarantine)}
            for state, record_state in planned[shop_key][key]["states"].items():
                states[state] += 1
                pending[shop_key] += record_state in (PENDING, PUSHING)
            continue
        previous = ledger.get(tenant, KIND_FACTS, key)
        if previous is not None and previous.state == QUARANTINED:
            ledger.resolve_quarantine(tenant, KIND_FACTS, key)  # readable again
        if previous is None:
            ledger.ensure_record(tenant, KIND_FACTS, key, state=top, detail=detail)
        if previous is None or previous.detail != detail or previous.state != top:
            ledger.transition(tenant, KIND_FACTS, key, top, step="read", detail=detail, run_id=run_id,
                              message="; ".join(derived.reasons[s] for s in derived.states) or "no state yet")
        if derived.invoice_number and link.target_type == "order":
            index = _invoice_index(derived.invoice_number)
            if ledger.get_cursor(tenant, index) != key:
                ledger.set_cursor(tenant, index, key)  # its later payments find this order directly
        for state in derived.states:
            states[state] += 1
            skey = f"{key}:{state}"
            record = ledger.ensure_record(tenant, KIND_STATUS, skey, state=PENDING,
                                          detail={"reason": derived.reasons[state], "date": derived.dates[state]})
            mapped_now = getattr(rules.status_map.states_for(shop_key), state) is not None
            if (record.state == UNMAPPED and mapped_now) or (
                    record.state == QUARANTINED and (KIND_STATUS, skey) not in open_quarantine):
                # the status map now maps the state / a person resolved the quarantine: try again
                ledger.transition(tenant, KIND_STATUS, skey, PENDING, step="retry", expect=[record.state],
                                  run_id=run_id, message="seen again")
                record = ledger.get(tenant, KIND_STATUS, skey) or record
            if record.state in (PENDING, PUSHING):
                pending[shop_key] += 1

    cursor = ledger.get_cursor(tenant, CURSOR)
    if not dry_run and window.source != "params" and (
            cursor is None or dt.datetime.fromisoformat(cursor) < window.end):
        ledger.set_cursor(tenant, CURSOR, window.end.isoformat())
    result = {
        "window": window.as_dict(), "changed_orders": changed_orders,
        "changed_invoices": changed_invoices, "affected": len(affected), "states": dict(states),
        "quarantined": quarantined,
        "pending": {shop: pending.get(shop, 0) for shop in sorted(shops)},
        **({"not_linked": unknown_keys} if unknown_keys else {}),
        **({"dry_run": True, "planned": dict(planned)} if dry_run else {}),
    }
    log.info("read_changes: %s", {k: v for k, v in result.items() if k != "planned"})
    return result


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


def _invoice_index(invoice_number: str) -> str:
    """Ledger cursor row: invoice made from a linked order → the shop order's source key."""
    return f"{CURSOR}:invoice:{invoice_number}"


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
            indexed = self.ledger.get_cursor(self.tenant, _invoice_index(number))
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


def _derive(rt: TenantRuntime, link: Record) -> mapping.Derived:
    """Read the linked document (and the invoice made from it, and its payments) and derive."""
    fortnox = rt.fortnox
    field = rt.rules.status_map.tracking_field
    order: FortnoxOrder | None = None
    invoice: FortnoxInvoice | None = None
    assert link.target_key is not None
    if link.target_type == "invoice":
        invoice_number: str | None = link.target_key
    else:
        order = fortnox.get_order(link.target_key)
        invoice_number = order.invoice_reference
    if invoice_number:
        invoice = fortnox.get_invoice(invoice_number)
    order_facts = mapping.order_facts(order, tracking_field=field) if order is not None else None
    invoice_facts = mapping.invoice_facts(invoice, tracking_field=field) if invoice is not None else None
    payments: list[mapping.PaymentFacts] = []
    if invoice_facts is not None and invoice_facts.final_pay_date is None and invoice_facts.balance == 0:
        payments = [mapping.payment_facts(p) for p in fortnox.list_invoice_payments(invoice_facts.document_number)]
    return mapping.derive(order_facts, invoice_facts, payments)


# ------------------------------------------------------------------------------------------------
# push_status
# ------------------------------------------------------------------------------------------------


class _ShopPush:
    """Pushes one shop's pending states; counts per state for the summary."""

    def __init__(self, rt: TenantRuntime, shop_key: str, run_id: str, *, dry_run: bool = False,
                 planned: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        self.rt = rt
        self.ledger = rt.ledger
        self.tenant = rt.tenant
        self.shop_key = shop_key
        self.run_id = run_id
        self.actions = rt.rules.status_map.states_for(shop_key)
        self.template = rt.rules.status_map.tracking_url_template
        self.counts: dict[str, dict[str, int]] = {s: dict.fromkeys(COUNTERS, 0) for s in mapping.STATE_ORDER}
        self.problems: list[str] = []
        self._statuses: dict[int, OrderStatus] | None = None
        self._warned: set[int] = set()
        self.dry_run = dry_run
        self.planned = planned or {}  # dry run: what read_changes would have recorded for this shop
        self.plan: list[str] = []

    @property
    def hook(self) -> JetshopHook:
        return self.rt.jetshop(self.shop_key)

    def statuses(self) -> dict[int, OrderStatus]:
        if self._statuses is None:
            self._statuses = {s.status_id: s for s in self.hook.get_statuses()}
        return self._statuses

    # -- per order ---------------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        prefix = f"{self.shop_key}:"
        work: dict[int, list[Record]] = defaultdict(list)
        for record in self.ledger.records(self.tenant, KIND_STATUS, states=[PENDING, PUSHING]):
            if record.source_key.startswith(prefix):
                order_id = int(record.source_key.split(":")[1])
                work[order_id].append(record)
        for key in self.planned:
            work.setdefault(int(key.split(":")[1]), [])
        transient: list[str] = []
        for order_id in sorted(work):
            try:
                self.order(order_id)
            except _InFlightElsewhere as exc:
                log.info("order %s left alone: %s", order_id, exc)
            except TransientError as exc:
                transient.append(f"order {order_id}: {exc}")
            except Exception as exc:
                if getattr(exc, "retryable", False):
                    transient.append(f"order {order_id}: {type(exc).__name__}: {exc}")
                else:
                    raise
        result: dict[str, Any] = {"shop": self.shop_key, "orders": len(work),
                                  "states": {s: c for s, c in self.counts.items() if any(c.values())}}
        if self.dry_run:
            result.update(dry_run=True, plan=self.plan[:100])
        log.info("push_status %s: %s", self.shop_key, result)
        if transient:
            raise StatusPushIncomplete(
                f"shop {self.shop_key}: {len(transient)} order(s) not finished, a retry continues them: "
                + "; ".join(transient[:10]))
        return result

    def order(self, order_id: int) -> None:
        key = f"{self.shop_key}:{order_id}"
        facts_record = self.ledger.get(self.tenant, KIND_FACTS, key)
        facts = (facts_record.detail if facts_record else None) or {}
        records: dict[str, Any] = {s: self.ledger.get(self.tenant, KIND_STATUS, f"{key}:{s}")
                                   for s in mapping.STATE_ORDER}
        if key in self.planned:  # dry run: as a real read would have left the ledger
            facts = dict(self.planned[key]["facts"])
            for state, record_state in self.planned[key]["states"].items():
                if records.get(state) is None or records[state].state != record_state:
                    records[state] = _Planned(record_state)
        derived_states = list(facts.get("states") or [])
        done = [s for s, r in records.items() if r is not None and r.state == PUSHED]
        push, superseded = mapping.to_push(derived_states, done)
        # capture once when the capturing state is reached (even if its status is superseded), and
        # before any status at or after it goes out: a shop status flagged to capture would
        # otherwise take the whole authorisation
        capture_state = next((s for s, a in self.actions.mapped() if a.capture and s != "cancelled"), None)
        needs_capture = capture_state in derived_states and "cancelled" not in derived_states
        captured = False
        if self.dry_run:
            self._plan(key, push, superseded, needs_capture, capture_state, records)
            return
        gone = [s for s, r in records.items()
                if r is not None and r.state in (PENDING, PUSHING) and s not in derived_states]
        for state in [*superseded, *gone]:
            why = ("Fortnox no longer shows this state" if state in gone
                   else "order cancelled in Fortnox" if "cancelled" in derived_states
                   else "a later state was already pushed")
            if self.ledger.transition(self.tenant, KIND_STATUS, f"{key}:{state}", SUPERSEDED, step="push",
                                      expect=[PENDING, PUSHING], run_id=self.run_id, message=why):
                self.counts[state]["skipped"] += 1
        for state in push:
            record = records.get(state)
            if record is None or record.state not in (PENDING, PUSHING):
                continue  # quarantined, unmapped: waits for a person or a rules change
            action: StatusAction | None = getattr(self.actions, state)
            if action is None:
                self.ledger.transition(self.tenant, KIND_STATUS, f"{key}:{state}", UNMAPPED, step="push",
                                       expect=[PENDING], run_id=self.run_id,
                                       message=f"status map of shop {self.shop_key!r} has no {state!r}")
                self.counts[state]["skipped"] += 1
                continue
            if needs_capture and not captured and capture_state is not None \
                    and mapping.state_rank(state) >= mapping.state_rank(capture_state):
                self.capture(key, order_id, capture_state, facts)
                captured = True
            self.push(key, order_id, state, action, record, facts)
        if needs_capture and not captured and capture_state is not None:
            self.capture(key, order_id, capture_state, facts)

    def _plan(self, key: str, push: list[mapping.State], superseded: list[mapping.State], needs_capture: bool,
              capture_state: str | None, records: Mapping[Any, Record | None]) -> None:
        """Dry run: count and list what a real run would do; nothing is sent, the ledger is unchanged."""
        for state in superseded:
            self.counts[state]["skipped"] += 1
            self.plan.append(f"{key}: {state} skipped (superseded)")
        capture = self.ledger.get(self.tenant, KIND_CAPTURE, key)
        for state in push:
            record = records.get(state)
            if record is None or record.state not in (PENDING, PUSHING):
                continue
            action: StatusAction | None = getattr(self.actions, state)
            if action is None:
                self.counts[state]["skipped"] += 1
                self.plan.append(f"{key}: {state} skipped (not in the status map)")
                continue
            if needs_capture and state == capture_state and (capture is None or capture.state != CAPTURED):
                self.counts[state]["captured"] += 1
                self.plan.append(f"{key}: capture")
            self._count_push(state, action)
            self.plan.append(f"{key}: {state} → status {action.jetshop_status}"
                             + (" + e-mail" if action.send_email else ""))

    # -- status ------------------------------------------------------------------------------------
    def push(self, key: str, order_id: int, state: str, action: StatusAction, record: Record,
             facts: Mapping[str, Any]) -> None:
        skey = f"{key}:{state}"
        tracking = facts.get("tracking") if action.include_tracking else None
        url = mapping.tracking_url(self.template, tracking)
        if state != "cancelled" and not action.capture:
            shop_status = self.statuses().get(action.jetshop_status)
            if shop_status is not None and shop_status.captures_payment and action.jetshop_status not in self._warned:
                self._warned.add(action.jetshop_status)
                log.warning("shop %s: status %s (%s) captures payments by itself in Jetshop, but the status map "
                            "says capture=false for %r; the shop will capture the whole authorisation",
                            self.shop_key, action.jetshop_status, shop_status.name, state)
        detail = {**(record.detail or {}), "jetshop_status": action.jetshop_status,
                  "send_email": action.send_email, "tracking_number": tracking, "tracking_url": url}
        if record.state == PUSHING:  # an earlier push's answer was lost: look before sending again
            self._not_elsewhere(record)
            shop_order = self.hook.get_order(order_id)
            if shop_order.status_id == action.jetshop_status and (
                    tracking is None or shop_order.tracking_number == tracking):
                if self.ledger.transition(self.tenant, KIND_STATUS, skey, PUSHED, step="push", expect=[PUSHING],
                                          detail={**detail, "adopted": True}, run_id=self.run_id,
                                          message="the shop already shows this status (earlier answer lost)"):
                    self._count_push(state, action)
                return
        elif not self.ledger.transition(self.tenant, KIND_STATUS, skey, PUSHING, step="claim", expect=[PENDING],
                                        detail={**(record.detail or {}), "claimed_by": self.run_id},
                                        run_id=self.run_id, count_attempt=True):
            return  # another run took it
        from jetfort.jetshop.errors import JetshopError

        try:
            result = self.hook.set_order_status(order_id, action.jetshop_status, tracking_number=tracking,
                                                tracking_url=url, send_email=action.send_email, strict=False)
        except JetshopError as exc:
            if exc.retryable:
                raise  # stays "pushing": checked against the shop before the next try
            self._quarantine(KIND_STATUS, skey, state, reason="status_refused", message=str(exc),
                             hint="fix the shop order or the status map, then resolve this entry")
            return
        if result.success:
            if self.ledger.transition(self.tenant, KIND_STATUS, skey, PUSHED, step="push", expect=[PUSHING],
                                      detail={**detail, "message": result.message,
                                              "payment_captured": result.payment_captured},
                                      run_id=self.run_id, message=result.message or "pushed"):
                self._count_push(state, action)
            return
        hint = ("the payment was captured: refund or credit it in the shop/PSP, then resolve this entry"
                if "captured" in result.message.lower() else
                "check the shop order's status in Jetshop admin, then resolve this entry")
        self._quarantine(KIND_STATUS, skey, state, reason="status_refused", message=result.message, hint=hint)

    def _count_push(self, state: str, action: StatusAction) -> None:
        self.counts[state]["pushed"] += 1
        if action.send_email:
            self.counts[state]["emails"] += 1

    # -- capture -----------------------------------------------------------------------------------
    def capture(self, key: str, order_id: int, state: str, facts: Mapping[str, Any]) -> None:
        """Capture once, before the capturing status is set (a status flagged to capture in the shop
        would otherwise take the whole authorisation)."""
        record = self.ledger.ensure_record(self.tenant, KIND_CAPTURE, key, state=PENDING)
        if record.state in (CAPTURED, BLOCKED, NOT_CAPTURABLE):
            return
        if record.state == QUARANTINED:
            open_entries = {q.source_key for q in self.ledger.open_quarantine(self.tenant, KIND_CAPTURE)}
            if key in open_entries:
                return  # waits for a person; the status still goes out
        if record.state == CAPTURING:
            self._not_elsewhere(record)
        if not self.ledger.transition(self.tenant, KIND_CAPTURE, key, CAPTURING, step="claim",
                                      expect=[PENDING, CAPTURING, QUARANTINED],
                                      detail={**(record.detail or {}), "claimed_by": self.run_id},
                                      run_id=self.run_id,
                                      count_attempt=True):
            return
        shop_order = self.hook.get_order(order_id)  # the shop's own capture state decides first
        payment = shop_order.payment
        if payment.captured_amount > 0 or payment.status.lower() == "captured":
            self._captured(key, state, amount=payment.captured_amount, capture_id="",
                           psp_reference=payment.transaction_id, adopted=True)
            return
        if "cancelled" in (facts.get("states") or []) or self._cancelled_in_shop(shop_order):
            self.ledger.transition(self.tenant, KIND_CAPTURE, key, BLOCKED, step="capture", expect=[CAPTURING],
                                   run_id=self.run_id, message="order cancelled: never captured")
            return
        if not payment.provider.capturable or payment.authorized_amount <= 0:
            self.ledger.transition(self.tenant, KIND_CAPTURE, key, NOT_CAPTURABLE, step="capture",
                                   expect=[CAPTURING], run_id=self.run_id,
                                   message=f"payment method {payment.method or payment.provider.value!r} "
                                           "has no PSP authorisation to capture")
            self.counts[state]["skipped"] += 1
            return
        total = _decimal(facts.get("total"))
        currency = facts.get("currency")
        if currency and shop_order.currency and currency != shop_order.currency:
            self._quarantine(KIND_CAPTURE, key, state, reason="currency_mismatch",
                             message=f"Fortnox document is in {currency}, the shop order in {shop_order.currency}",
                             hint="capture by hand in the PSP, then resolve this entry")
            return
        amount = mapping.capture_amount(total, payment.authorized_amount)
        if amount <= 0:
            self._quarantine(KIND_CAPTURE, key, state, reason="nothing_to_capture",
                             message=f"document total {total} leaves nothing to capture",
                             hint="check the Fortnox document, then resolve this entry")
            return
        result = self.hook.capture_payment(order_id, amount, strict=False)  # transient → stays in doubt
        if result.success:
            self._captured(key, state, amount=result.captured_amount, capture_id=result.capture_id,
                           psp_reference=result.transaction_id, adopted=result.already_captured)
        else:
            self._quarantine(KIND_CAPTURE, key, state, reason="capture_refused", message=result.message,
                             hint="the PSP refused: check the payment in the PSP portal, capture by hand or "
                                  "fix the cause, then resolve this entry")

    def _captured(self, key: str, state: str, *, amount: Decimal, capture_id: str, psp_reference: str,
                  adopted: bool) -> None:
        detail = {"amount": str(amount), "capture_id": capture_id, "psp_reference": psp_reference,
                  "adopted": adopted, "state": state}
        if self.ledger.transition(self.tenant, KIND_CAPTURE, key, CAPTURED, step="capture", expect=[CAPTURING],
                                  detail=detail, run_id=self.run_id,
                                  message=("already captured in the shop" if adopted else f"captured {amount}")):
            self.counts[state]["captured"] += 1

    def _not_elsewhere(self, record: Record) -> None:
        """A claim in doubt is checked now only when it is this run's own (a task retry) or old enough
        that its run cannot still be talking to the shop; otherwise the order is left alone."""
        owner = (record.detail or {}).get("claimed_by")
        age = dt.datetime.now(dt.UTC) - record.updated_at
        if owner != self.run_id and age < LEASE:
            raise _InFlightElsewhere(f"{record.kind} {record.source_key} claimed by run {owner!r} "
                                     f"{int(age.total_seconds())} s ago")

    def _cancelled_in_shop(self, shop_order: ShopOrder) -> bool:
        status = self.statuses().get(shop_order.status_id)
        return bool(status and status.is_cancelled)

    def _quarantine(self, kind: str, key: str, state: str, *, reason: str, message: str, hint: str) -> None:
        self.ledger.quarantine(self.tenant, kind, key, reason=reason, message=f"{message} — {hint}",
                               code=state, run_id=self.run_id)
        self.counts[state]["quarantined"] += 1
        self.problems.append(f"{kind} {key}: {message}")
        log.warning("quarantined %s %s (%s): %s — %s", kind, key, reason, message, hint)


@dataclass(frozen=True)
class _Planned:
    """Dry run: a status record as a real read would have written it."""

    state: str
    detail: dict[str, Any] | None = None


def _decimal(value: Any) -> Decimal | None:
    try:
        return None if value is None else Decimal(str(value))
    except InvalidOperation:
        return None


def push_status(tenant: str, shop_key: str, context: Mapping[str, Any], *,
                runtime: TenantRuntime | None = None, read: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Push one shop's pending states (and captures); returns counts per state.

    ``read``: read_changes' result (a dry run's plan comes from it, since a dry read writes nothing)."""
    rt = _runtime(tenant, runtime)
    try:
        dry_run = bool((context.get("params") or {}).get("dry_run"))
        planned = ((read or {}).get("planned") or {}).get(shop_key) if dry_run else None
        return _ShopPush(rt, shop_key, str(context.get("run_id") or ""), dry_run=dry_run, planned=planned).run()
    finally:
        if runtime is None:
            rt.close()


# ------------------------------------------------------------------------------------------------
# summary
# ------------------------------------------------------------------------------------------------


def summarize(tenant: str, read: Mapping[str, Any] | None, pushes: Iterable[Mapping[str, Any] | None], *,
              shops: Iterable[str], runtime: TenantRuntime | None = None) -> dict[str, Any]:
    """Per state: pushed, captured, e-mails, skipped, quarantined; plus open quarantine per kind."""
    totals: dict[str, dict[str, int]] = {s: dict.fromkeys(COUNTERS, 0) for s in mapping.STATE_ORDER}
    reported: set[str] = set()
    for push in pushes:
        if not push:
            continue
        reported.add(str(push.get("shop")))
        for state, counts in (push.get("states") or {}).items():
            for name in COUNTERS:
                totals[state][name] += int(counts.get(name, 0))
    rt = _runtime(tenant, runtime)
    try:
        open_entries = rt.ledger.open_quarantine(tenant)
    finally:
        if runtime is None:
            rt.close()
    open_by_kind = {kind: sum(1 for q in open_entries if q.kind == kind)
                    for kind in (KIND_FACTS, KIND_STATUS, KIND_CAPTURE)}
    rows: list[dict[str, Any]] = [{"state": s, **totals[s]} for s in mapping.STATE_ORDER]
    rows.append({"state": "total", **{n: sum(totals[s][n] for s in totals) for n in COUNTERS}})
    missing = sorted(set(shops) - reported)
    summary = {
        "tenant": tenant, **({"dry_run": True} if (read or {}).get("dry_run") else {}), "window": (read or {}).get("window"), "read": {k: v for k, v in (read or {}).items()
                                                                          if k not in ("window", "planned")},
        "rows": rows, "states": totals, "open_quarantine": open_by_kind, "shops_not_finished": missing,
    }
    log.info("order status summary for tenant %s\n%s\nopen quarantine: %s%s", tenant,
             format_table(rows, ["state", *COUNTERS]),
             open_by_kind, f"\nshops not finished (see their task logs): {missing}" if missing else "")
    return summary


def build_order_status(rules: TenantRules) -> None:
    """Add the status tasks to the DAG being built (called by :func:`jetfort.factory.tenant_dags`):
    read_changes → push_status[<shop>] → summary."""
    from airflow.sdk import task

    from jetfort.factory import tenant_of

    tenant = tenant_of(rules)
    shops = [shop.key for shop in rules.shops]

    @task(task_id="read_changes")
    def read(**context: Any) -> dict[str, Any]:
        return read_changes(tenant, context)

    @task(task_id="push_status", map_index_template="{{ shop_key }}")
    def push(shop_key: str, **context: Any) -> dict[str, Any]:
        context["shop_key"] = shop_key
        read_result = context["ti"].xcom_pull(task_ids="read_changes") if (
            context.get("params") or {}).get("dry_run") else None
        return push_status(tenant, shop_key, context, read=read_result)

    @task(task_id="summary", trigger_rule="all_done")
    def summary(read_result: Any, pushes: Any, **context: Any) -> dict[str, Any]:
        # one slice request for every shop's result: iterating the lazy sequence would ask for the
        # item after the last one, which the API answers with a logged "XCom not found"
        result = summarize(tenant, read_result, list(pushes[:]), shops=shops)
        context["ti"].xcom_push(key="summary", value=result)
        return result

    changes = read()
    pushed = push.expand(shop_key=shops)
    changes >> pushed
    summary(changes, pushed)
