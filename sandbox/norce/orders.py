"""The sandbox's one internal order model and the Connect Order service operations that change it.

An :class:`Order` is rendered two ways — as the pushed ``OrderRequest`` (:mod:`sandbox.norce.push`)
and as the Query 2.0 ``Orders/Orders`` row (:mod:`sandbox.norce.query`) — so both always agree.
Connect bodies are bound as Norce's .NET binder does: property names case-insensitively, enums as
names or integers, ``ClientOrderRef`` strictly an int32. Refusals are 400 with a ProblemDetails-like
body naming the field (the real body shape is UNCONFIRMED, see ``modelled.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sandbox.norce.state import NorceSandbox

INT32_MAX = 2**31 - 1
ORDER_STATUSES: dict[str, int] = {
    "Created": 0, "Allocation": 1, "Confirmed": 2, "BackOrder": 3, "Delivered": 4, "Invoiced": 5,
    "Cancelled": 6, "CreditControl": 7, "PartlyDelivered": 8, "Acknowledged": 9, "ErpConfirmed": 10,
    "ReadyForPickup": 11, "PickedUp": 12, "NotPickedUp": 13, "OnHold": 14, "WaitingForCancel": 15,
    "WaitingForOnHoldRemoved": 16, "CancelError": 17, "AcknowledgementError": 18, "ReadyForReservation": 19,
    "Reserved": 20,
}
CANCELLED, DELIVERED, INVOICED, PARTLY_DELIVERED = 6, 4, 5, 8
CENT = Decimal("0.01")
FOUR = Decimal("0.0001")


def money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


# -- the model -------------------------------------------------------------------------------------------
@dataclass
class Party:
    """A buyer, payer or delivery party: person, optional company, and address (country alpha-2)."""

    first_name: str = ""
    last_name: str = ""
    email: str = ""
    phone: str = ""
    line1: str = ""
    line2: str = ""
    care_of: str = ""
    zip_code: str = ""
    city: str = ""
    region: str = ""
    country: str = "SE"
    company_name: str | None = None
    company_code: str | None = None
    vat_no: str | None = None
    customer_code: str | None = None
    address_id: int = 0


@dataclass
class Line:
    """One order row; prices per unit excluding VAT, ``vat_rate`` in percent, ``qty`` may be decimal."""

    item_id: int
    line_no: int
    part_no: str
    name: str
    qty: Decimal
    unit_price: Decimal
    unit_price_original: Decimal
    vat_rate: Decimal
    type: str = "ErpStandard"
    type_group: str = "Physical"
    uom: str = "st"
    product_id: int | None = None
    parent_line_no: int | None = None
    status_id: int = 0
    shipped: Decimal = Decimal(0)

    @property
    def unit_vat(self) -> Decimal:
        return (self.unit_price * self.vat_rate / 100).quantize(FOUR, rounding=ROUND_HALF_UP)

    @property
    def unit_original_vat(self) -> Decimal:
        return (self.unit_price_original * self.vat_rate / 100).quantize(FOUR, rounding=ROUND_HALF_UP)

    @property
    def line_amount(self) -> Decimal:
        return (self.unit_price * self.qty).quantize(FOUR, rounding=ROUND_HALF_UP)

    @property
    def discount(self) -> Decimal:
        return ((self.unit_price_original - self.unit_price) * self.qty).quantize(FOUR, rounding=ROUND_HALF_UP)

    @property
    def is_fee(self) -> bool:
        return self.type_group in ("Fee", "AddedFee") or self.type == "Freight"


@dataclass
class Payment:
    code: int
    method_code: str
    ref: str
    amount: Decimal  # reserved, incl. VAT
    name: str = "Card"
    method_id: int = 1


@dataclass
class Order:
    """One Norce order and everything that happened to it since checkout."""

    id: int
    ref: str  # ClientOrderRef (basket / quotation id as text)
    application_id: int
    client_id: int
    currency: str
    order_date: datetime
    created: datetime
    sell_to: Party
    bill_to: Party
    ship_to: Party
    lines: list[Line]
    payments: list[Payment]
    status_id: int = 0
    type_id: int = 1
    source: str = "WEB"
    updated: datetime | None = None
    erp_order_no: str | None = None
    customer_order_ref: str | None = None
    comment: str | None = None
    discount_code: str | None = None
    delivery_method_code: str = "POSTNORD"
    kind: str = "ordinary"
    history: list[dict[str, Any]] = field(default_factory=list)
    infos: dict[str, str | None] = field(default_factory=dict)
    delivery_notes: list[dict[str, Any]] = field(default_factory=list)
    invoices: list[dict[str, Any]] = field(default_factory=list)
    captures: list[dict[str, Any]] = field(default_factory=list)
    credits: list[dict[str, Any]] = field(default_factory=list)
    psp_cancels: list[dict[str, Any]] = field(default_factory=list)
    reservation_closed: bool = False

    @property
    def order_no(self) -> str:
        """Query ``OrderNo``: the ERP number once known, else the basket id."""
        return self.erp_order_no or self.ref

    @property
    def quotation_id(self) -> int | None:
        return int(self.ref) if self.ref.isdigit() and int(self.ref) <= INT32_MAX else None

    @property
    def total_inc_vat(self) -> Decimal:
        return money(sum(((ln.unit_price + ln.unit_vat) * ln.qty for ln in self.lines), Decimal(0)))

    @property
    def reserved(self) -> Decimal:
        return sum((p.amount for p in self.payments), Decimal(0))

    @property
    def captured(self) -> Decimal:
        return sum((c["amount"] for c in self.captures), Decimal(0))

    def set_status(self, status_id: int, now: datetime, by: str) -> None:
        """Move to ``status_id`` (rows follow), stamping ``Updated``; same status again changes nothing."""
        if status_id == self.status_id:
            self.history.append({"at": now, "status_id": status_id, "by": by, "changed": False})
            return
        self.status_id = status_id
        for line in self.lines:
            line.status_id = status_id
        self.updated = now
        self.history.append({"at": now, "status_id": status_id, "by": by, "changed": True})


# -- binding ---------------------------------------------------------------------------------------------
class ConnectError(Exception):
    """A Connect refusal: HTTP 400 (or ``status``) naming the field when there is one."""

    def __init__(self, message: str, field_name: str | None = None, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.field_name = field_name
        self.status = status

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "https://tools.ietf.org/html/rfc9110#section-15.5.1",
                               "title": "Bad Request" if self.status == 400 else "Error",
                               "status": self.status, "detail": self.message}
        if self.field_name:
            out["title"] = "One or more validation errors occurred."
            out["errors"] = {self.field_name: [self.message]}
        return out


class Body:
    """A JSON object read with case-insensitive property names (``DeliverynoteItems`` ≡ ``DeliveryNoteItems``)."""

    def __init__(self, data: Any, path: str = "$") -> None:
        if not isinstance(data, dict):
            raise ConnectError(f"The JSON value at '{path}' must be an object.", path)
        self.path = path
        self._data = {str(k).lower(): v for k, v in data.items()}

    def name(self, key: str) -> str:
        return key if self.path == "$" else f"{self.path}.{key}"

    def get(self, key: str) -> Any:
        return self._data.get(key.lower())

    def text(self, key: str, *, required: bool = False) -> str | None:
        value = self.get(key)
        if value is None or (required and value == ""):
            if required:
                raise ConnectError(f"The {key} field is required.", self.name(key))
            return None
        if not isinstance(value, str | int) or isinstance(value, bool):
            raise ConnectError(f"The JSON value could not be converted to System.String. Path: {self.name(key)}",
                               self.name(key))
        return str(value)

    def int32(self, key: str) -> int | None:
        """An int32 as .NET binds it: JSON integer or digit string in range; anything else is refused."""
        value = self.get(key)
        if value is None:
            return None
        text = value.strip() if isinstance(value, str) else value
        if isinstance(text, str) and text.lstrip("-").isdigit():
            text = int(text)
        if not isinstance(text, int) or isinstance(text, bool) or not -(2**31) <= text <= INT32_MAX:
            raise ConnectError(f"Could not convert '{value}' to System.Int32. Path: {self.name(key)}",
                               self.name(key))
        return text

    def decimal(self, key: str, *, required: bool = False) -> Decimal | None:
        value = self.get(key)
        if value is None:
            if required:
                raise ConnectError(f"The {key} field is required.", self.name(key))
            return None
        if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
            raise ConnectError(f"Could not convert '{value}' to System.Decimal. Path: {self.name(key)}",
                               self.name(key))
        try:
            return Decimal(str(value))
        except InvalidOperation:
            raise ConnectError(f"Could not convert '{value}' to System.Decimal. Path: {self.name(key)}",
                               self.name(key)) from None

    def boolean(self, key: str) -> bool | None:
        value = self.get(key)
        if value is None or isinstance(value, bool):
            return value
        raise ConnectError(f"Could not convert '{value}' to System.Boolean. Path: {self.name(key)}", self.name(key))

    def date(self, key: str, *, required: bool = False) -> datetime | None:
        value = self.text(key, required=required)
        if value is None:
            return None
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ConnectError(f"Could not convert '{value}' to System.DateTime. Path: {self.name(key)}",
                               self.name(key)) from None

    def objects(self, key: str) -> list[Body]:
        value = self.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise ConnectError(f"The JSON value at '{self.name(key)}' must be an array.", self.name(key))
        return [Body(v, f"{self.name(key)}[{i}]") for i, v in enumerate(value)]

    def status(self, key: str) -> int:
        """An ``OrderStatus`` by name (case-insensitive) or integer 0-20."""
        value = self.get(key)
        if value is None:
            raise ConnectError(f"The {key} field is required.", self.name(key))
        if isinstance(value, int) and not isinstance(value, bool) and value in ORDER_STATUSES.values():
            return value
        if isinstance(value, str):
            found = {k.lower(): v for k, v in ORDER_STATUSES.items()}.get(value.strip().lower())
            if found is not None:
                return found
            if value.strip().isdigit() and int(value) in ORDER_STATUSES.values():
                return int(value)
        raise ConnectError(f"Requested value '{value}' was not found in OrderStatus. Path: {self.name(key)}",
                           self.name(key))


# -- matching --------------------------------------------------------------------------------------------
def find_order(sb: NorceSandbox, body: Body, *, allow_new_erp: bool = False) -> tuple[Order, str | None]:
    """The order a Connect call means, by ``ClientOrderRef`` (int32) or else ``ErpOrderNo``."""
    ref = body.int32("ClientOrderRef")
    erp = body.text("ErpOrderNo")
    erp = erp or None
    if ref is None and erp is None:
        raise ConnectError("Either ClientOrderRef or ErpOrderNo must be provided.", "ClientOrderRef")
    if ref is not None:
        order = next((o for o in sb.orders.values() if o.quotation_id == ref), None)
        if order is None:
            raise ConnectError(f"Order not found. ClientOrderRef: {ref}", "ClientOrderRef")
        if erp and order.erp_order_no and erp != order.erp_order_no and not allow_new_erp:
            raise ConnectError(f"ErpOrderNo '{erp}' does not match order {ref} (ErpOrderNo "
                               f"'{order.erp_order_no}').", "ErpOrderNo")
        return order, erp
    order = next((o for o in sb.orders.values() if o.erp_order_no == erp), None)
    if order is None:
        raise ConnectError(f"Order not found. ErpOrderNo: {erp}", "ErpOrderNo")
    return order, erp


def _refuse_cancelled(order: Order, what: str) -> None:
    if order.status_id == CANCELLED:
        raise ConnectError(f"Order {order.ref} is cancelled; cannot {what}.")


# -- operations ------------------------------------------------------------------------------------------
def send_order_status(sb: NorceSandbox, body: Body) -> None:
    """Set the order's status (any of the 21); an ERP number sent along is stored (becomes ``OrderNo``)."""
    order, erp = find_order(sb, body, allow_new_erp=True)
    status = body.status("OrderStatus")
    body.int32("AccountId")
    infos = {}
    for info in body.objects("Infos"):
        infos[info.text("Code", required=True) or ""] = info.text("Value")
    item_statuses = []
    for item in body.objects("ItemStatuses"):
        line_no = item.text("LineNo", required=True)
        line = next((ln for ln in order.lines if str(ln.line_no) == line_no), None)
        if line is None:
            raise ConnectError(f"Order {order.ref} has no row with LineNo {line_no}.", item.name("LineNo"))
        item_statuses.append((line, item.status("ItemStatus") if item.get("ItemStatus") is not None else None))
    now = sb.clock()
    if erp and erp != order.erp_order_no:
        order.erp_order_no = erp
        order.updated = now
    if infos:
        order.infos.update(infos)
        order.updated = now
    order.set_status(status, now, "Connect SendOrderStatus")
    for line, line_status in item_statuses:
        if line_status is not None and line_status != line.status_id:
            line.status_id = line_status
            order.updated = now


def create_delivery_note(sb: NorceSandbox, body: Body) -> None:
    """Record shipped quantities per row; the order becomes Delivered or PartlyDelivered."""
    order_no = body.text("OrderNo", required=True)
    order = next((o for o in sb.orders.values() if o.order_no == order_no), None)
    if order is None:
        raise ConnectError(f"Order not found. OrderNo: {order_no}", "OrderNo")
    _refuse_cancelled(order, "create a delivery note")
    note_no = body.text("NoteNo")
    if note_no and any(n["NoteNo"] == note_no for o in sb.orders.values() for n in o.delivery_notes):
        raise ConnectError(f"A delivery note with NoteNo '{note_no}' already exists.", "NoteNo")
    items = body.objects("DeliveryNoteItems")
    if not items:
        raise ConnectError("DeliveryNoteItems must contain at least one item.", "DeliveryNoteItems")
    shipped: dict[int, Decimal] = {}
    recorded = []
    for item in items:
        line = _delivery_line(order, item, shipped)
        qty = item.decimal("Qty", required=True) or Decimal(0)
        left = line.qty - line.shipped - shipped.get(line.line_no, Decimal(0))
        if qty <= 0 or qty > left:
            raise ConnectError(f"Qty {qty} for row {line.line_no} ({line.part_no}) must be above 0 and at most "
                               f"the {left} not yet delivered.", item.name("Qty"))
        shipped[line.line_no] = shipped.get(line.line_no, Decimal(0)) + qty
        recorded.append({"RowNumber": line.line_no, "ItemNo": line.part_no, "Qty": qty})
    packages = [{"ParcelNumber": p.text("ParcelNumber"), "StatusId": p.int32("StatusId")}
                for p in body.objects("DeliveryNotePackages")]
    now = sb.clock()
    for line in order.lines:
        line.shipped += shipped.get(line.line_no, Decimal(0))
    order.delivery_notes.append({"NoteNo": note_no, "OrderNo": order_no, "DeliveryDate": body.date("DeliveryDate"),
                                 "at": now,
                                 "StatusId": body.int32("StatusId"), "items": recorded, "packages": packages})
    complete = all(ln.shipped >= ln.qty for ln in order.lines if not ln.is_fee)
    order.set_status(DELIVERED if complete else PARTLY_DELIVERED, now, "Connect CreateDeliveryNote")
    order.updated = now


def _delivery_line(order: Order, item: Body, shipped: dict[int, Decimal]) -> Line:
    row = item.decimal("RowNumber")
    part = item.text("ItemNo")
    if row is not None:
        line = next((ln for ln in order.lines if ln.line_no == row), None)
        if line is None:
            raise ConnectError(f"Order {order.ref} has no row {row}.", item.name("RowNumber"))
        if part and part != line.part_no:
            raise ConnectError(f"Row {row} of order {order.ref} is {line.part_no}, not {part}.", item.name("ItemNo"))
        return line
    if not part:
        raise ConnectError("Either RowNumber or ItemNo must be provided.", item.name("ItemNo"))
    candidates = [ln for ln in order.lines if ln.part_no == part]
    if not candidates:
        raise ConnectError(f"Order {order.ref} has no row with ItemNo {part}.", item.name("ItemNo"))
    open_lines = [ln for ln in candidates if ln.qty - ln.shipped - shipped.get(ln.line_no, Decimal(0)) > 0]
    return open_lines[0] if open_lines else candidates[0]


def cancel_order(sb: NorceSandbox, body: Body) -> None:
    """Cancel the order; each listed payment gets a PSP cancel. Captured orders cannot be cancelled."""
    order, _ = find_order(sb, body)
    payments = body.objects("Payments")
    targets = []
    for pay in payments:
        ref = pay.text("PaymentRef", required=True)
        found = next((p for p in order.payments if p.ref == ref), None)
        if found is None:
            raise ConnectError(f"PSP cancel failed: order {order.ref} has no payment with PaymentRef '{ref}'.",
                               pay.name("PaymentRef"))
        targets.append(found)
    if order.status_id == CANCELLED:
        return  # already cancelled: nothing changes, no second PSP cancel
    if order.captures:
        raise ConnectError(f"Order {order.ref} has captured payments ({order.captured}); it cannot be cancelled.")
    now = sb.clock()
    for found in targets:
        order.psp_cancels.append({"PaymentRef": found.ref, "amount": found.amount, "at": now})
    if targets:
        order.reservation_closed = True
    order.set_status(CANCELLED, now, "Connect CancelOrder")


@dataclass
class _Invoice:
    invoice_no: str | None
    items: list[dict[str, Any]]
    amount: Decimal
    suppress: bool
    is_last: bool
    payment: Payment


def _parse_invoice(order: Order, body: Body, *, credit: bool) -> _Invoice:
    body.date("InvoiceDate", required=True)
    currency = body.text("CurrencyCode", required=True)
    if currency != order.currency:
        raise ConnectError(f"CurrencyCode '{currency}' differs from the order's currency {order.currency}.",
                           "CurrencyCode")
    items: list[dict[str, Any]] = []
    for item in body.objects("Items"):
        part = item.text("PartNo", required=True)
        qty = item.int32("Quantity")
        if qty is None:
            raise ConnectError("The Quantity field is required.", item.name("Quantity"))
        price = item.decimal("UnitPrice", required=True) or Decimal(0)
        vat = item.decimal("UnitVat")
        rate = item.decimal("VatRate")
        if vat is None:
            vat = (price * rate / 100) if rate is not None else Decimal(0)
        if not credit and not any(ln.part_no == part for ln in order.lines):
            raise ConnectError(f"Order {order.ref} has no row with PartNo {part}.", item.name("PartNo"))
        items.append({"PartNo": part, "Quantity": qty, "UnitPrice": price, "UnitVat": vat})
    suppress = body.boolean("SuppressPspCall") or False
    last = body.boolean("IsLastInvoiceForOrder")
    pay_body = Body(body.get("Payment"), "Payment") if body.get("Payment") is not None else None
    payment = _invoice_payment(order, pay_body)
    amount_given = pay_body.decimal("Amount") if pay_body else None
    amount = money(amount_given if amount_given is not None else
                   sum(((i["UnitPrice"] + i["UnitVat"]) * i["Quantity"] for i in items), Decimal(0)))
    if not suppress and not items:
        raise ConnectError("Items are mandatory for a PSP " + ("credit." if credit else "capture."), "Items")
    return _Invoice(body.text("InvoiceNo"), items, amount, suppress, True if last is None else last, payment)


def _invoice_payment(order: Order, pay: Body | None) -> Payment:
    if not order.payments:
        raise ConnectError(f"Order {order.ref} has no payment.", "Payment")
    if pay is None:
        return order.payments[0]
    ref, code = pay.text("PaymentRef"), pay.int32("PaymentCode")
    found = next((p for p in order.payments if (ref and p.ref == ref) or (not ref and code is not None
                                                                          and p.code == code)), None)
    if (ref or code is not None) and found is None:
        raise ConnectError(f"Order {order.ref} has no payment {ref or code}.", "Payment.PaymentRef")
    return found or order.payments[0]


def _unique_invoice_no(sb: NorceSandbox, invoice_no: str | None) -> None:
    if invoice_no and any(d["InvoiceNo"] == invoice_no for o in sb.orders.values()
                          for d in [*o.invoices, *o.credits]):
        raise ConnectError(f"InvoiceNo '{invoice_no}' must be unique; it already exists.", "InvoiceNo")


def create_invoice(sb: NorceSandbox, body: Body) -> None:
    """Store the invoice and capture at the PSP (unless suppressed), never beyond the reservation."""
    order, _ = find_order(sb, body)
    _refuse_cancelled(order, "invoice or capture")
    inv = _parse_invoice(order, body, credit=False)
    _unique_invoice_no(sb, inv.invoice_no)
    now = sb.clock()
    if not inv.suppress:
        if order.reservation_closed:
            raise ConnectError(f"The reservation of order {order.ref} is closed (last invoice already "
                               "captured); nothing more can be captured.")
        left = inv.payment.amount - sum((c["amount"] for c in order.captures
                                         if c["PaymentRef"] == inv.payment.ref), Decimal(0))
        if inv.amount > left:
            raise ConnectError(f"Capture of {inv.amount} {order.currency} exceeds the {left} still reserved "
                               f"on order {order.ref}.", "Payment.Amount")
        if inv.amount <= 0:
            raise ConnectError(f"Capture amount must be above 0 (was {inv.amount}).", "Items")
        order.captures.append({"InvoiceNo": inv.invoice_no, "PaymentRef": inv.payment.ref, "amount": inv.amount,
                               "at": now, "State": "Captured"})
    order.invoices.append({"InvoiceNo": inv.invoice_no, "InvoiceDate": body.date("InvoiceDate"),
                           "ErpOrderNo": body.text("ErpOrderNo") or order.erp_order_no,
                           "PaymentRef": inv.payment.ref, "amount": inv.amount, "items": inv.items, "at": now,
                           "SuppressPspCall": inv.suppress, "IsLastInvoiceForOrder": inv.is_last,
                           "captured": not inv.suppress})
    if inv.is_last:
        order.reservation_closed = True
        order.set_status(INVOICED, now, "Connect CreateInvoice")
    order.updated = now


def credit_payment(sb: NorceSandbox, body: Body) -> None:
    """Credit (refund) part of a captured invoice at the PSP."""
    order, _ = find_order(sb, body)
    credited_no = body.text("CreditedInvoiceNo", required=True)
    invoice = next((i for i in order.invoices if i["InvoiceNo"] == credited_no), None)
    if invoice is None:
        raise ConnectError(f"Order {order.ref} has no invoice '{credited_no}' to credit.", "CreditedInvoiceNo")
    if len({p.method_code for p in order.payments}) > 1 or any(p.name == "GiftCard" for p in order.payments):
        raise ConnectError(f"Order {order.ref} was paid with a gift card or more than one payment type; credit "
                           "it outside Norce.")
    inv = _parse_invoice(order, body, credit=True)
    _unique_invoice_no(sb, inv.invoice_no)
    if not inv.suppress:
        if not invoice["captured"]:
            raise ConnectError(f"Invoice '{credited_no}' was never captured; there is nothing to credit.",
                               "CreditedInvoiceNo")
        done = sum((c["amount"] for c in order.credits if c["CreditedInvoiceNo"] == credited_no
                    and not c["SuppressPspCall"]), Decimal(0))
        if inv.amount <= 0 or inv.amount > invoice["amount"] - done:
            raise ConnectError(f"Credit of {inv.amount} must be above 0 and at most the {invoice['amount'] - done} "
                               f"captured and not yet credited on invoice '{credited_no}'.", "Payment.Amount")
    now = sb.clock()
    order.credits.append({"InvoiceNo": inv.invoice_no, "CreditedInvoiceNo": credited_no, "amount": inv.amount,
                          "items": inv.items, "SuppressPspCall": inv.suppress, "at": now})
    order.updated = now
