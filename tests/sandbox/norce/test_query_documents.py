"""Query ``Orders/Invoices`` and ``Orders/DeliveryNotes``: what Connect CreateInvoice / CreateDeliveryNote made,
found by its natural key as jetfort's Norce backend looks before sending a document again.

Seed (README): order 100101 = Id 5001, 2 x 1001 at 199.20 + 49.80 VAT, freight 39.20 + 9.80, payment
psp-100101 reserving 547.00 SEK; order 100102 = Id 5002, ERP no 9001, 1.5 kg of 1011 "Kaffe mörkrost 500 g".
The clock is frozen at 2025-06-12 12:00 UTC."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import requests

from jetfort.norce import connect_orders as co
from jetfort.norce.backend import NorceShop
from jetfort.norce.settings import NorceSettings
from sandbox.norce.state import NorceSandbox
from tests.sandbox.norce.conftest import CONNECT, QUERY

ITEMS = [{"PartNo": "1001", "Quantity": 2, "UnitPrice": 199.2, "UnitVat": 49.8, "VatRate": 25},
         {"PartNo": "FREIGHT", "Quantity": 1, "UnitPrice": 39.2, "UnitVat": 9.8, "VatRate": 25}]
INVOICE_70001 = {
    "Id": 500101, "OrderId": 5001, "ApplicationId": 1244, "ClientOrderRef": 100101, "ErpOrderNo": "F-1",
    "InvoiceNo": "70001", "InvoiceDate": "2025-06-12T00:00:00Z", "CurrencyCode": "SEK", "TotalAmount": 547.0,
    "PaymentRef": "psp-100101", "IsCaptured": True, "SuppressPspCall": False, "IsLastInvoiceForOrder": True,
    "Created": "2025-06-12T12:00:00Z"}
NOTE = {"OrderNo": "9001", "NoteNo": "9001-PN1", "DeliveryDate": "2025-06-12T10:30:00Z", "StatusId": 4,
        "DeliveryNoteItems": [{"RowNumber": 1, "ItemNo": "1011", "Qty": 1.5}],
        "DeliveryNotePackages": [{"ParcelNumber": "PN1", "StatusId": 4}]}


def post(http: requests.Session, base_url: str, op: str, body: Any) -> None:
    response = http.post(base_url + CONNECT + op, json=body, timeout=10)
    assert response.status_code == 200, response.text


def rows(http: requests.Session, base_url: str, entity: str, **params: str) -> list[dict[str, Any]]:
    response = http.get(base_url + QUERY + entity, params=params, timeout=10)
    assert response.status_code == 200, response.text
    return list(response.json()["value"])


def invoice(no: str, ref: int = 100101, **extra: Any) -> dict[str, Any]:
    return {"ClientOrderRef": ref, "ErpOrderNo": "F-1", "InvoiceNo": no, "InvoiceDate": "2025-06-12",
            "CurrencyCode": "SEK", "Items": ITEMS, **extra}


# -- Orders/Invoices ---------------------------------------------------------------------------------------
def test_an_invoice_is_found_by_its_number_with_its_columns(http: requests.Session, base_url: str,
                                                           sb: NorceSandbox) -> None:
    assert rows(http, base_url, "Orders/Invoices", **{"$filter": "InvoiceNo eq '70001'", "$top": "1"}) == []
    post(http, base_url, "Order/CreateInvoice", invoice("70001"))
    found = rows(http, base_url, "Orders/Invoices", **{"$filter": "InvoiceNo eq '70001'", "$top": "1"})
    assert found == [INVOICE_70001]  # Items only with $expand
    assert rows(http, base_url, "Orders/Invoices", **{"$filter": "InvoiceNo eq '7000'"}) == []


def test_invoice_items_come_with_expand_and_the_key_get_works(http: requests.Session, base_url: str,
                                                             sb: NorceSandbox) -> None:
    post(http, base_url, "Order/CreateInvoice", invoice("70001"))
    [row] = rows(http, base_url, "Orders/Invoices", **{"$expand": "Items"})
    assert row["Items"] == [
        {"InvoiceId": 500101, "LineNo": 1, "PartNo": "1001", "Quantity": 2, "UnitPrice": 199.2, "UnitVat": 49.8},
        {"InvoiceId": 500101, "LineNo": 2, "PartNo": "FREIGHT", "Quantity": 1, "UnitPrice": 39.2, "UnitVat": 9.8}]
    single = http.get(base_url + QUERY + "Orders/Invoices(500101)", timeout=10).json()
    assert {k: v for k, v in single.items() if not k.startswith("@")} == INVOICE_70001
    assert http.get(base_url + QUERY + "Orders/Invoices(500102)", timeout=10).status_code == 404


def test_partial_invoices_each_get_a_row_with_their_own_amount(http: requests.Session, base_url: str,
                                                              sb: NorceSandbox) -> None:
    post(http, base_url, "Order/CreateInvoice", invoice("70001", Payment={"Amount": 300},
                                                        IsLastInvoiceForOrder=False))
    sb.advance(90)
    post(http, base_url, "Order/CreateInvoice", invoice("70002", ErpOrderNo="", Payment={"Amount": 247.0},
                                                        InvoiceDate="2025-06-12T14:00:00+02:00"))
    post(http, base_url, "Order/CreateInvoice", {"ClientOrderRef": 100103, "InvoiceNo": "INFO-9",
                                                 "InvoiceDate": "2025-06-13", "CurrencyCode": "SEK",
                                                 "SuppressPspCall": True})
    got = rows(http, base_url, "Orders/Invoices", **{"$orderby": "Id", "$select": "Id,OrderId,InvoiceNo,ErpOrderNo,"
                                                     "InvoiceDate,TotalAmount,IsCaptured,IsLastInvoiceForOrder,Created"})
    assert got == [
        {"Id": 500101, "OrderId": 5001, "InvoiceNo": "70001", "ErpOrderNo": "F-1", "InvoiceDate": "2025-06-12T00:00:00Z",
         "TotalAmount": 300.0, "IsCaptured": True, "IsLastInvoiceForOrder": False, "Created": "2025-06-12T12:00:00Z"},
        # no ERP number sent and the order has none: null; an offset date-time reads back in UTC
        {"Id": 500102, "OrderId": 5001, "InvoiceNo": "70002", "ErpOrderNo": None, "InvoiceDate": "2025-06-12T12:00:00Z",
         "TotalAmount": 247.0, "IsCaptured": True, "IsLastInvoiceForOrder": True, "Created": "2025-06-12T12:01:30Z"},
        # information only (no PSP call, no items): amount 0, never captured
        {"Id": 500301, "OrderId": 5003, "InvoiceNo": "INFO-9", "ErpOrderNo": None, "InvoiceDate": "2025-06-13T00:00:00Z",
         "TotalAmount": 0.0, "IsCaptured": False, "IsLastInvoiceForOrder": True, "Created": "2025-06-12T12:01:30Z"}]
    by_order = rows(http, base_url, "Orders/Invoices", **{"$filter": "OrderId eq 5001 and TotalAmount gt 250",
                                                          "$select": "InvoiceNo"})
    assert by_order == [{"InvoiceNo": "70001"}]


def test_an_invoice_uses_the_orders_erp_number_when_none_is_sent(http: requests.Session, base_url: str,
                                                                sb: NorceSandbox) -> None:
    post(http, base_url, "Order/CreateInvoice", {"ClientOrderRef": 100102, "InvoiceNo": "70009",
                                                 "InvoiceDate": "2025-06-12", "CurrencyCode": "SEK",
                                                 "Items": [{"PartNo": "1011", "Quantity": 1, "UnitPrice": 119.2,
                                                            "VatRate": 12}]})
    [row] = rows(http, base_url, "Orders/Invoices", **{"$filter": "InvoiceNo eq '70009'"})
    # 119.20 + 12 % = 133.504 → 133.50 captured
    assert (row["ErpOrderNo"], row["ClientOrderRef"], row["TotalAmount"]) == ("9001", 100102, 133.5)


def test_credits_are_not_invoices(http: requests.Session, base_url: str, sb: NorceSandbox) -> None:
    post(http, base_url, "Order/CreateInvoice", invoice("70001"))
    post(http, base_url, "Order/CreditPayment", {"ClientOrderRef": 100101, "InvoiceNo": "K-1",
                                                 "CreditedInvoiceNo": "70001", "InvoiceDate": "2025-06-12",
                                                 "CurrencyCode": "SEK", "Items": ITEMS[:1]})
    assert [r["InvoiceNo"] for r in rows(http, base_url, "Orders/Invoices")] == ["70001"]


# -- Orders/DeliveryNotes ----------------------------------------------------------------------------------
def test_a_delivery_note_is_found_by_its_number_with_items_and_packages(http: requests.Session, base_url: str,
                                                                       sb: NorceSandbox) -> None:
    assert rows(http, base_url, "Orders/DeliveryNotes", **{"$filter": "NoteNo eq '9001-PN1'", "$top": "1"}) == []
    post(http, base_url, "Order/CreateDeliveryNote", NOTE)
    found = rows(http, base_url, "Orders/DeliveryNotes", **{"$filter": "NoteNo eq '9001-PN1'", "$top": "1"})
    assert found == [{"Id": 500201, "OrderId": 5002, "ApplicationId": 1244, "NoteNo": "9001-PN1", "OrderNo": "9001",
                      "DeliveryDate": "2025-06-12T10:30:00Z", "StatusId": 4, "Created": "2025-06-12T12:00:00Z"}]
    [full] = rows(http, base_url, "Orders/DeliveryNotes", **{"$expand": "Items,Packages"})
    assert full["Items"] == [{"DeliveryNoteId": 500201, "RowNumber": 1, "ItemNo": "1011",
                              "Description": "Kaffe mörkrost 500 g", "Qty": 1.5}]
    assert full["Packages"] == [{"DeliveryNoteId": 500201, "ParcelNumber": "PN1", "StatusId": 4}]


def test_a_note_keeps_the_order_number_it_was_sent_with(http: requests.Session, base_url: str,
                                                       sb: NorceSandbox) -> None:
    first = {"OrderNo": "100101", "NoteNo": "DN-1", "DeliveryNoteItems": [{"RowNumber": 1, "Qty": 1}]}
    post(http, base_url, "Order/CreateDeliveryNote", first)
    post(http, base_url, "Order/SendOrderStatus", {"ClientOrderRef": 100101, "ErpOrderNo": "FN-7",
                                                   "OrderStatus": "PartlyDelivered"})
    post(http, base_url, "Order/CreateDeliveryNote", {"OrderNo": "FN-7", "NoteNo": "DN-2",
                                                      "DeliveryDate": "2025-06-12T09:00:00",
                                                      "DeliveryNoteItems": [{"ItemNo": "1001", "Qty": 1}]})
    got = rows(http, base_url, "Orders/DeliveryNotes", **{"$filter": "OrderId eq 5001", "$orderby": "Id desc",
                                                          "$select": "Id,NoteNo,OrderNo,DeliveryDate,StatusId"})
    # a zone-less DeliveryDate is kept as sent; none sent → null
    assert got == [{"Id": 500102, "NoteNo": "DN-2", "OrderNo": "FN-7", "DeliveryDate": "2025-06-12T09:00:00Z",
                    "StatusId": None},
                   {"Id": 500101, "NoteNo": "DN-1", "OrderNo": "100101", "DeliveryDate": None, "StatusId": None}]


# -- what Norce refuses, also when the sets are empty ------------------------------------------------------
@pytest.mark.parametrize(("entity", "params"), [
    ("Orders/Invoices", {"$filter": "InvoiceNo eq '1'", "$expand": "Items"}),
    ("Orders/DeliveryNotes", {"$filter": "NoteNo eq '1' and OrderNo eq '2'", "$expand": "Items,Packages"}),
    ("orders/deliverynotes", {"$select": "NoteNo,DeliveryDate"}),
])
def test_empty_sets_answer_known_columns(http: requests.Session, base_url: str, sb: NorceSandbox,
                                         entity: str, params: dict[str, str]) -> None:
    assert rows(http, base_url, entity, **params) == []


@pytest.mark.parametrize(("entity", "params"), [
    ("Orders/Invoices", {"$filter": "Amount eq 1"}),
    ("Orders/Invoices", {"$expand": "Packages"}),
    ("Orders/DeliveryNotes", {"$filter": "InvoiceNo eq '1'"}),
    ("Orders/DeliveryNotes", {"$orderby": "TrackingNumber"}),
])
def test_unknown_columns_are_refused(http: requests.Session, base_url: str, sb: NorceSandbox,
                                     entity: str, params: dict[str, str]) -> None:
    response = http.get(base_url + QUERY + entity, params=params, timeout=10)
    assert response.status_code == 400
    assert "Could not find a property" in response.json()["error"]["message"]


# -- jetfort's Norce backend against these sets ------------------------------------------------------------
@pytest.fixture
def shop(base_url: str, sb: NorceSandbox) -> Iterator[NorceShop]:
    settings = NorceSettings.from_params(
        conn_id="norce_docs", slug="demoshop", environment="stage", client_id="jetfort-demo",
        client_secret="norce-demo-secret", application_id=1244, account_id=17, base_url=base_url)
    backend = NorceShop("norce_docs", settings=settings)
    yield backend
    backend.close()


def test_the_backend_finds_what_it_made_and_never_captures_twice(shop: NorceShop, sb: NorceSandbox) -> None:
    assert co.find_invoice(shop.client, "F-70001") is None
    first = shop.capture_payment(100101, invoice_number="F-70001")
    assert first.success and not first.already_captured and first.captured_amount == Decimal("547.00")
    found = co.find_invoice(shop.client, "F-70001")
    assert found is not None and (found["OrderId"], found["TotalAmount"]) == (5001, 547.0)
    again = shop.capture_payment(100101, invoice_number="F-70001")  # a rerun: Query shows the invoice
    assert again.already_captured and again.captured_amount == Decimal("547")
    assert [c["InvoiceNo"] for c in sb.captures()] == ["F-70001"]
    assert sb.stats()["double_captures"] == 0

    assert co.find_delivery_note(shop.client, "9001-PN1") is None
    assert shop.set_order_status(100102, 4, tracking_number="PN1", erp_reference="9001").success
    note = co.find_delivery_note(shop.client, "9001-PN1")
    assert note is not None and (note["OrderId"], note["OrderNo"], note["StatusId"]) == (5002, "9001", 4)
    rerun = shop.set_order_status(100102, 4, tracking_number="PN1", erp_reference="9001")
    assert rerun.success and "delivery note 9001-PN1 exists" in rerun.message
    assert [n["NoteNo"] for n in sb.order_state("100102")["delivery_notes"]] == ["9001-PN1"]
