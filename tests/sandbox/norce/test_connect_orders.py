"""Connect Order service: SendOrderStatus, CreateDeliveryNote, CancelOrder, CreateInvoice, CreditPayment,
including what Norce refuses. Order 100101 (seed): 2 x 1001 at 199.20 + 49.80 VAT, freight 39.20 + 9.80,
payment psp-100101 reserving 547.00 SEK."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from sandbox.norce.orders import ORDER_STATUSES
from sandbox.norce.state import NorceSandbox
from tests.sandbox.norce.conftest import CONNECT, QUERY

ITEMS = [{"PartNo": "1001", "Quantity": 2, "UnitPrice": 199.2, "UnitVat": 49.8, "VatRate": 25},
         {"PartNo": "FREIGHT", "Quantity": 1, "UnitPrice": 39.2, "UnitVat": 9.8, "VatRate": 25}]


def post(http: requests.Session, base_url: str, op: str, body: Any) -> requests.Response:
    return http.post(base_url + CONNECT + op, json=body, timeout=10)


def query_row(http: requests.Session, base_url: str, order_id: int) -> dict[str, Any]:
    body = http.get(base_url + QUERY + "Orders/Orders", params={"$filter": f"Id eq {order_id}"}, timeout=10).json()
    return dict(body["value"][0])


def invoice(no: str, **extra: Any) -> dict[str, Any]:
    return {"ClientOrderRef": 100101, "InvoiceNo": no, "InvoiceDate": "2025-06-12", "CurrencyCode": "SEK",
            "Items": ITEMS, **extra}


# -- SendOrderStatus ---------------------------------------------------------------------------------------
def test_status_with_erp_number_shows_in_query(http: requests.Session, base_url: str, sb: NorceSandbox) -> None:
    sb.advance(60)
    response = post(http, base_url, "Order/SendOrderStatus",
                    {"ClientOrderRef": 100101, "ErpOrderNo": "FN-1", "OrderStatus": "Confirmed"})
    assert response.status_code == 200 and response.content == b""
    row = query_row(http, base_url, 5001)
    assert (row["StatusId"], row["OrderNo"], row["Updated"]) == (2, "FN-1", "2025-06-12T12:01:00Z")


def test_property_names_and_enum_names_are_case_insensitive(http: requests.Session, base_url: str,
                                                            sb: NorceSandbox) -> None:
    response = post(http, base_url, "order/sendorderstatus", {"clientorderref": "100101", "orderSTATUS": "delivered"})
    assert response.status_code == 200
    assert sb.order_state("100101")["status_id"] == 4


@pytest.mark.parametrize(("name", "number"), sorted(ORDER_STATUSES.items()))
def test_all_21_statuses_by_name_and_by_int(http: requests.Session, base_url: str, sb: NorceSandbox,
                                            name: str, number: int) -> None:
    assert post(http, base_url, "Order/SendOrderStatus", {"ClientOrderRef": 100103, "OrderStatus": name}).ok
    assert sb.order_state("100103")["status_id"] == number
    assert post(http, base_url, "Order/SendOrderStatus", {"ClientOrderRef": 100104, "OrderStatus": number}).ok
    assert sb.order_state("100104")["status_id"] == number


def test_status_enum_has_21_values() -> None:
    assert len(ORDER_STATUSES) == 21 and ORDER_STATUSES["Reserved"] == 20 and ORDER_STATUSES["Created"] == 0


@pytest.mark.parametrize(("body", "field", "text"), [
    ({"ClientOrderRef": 999999, "OrderStatus": "Confirmed"}, "ClientOrderRef", "Order not found"),
    ({"ClientOrderRef": "ABC-1", "OrderStatus": "Confirmed"}, "ClientOrderRef", "Int32"),
    ({"ClientOrderRef": 2147483648, "OrderStatus": "Confirmed"}, "ClientOrderRef", "Int32"),
    ({"ClientOrderRef": 100101.5, "OrderStatus": "Confirmed"}, "ClientOrderRef", "Int32"),
    ({"ClientOrderRef": 100101, "OrderStatus": "Shipped"}, "OrderStatus", "Shipped"),
    ({"ClientOrderRef": 100101, "OrderStatus": 21}, "OrderStatus", "21"),
    ({"OrderStatus": "Confirmed"}, "ClientOrderRef", "Either ClientOrderRef or ErpOrderNo"),
    ({"ErpOrderNo": "nope", "OrderStatus": "Confirmed"}, "ErpOrderNo", "Order not found"),
])
def test_status_refusals_are_400_naming_the_field(http: requests.Session, base_url: str, sb: NorceSandbox,
                                                  body: dict[str, Any], field: str, text: str) -> None:
    response = post(http, base_url, "Order/SendOrderStatus", body)
    assert response.status_code == 400
    problem = response.json()
    assert field in problem["errors"] and text in problem["detail"]
    assert sb.order_state("100101")["status_id"] == 0


def test_status_by_erp_number_and_repeat_is_a_no_op(http: requests.Session, base_url: str,
                                                    sb: NorceSandbox) -> None:
    assert post(http, base_url, "Order/SendOrderStatus", {"ErpOrderNo": "9001", "OrderStatus": 4}).ok
    assert sb.order_state("100102")["updated"].isoformat() == "2025-06-12T12:00:00+00:00"
    sb.advance(30)
    assert post(http, base_url, "Order/SendOrderStatus", {"ErpOrderNo": "9001", "OrderStatus": 4}).ok
    assert sb.order_state("100102")["updated"].isoformat() == "2025-06-12T12:00:00+00:00"


def test_invalid_json_and_wrong_media_type(http: requests.Session, base_url: str) -> None:
    bad = http.post(base_url + CONNECT + "Order/SendOrderStatus", data=b"{not json",
                    headers={"Content-Type": "application/json"}, timeout=10)
    assert bad.status_code == 400
    text = http.post(base_url + CONNECT + "Order/SendOrderStatus", data=b"{}",
                     headers={"Content-Type": "text/plain"}, timeout=10)
    assert text.status_code == 415


# -- CreateDeliveryNote ------------------------------------------------------------------------------------
def test_partial_then_full_delivery(http: requests.Session, base_url: str, sb: NorceSandbox) -> None:
    first = {"OrderNo": "100101", "NoteNo": "DN-1", "DeliverynoteItems": [{"RowNumber": 1, "ItemNo": "1001",
                                                                           "Qty": 1}],
             "DeliveryNotePackages": [{"ParcelNumber": "PN-777", "StatusId": 4}]}
    assert post(http, base_url, "Order/CreateDeliveryNote", first).status_code == 200
    assert query_row(http, base_url, 5001)["StatusId"] == 8
    second = {"orderno": "100101", "noteNo": "DN-2", "deliveryNoteItems": [{"itemNo": "1001", "qty": 1.0}]}
    assert post(http, base_url, "Order/CreateDeliveryNote", second).status_code == 200
    state = sb.order_state("100101")
    assert state["status_id"] == 4  # the freight row needs no delivery
    assert state["delivery_notes"][0]["packages"] == [{"ParcelNumber": "PN-777", "StatusId": 4}]


@pytest.mark.parametrize(("body", "field"), [
    ({"OrderNo": "100101", "NoteNo": "X", "DeliveryNoteItems": [{"RowNumber": 1, "Qty": 3}]},
     "DeliveryNoteItems[0].Qty"),
    ({"OrderNo": "100101", "NoteNo": "X", "DeliveryNoteItems": [{"ItemNo": "1017", "Qty": 1}]},
     "DeliveryNoteItems[0].ItemNo"),
    ({"OrderNo": "100101", "NoteNo": "X", "DeliveryNoteItems": []}, "DeliveryNoteItems"),
    ({"OrderNo": "424242", "NoteNo": "X", "DeliveryNoteItems": [{"RowNumber": 1, "Qty": 1}]}, "OrderNo"),
])
def test_delivery_note_refusals(http: requests.Session, base_url: str, body: dict[str, Any], field: str) -> None:
    response = post(http, base_url, "Order/CreateDeliveryNote", body)
    assert response.status_code == 400 and field in response.json()["errors"]


def test_delivery_note_matches_the_erp_number_once_there_is_one(http: requests.Session, base_url: str) -> None:
    note = {"NoteNo": "DN-9", "DeliveryNoteItems": [{"RowNumber": 1, "Qty": 1.5}]}
    assert post(http, base_url, "Order/CreateDeliveryNote", {**note, "OrderNo": "100102"}).status_code == 400
    assert post(http, base_url, "Order/CreateDeliveryNote", {**note, "OrderNo": "9001"}).status_code == 200
    repeat = post(http, base_url, "Order/CreateDeliveryNote", {**note, "OrderNo": "9001"})
    assert repeat.status_code == 400 and "NoteNo" in repeat.json()["errors"]


# -- CancelOrder -------------------------------------------------------------------------------------------
def test_cancel_cancels_the_payment_once(http: requests.Session, base_url: str, sb: NorceSandbox) -> None:
    body = {"ClientOrderRef": 100101, "ErpOrderNo": "", "Payments": [{"PaymentRef": "psp-100101"}]}
    assert post(http, base_url, "Order/CancelOrder", body).status_code == 200
    assert post(http, base_url, "Order/CancelOrder", body).status_code == 200
    state = sb.order_state("100101")
    assert state["status_id"] == 6 and [c["PaymentRef"] for c in state["psp_cancels"]] == ["psp-100101"]
    assert query_row(http, base_url, 5001)["StatusId"] == 6
    refused = post(http, base_url, "Order/CreateInvoice", invoice("INV-1"))
    assert refused.status_code == 400 and "cancelled" in refused.json()["detail"]
    assert sb.captures() == []


def test_cancel_refusals(http: requests.Session, base_url: str, sb: NorceSandbox) -> None:
    no_ref = post(http, base_url, "Order/CancelOrder", {"ClientOrderRef": 100101, "Payments": [{"Amount": 1}]})
    assert no_ref.status_code == 400 and "Payments[0].PaymentRef" in no_ref.json()["errors"]
    wrong = post(http, base_url, "Order/CancelOrder", {"ClientOrderRef": 100101, "Payments": [{"PaymentRef": "x"}]})
    assert wrong.status_code == 400
    assert post(http, base_url, "Order/CreateInvoice", invoice("INV-1")).status_code == 200
    captured = post(http, base_url, "Order/CancelOrder", {"ClientOrderRef": 100101})
    assert captured.status_code == 400 and "captured" in captured.json()["detail"]
    assert sb.order_state("100101")["status_id"] == 5


# -- CreateInvoice -----------------------------------------------------------------------------------------
def test_invoice_captures_the_items_and_closes_the_reservation(http: requests.Session, base_url: str,
                                                              sb: NorceSandbox) -> None:
    assert post(http, base_url, "Order/CreateInvoice", invoice("INV-1")).status_code == 200
    state = sb.order_state("100101")
    assert [(c["InvoiceNo"], str(c["amount"])) for c in state["captures"]] == [("INV-1", "547.00")]
    assert state["status_id"] == 5 and state["reservation_closed"] is True  # IsLastInvoiceForOrder absent ⇒ true
    again = post(http, base_url, "Order/CreateInvoice", invoice("INV-2"))
    assert again.status_code == 400 and "closed" in again.json()["detail"]
    duplicate = post(http, base_url, "Order/CreateInvoice", invoice("INV-1", SuppressPspCall=True))
    assert duplicate.status_code == 400 and "InvoiceNo" in duplicate.json()["errors"]
    assert sb.double_captures() == 0 and len(sb.captures()) == 1


def test_partial_invoices_capture_at_most_the_reservation(http: requests.Session, base_url: str,
                                                         sb: NorceSandbox) -> None:
    part = [{"PartNo": "1001", "Quantity": 1, "UnitPrice": 199.2, "UnitVat": 49.8}]
    assert post(http, base_url, "Order/CreateInvoice",
                invoice("P-1", Items=part, IsLastInvoiceForOrder=False)).status_code == 200
    assert sb.order_state("100101")["status_id"] == 0
    too_much = post(http, base_url, "Order/CreateInvoice",
                    invoice("P-2", Payment={"PaymentRef": "psp-100101", "Amount": 298.01}))
    assert too_much.status_code == 400 and "298.00" in too_much.json()["detail"]
    rest = invoice("P-3", Payment={"PaymentRef": "psp-100101", "Amount": 298.00}, IsLastInvoiceForOrder=None)
    assert post(http, base_url, "Order/CreateInvoice", rest).status_code == 200
    assert str(sb.order_state("100101")["captured"]) == "547.00"


def test_suppressed_invoice_is_information_only(http: requests.Session, base_url: str, sb: NorceSandbox) -> None:
    body = invoice("INFO-1", Items=[], SuppressPspCall=True, IsLastInvoiceForOrder=False)
    assert post(http, base_url, "Order/CreateInvoice", body).status_code == 200
    state = sb.order_state("100101")
    assert state["captures"] == [] and state["invoices"][0]["InvoiceNo"] == "INFO-1"


@pytest.mark.parametrize(("change", "field"), [
    ({"Items": []}, "Items"),
    ({"Items": [{"PartNo": "1001", "Quantity": 1.5, "UnitPrice": 199.2}]}, "Items[0].Quantity"),
    ({"CurrencyCode": "EUR"}, "CurrencyCode"),
    ({"InvoiceDate": None}, "InvoiceDate"),
    ({"ClientOrderRef": "100101A"}, "ClientOrderRef"),
    ({"Items": [{"PartNo": "9999", "Quantity": 1, "UnitPrice": 10}]}, "Items[0].PartNo"),
])
def test_invoice_refusals(http: requests.Session, base_url: str, sb: NorceSandbox, change: dict[str, Any],
                          field: str) -> None:
    response = post(http, base_url, "Order/CreateInvoice", {**invoice("BAD-1"), **change})
    assert response.status_code == 400 and field in response.json()["errors"]
    assert sb.captures() == []


# -- CreditPayment -----------------------------------------------------------------------------------------
def test_credit_is_limited_to_what_the_invoice_captured(http: requests.Session, base_url: str,
                                                       sb: NorceSandbox) -> None:
    assert post(http, base_url, "Order/CreateInvoice", invoice("INV-1")).status_code == 200
    one = [{"PartNo": "1001", "Quantity": 1, "UnitPrice": 199.2, "UnitVat": 49.8}]
    credit = {"ClientOrderRef": 100101, "InvoiceNo": "CR-1", "CreditedInvoiceNo": "INV-1",
              "InvoiceDate": "2025-06-13", "CurrencyCode": "SEK", "Items": one}
    assert post(http, base_url, "Order/CreditPayment", credit).status_code == 200
    rest = {**credit, "InvoiceNo": "CR-2", "Payment": {"Amount": 298.01}}
    assert post(http, base_url, "Order/CreditPayment", rest).status_code == 400  # 547.00 - 249.00 = 298.00 left
    unknown = post(http, base_url, "Order/CreditPayment", {**credit, "InvoiceNo": "CR-3",
                                                           "CreditedInvoiceNo": "INV-9"})
    assert unknown.status_code == 400 and "CreditedInvoiceNo" in unknown.json()["errors"]
    assert [str(c["amount"]) for c in sb.order_state("100101")["credits"]] == ["249.00"]
