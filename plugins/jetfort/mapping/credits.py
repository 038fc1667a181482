"""Money back: a shop cancellation or return after posting → what Fortnox must do (pure, no I/O).

Inputs are plain facts: the shop order as it was posted, its returns, what the original Fortnox
invoice says (:class:`Original`) and what jetfort credited for the order before (:class:`Credited`,
from the ledger). Outputs are decisions (:func:`cancel_action`) and credit invoices to POST
(:func:`plan_return`, :func:`plan_remainder`), or a :class:`~jetfort.mapping.problems.MappingProblem`
naming the order, the return, the row and the field.

**Which invoice row is which shop row.** The orders mapping makes one document row per shop row, in
the shop's order, then discount, freight and fee rows; so shop row *i* is invoice row *i*, and the
article numbers must agree (a tenant plugin that split rows breaks this: such a return is
quarantined, never guessed).

**A credit row** is the negated sale of what came back: ``DeliveredQuantity`` = minus the returned
quantity, the original row's article, account and VAT rate, and the refunded amount incl. VAT
(net of VAT when the invoice's prices are ex VAT) as ``quantity x Price - Discount``: ``Price`` is
the amount per unit rounded up to the öre and an AMOUNT ``Discount`` (negated like the quantity)
takes the rest, so the row total is exactly minus the refund (on an ex-VAT invoice: minus the refund
net of VAT, rounded half up to the öre, so Fortnox's VAT on it may put the row one öre from the
refund, as on the sale). Freight and fee are credited only
when the return refunds them, as that share of how the original carried them (header
``Freight``/``AdministrationFee`` or freight/fee rows).

**Never more than was invoiced:** per row (quantity and amount), for freight and fee, and in
total (incl. VAT), counting every earlier credit of the order.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, Decimal
from typing import Any, Literal

from jetfort.fortnox.models import DiscountType, DocumentRow
from jetfort.mapping.orders import FEE_LABEL, FREIGHT_LABEL
from jetfort.mapping.problems import MappingProblem
from jetfort.mapping.totals import CENT, HUNDRED, ONE, ZERO, r2
from jetfort.shop.models import OrderReturn, ShopOrder

KEY_PREFIX = "jetfort"
#: öre a refund may exceed what is left (the shop rounds refunds per row)
TOLERANCE = CENT

CancelAction = Literal["cancel_order", "cancel_invoice", "credit_full", "credit_remainder", "done", "wait"]


# ------------------------------------------------------------------------------------------ keys
def credit_key(shop_key: str, order_id: int, event: str) -> str:
    """``jetfort:<shop>:<order id>:<event>`` (``r<return id>`` or ``cancel``), the credit invoice's
    idempotency key; hashed when it would not fit the 80 characters of the field."""
    key = f"{KEY_PREFIX}:{shop_key}:{order_id}:{event}"
    if len(key) <= 80:
        return key
    digest = hashlib.sha256(f"{shop_key}\x00{order_id}\x00{event}".encode()).hexdigest()[:40]
    return f"{KEY_PREFIX}:c:{digest}"


# ------------------------------------------------------------------------------------------ facts
@dataclass(frozen=True)
class OriginalRow:
    """One row of the original invoice (as Fortnox stored it)."""

    article_number: str | None
    quantity: Decimal
    price: Decimal
    vat: Decimal
    account: int | None
    description: str = ""
    unit: str | None = None
    discount: Decimal = ZERO
    discount_type: str | None = None

    @property
    def total(self) -> Decimal:
        before = self.quantity * self.price
        if self.discount_type == "AMOUNT":
            return r2(before - self.discount)
        return r2(before * (ONE - self.discount / HUNDRED))


@dataclass(frozen=True)
class Original:
    """The original Fortnox invoice (or order) of a shop order: what decides cancel vs credit."""

    kind: Literal["order", "invoice"]
    document_number: str
    rows: tuple[OriginalRow, ...] = ()
    vat_included: bool = False
    freight: Decimal = ZERO
    administration_fee: Decimal = ZERO
    total: Decimal = ZERO
    cancelled: bool = False
    booked: bool = False
    sent: bool = False
    paid_any: bool = False
    credit: bool = False
    credit_invoice_reference: str | None = None
    invoice_reference: str | None = None  # an order's invoice


@dataclass(frozen=True)
class Credited:
    """What jetfort credited for the order before: per shop row (quantity, amount incl. VAT), freight,
    fee and total (incl. VAT)."""

    rows: Mapping[int, tuple[Decimal, Decimal]] = field(default_factory=dict)
    freight: Decimal = ZERO
    payment_fee: Decimal = ZERO
    total: Decimal = ZERO

    @property
    def any(self) -> bool:
        return self.total != 0 or any(q for q, _ in self.rows.values())

    def plus(self, plan: CreditPlan) -> Credited:
        rows = dict(self.rows)
        for row_id, (quantity, amount) in plan.rows.items():
            q, a = rows.get(row_id, (ZERO, ZERO))
            rows[row_id] = (q + quantity, a + amount)
        return Credited(rows, self.freight + plan.freight, self.payment_fee + plan.payment_fee,
                        self.total + plan.total)


@dataclass(frozen=True)
class CreditPlan:
    """A credit invoice to POST: its rows and header amounts, and what it credits (for the ledger)."""

    document_rows: list[DocumentRow]
    freight: Decimal = ZERO  # refunded, incl. VAT (shop figures)
    payment_fee: Decimal = ZERO
    rows: Mapping[int, tuple[Decimal, Decimal]] = field(default_factory=dict)  # shop row id → (qty, amount)
    total: Decimal = ZERO  # refunded incl. VAT
    header_freight: Decimal = ZERO  # the credit's Freight / AdministrationFee (negative)
    header_fee: Decimal = ZERO

    def to_detail(self) -> dict[str, object]:
        return {"rows": {str(k): [str(q), str(a)] for k, (q, a) in self.rows.items()},
                "freight": str(self.freight), "payment_fee": str(self.payment_fee), "total": str(self.total)}


def credited_from(details: Sequence[Mapping[str, object]]) -> Credited:
    """The sum of earlier credits, from their ledger details (:meth:`CreditPlan.to_detail`)."""
    total = Credited()
    for detail in details:
        raw_rows = detail.get("rows") or {}
        assert isinstance(raw_rows, Mapping)
        rows = {int(k): (Decimal(str(v[0])), Decimal(str(v[1]))) for k, v in raw_rows.items()}
        total = total.plus(CreditPlan([], Decimal(str(detail.get("freight") or 0)),
                                      Decimal(str(detail.get("payment_fee") or 0)), rows,
                                      Decimal(str(detail.get("total") or 0))))
    return total


# ------------------------------------------------------------------------------------------ cancel
def is_booked(invoice: Original, accounting_method: str) -> bool:
    """Booked for the purpose of cancel vs credit: accrual = Fortnox booked it; cash = sent or paid."""
    if accounting_method == "cash":
        return invoice.sent or invoice.paid_any or invoice.booked
    return invoice.booked


def cancel_action(original: Original, invoice: Original | None, credited: Credited,
                  accounting_method: str) -> tuple[CancelAction, str]:
    """What a shop cancellation does in Fortnox, and why (for the audit).

    ``original``: the linked document; ``invoice``: the invoice (the original itself, or the one
    made from the order; None while the order is not invoiced).
    """
    if original.kind == "order" and invoice is None:
        if original.cancelled:
            return "done", f"order {original.document_number} is already cancelled in Fortnox"
        return "cancel_order", f"order {original.document_number} is not invoiced yet"
    assert invoice is not None
    number = invoice.document_number
    if invoice.cancelled:
        return "done", f"invoice {number} is already cancelled in Fortnox"
    if invoice.credit_invoice_reference:
        return "done", f"invoice {number} is already credited (credit invoice {invoice.credit_invoice_reference})"
    if credited.any:
        return "credit_remainder", f"invoice {number} was partly credited for returns; the rest is credited"
    if is_booked(invoice, accounting_method):
        return "credit_full", f"invoice {number} is booked ({accounting_method} accounting); credited"
    if invoice.paid_any:
        return "credit_full", f"invoice {number} has a payment; credited"
    return "cancel_invoice", f"invoice {number} is neither booked nor paid; cancelled"


# ------------------------------------------------------------------------------------------ rows
def _ceil2(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_CEILING)


def _doc_amount(gross: Decimal, rate: Decimal, vat_included: bool) -> Decimal:
    """A refund incl. VAT as the document carries amounts (ex VAT unless its prices include VAT)."""
    if vat_included or rate == 0:
        return r2(gross)
    return r2(gross / (ONE + rate / HUNDRED))


def credit_row(row: OriginalRow, quantity: Decimal, amount: Decimal, vat_included: bool) -> DocumentRow:
    """Minus ``quantity`` of ``row`` for ``amount`` incl. VAT (see the module docstring)."""
    net = _doc_amount(amount, row.vat, vat_included)
    price = _ceil2(net / quantity) if quantity else net
    rest = quantity * price - net  # >= 0, below one öre per unit
    values: dict[str, Any] = {"delivered_quantity": -quantity, "price": price, "vat": row.vat,
                                 "description": row.description or None, "unit": row.unit or None}
    if row.article_number:
        values["article_number"] = row.article_number
    if row.account is not None:
        values["account_number"] = row.account
    if rest:
        values.update(discount=-rest, discount_type=DiscountType.AMOUNT)
    return DocumentRow(**{k: v for k, v in values.items() if v is not None})


def _share_rows(rows: Sequence[OriginalRow], fraction: Decimal) -> list[DocumentRow]:
    """Minus ``fraction`` of each freight or fee row (one unit each, the amount in the row's terms)."""
    out = []
    for row in rows:
        amount = r2(row.total * fraction)
        if not amount:
            continue
        values: dict[str, Any] = {"delivered_quantity": Decimal(-1), "price": amount, "vat": row.vat,
                                     "description": row.description or None}
        if row.article_number:
            values["article_number"] = row.article_number
        if row.account is not None:
            values["account_number"] = row.account
        out.append(DocumentRow(**{k: v for k, v in values.items() if v is not None}))
    return out


@dataclass(frozen=True)
class Extras:
    """Which rows after the shop's rows carry freight or the payment fee (article or label)."""

    freight_article: str | None = None
    fee_article: str | None = None

    def is_freight(self, row: OriginalRow) -> bool:
        if self.freight_article:
            return row.article_number == self.freight_article
        return not row.article_number and row.description.startswith(FREIGHT_LABEL)

    def is_fee(self, row: OriginalRow) -> bool:
        if self.fee_article:
            return row.article_number == self.fee_article
        return not row.article_number and row.description.startswith(FEE_LABEL)


# ------------------------------------------------------------------------------------------ plans
@dataclass
class _Planner:
    order: ShopOrder
    original: Original
    credited: Credited
    extras: Extras
    what: str  # "return 3" / "the cancellation"
    path: str  # "returns[0]" / "status_id"

    def problem(self, field_path: str, message: str) -> MappingProblem:
        return MappingProblem("over_credit", field_path, f"{self.what} of order {self.order.order_number} {message}")

    def original_row(self, index: int) -> OriginalRow:
        shop_row = self.order.rows[index]
        rows = self.original.rows
        if index >= len(rows) or (rows[index].article_number or None) not in (
                None, (shop_row.article_number or "").strip() or None):
            raise MappingProblem(
                "credit_row_unknown", f"{self.path}.rows",
                f"{self.what} of order {self.order.order_number}: invoice {self.original.document_number} has no "
                f"row {index + 1} for shop row {shop_row.row_id} ({shop_row.article_number}); credit it by hand")
        return rows[index]

    def extra_rows(self) -> tuple[list[OriginalRow], list[OriginalRow]]:
        tail = self.original.rows[len(self.order.rows):]
        return [r for r in tail if self.extras.is_freight(r)], [r for r in tail if self.extras.is_fee(r)]

    def extra(self, what: str, refund: Decimal, charged: Decimal, before: Decimal, header: Decimal,
              rows: Sequence[OriginalRow], field_path: str) -> tuple[list[DocumentRow], Decimal]:
        """Credit rows and the (negative) header amount for ``refund`` of freight or fee."""
        if not refund:
            return [], ZERO
        if refund < 0:
            raise MappingProblem("credit_amount_invalid", field_path,
                                 f"{self.what} of order {self.order.order_number} refunds {what} {refund}")
        if before + refund > charged + TOLERANCE:
            raise self.problem(field_path, f"refunds {what} {refund} {self.order.currency} but {charged} was "
                                           f"invoiced and {before} already credited")
        fraction = refund / charged
        return _share_rows(rows, fraction), -r2(header * fraction)

    def check_total(self, total: Decimal) -> None:
        invoiced = self.order.total_inc_vat
        if self.credited.total + total > invoiced + TOLERANCE:
            raise self.problem(self.path, f"credits {total} {self.order.currency} incl. VAT but the invoice is "
                                          f"{invoiced} and {self.credited.total} is already credited")


def plan_return(order: ShopOrder, ret: OrderReturn, index: int, original: Original, credited: Credited,
                extras: Extras) -> CreditPlan:
    """The credit invoice for one shop return (raises :class:`MappingProblem` when it cannot be)."""
    p = _Planner(order, original, credited, extras, f"return {ret.return_id}", f"returns[{index}]")
    by_id = {row.row_id: i for i, row in enumerate(order.rows)}
    doc_rows: list[DocumentRow] = []
    rows: dict[int, tuple[Decimal, Decimal]] = {}
    for j, item in enumerate(ret.rows):
        path = f"returns[{index}].rows[{j}]"
        if item.row_id not in by_id:
            raise MappingProblem("credit_row_unknown", f"{path}.row_id",
                                 f"return {ret.return_id} of order {order.order_number} names row {item.row_id}, "
                                 "which the order does not have")
        if item.quantity <= 0 or item.amount_inc_vat < 0:
            raise MappingProblem("credit_amount_invalid", f"{path}.quantity" if item.quantity <= 0
                                 else f"{path}.amount_inc_vat",
                                 f"return {ret.return_id} of order {order.order_number}: row {item.row_id} has "
                                 f"quantity {item.quantity} and amount {item.amount_inc_vat}")
        shop_row = order.rows[by_id[item.row_id]]
        q_before, a_before = credited.rows.get(item.row_id, (ZERO, ZERO))
        q_now, a_now = rows.get(item.row_id, (ZERO, ZERO))
        name = shop_row.article_number or shop_row.name or f"row {item.row_id}"
        if q_before + q_now + item.quantity > shop_row.quantity:
            raise p.problem(f"{path}.quantity", f"credits {_n(item.quantity)} x {name} but only "
                                                f"{_n(shop_row.quantity)} were invoiced and {_n(q_before + q_now)} "
                                                "already credited")
        share = r2((q_before + q_now + item.quantity) / shop_row.quantity * shop_row.total_inc_vat)
        if a_before + a_now + item.amount_inc_vat > share + TOLERANCE:  # never more than those units cost
            raise p.problem(f"{path}.amount_inc_vat",
                            f"refunds {item.amount_inc_vat} {order.currency} for {_n(item.quantity)} x {name} but "
                            f"{_n(q_before + q_now + item.quantity)} of {_n(shop_row.quantity)} were invoiced at "
                            f"{share} and {a_before + a_now} is already credited")
        doc_rows.append(credit_row(p.original_row(by_id[item.row_id]), item.quantity, item.amount_inc_vat,
                                   original.vat_included))
        rows[item.row_id] = (q_now + item.quantity, a_now + item.amount_inc_vat)
    freight_rows, fee_rows = p.extra_rows()
    more, header_freight = p.extra("freight", ret.freight_inc_vat, order.freight_inc_vat, credited.freight,
                                   original.freight, freight_rows, f"returns[{index}].freight_inc_vat")
    doc_rows += more
    more, header_fee = p.extra("payment fee", ret.payment_fee_inc_vat, order.payment.fee_inc_vat,
                               credited.payment_fee, original.administration_fee, fee_rows,
                               f"returns[{index}].payment_fee_inc_vat")
    doc_rows += more
    total = sum((a for _, a in rows.values()), ZERO) + ret.freight_inc_vat + ret.payment_fee_inc_vat
    if not doc_rows and not header_freight and not header_fee:
        raise MappingProblem("credit_amount_invalid", f"returns[{index}].rows",
                             f"return {ret.return_id} of order {order.order_number} returns nothing to credit")
    p.check_total(total)
    return CreditPlan(doc_rows, ret.freight_inc_vat, ret.payment_fee_inc_vat, rows, total, header_freight,
                      header_fee)


def plan_remainder(order: ShopOrder, original: Original, credited: Credited, extras: Extras) -> CreditPlan | None:
    """What is left of the invoice after earlier (partial) credits, as one credit invoice; None when
    nothing is left. Rows that are neither shop rows, freight nor fee (an order discount) are
    credited in full: no return credits them."""
    p = _Planner(order, original, credited, extras, "the cancellation", "status_id")
    doc_rows: list[DocumentRow] = []
    rows: dict[int, tuple[Decimal, Decimal]] = {}
    for i, shop_row in enumerate(order.rows):
        q_before, a_before = credited.rows.get(shop_row.row_id, (ZERO, ZERO))
        quantity, amount = shop_row.quantity - q_before, shop_row.total_inc_vat - a_before
        if not amount and quantity <= 0:
            continue
        # a negative row (a redeemed gift card) is reversed too; an amount left without units (öre a
        # return left over) goes as one unit
        doc_rows.append(credit_row(p.original_row(i), quantity if quantity > 0 else ONE, amount,
                                   original.vat_included))
        rows[shop_row.row_id] = (max(quantity, ZERO), amount)
    freight_rows, fee_rows = p.extra_rows()
    freight = max(order.freight_inc_vat - credited.freight, ZERO)
    fee = max(order.payment.fee_inc_vat - credited.payment_fee, ZERO)
    more, header_freight = p.extra("freight", freight, order.freight_inc_vat, credited.freight, original.freight,
                                   freight_rows, "freight_inc_vat")
    doc_rows += more
    more, header_fee = p.extra("payment fee", fee, order.payment.fee_inc_vat, credited.payment_fee,
                               original.administration_fee, fee_rows, "payment.fee_inc_vat")
    doc_rows += more
    others = [r for r in original.rows[len(order.rows):] if not extras.is_freight(r) and not extras.is_fee(r)]
    doc_rows += [credit_row(r, r.quantity, r.total, True) for r in others if r.total]
    total = max(order.total_inc_vat - credited.total, ZERO)
    if not doc_rows and not header_freight and not header_fee:
        return None
    return CreditPlan(doc_rows, freight, fee, rows, total, header_freight, header_fee)


def _n(value: Decimal) -> str:
    """1 / 1.5 (a quantity as a person writes it)."""
    text = format(value.normalize(), "f")
    return text
