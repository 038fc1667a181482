"""Status and documents back to Norce (Connect Order Service 4.0): pure body builders and thin calls.

The builders turn jetfort's shop models into the request bodies of reference §3 (SendOrderStatus,
CreateDeliveryNote, CancelOrder, CreateInvoice); the call functions send one body each and, for the
two documents that carry a natural key (``NoteNo``, ``InvoiceNo``), look in the Query API for one
that already exists, so a retried or repeated call never makes a second one. Choices the reference
leaves open:

* ``ClientOrderRef`` is an int32 in every body here (the ``ShopOrder.order_id``); a larger id is a
  clear error, never truncated.
* ``ErpOrderNo`` is "required" but may be empty (the schema says either it or ClientOrderRef).
* Invoice rows are the Query order's own rows (``Items``: PartNo, QtyOrdered, PriceSale ex VAT after
  promotions, VatRate in percent), freight and fee rows with their own part numbers. ``Quantity`` is an
  int32 in ``InvoiceItem``: a row sold in a fractional quantity (1.5 kg) goes out as ONE unit priced at
  the whole line, its real quantity in ``Description``.
* Delivery notes list the order's product rows (freight and fees are not delivered).
* Existing invoices / delivery notes are found through Query ``Orders/Invoices`` (``InvoiceNo eq``)
  and ``Orders/DeliveryNotes`` (``NoteNo eq``): entity and property names UNCONFIRMED (reference §2b
  names the entity sets only). Where Query does not serve them (404), Norce's own refusal of a taken
  number (InvoiceNo "must be unique", a NoteNo that "already exists") is read as "it is there".
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Protocol

from jetfort.shop.errors import ShopNotFound, ShopRejected, ShopTransientError
from jetfort.shop.models import RowType, ShopOrder

__all__ = [
    "CANCELLED_STATUSES", "DELIVERY_STATUSES", "ORDER_STATUSES", "ConnectClient",
    "cancel_order", "cancel_order_body", "client_order_ref", "create_delivery_note", "create_invoice",
    "delivery_note_body", "find_delivery_note", "find_invoice", "invoice_body", "invoice_items", "is_duplicate",
    "note_number",
    "odata_text", "send_order_status", "send_order_status_body", "status_name", "utc_text",
]

#: Connect ``OrderStatus`` enum, exact names and integers (reference §3.1).
ORDER_STATUSES: dict[int, str] = {
    0: "Created", 1: "Allocation", 2: "Confirmed", 3: "BackOrder", 4: "Delivered", 5: "Invoiced",
    6: "Cancelled", 7: "CreditControl", 8: "PartlyDelivered", 9: "Acknowledged", 10: "ErpConfirmed",
    11: "ReadyForPickup", 12: "PickedUp", 13: "NotPickedUp", 14: "OnHold", 15: "WaitingForCancel",
    16: "WaitingForOnHoldRemoved", 17: "CancelError", 18: "AcknowledgementError", 19: "ReadyForReservation",
    20: "Reserved",
}
CANCELLED = 6
#: statuses that never get a capture: cancelled, or a cancellation under way
CANCELLED_STATUSES = frozenset({CANCELLED, 15})
#: statuses with which a tracking number becomes a delivery note (Delivered, PartlyDelivered)
DELIVERY_STATUSES = frozenset({4, 8})
INT32_MAX = 2**31 - 1
_DUPLICATE = re.compile(r"unique|already exist|duplicate", re.IGNORECASE)
log = logging.getLogger(__name__)
UNIT = Decimal("0.0001")
OP_STATUS = "Order/SendOrderStatus"
OP_DELIVERY_NOTE = "Order/CreateDeliveryNote"
OP_CANCEL = "Order/CancelOrder"
OP_INVOICE = "Order/CreateInvoice"


class ConnectClient(Protocol):
    """What these calls need of :class:`jetfort.norce.client.NorceClient` (a fake in tests)."""

    def connect_post(self, op: str, body: Any, headers: dict[str, str] | None = None, *,
                     retry_on_reset: bool = False) -> Any: ...

    def connect_get(self, op: str, params: Mapping[str, Any]) -> Any: ...

    def query_pages(self, entity: str, params: dict[str, Any]) -> Iterator[list[dict[str, Any]]]: ...


# ---------------------------------------------------------------------------------------- builders
def client_order_ref(order_id: int) -> int:
    """The int32 ``ClientOrderRef`` of an order; a value out of range is refused, not cut."""
    if isinstance(order_id, bool) or not isinstance(order_id, int) or not 0 < order_id <= INT32_MAX:
        raise ShopRejected(f"order {order_id!r}: ClientOrderRef must be a positive int32")
    return order_id


def status_name(status_id: int) -> str:
    """The Connect ``OrderStatus`` name of a status id (0-20)."""
    try:
        return ORDER_STATUSES[status_id]
    except KeyError:
        raise ShopRejected(f"status {status_id!r} is not a Norce OrderStatus (0-20)") from None


def send_order_status_body(order_id: int, status_id: int, erp_reference: str | None = None) -> dict[str, Any]:
    """``SendOrderStatusRequest``: the order by ClientOrderRef (and ERP number when known), the status by name."""
    return {"ClientOrderRef": client_order_ref(order_id), "ErpOrderNo": erp_reference or "",
            "OrderStatus": status_name(status_id)}


def cancel_order_body(order_id: int, erp_reference: str | None = None) -> dict[str, Any]:
    """``CancelOrderRequest`` without ``Payments``: no PSP cancel call is asked for (jetfort never voids
    an authorisation on its own; the shop's cancellation flow does)."""
    return {"ClientOrderRef": client_order_ref(order_id), "ErpOrderNo": erp_reference or ""}


def delivery_note_body(order: ShopOrder, *, erp_reference: str, note_no: str, tracking_number: str,
                       status_id: int, delivery_date: datetime) -> dict[str, Any]:
    """``DeliveryNote`` for the whole order with one parcel: matched on the ERP order number."""
    if not erp_reference:
        raise ShopRejected(f"order {order.order_id}: a delivery note needs the ERP order number "
                           "(erp_reference), Norce matches DeliveryNote.OrderNo on it")
    items = [{"RowNumber": row.row_id, "ItemNo": row.article_number, "Description": row.name,
              "Qty": row.quantity} for row in order.rows
             if row.row_type is RowType.PRODUCT and row.article_number and row.quantity > 0]
    return {"OrderNo": erp_reference, "NoteNo": note_no, "DeliveryDate": utc_text(delivery_date),
            "StatusId": status_id, "DeliveryNoteItems": items,
            "DeliveryNotePackages": [{"ParcelNumber": tracking_number, "StatusId": status_id}]}


def invoice_body(order: ShopOrder, items: Sequence[Mapping[str, Any]], *, erp_reference: str | None,
                 invoice_number: str, amount: Decimal, is_last: bool, invoice_date: date) -> dict[str, Any]:
    """``Invoice`` that captures ``amount`` of the order's payment; ``items`` are the Query order's rows.

    ``Payment`` names the reservation by ``PaymentRef`` when jetfort knows it (a pushed order); a Query
    order carries none, and then the order's one payment is meant (UNCONFIRMED how Norce picks without).
    """
    if not invoice_number:
        raise ShopRejected(f"order {order.order_id}: capture needs the Fortnox invoice number (InvoiceNo)")
    payment: dict[str, Any] = {"Amount": amount, "CurrencyCode": order.currency}
    if order.payment.transaction_id:
        payment["PaymentRef"] = order.payment.transaction_id
    return {"ClientOrderRef": client_order_ref(order.order_id), "ErpOrderNo": erp_reference or "",
            "InvoiceNo": invoice_number, "InvoiceDate": invoice_date.isoformat(), "CurrencyCode": order.currency,
            "Items": invoice_items(order.order_id, items), "Payment": payment, "IsLastInvoiceForOrder": is_last}


def invoice_items(order_id: int, items: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """``InvoiceItem`` rows from the Query order's ``Items`` (freight and fee rows included, with their
    own part numbers). ``Quantity`` is an int32: a fractional quantity goes out as one unit priced at
    the whole line, the real quantity in ``Description``. ``UnitVat`` = UnitPrice * VatRate / 100."""
    out = []
    for index, item in enumerate(items):
        where = f"order {order_id} Items[{index}]"
        part = item.get("PartNo")
        if not isinstance(part, str) or not part:
            raise ShopRejected(f"{where}: PartNo is missing; Norce needs it on every invoice row")
        quantity = _number(item, "QtyOrdered", where)
        if quantity == 0:
            continue
        price = _number(item, "PriceSale", where)
        rate = _number(item, "VatRate", where)
        name = str(item.get("ProductName") or "")
        whole = quantity == quantity.to_integral_value()
        if not whole:
            line = item.get("LineAmount")
            price = _number(item, "LineAmount", where) if line is not None else _q(price * quantity)
            name = f"{quantity} x {name}".strip()
        out.append({"PartNo": part, "Quantity": int(quantity) if whole else 1, "UnitPrice": price,
                    "UnitVat": _q(price * rate / 100), "VatRate": rate, "Description": name,
                    "LineNo": _number(item, "LineNumber", where)})
    return out


def _number(item: Mapping[str, Any], key: str, where: str) -> Decimal:
    value = item.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise ShopRejected(f"{where}: {key} {value!r} is not a number")
    number = Decimal(str(value))
    if not number.is_finite():
        raise ShopRejected(f"{where}: {key} {value!r} is not a number")
    return number


def _percent(fraction: Decimal) -> Decimal:
    return (fraction * 100).normalize() if fraction else Decimal(0)


def _q(value: Decimal) -> Decimal:
    return value.quantize(UNIT, rounding=ROUND_HALF_UP)


def utc_text(moment: datetime) -> str:
    """An aware datetime as an ISO-8601 UTC literal with ``Z`` (what Norce's samples and filters use)."""
    if moment.tzinfo is None:
        raise ValueError(f"datetime {moment!r} has no time zone")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def odata_text(value: str) -> str:
    """A string literal for an OData ``$filter`` (single quotes doubled)."""
    return "'" + value.replace("'", "''") + "'"


# ------------------------------------------------------------------------------------------ lookups
def find_invoice(client: ConnectClient, invoice_number: str) -> dict[str, Any] | None:
    """The invoice Norce holds under ``InvoiceNo`` (unique in Norce), if any."""
    return _first(client, "Orders/Invoices", f"InvoiceNo eq {odata_text(invoice_number)}")


def find_delivery_note(client: ConnectClient, note_no: str) -> dict[str, Any] | None:
    """The delivery note Norce holds under ``NoteNo``, if any."""
    return _first(client, "Orders/DeliveryNotes", f"NoteNo eq {odata_text(note_no)}")


def _first(client: ConnectClient, entity: str, condition: str) -> dict[str, Any] | None:
    """The first row matching, or None; an entity set the service does not serve (404) is "not seen"
    (the duplicate refusal of :func:`_create_once` is then what keeps the document single)."""
    try:
        for page in client.query_pages(entity, {"$filter": condition, "$top": 1}):
            if page:
                return page[0]
    except ShopNotFound:
        log.warning("Norce Query %s is not served; relying on Norce refusing a duplicate key", entity)
    return None


def is_duplicate(exc: ShopRejected, key: str) -> bool:
    """A refusal that says the document's natural key is taken (InvoiceNo "must be unique", a NoteNo that
    "already exists"): the document is there. Read from the message, as Norce publishes no error codes."""
    text = str(exc)
    return key in text and _DUPLICATE.search(text) is not None

# -------------------------------------------------------------------------------------------- calls
def note_number(erp_reference: str, tracking_number: str) -> str:
    """A deterministic ``NoteNo`` per order and parcel: the same parcel always names the same note, so a
    retry finds the note it made; a second parcel makes a second note. Longer than 50 characters → the
    tracking number is replaced by a short digest of it (still deterministic)."""
    note = f"{erp_reference}-{tracking_number}"
    if len(note) <= 50:
        return note
    return f"{erp_reference[:36]}-{hashlib.sha256(tracking_number.encode()).hexdigest()[:12]}"


def send_order_status(client: ConnectClient, order_id: int, status_id: int, erp_reference: str | None) -> None:
    """``Order/SendOrderStatus``; repeating a status only sets it again, so a lost answer is resent."""
    client.connect_post(OP_STATUS, send_order_status_body(order_id, status_id, erp_reference), retry_on_reset=True)


def cancel_order(client: ConnectClient, order_id: int, erp_reference: str | None) -> None:
    """``Order/CancelOrder`` (sets the order's status to Cancelled)."""
    client.connect_post(OP_CANCEL, cancel_order_body(order_id, erp_reference))


def create_delivery_note(client: ConnectClient, body: dict[str, Any], *, attempts: int = 3,
                         look_first: bool = True) -> bool:
    """``Order/CreateDeliveryNote`` once per ``NoteNo``: False when Norce holds that note already."""
    return _create_once(client, OP_DELIVERY_NOTE, body, lambda: find_delivery_note(client, str(body["NoteNo"])),
                        attempts, look_first=look_first) is None


def create_invoice(client: ConnectClient, body: dict[str, Any], *, attempts: int = 3,
                   look_first: bool = True) -> dict[str, Any] | None:
    """``Order/CreateInvoice`` once per ``InvoiceNo``: the existing invoice when Norce holds it already
    (nothing captured again; ``{"duplicate": message}`` when only Norce's refusal of the number said so),
    None when this call created it. ``look_first=False`` when the caller has just looked itself."""
    return _create_once(client, OP_INVOICE, body, lambda: find_invoice(client, str(body["InvoiceNo"])),
                        attempts, look_first=look_first)


def _create_once(client: ConnectClient, op: str, body: dict[str, Any], find: Callable[[], dict[str, Any] | None],
                 attempts: int, *, look_first: bool = True) -> dict[str, Any] | None:
    """Look, send, and after a lost answer look again before sending again.

    A transient error (reset, timeout, 5xx, 429) may come after Norce applied the call; the document's
    natural key decides: found → it exists (created by the lost call, or earlier), not found → send
    again. After ``attempts`` sends the last error is raised (the caller's retry starts with a look).
    """
    key = str(body.get("InvoiceNo") or body.get("NoteNo") or "")
    existing = find() if look_first else None
    if existing is not None:
        return existing
    for attempt in range(1, attempts + 1):
        try:
            client.connect_post(op, body)
            return None
        except ShopRejected as exc:
            # e.g. a retry after a lost answer meets the document it made ("must be unique")
            if find() is not None:
                return None
            if is_duplicate(exc, key):
                return {"duplicate": str(exc)}
            raise
        except ShopTransientError:
            if attempt == attempts:
                raise
        if find() is not None:
            return None  # the lost call made it: created by this call
    raise AssertionError("unreachable")  # pragma: no cover
