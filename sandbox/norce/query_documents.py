"""Query 2.0 ``Orders/Invoices`` and ``Orders/DeliveryNotes``: the documents Connect made, readable back.

Reference §2b names these entity sets but not their columns (UNCONFIRMED). The rows here use the
property names of the Connect objects that create them (``Invoice`` §3.4 from ``Order/CreateInvoice``,
``DeliveryNote`` §3.2 from ``Order/CreateDeliveryNote``) plus the Query conventions of ``Orders/Orders``
(``Id``, ``OrderId``, ``ApplicationId``, ``Created`` in UTC with ``Z``, decimals as JSON numbers), so a
client can look a document up by its natural key (``InvoiceNo eq '…'``, ``NoteNo eq '…'``) before
sending it again. Rows: ``Items`` of both and ``Packages`` of notes only with ``$expand``. Every choice
is listed in ``modelled.py``.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sandbox.norce.orders import Order
from sandbox.norce.query import num, utc_text

if TYPE_CHECKING:
    from sandbox.norce.state import NorceSandbox

INVOICES = "Orders/Invoices"
DELIVERY_NOTES = "Orders/DeliveryNotes"
#: a document's Id: its order's Id times this, plus its 1-based position on the order (stable: documents
#: are only ever appended to an order)
ID_FACTOR = 100
INVOICE_PROPERTIES = frozenset({
    "Id", "OrderId", "ApplicationId", "ClientOrderRef", "ErpOrderNo", "InvoiceNo", "InvoiceDate",
    "CurrencyCode", "TotalAmount", "PaymentRef", "IsCaptured", "SuppressPspCall", "IsLastInvoiceForOrder",
    "Created"})
DELIVERY_NOTE_PROPERTIES = frozenset({
    "Id", "OrderId", "ApplicationId", "NoteNo", "OrderNo", "DeliveryDate", "StatusId", "Created"})
INVOICE_NAVIGATIONS = frozenset({"Items"})
DELIVERY_NOTE_NAVIGATIONS = frozenset({"Items", "Packages"})


def connect_time(value: datetime | None) -> str | None:
    """A DateTime Connect received, as Query shows it: aware → UTC ``Z``; zone-less → stored as given
    (a plain ``InvoiceDate`` like ``2025-06-12`` reads back as ``2025-06-12T00:00:00Z``)."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(microsecond=0).isoformat() + "Z"
    return utc_text(value)


def invoice_rows(orders: list[Order]) -> list[dict[str, Any]]:
    """One row per ``CreateInvoice`` (credits are not invoices here), in Id order."""
    rows = []
    for order in orders:
        for index, inv in enumerate(order.invoices, start=1):
            doc_id = order.id * ID_FACTOR + index
            rows.append({
                "Id": doc_id, "OrderId": order.id, "ApplicationId": order.application_id,
                "ClientOrderRef": order.quotation_id, "ErpOrderNo": inv.get("ErpOrderNo"),
                "InvoiceNo": inv["InvoiceNo"], "InvoiceDate": connect_time(inv.get("InvoiceDate")),
                "CurrencyCode": order.currency, "TotalAmount": num(inv["amount"]),
                "PaymentRef": inv.get("PaymentRef"), "IsCaptured": bool(inv["captured"]),
                "SuppressPspCall": bool(inv["SuppressPspCall"]),
                "IsLastInvoiceForOrder": bool(inv["IsLastInvoiceForOrder"]), "Created": utc_text(inv["at"]),
                "Items": [_invoice_item(doc_id, n, item) for n, item in enumerate(inv["items"], start=1)],
            })
    return rows


def _invoice_item(invoice_id: int, line_no: int, item: dict[str, Any]) -> dict[str, Any]:
    unit, vat = Decimal(item["UnitPrice"]), Decimal(item["UnitVat"])
    return {"InvoiceId": invoice_id, "LineNo": line_no, "PartNo": item["PartNo"], "Quantity": item["Quantity"],
            "UnitPrice": num(unit), "UnitVat": num(vat)}


def delivery_note_rows(orders: list[Order]) -> list[dict[str, Any]]:
    """One row per ``CreateDeliveryNote``, in Id order; ``OrderNo`` is the one the note was sent with."""
    rows = []
    for order in orders:
        names = {ln.line_no: ln.name for ln in order.lines}
        for index, note in enumerate(order.delivery_notes, start=1):
            doc_id = order.id * ID_FACTOR + index
            rows.append({
                "Id": doc_id, "OrderId": order.id, "ApplicationId": order.application_id,
                "NoteNo": note["NoteNo"], "OrderNo": note.get("OrderNo", order.order_no),
                "DeliveryDate": connect_time(note.get("DeliveryDate")), "StatusId": note.get("StatusId"),
                "Created": utc_text(note["at"]),
                "Items": [{"DeliveryNoteId": doc_id, "RowNumber": num(Decimal(i["RowNumber"])),
                           "ItemNo": i["ItemNo"], "Description": names.get(i["RowNumber"]),
                           "Qty": num(Decimal(i["Qty"]))} for i in note["items"]],
                "Packages": [{"DeliveryNoteId": doc_id, "ParcelNumber": p["ParcelNumber"],
                              "StatusId": p["StatusId"]} for p in note["packages"]],
            })
    return rows


def register(sb: NorceSandbox) -> None:
    """Serve both sets from the sandbox's orders (always current: rows are built per request)."""
    sb.entity_sets[INVOICES] = lambda: invoice_rows(sb.order_list())
    sb.entity_sets[DELIVERY_NOTES] = lambda: delivery_note_rows(sb.order_list())
    sb.entity_properties[INVOICES] = set(INVOICE_PROPERTIES)
    sb.entity_properties[DELIVERY_NOTES] = set(DELIVERY_NOTE_PROPERTIES)
    sb.entity_keys[INVOICES] = "Id"
    sb.entity_keys[DELIVERY_NOTES] = "Id"
    sb.entity_navigations[INVOICES] = set(INVOICE_NAVIGATIONS)
    sb.entity_navigations[DELIVERY_NOTES] = set(DELIVERY_NOTE_NAVIGATIONS)
