"""Norce order JSON → ShopOrder. Expected values are worked out by hand from the reference's rules (§2a/§2b)."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from jetfort.norce.client import decode
from jetfort.norce.convert import order_from_query, order_from_request
from jetfort.norce.errors import NorceUnreadableOrder
from jetfort.shop.errors import ShopUnreadableOrder
from jetfort.shop.models import PaymentProvider, RowType

STHLM = ZoneInfo("Europe/Stockholm")
RECEIVED = datetime(2025, 6, 11, 12, 5, tzinfo=UTC)
D = Decimal

REQUEST_JSON = """{
  "Header": {"ApplicationKey": "6f1c1c52-5a0e-4a43-9d1b-6f7f2d3b8a11"},
  "ClientOrderRef": "100234", "ErpOrderNo": "", "OrderType": 1, "CurrencyCode": "SEK",
  "SubmitDate": "2025-06-11T14:03:27.1230000", "DiscountCode": "SUMMER", "CustomerOrderComment": "Ring på",
  "SellTo": {"Company": {"Code": null, "Name": "Kaffe & Co AB", "VatNo": "SE556677889901"},
             "Person": {"FirstName": "Anna", "LastName": "Berg", "Email": "anna@example.se", "CellPhone": "0701234567",
                        "Address": {"Line1": "Storgatan 1", "Line2": "Plan 3", "ZipCode": "111 22",
                                    "City": "Stockholm", "Country": "SE"}}},
  "BillTo": null,
  "ShipTo": {"Company": null,
             "Person": {"FirstName": "Erik", "LastName": "Berg",
                        "Address": {"Line1": "Lagervägen 5", "CareOf": "Lager AB", "ZipCode": "41101",
                                    "City": "Göteborg", "Country": "se"}}},
  "Items": [
    {"LineNo": 1, "PartNo": "JF-TSHIRT-M", "Description": "T-shirt M", "Quantity": 2, "Quantity2": null,
     "UnitPrice": 159.20, "UnitPriceOriginal": 159.20, "UnitVat": 39.80, "VatRate": 25, "Discount": 0,
     "Type": "ErpStandard", "TypeGroup": "Physical", "InternalProductId": 501},
    {"LineNo": 2, "PartNo": "JF-COFFEE", "ErpPartNo": "KAFFE-1", "Description": "Kaffe (kg)", "Quantity": 1,
     "Quantity2": 1.5, "UnitPrice": 80.00, "UnitPriceOriginal": 80.00, "UnitVat": 9.60, "VatRate": 12,
     "Discount": 0, "Type": "ErpStandard", "TypeGroup": "Physical"},
    {"LineNo": 3, "PartNo": "GIFT-500", "Description": "Presentkort 500", "Quantity": 1, "UnitPrice": 500,
     "UnitPriceOriginal": 500, "UnitVat": 0, "VatRate": 0, "Discount": 0, "Type": "GiftCertificate",
     "TypeGroup": "Virtual"},
    {"LineNo": 4, "PartNo": "FRAKT", "Description": "Frakt", "Quantity": 1, "UnitPrice": 39.20,
     "UnitPriceOriginal": 39.20, "UnitVat": 9.80, "VatRate": 25, "Discount": 0, "Type": "Freight",
     "TypeGroup": "Fee"},
    {"LineNo": 5, "PartNo": "INVFEE", "Description": "Fakturaavgift", "Quantity": 1, "UnitPrice": 23.20,
     "UnitPriceOriginal": 23.20, "UnitVat": 5.80, "VatRate": 25, "Discount": 0, "Type": "Invoice",
     "TypeGroup": "Fee"}
  ],
  "Payments": [
    {"PaymentCode": 3, "PaymentMethodCode": "KLARNA", "PaymentName": "Klarna Checkout", "PaymentRef": "kco-8f2e",
     "Amount": 910.40, "CurrencyCode": "SEK"},
    {"PaymentCode": 9, "PaymentMethodCode": "GIFTCARD", "PaymentName": "Presentkort", "PaymentRef": "GC-1",
     "Amount": 200.00, "CurrencyCode": "SEK"}
  ],
  "Fees": [], "Discounts": [],
  "ShippingAdvice": {"DeliveryMethodCode": "POSTNORD-MBOX"}
}"""

#: JSON as the standard library reads it (floats) and as jetfort's client reads it (Decimal)
DECODERS: dict[str, Callable[[str], Any]] = {"json": json.loads, "decimal": lambda text: decode(text.encode())}


def push(payload: dict[str, Any]) -> Any:
    return order_from_request(payload, shop_id="demoshop", tz=STHLM, received_at=RECEIVED, application_id=1244)


@pytest.mark.parametrize("reader", DECODERS)
def test_pushed_order_rows_fees_payments_and_totals(reader: str) -> None:
    order = push(DECODERS[reader](REQUEST_JSON))
    assert (order.key, order.order_id, order.order_number, order.channel_id) == ("demoshop:100234", 100234,
                                                                                  "100234", 1244)
    assert (order.status_id, order.currency, order.delivery_method) == (0, "SEK", "POSTNORD-MBOX")
    assert order.order_date == datetime(2025, 6, 11, 12, 3, 27, 123000, tzinfo=UTC)  # 14:03 CEST
    assert order.modified_date == RECEIVED
    tshirt, coffee, gift_sold, gift_paid = order.rows
    assert (tshirt.row_id, tshirt.article_number, tshirt.product_id, tshirt.quantity) == (1, "JF-TSHIRT-M", 501, 2)
    assert (tshirt.unit_price_ex_vat, tshirt.unit_price_inc_vat, tshirt.vat_rate) == (D("159.20"), D("199.00"),
                                                                                      D("0.25"))
    assert tshirt.total_inc_vat == D("398.00") and tshirt.discount_inc_vat == 0
    assert coffee.article_number == "KAFFE-1"  # the ERP's part number
    assert coffee.quantity == D("1.5") and isinstance(coffee.quantity, Decimal)  # Quantity2 wins
    assert (coffee.unit_price_inc_vat, coffee.vat_rate, coffee.total_inc_vat) == (D("89.60"), D("0.12"), D("134.40"))
    assert (gift_sold.row_type, gift_sold.total_inc_vat, gift_sold.vat_rate) == (RowType.GIFT_CARD, D(500), 0)
    assert (gift_paid.row_type, gift_paid.row_id, gift_paid.total_inc_vat) == (RowType.GIFT_CARD, -2, D(-200))
    # freight and the invoice fee left the rows
    assert (order.freight_inc_vat, order.freight_vat_rate) == (D("49.00"), D("0.25"))
    assert (order.payment.fee_inc_vat, order.payment.fee_vat_rate) == (D("29.00"), D("0.25"))
    # by hand: 398.00 + 134.40 + 500 + 49.00 + 29.00 - 200 = 910.40 (what Klarna holds)
    assert order.total_inc_vat == D("910.40")
    # 318.40 + 120.00 + 500 + 39.20 + 23.20 - 200 = 800.80; VAT 79.60 + 14.40 + 9.80 + 5.80 = 109.60
    assert (order.total_ex_vat, order.vat_total) == (D("800.80"), D("109.60"))
    payment = order.payment
    assert (payment.provider, payment.method, payment.transaction_id) == (PaymentProvider.KLARNA, "KLARNA", "kco-8f2e")
    assert payment.provider.capturable and payment.authorized_amount == D("910.40")


def test_pushed_order_parties() -> None:
    order = push(json.loads(REQUEST_JSON))
    assert (order.customer.email, order.customer.company_name, order.customer.vat_number) == (
        "anna@example.se", "Kaffe & Co AB", "SE556677889901")
    assert order.customer.is_company
    billing, delivery = order.billing, order.delivery
    assert (billing.company, billing.full_name, billing.street) == ("Kaffe & Co AB", "Anna Berg", "Storgatan 1, Plan 3")
    assert (billing.zip_code, billing.city, billing.country_code, billing.mobile_phone) == (
        "111 22", "Stockholm", "SE", "0701234567")
    assert (delivery.full_name, delivery.care_of, delivery.street, delivery.country_code) == (
        "Erik Berg", "Lager AB", "Lagervägen 5", "SE")
    assert (order.discount_code, order.comment) == ("SUMMER", "Ring på")


def test_whole_quantity_when_quantity2_is_unused_and_a_second_freight_rate_stays_a_row() -> None:
    payload = json.loads(REQUEST_JSON)
    payload["Items"][0]["Quantity2"] = 0  # the decimal column left at 0: Quantity (2) counts
    payload["Items"].append({"LineNo": 6, "PartNo": "FRAKT-0", "Quantity": 1, "UnitPrice": 10, "UnitVat": 0,
                             "VatRate": 0, "Type": "Freight", "TypeGroup": "Fee"})
    order = push(payload)
    assert order.rows[0].quantity == 2
    assert order.freight_inc_vat == D("49.00")  # only the 25 % freight is header freight
    assert [(r.row_id, r.row_type, r.total_inc_vat) for r in order.rows if r.row_id == 6] == [(6, RowType.OTHER, 10)]
    assert order.total_inc_vat == D("920.40")


def unreadable(payload: dict[str, Any]) -> NorceUnreadableOrder:
    with pytest.raises(NorceUnreadableOrder) as err:
        push(payload)
    assert isinstance(err.value, ShopUnreadableOrder) and not err.value.retryable
    return err.value


def edited(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    payload = copy.deepcopy(json.loads(REQUEST_JSON))
    change(payload)
    return payload


@pytest.mark.parametrize(("change", "path", "problem"), [
    (lambda p: p.update(ClientOrderRef="WEB-100234"), "ClientOrderRef", "basket id"),
    (lambda p: p.update(ClientOrderRef="3000000000"), "ClientOrderRef", "basket id"),
    (lambda p: p.pop("ClientOrderRef"), "ClientOrderRef", "is missing"),
    (lambda p: p.pop("CurrencyCode"), "CurrencyCode", "is missing"),
    (lambda p: p["Items"][3].update(UnitPrice="39.20"), "Items[3].UnitPrice", "not a JSON number"),
    (lambda p: p["Items"][0].update(UnitVat=float("nan")), "Items[0].UnitVat", "not a finite number"),
    (lambda p: p["Items"][1].update(Quantity=True), "Items[1].Quantity", "not a whole number"),
    (lambda p: p["Items"][0].update(Quantity=1.5), "Items[0].Quantity", "not a whole number"),
    (lambda p: p["Items"][2].pop("LineNo"), "Items[2].LineNo", "is missing"),
    (lambda p: p["Items"][2].pop("VatRate"), "Items[2].VatRate", "is missing"),
    (lambda p: p["Items"][0].update(Type="Shipping"), "Items[0].Type", "item type name"),
    (lambda p: p["Payments"][0].pop("Amount"), "Payments[0].Amount", "is missing"),
    (lambda p: p["Payments"][0].update(CurrencyCode="EUR"), "Payments[0].CurrencyCode", "differs"),
    (lambda p: p["Payments"].append({"PaymentName": "Card", "Amount": 1}), "Payments[2]", "second PSP payment"),
    (lambda p: p["ShipTo"]["Person"]["Address"].update(Country="SWE"), "ShipTo.Person.Address.Country", "alpha-2"),
    (lambda p: p.update(SubmitDate="11/06/2025 14:03"), "SubmitDate", "ISO-8601"),
    (lambda p: p.update(Fees=[{"Amount": 19, "Type": 0, "VatRate": 25}]), "Fees[0].Amount", "VAT basis"),
    (lambda p: p.update(Items={"LineNo": 1}), "Items", "not a JSON array"),
    (lambda p: p.update(SellTo=None), "SellTo", "is missing"),
])
def test_unreadable_values_are_named_and_never_read_as_something_else(
        change: Callable[[dict[str, Any]], None], path: str, problem: str) -> None:
    error = unreadable(edited(change))
    assert error.field_path == path
    assert problem in str(error)
    if path != "ClientOrderRef":
        assert error.order_id == 100234 and "100234" in str(error)


# ------------------------------------------------------------------------------------------- Query 2.0
QUERY_JSON = """{
  "Id": "881", "ClientId": 1, "ApplicationId": 1244, "QuotationId": 100234, "OrderNo": "FN-5001",
  "OrderDate": "2025-06-11T12:03:27Z", "Created": "2025-06-11T12:03:30Z", "Updated": "2025-06-12T08:00:00",
  "StatusId": 2, "TypeId": 1, "Source": "WEB", "CurrencyId": 1, "PaymentMethodId": 7, "DeliveryMode": "PostNord",
  "FreightCost": 39.20, "OrderFee": 0, "BuyerCompanyId": null, "BuyerCustomerId": 3301,
  "Items": [
    {"Id": "5001", "OrderId": "881", "LineNumber": 1, "PartNo": "JF-TSHIRT-M", "ProductName": "T-shirt M",
     "QtyOrdered": 2, "PriceSale": 159.20, "VatRate": 25, "LineAmount": 318.40, "StatusId": 2},
    {"Id": "5002", "OrderId": "881", "LineNumber": 2, "PartNo": "JF-COFFEE", "ProductName": "Kaffe (kg)",
     "QtyOrdered": 1.5, "PriceSale": 80.00, "VatRate": 12, "LineAmount": 120.00, "StatusId": 2},
    {"Id": "5003", "OrderId": "881", "LineNumber": 3, "PartNo": "FRAKT", "ProductName": "Frakt",
     "QtyOrdered": 1, "PriceSale": 39.20, "VatRate": 25, "LineAmount": 39.20, "StatusId": 2}
  ],
  "Buyer": {"Id": 1, "Name": "Anna Berg", "Line1": "Storgatan 1", "ZipCode": "111 22", "City": "Stockholm",
            "CountryId": 46, "EmailAddress": "anna@example.se", "PhoneNumber": "08-123 45"},
  "Payer": null,
  "ShipTo": {"Id": 2, "Name": "Erik Berg", "CareOf": "Lager AB", "Line1": "Lagervägen 5", "ZipCode": "41101",
             "City": "Göteborg", "CountryId": 46}
}"""
LOOKUPS: dict[str, Any] = {"currencies": {1: "SEK", 2: "EUR"}, "countries": {46: "SE", 47: "NO"},
                           "payment_methods": {7: "Klarna Checkout"}}


def pull(row: dict[str, Any]) -> Any:
    return order_from_query(row, shop_id="demoshop", tz=STHLM, **LOOKUPS)


@pytest.mark.parametrize("reader", DECODERS)
def test_pulled_order_rows_freight_and_totals(reader: str) -> None:
    order = pull(DECODERS[reader](QUERY_JSON))
    assert (order.key, order.order_number, order.status_id, order.status_name) == ("demoshop:100234", "FN-5001", 2,
                                                                                   "Confirmed")
    assert (order.channel_id, order.currency, order.delivery_method) == (1244, "SEK", "PostNord")
    assert order.order_date == datetime(2025, 6, 11, 12, 3, 27, tzinfo=UTC)
    assert order.modified_date == datetime(2025, 6, 12, 6, 0, tzinfo=UTC)  # 08:00 Stockholm summer time
    tshirt, coffee = order.rows
    assert (tshirt.row_id, tshirt.unit_price_inc_vat, tshirt.total_inc_vat) == (1, D("199.00"), D("398.00"))
    assert (coffee.quantity, coffee.unit_price_inc_vat, coffee.total_inc_vat) == (D("1.5"), D("89.60"), D("134.40"))
    # FreightCost 39.20 names row 3 as freight: 39.20 x 1.25 = 49.00 at 25 %
    assert (order.freight_inc_vat, order.freight_vat_rate) == (D("49.00"), D("0.25"))
    # 318.40 + 120.00 + 39.20 = 477.60 net; 398.00 + 134.40 + 49.00 = 581.40 gross; VAT 103.80
    assert (order.total_ex_vat, order.total_inc_vat, order.vat_total) == (D("477.60"), D("581.40"), D("103.80"))
    assert (order.payment.method, order.payment.provider) == ("Klarna Checkout", PaymentProvider.KLARNA)
    assert (order.customer.customer_id, order.customer.email, order.customer.is_company) == (3301, "anna@example.se",
                                                                                            False)
    assert (order.billing.full_name, order.billing.country_code, order.billing.phone) == ("Anna Berg", "SE", "08-123 45")
    assert (order.delivery.full_name, order.delivery.care_of, order.delivery.city) == ("Erik Berg", "Lager AB",
                                                                                       "Göteborg")


def test_push_and_pull_of_one_order_share_the_ledger_key() -> None:
    assert push(json.loads(REQUEST_JSON)).key == pull(json.loads(QUERY_JSON)).key == "demoshop:100234"


def test_pulled_company_buyer_and_order_number_fallback() -> None:
    row = json.loads(QUERY_JSON)
    row.update(BuyerCompanyId=88, OrderNo=None, QuotationId="100234", FreightCost=0)
    row["Buyer"].update(Name="Kaffe & Co AB", Attention="Anna Berg")
    order = pull(row)
    assert order.order_number == "100234" and order.freight_inc_vat == 0 and len(order.rows) == 3
    assert (order.customer.company_name, order.billing.company, order.billing.full_name) == (
        "Kaffe & Co AB", "Kaffe & Co AB", "Anna Berg")
    assert order.total_inc_vat == D("581.40")  # the freight row stays a row: the total is the same


@pytest.mark.parametrize(("change", "path", "problem"), [
    (lambda r: r.update(QuotationId="abc"), "QuotationId", "basket id"),
    (lambda r: r.update(CurrencyId=9), "CurrencyId", "currency list"),
    (lambda r: r["Items"][1].update(QtyOrdered="1.5"), "Items[1].QtyOrdered", "not a JSON number"),
    (lambda r: r["Items"][0].update(LineNumber=1.5), "Items[0].LineNumber", "whole row number"),
    (lambda r: r["Items"][2].pop("PriceSale"), "Items[2].PriceSale", "is missing"),
    (lambda r: r["Buyer"].update(CountryId=999), "Buyer.CountryId", "country list"),
    (lambda r: r.update(StatusId="Confirmed"), "StatusId", "not a whole number"),
    (lambda r: r.update(OrderDate="yesterday"), "OrderDate", "ISO-8601"),
])
def test_unreadable_query_values_are_named(change: Callable[[dict[str, Any]], None], path: str, problem: str) -> None:
    row = json.loads(QUERY_JSON)
    change(row)
    with pytest.raises(NorceUnreadableOrder) as err:
        pull(row)
    assert err.value.field_path == path and problem in str(err.value)


def test_a_pulled_psp_order_counts_as_reserved_for_its_total_rounded_to_ore() -> None:
    row = json.loads(QUERY_JSON)
    row["Items"] = [{**row["Items"][0], "QtyOrdered": 1, "PriceSale": 198.3999, "LineAmount": 198.3999}]
    row["FreightCost"] = 0
    order = pull(row)
    # 198.3999 x 1.25 = 247.999875 incl. VAT; Norce reserved what the buyer paid: 248.00
    assert order.total_inc_vat == D("247.999875")
    assert (order.payment.authorized_amount, order.payment.status) == (D("248.00"), "Reserved")
    swish = pull({**row, "PaymentMethodId": 3})
    assert (swish.payment.provider, swish.payment.authorized_amount) == (PaymentProvider.OTHER, D("0"))
