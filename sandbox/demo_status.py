"""Demo continuation for order status back: move linked Fortnox documents on, as a person would.

After the orders DAG has posted the demo's shop orders, :func:`advance_demo_orders` takes the
linked documents of a tenant from the ledger and, through ``FortnoxHook`` (the same calls a
Fortnox user's clicks make), moves some of them to delivered (tracking number filled), invoiced
(invoice created from the order), paid (invoice created and fully paid) and cancelled (order
cancelled, or invoice cancelled/credited). Then the status DAG has something to bring back.
"""

from __future__ import annotations

import datetime as dt
import zlib
from decimal import Decimal
from itertools import zip_longest
from typing import Any

from jetfort.fortnox.models import FortnoxInvoice, FortnoxOrder, InvoicePayment
from jetfort.ledger.store import Record
from jetfort.tasks.runtime import TenantRuntime

TARGETS = ("delivered", "invoiced", "paid", "cancelled")


def _tracking_model(model: type[Any], field: str, value: str) -> Any:
    name = next(n for n, info in model.model_fields.items() if info.alias == field)
    return model(**{name: value})


def move(rt: TenantRuntime, link: Record, target: str, *, tracking: str | None = None) -> str:
    """Move one linked document to ``target`` in Fortnox; returns what was done (for printing)."""
    fortnox = rt.fortnox
    field = rt.rules.status_map.tracking_field
    number = str(link.target_key)
    is_order = link.target_type == "order"
    tracking = tracking or f"PN{zlib.crc32(link.source_key.encode()):010d}SE"
    done: list[str] = []
    if target in ("delivered", "invoiced", "paid"):
        if is_order:
            fortnox.update_order(number, _tracking_model(FortnoxOrder, field, tracking))
            done.append(f"order {number}: tracking {tracking}")
        else:
            fortnox.update_invoice(number, _tracking_model(FortnoxInvoice, field, tracking))
            done.append(f"invoice {number}: tracking {tracking}")
    invoice_number = number if not is_order else None
    if target in ("invoiced", "paid") and is_order:
        invoice_number = fortnox.create_invoice_from_order(number)
        done.append(f"order {number} invoiced as {invoice_number}")
    if target == "paid" and invoice_number:
        invoice = fortnox.get_invoice(invoice_number)
        amount = Decimal(invoice.balance if invoice.balance is not None else invoice.total or 0)
        rate = Decimal(invoice.currency_rate or 1) / Decimal(invoice.currency_unit or 1)
        payment = InvoicePayment(invoice_number=int(invoice_number), amount=(amount * rate).quantize(Decimal("0.01")),
                                 amount_currency=amount if invoice.currency not in (None, "SEK") else None,
                                 payment_date=max(invoice.invoice_date or dt.date.today(), dt.date.today()))
        fortnox.create_invoice_payment(payment)
        done.append(f"invoice {invoice_number} paid {amount} {invoice.currency or 'SEK'}")
    if target == "cancelled":
        if is_order:
            fortnox.cancel_order(number)
            done.append(f"order {number} cancelled")
        else:
            invoice = fortnox.get_invoice(number)
            if invoice.booked:
                credit = fortnox.credit_invoice(number)
                done.append(f"invoice {number} credited ({credit.credit_invoice_reference})")
            else:
                fortnox.cancel_invoice(number)
                done.append(f"invoice {number} cancelled")
    return "; ".join(done)


def is_open(rt: TenantRuntime, link: Record) -> bool:
    """Whether the linked document has not been moved on yet (not invoiced, paid, cancelled, tracked)."""
    field = rt.rules.status_map.tracking_field
    if link.target_type == "order":
        order = rt.fortnox.get_order(str(link.target_key))
        tracked = _tracking_value(order, field)
        return not order.cancelled and not order.invoice_reference and not tracked
    invoice = rt.fortnox.get_invoice(str(link.target_key))
    return (not invoice.cancelled and not invoice.credit_invoice_reference and not invoice.final_pay_date
            and not invoice.sent and not _tracking_value(invoice, field))


def _tracking_value(model: Any, field: str) -> Any:
    name = next(n for n, info in type(model).model_fields.items() if info.alias == field)
    return getattr(model, name)


def advance_demo_orders(tenant: str, *, per_state: int = 1, runtime: TenantRuntime | None = None
                        ) -> dict[str, list[str]]:
    """Move the tenant's first still-open linked documents on: ``per_state`` each to delivered,
    invoiced, paid and cancelled (in that order of links). Returns state → what was done, and
    prints it. Run the orders DAG before, the order status DAG after."""
    rt = runtime or TenantRuntime.for_tenant(tenant)
    try:
        by_shop: dict[str, list[Record]] = {}
        for record in rt.ledger.records(tenant, "order", states=("posted", "acknowledged")):
            if record.target_key:
                by_shop.setdefault(record.source_key.split(":")[0], []).append(record)
        links: list[Record] = []  # round robin over the shops, so every shop sees some of each state
        for group in zip_longest(*by_shop.values()):
            links.extend(r for r in group if r is not None and is_open(rt, r))
            if len(links) >= per_state * len(TARGETS):
                break
        plan: dict[str, list[str]] = {state: [] for state in TARGETS}
        for index, link in enumerate(links[: per_state * len(TARGETS)]):
            target = TARGETS[index // per_state]
            plan[target].append(f"{link.source_key}: {move(rt, link, target)}")
        for state, lines in plan.items():
            for line in lines:
                print(f"  {state:<9} {line}")
        return plan
    finally:
        if runtime is None:
            rt.close()
