"""Fortnox document facts → the shop-side states ``delivered``, ``invoiced``, ``paid``, ``cancelled``.

Pure: no I/O, no Airflow. The task reads the Fortnox order and/or invoice linked to a shop order
(and the invoice's payments), turns them into the small facts below and asks :func:`derive`
which states the shop should know about. Which Jetshop status each state becomes is the tenant's
status map; that is applied by the task, not here.

How Fortnox shows each state (reference: fortnox-api.md §5.4-5.6, §6.3):

* **delivered** — Fortnox has no "delivered" flag. Signals, any of: an invoice was created from
  the order (``InvoiceReference``), the tracking field was filled (a carrier/warehouse integration
  or a person wrote the tracking number), the invoice was sent (printed, e-mailed, e-invoiced), or
  — only when the tenant says its warehouse module reports it — ``WarehouseReady``. Without the
  warehouse module Fortnox sets ``WarehouseReady`` on every new order, so it is off by default.
  A paid invoice implies delivery.
* **invoiced** — the order has an ``InvoiceReference``, or the linked document is the invoice.
* **paid** — the invoice has a ``FinalPayDate``, or ``Balance`` 0 on a non-zero total; the date is
  ``FinalPayDate`` or else the latest payment date.
* **cancelled** — the order or the invoice is ``Cancelled``, or the invoice was credited **in full**
  (``CreditInvoiceReference`` on an invoice that is not itself a credit note, and the credit
  invoice's total is the invoice's, or was not read). A partial credit (the credit invoice's rows
  rewritten to less, as some integrations do) is not a cancellation: nothing is pushed for it.
  jetfort's own partial credits for shop returns are separate invoices that never set the
  original's ``CreditInvoiceReference`` (see :mod:`jetfort.mapping.credits`). Cancelled wins:
  when it is present the other states are not pushed and nothing is captured.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

State = Literal["delivered", "invoiced", "paid", "cancelled"]

#: the order in which states reach the shop when several arrive at once
STATE_ORDER: tuple[State, ...] = ("delivered", "invoiced", "paid", "cancelled")
#: the states that mean "goods went out / money came in"; cancelled supersedes them all
PROGRESS_STATES: tuple[State, ...] = ("delivered", "invoiced", "paid")


def state_rank(state: str) -> int:
    return STATE_ORDER.index(state)  # type: ignore[arg-type]


@dataclass(frozen=True)
class OrderFacts:
    """What the Fortnox order says (only the fields that decide a state)."""

    document_number: str
    cancelled: bool = False
    invoice_reference: str | None = None
    warehouse_ready: bool = False
    sent: bool = False
    total: Decimal | None = None
    currency: str | None = None
    tracking: str | None = None
    delivery_date: dt.date | None = None


@dataclass(frozen=True)
class InvoiceFacts:
    """What the Fortnox invoice says."""

    document_number: str
    cancelled: bool = False
    credit: bool = False
    credit_invoice_reference: str | None = None
    credited_total: Decimal | None = None
    """The amount of the credit invoice ``credit_invoice_reference`` (positive), when it was read."""
    booked: bool = False
    sent: bool = False
    total: Decimal | None = None
    balance: Decimal | None = None
    final_pay_date: dt.date | None = None
    invoice_date: dt.date | None = None
    currency: str | None = None
    tracking: str | None = None
    order_reference: str | None = None


@dataclass(frozen=True)
class PaymentFacts:
    amount: Decimal | None = None
    payment_date: dt.date | None = None


@dataclass(frozen=True)
class Derived:
    """The states a shop order has reached, in push order, with why and when."""

    states: tuple[State, ...]
    reasons: Mapping[str, str] = field(default_factory=dict)
    dates: Mapping[str, str | None] = field(default_factory=dict)
    document_type: Literal["order", "invoice"] | None = None
    document_number: str | None = None
    invoice_number: str | None = None
    total: Decimal | None = None
    currency: str | None = None
    tracking: str | None = None

    @property
    def cancelled(self) -> bool:
        return "cancelled" in self.states

    def to_detail(self) -> dict[str, Any]:
        """JSON-safe form for the ledger."""
        return {
            "states": list(self.states),
            "reasons": dict(self.reasons),
            "dates": dict(self.dates),
            "document_type": self.document_type,
            "document_number": self.document_number,
            "invoice_number": self.invoice_number,
            "total": None if self.total is None else str(self.total),
            "currency": self.currency,
            "tracking": self.tracking,
        }


def _clean(value: str | None) -> str | None:
    text = (value or "").strip()
    return text or None


def derive(order: OrderFacts | None, invoice: InvoiceFacts | None,
           payments: Sequence[PaymentFacts] = (), *, warehouse_ready_means_delivered: bool = False) -> Derived:
    """The states the linked documents show. ``order``/``invoice`` may each be missing (an order
    not yet invoiced; a shop order posted straight as an invoice)."""
    reasons: dict[str, str] = {}
    dates: dict[str, str | None] = {}
    tracking = _clean(invoice.tracking if invoice else None) or _clean(order.tracking if order else None)

    # cancelled wins ---------------------------------------------------------------------------
    if order is not None and order.cancelled:
        reasons["cancelled"] = f"order {order.document_number} cancelled in Fortnox"
    elif invoice is not None and invoice.cancelled:
        reasons["cancelled"] = f"invoice {invoice.document_number} cancelled in Fortnox"
    elif invoice is not None and invoice.credit:
        reasons["cancelled"] = f"invoice {invoice.document_number} is a credit note"
    elif invoice is not None and invoice.credit_invoice_reference and fully_credited(invoice):
        reasons["cancelled"] = (f"invoice {invoice.document_number} credited "
                                f"(credit invoice {invoice.credit_invoice_reference})")

    invoice_number = invoice.document_number if invoice else (order.invoice_reference if order else None)
    # invoiced -----------------------------------------------------------------------------------
    if invoice is not None:
        reasons["invoiced"] = (f"invoice {invoice.document_number}"
                               + (f" created from order {order.document_number}" if order else ""))
        dates["invoiced"] = invoice.invoice_date.isoformat() if invoice.invoice_date else None
    elif order is not None and order.invoice_reference:
        reasons["invoiced"] = f"order {order.document_number} invoiced (invoice {order.invoice_reference})"
        dates["invoiced"] = None

    # paid ---------------------------------------------------------------------------------------
    if invoice is not None:
        paid_on = invoice.final_pay_date
        fully_paid = paid_on is not None or (
            invoice.balance is not None and invoice.balance == 0 and (invoice.total or 0) != 0)
        if fully_paid:
            if paid_on is None:
                paid_dates = [p.payment_date for p in payments if p.payment_date is not None]
                paid_on = max(paid_dates) if paid_dates else None
            reasons["paid"] = (f"invoice {invoice.document_number} fully paid"
                               + (f" on {paid_on.isoformat()}" if paid_on else ""))
            dates["paid"] = paid_on.isoformat() if paid_on else None

    # delivered ----------------------------------------------------------------------------------
    delivered_because = None
    if order is not None and order.invoice_reference:
        delivered_because = f"invoice {order.invoice_reference} created from order {order.document_number}"
    elif invoice is not None and invoice.order_reference:
        delivered_because = f"invoice {invoice.document_number} created from order {invoice.order_reference}"
    elif tracking:
        delivered_because = f"tracking number {tracking} set"
    elif invoice is not None and invoice.sent:
        delivered_because = f"invoice {invoice.document_number} sent"
    elif "paid" in reasons:
        delivered_because = "invoice paid"
    elif order is not None and warehouse_ready_means_delivered and order.warehouse_ready:
        delivered_because = f"order {order.document_number} warehouse ready"
    if delivered_because:
        reasons["delivered"] = delivered_because
        when = invoice.invoice_date if invoice is not None else (order.delivery_date if order else None)
        dates["delivered"] = when.isoformat() if when else None

    states = tuple(s for s in STATE_ORDER if s in reasons)
    if invoice is not None:
        doc_type: Literal["order", "invoice"] | None = "invoice"
        total, currency = invoice.total, invoice.currency
    elif order is not None:
        doc_type, total, currency = "order", order.total, order.currency
    else:
        doc_type, total, currency = None, None, None
    return Derived(
        states=states, reasons=reasons, dates={s: dates.get(s) for s in states},
        document_type=doc_type,
        document_number=(invoice.document_number if invoice else order.document_number if order else None),
        invoice_number=invoice_number, total=total, currency=currency, tracking=tracking,
    )


def fully_credited(invoice: InvoiceFacts) -> bool:
    """The credit invoice takes back the whole invoice (or its amount is unknown: it was made by
    ``PUT credit``, a negated copy, unless someone rewrote it)."""
    if invoice.credited_total is None or invoice.total is None:
        return True
    return abs(invoice.credited_total) >= abs(invoice.total)


def to_push(derived_states: Iterable[str], done: Iterable[str]) -> tuple[list[State], list[State]]:
    """Which states still go to the shop, in order, and which are superseded.

    ``done`` are states already pushed for the order. Cancelled supersedes every progress state
    not yet pushed; a progress state is superseded when a later one was already pushed (the shop
    must never move backwards).
    """
    states = [s for s in STATE_ORDER if s in set(derived_states)]
    already = set(done)
    superseded: list[State] = []
    push: list[State] = []
    if "cancelled" in states:
        superseded = [s for s in states if s != "cancelled" and s not in already]
        if "cancelled" not in already:
            push = ["cancelled"]
        return push, superseded
    latest_done = max((state_rank(s) for s in already if s in PROGRESS_STATES), default=-1)
    for state in states:
        if state in already:
            continue
        (superseded if state_rank(state) < latest_done else push).append(state)
    return push, superseded


def capture_amount(document_total: Decimal | None, authorised: Decimal | None) -> Decimal:
    """What may be captured: the document's total or the authorised amount, whichever is lower."""
    candidates = [a for a in (document_total, authorised) if a is not None]
    if not candidates:
        return Decimal(0)
    return max(Decimal(0), min(candidates))


def tracking_url(template: str | None, tracking: str | None) -> str | None:
    if not template or not tracking:
        return None
    from urllib.parse import quote

    return template.replace("{tracking}", quote(tracking, safe=""))


# --- converters from the hook's models (pure; duck-typed so tests may pass plain objects) -------


def _field(model: Any, alias: str) -> Any:
    """Read a Fortnox field by its API name (``ExternalInvoiceReference2``) from a hook model."""
    fields = getattr(type(model), "model_fields", {})
    for name, info in fields.items():
        if info.alias == alias:
            return getattr(model, name)
    return None


def order_facts(order: Any, *, tracking_field: str) -> OrderFacts:
    value = _field(order, tracking_field)
    return OrderFacts(
        document_number=str(order.document_number), cancelled=bool(order.cancelled),
        invoice_reference=order.invoice_reference or None, warehouse_ready=bool(order.warehouse_ready),
        sent=bool(order.sent), total=order.total, currency=order.currency,
        tracking=str(value) if value else None, delivery_date=order.delivery_date,
    )


def invoice_facts(invoice: Any, *, tracking_field: str, credit_note: Any = None) -> InvoiceFacts:
    """``credit_note``: the credit invoice ``CreditInvoiceReference`` names, when read."""
    value = _field(invoice, tracking_field)
    credited = None if credit_note is None or credit_note.total is None else abs(credit_note.total)
    return InvoiceFacts(
        document_number=str(invoice.document_number), cancelled=bool(invoice.cancelled), credited_total=credited,
        credit=bool(invoice.credit), credit_invoice_reference=invoice.credit_invoice_reference or None,
        booked=bool(invoice.booked), sent=bool(invoice.sent), total=invoice.total, balance=invoice.balance,
        final_pay_date=invoice.final_pay_date, invoice_date=invoice.invoice_date, currency=invoice.currency,
        tracking=str(value) if value else None, order_reference=invoice.order_reference or None,
    )


def payment_facts(payment: Any) -> PaymentFacts:
    return PaymentFacts(amount=payment.amount, payment_date=payment.payment_date)
