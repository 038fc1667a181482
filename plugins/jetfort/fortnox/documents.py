"""Fortnox orders, invoices and invoice payments: the document endpoints of
:class:`~jetfort.fortnox.hook.FortnoxHook`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from typing import Any

from jetfort.fortnox.errors import FortnoxAmbiguousWrite, FortnoxServerError, FortnoxValidationError
from jetfort.fortnox.models import (
    FortnoxInvoice,
    FortnoxOrder,
    InvoiceListItem,
    InvoicePayment,
    OrderListItem,
)
from jetfort.fortnox.transport import FortnoxClient, lastmodified, path_segment

#: document kind → (envelope key, collection path) for :meth:`DocumentEndpoints.create_document`
DOCUMENT_ENDPOINTS = {"order": ("Order", "3/orders"), "invoice": ("Invoice", "3/invoices")}
#: searchable external references → the list item's attribute
_EXTERNAL_REFERENCES = {"externalinvoicereference1": "external_invoice_reference1",
                        "externalinvoicereference2": "external_invoice_reference2"}


def _doc_key(item: Any) -> tuple[int, str]:
    number = str(item.document_number or "")
    return (int(number) if number.isdigit() else 0, number)


class DocumentEndpoints(FortnoxClient):
    """Orders, invoices, payments (typed, repeatable where Fortnox lets a re-run find its own work)."""

    # ----------------------------------------------------------------------------- orders
    def create_order(self, order: FortnoxOrder) -> FortnoxOrder:
        """POST an order. Lost answer → :class:`FortnoxAmbiguousWrite`: look it up before retrying."""
        return self._write("POST", "3/orders", "Order", FortnoxOrder, order, idempotent=False)

    def get_order(self, document_number: str) -> FortnoxOrder:
        return self._one(f"3/orders/{path_segment(document_number)}", "Order", FortnoxOrder)

    def update_order(self, document_number: str, order: FortnoxOrder) -> FortnoxOrder:
        return self._write("PUT", f"3/orders/{path_segment(document_number)}", "Order", FortnoxOrder, order)

    def list_orders(self, *, since: dt.datetime | str | None = None, filter: str | None = None,
                    **search: Any) -> Iterator[OrderListItem]:
        return self._listing("3/orders", "Orders", OrderListItem, since=since, filter=filter, search=search)

    def orders_changed_since(self, since: dt.datetime | str) -> Iterator[OrderListItem]:
        return self.list_orders(since=since)

    def find_orders_by_reference(self, value: str, *, field: str = "ExternalInvoiceReference1"
                                 ) -> list[OrderListItem]:
        """Orders whose ``field`` equals ``value`` exactly (the idempotency lookup).

        ``field``: ``ExternalInvoiceReference1``/``ExternalInvoiceReference2`` (searchable and in
        the list item) or ``YourOrderNumber`` (not searchable on orders: callers should prefer the
        external references for orders).
        """
        attr = _EXTERNAL_REFERENCES.get(field.lower())
        if attr is None:
            raise ValueError(f"orders cannot be searched by {field!r}; use ExternalInvoiceReference1/2")
        hits = self.list_orders(**{field.lower(): value})
        return sorted((o for o in hits if getattr(o, attr) == value),
                      key=_doc_key)

    def create_invoice_from_order(self, document_number: str) -> str:
        """Invoice an order; returns the invoice number. Safe to repeat (reads back on doubt)."""
        path = f"3/orders/{path_segment(document_number)}/createinvoice"
        try:
            answer = self._request("PUT", path, idempotent=False) or {}
        except (FortnoxAmbiguousWrite, FortnoxValidationError):
            order = self.get_order(document_number)
            if order.invoice_reference:
                return order.invoice_reference
            raise
        if "Order" in answer:  # what the real API returns
            ref = FortnoxOrder.model_validate(answer["Order"]).invoice_reference
        else:  # what the spec says (Invoice_Wrap)
            ref = FortnoxInvoice.model_validate(answer.get("Invoice") or {}).document_number
        if not ref:
            ref = self.get_order(document_number).invoice_reference
        if not ref:
            raise FortnoxServerError("createinvoice answered without an invoice reference",
                                     method="PUT", path=path)
        return ref

    def cancel_order(self, document_number: str) -> FortnoxOrder:
        return self._action(f"3/orders/{path_segment(document_number)}/cancel", "Order", FortnoxOrder,
                            lambda: self.get_order(document_number), lambda o: bool(o.cancelled))

    def create_document(self, kind: str, payload: Mapping[str, Any]) -> str:
        """POST an order (``kind="order"``) or invoice payload built and validated earlier — e.g. the
        ``to_payload()`` of a mapped document kept in the ledger — and return its ``DocumentNumber``.

        The batch path of the orders flow: it neither validates the payload again nor parses the whole
        answer into a model (together about a fifth of jetfort's CPU per order). Lost answer →
        :class:`FortnoxAmbiguousWrite`, as :meth:`create_order`/:meth:`create_invoice`.
        """
        key, path = DOCUMENT_ENDPOINTS[kind]
        answer = self._request("POST", path, json={key: dict(payload)}, idempotent=False) or {}
        number = (answer.get(key) or {}).get("DocumentNumber")
        if number in (None, ""):
            raise FortnoxServerError(f"{key} created without a DocumentNumber in the answer", method="POST",
                                     path=f"/{path}")
        return str(number)

    def document_references(self, kind: str, field: str, *, since: dt.datetime | str,
                            credit: bool | None = None) -> Iterator[tuple[str, str]]:
        """``(value of field, DocumentNumber)`` for every order or invoice changed since ``since`` whose
        ``field`` (e.g. ``ExternalInvoiceReference1``) is set, cancelled ones included.

        The orders flow's idempotency list for a whole batch: the list items are read for these two
        fields only instead of one model each (a busy hour lists thousands). ``credit`` (invoices
        only): ``False`` leaves credit invoices out (``PUT credit`` copies the original's references).
        """
        path = DOCUMENT_ENDPOINTS[kind][1]
        list_key = "Invoices" if kind == "invoice" else "Orders"
        params: dict[str, Any] = {"lastmodified": lastmodified(since)}
        if credit is not None and kind == "invoice":
            params["credit"] = "true" if credit else "false"
        for _meta, items in self.iter_pages(path, list_key, params):
            for item in items:
                value, number = item.get(field), item.get("DocumentNumber")
                if value and number not in (None, ""):
                    yield str(value), str(number)

    # ----------------------------------------------------------------------------- invoices
    def create_invoice(self, invoice: FortnoxInvoice) -> FortnoxInvoice:
        """POST an invoice. Lost answer → :class:`FortnoxAmbiguousWrite`: look it up first."""
        return self._write("POST", "3/invoices", "Invoice", FortnoxInvoice, invoice, idempotent=False)

    def get_invoice(self, document_number: str) -> FortnoxInvoice:
        return self._one(f"3/invoices/{path_segment(document_number)}", "Invoice", FortnoxInvoice)

    def update_invoice(self, document_number: str, invoice: FortnoxInvoice) -> FortnoxInvoice:
        return self._write("PUT", f"3/invoices/{path_segment(document_number)}", "Invoice", FortnoxInvoice,
                           invoice)

    def list_invoices(self, *, since: dt.datetime | str | None = None, filter: str | None = None,
                      **search: Any) -> Iterator[InvoiceListItem]:
        return self._listing("3/invoices", "Invoices", InvoiceListItem, since=since, filter=filter, search=search)

    def invoices_changed_since(self, since: dt.datetime | str) -> Iterator[InvoiceListItem]:
        return self.list_invoices(since=since)

    def find_invoices_by_reference(self, value: str, *, field: str = "ExternalInvoiceReference1",
                                   credit: bool | None = None) -> list[InvoiceListItem]:
        """Invoices whose ``field`` equals ``value`` exactly (substring search, then equality).

        ``field``: ``ExternalInvoiceReference1``/``2`` (compared on the list item) or
        ``YourOrderNumber`` (not in the list item: each candidate is fetched and compared).
        ``credit=False`` leaves credit invoices out, ``True`` lists only them, ``None`` both.
        """
        key = field.lower()
        search: dict[str, Any] = {key: value}
        if credit is not None:
            search["credit"] = "true" if credit else "false"
        hits = list(self.list_invoices(**search))
        if key in _EXTERNAL_REFERENCES:
            found = [i for i in hits if getattr(i, _EXTERNAL_REFERENCES[key]) == value]
        elif key == "yourordernumber":
            found = [i for i in hits if i.document_number
                     and self.get_invoice(i.document_number).your_order_number == value]
        else:
            raise ValueError(f"unsupported idempotency field {field!r}")
        return sorted(found, key=_doc_key)

    def bookkeep_invoice(self, document_number: str) -> FortnoxInvoice:
        return self._action(f"3/invoices/{path_segment(document_number)}/bookkeep", "Invoice", FortnoxInvoice,
                            lambda: self.get_invoice(document_number), lambda i: bool(i.booked))

    def cancel_invoice(self, document_number: str) -> FortnoxInvoice:
        return self._action(f"3/invoices/{path_segment(document_number)}/cancel", "Invoice", FortnoxInvoice,
                            lambda: self.get_invoice(document_number), lambda i: bool(i.cancelled))

    def credit_invoice(self, document_number: str) -> FortnoxInvoice:
        """Credit an invoice; returns the original with ``credit_invoice_reference`` set."""
        return self._action(f"3/invoices/{path_segment(document_number)}/credit", "Invoice", FortnoxInvoice,
                            lambda: self.get_invoice(document_number),
                            lambda i: bool(i.credit_invoice_reference))

    def update_invoice_fields(self, document_number: str, fields: Mapping[str, Any]) -> FortnoxInvoice:
        """PUT only ``fields`` (API names, e.g. ``{"ExternalInvoiceReference1": ...}``) on an unbooked
        invoice; a repeat writes the same values again (safe to retry)."""
        answer = self._request("PUT", f"3/invoices/{path_segment(document_number)}",
                               json={"Invoice": dict(fields)}) or {}
        return FortnoxInvoice.model_validate(answer.get("Invoice") or {})

    # ----------------------------------------------------------------------------- payments
    def list_invoice_payments(self, invoice_number: str | int) -> list[InvoicePayment]:
        """Payments registered on exactly this invoice (the search matches substrings)."""
        wanted = int(invoice_number)
        hits = self.iter_list("3/invoicepayments", "InvoicePayments", InvoicePayment,
                              {"invoicenumber": wanted})
        return [p for p in hits if p.invoice_number == wanted]

    def create_invoice_payment(self, payment: InvoicePayment) -> InvoicePayment:
        return self._write("POST", "3/invoicepayments", "InvoicePayment", InvoicePayment, payment,
                           idempotent=False)

    def bookkeep_invoice_payment(self, number: str) -> InvoicePayment:
        return self._action(f"3/invoicepayments/{path_segment(number)}/bookkeep", "InvoicePayment",
                            InvoicePayment, lambda: self._one(f"3/invoicepayments/{path_segment(number)}",
                                                              "InvoicePayment", InvoicePayment),
                            lambda p: bool(p.booked))
