"""push_status: one shop's pending states pushed in order, each exactly once, capture first.

See :mod:`jetfort.tasks.order_status` for the protocol (``pending → pushing → pushed``, captures).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from jetfort.errors import TransientError
from jetfort.events.runs import batches_of
from jetfort.ledger.store import Record
from jetfort.mapping import status as mapping
from jetfort.shop.errors import ShopError
from jetfort.tasks.order_status.common import (
    BLOCKED,
    CAPTURED,
    CAPTURING,
    COUNTERS,
    KIND_CAPTURE,
    KIND_FACTS,
    KIND_STATUS,
    NOT_CAPTURABLE,
    PENDING,
    PUSHED,
    PUSHING,
    QUARANTINED,
    SUPERSEDED,
    UNMAPPED,
    StatusPushIncomplete,
    runtime_for,
)
from jetfort.tasks.runtime import TenantRuntime

if TYPE_CHECKING:
    from jetfort.rules import StatusAction
    from jetfort.shop.interface import ShopBackend
    from jetfort.shop.models import OrderStatus, ShopOrder

log = logging.getLogger(__name__)

#: a push/capture claimed by another run is left alone this long (it may still be in flight)
LEASE = dt.timedelta(minutes=10)


class _InFlightElsewhere(Exception):
    """Another run claimed this push or capture moments ago; leave the order to it."""


class _ShopPush:
    """Pushes one shop's pending states; counts per state for the summary."""

    def __init__(self, rt: TenantRuntime, shop_key: str, run_id: str, *, dry_run: bool = False,
                 planned: Mapping[str, Mapping[str, Any]] | None = None, only: Collection[str] | None = None) -> None:
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
        self.elsewhere: list[str] = []  # orders left alone: claimed by another run still in its lease
        self.plan: list[str] = []
        self.only = None if only is None else set(only)  # shop order keys (``<shop>:<order id>``) to push

    @property
    def hook(self) -> ShopBackend:
        return self.rt.shop(self.shop_key)

    def statuses(self) -> dict[int, OrderStatus]:
        if self._statuses is None:
            self._statuses = {s.status_id: s for s in self.hook.get_statuses()}
        return self._statuses

    # -- per order ---------------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        prefix = f"{self.shop_key}:"
        work: dict[int, list[Record]] = defaultdict(list)
        for record in self.ledger.records(self.tenant, KIND_STATUS, states=[PENDING, PUSHING]):
            if record.source_key.startswith(prefix) and (
                    self.only is None or record.source_key.rpartition(":")[0] in self.only):
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
                self.elsewhere.append(f"order {order_id}: {exc}")
            except TransientError as exc:
                transient.append(f"order {order_id}: {exc}")
            except Exception as exc:
                if getattr(exc, "retryable", False):
                    transient.append(f"order {order_id}: {type(exc).__name__}: {exc}")
                else:
                    raise
        result: dict[str, Any] = {"shop": self.shop_key, "orders": len(work), "left_to_other_runs": len(self.elsewhere),
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
                log.warning("shop %s: status %s (%s) captures payments by itself in the shop, but the status map "
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
        try:
            result = self.hook.set_order_status(order_id, action.jetshop_status, tracking_number=tracking,
                                                tracking_url=url, send_email=action.send_email,
                                                erp_reference=_erp_reference(facts), strict=False)
        except ShopError as exc:
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
                "check the shop order's status in the shop's admin, then resolve this entry")
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
        result = self.hook.capture_payment(order_id, amount, strict=False,  # transient → stays in doubt
                                           erp_reference=_erp_reference(facts),
                                           invoice_number=facts.get("invoice_number"))
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


def _erp_reference(facts: Mapping[str, Any]) -> str | None:
    """The Fortnox document jetfort posted for the order (the shop's ERP order number)."""
    return (facts.get("link") or {}).get("number") or facts.get("document_number")


def _decimal(value: Any) -> Decimal | None:
    try:
        return None if value is None else Decimal(str(value))
    except InvalidOperation:
        return None


def push_status(tenant: str, shop_key: str, context: Mapping[str, Any], *,
                runtime: TenantRuntime | None = None, read: Mapping[str, Any] | None = None,
                only: Collection[str] | None = None) -> dict[str, Any]:
    """Push one shop's pending states (and captures); returns counts per state.

    ``read``: read_changes' result (a dry run's plan comes from it, since a dry read writes nothing);
    ``only``: push just these shop orders (``<shop>:<order id>``; an event run's own), not every pending one."""
    rt = runtime_for(tenant, runtime)
    try:
        dry_run = bool((context.get("params") or {}).get("dry_run"))
        planned = ((read or {}).get("planned") or {}).get(shop_key) if dry_run else None
        push = _ShopPush(rt, shop_key, str(context.get("run_id") or ""), dry_run=dry_run, planned=planned,
                         only=only)
        result = push.run()
    finally:
        if runtime is None:
            rt.close()
    if push.elsewhere and batches_of(context, tenant=tenant, purpose="status"):
        # a run started by Fortnox events may count its events as handled only when it applied them all:
        # an order still in another run's hands (e.g. a killed worker's, until its lease ends) fails this
        # try, so commit_events is not reached and the events' offsets stay behind them
        raise StatusPushIncomplete(
            f"shop {shop_key}: {len(push.elsewhere)} order(s) still claimed by another run; a retry (or the "
            f"events' redelivery) applies them: " + "; ".join(push.elsewhere[:10]))
    return result
