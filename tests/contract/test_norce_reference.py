"""The Norce contract oracle itself: the reference's own examples pass, wrong messages are caught."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.contract.norce_reference import ContractError, validate

# The header examples printed in the reference (§4.3, §4.4, §4.6), verbatim
DOC_HEADERS = [
    ("SkuOnhandHeader", '{"AccountId":1,"FullFile":false,"SkuOnhandFieldsThatAreSet":[3],"SerializationType":0}'),
    ("SkuPriceListHeader",
     '{"AccountId":1,"FullFile":false,"SkuPriceListFieldsThatAreSet":[3,6,8],"SerializationType":0}'),
    ("ProductHeader", '{"AccountId":1,"FullFile":false,"ProductFieldsThatAreSet":[0,1,4,6],'
                      '"VariantFieldsThatAreSet":[0,4,5],"VariantCultureFieldsThatAreSet":[0,1,10],'
                      '"SkuFieldsThatAreSet":[1,2,7,8,20,21],"SkuCultureFieldsThatAreSet":[0],'
                      '"SkuPriceListFieldsThatAreSet":[5,6,10],"SerializationType":0,'
                      '"IgnoreSkuPriceListFieldsWhenEmpty":[6,10]}'),
]


@pytest.mark.parametrize(("name", "text"), DOC_HEADERS)
def test_the_references_own_header_examples_pass(name: str, text: str) -> None:
    validate(name, json.loads(text))


def test_a_documented_order_request_passes() -> None:
    validate("OrderRequest", {
        "Header": {"ApplicationKey": None}, "ClientOrderRef": "1000123", "CurrencyCode": "SEK", "OrderType": 1,
        "SellTo": {"Company": None, "Person": {"FirstName": "Anna", "Email": "anna@example.se",
                                               "Address": {"Line1": "Storgatan 1", "ZipCode": "11122",
                                                           "City": "Stockholm", "Country": "SE"}}},
        "Items": [{"LineNo": 1, "PartNo": "1001", "Quantity": 2, "Quantity2": 2.0, "UnitPrice": 80.0,
                   "UnitPriceOriginal": 80.0, "UnitVat": 20.0, "VatRate": 25, "Discount": 0,
                   "Type": "ErpStandard", "TypeGroup": "Physical"},
                  {"LineNo": 2, "PartNo": "FRAKT", "Quantity": 1, "UnitPrice": 39.2, "UnitPriceOriginal": 39.2,
                   "UnitVat": 9.8, "VatRate": 25, "Discount": 0, "Type": 3, "TypeGroup": "Fee"}],
        "Payments": [{"PaymentCode": 5, "PaymentRef": "klarna-77", "Amount": 249.0, "PaymentName": "Card"}]})


@pytest.mark.parametrize(("name", "message", "where"), [
    ("SendOrderStatusRequest", {"ClientOrderRef": "1000123", "OrderStatus": "Confirmed"}, "ClientOrderRef"),
    ("SendOrderStatusRequest", {"ClientOrderRef": 2**31, "OrderStatus": "Confirmed"}, "int32"),
    ("SendOrderStatusRequest", {"ClientOrderRef": 1, "OrderStatus": "Shipped"}, "OrderStatus"),
    ("SendOrderStatusRequest", {"ClientOrderRef": 1}, "required"),
    ("Invoice", {"ClientOrderRef": 1, "ErpOrderNo": "7", "InvoiceDate": "2026-12-05", "CurrencyCode": "SEKR"},
     "at most 3"),
    ("Invoice", {"ClientOrderRef": 1, "ErpOrderNo": "7", "InvoiceDate": "5/12/2026", "CurrencyCode": "SEK"},
     "ISO 8601"),
    ("InvoiceItem", {"PartNo": "1001", "Quantity": 1.5, "UnitPrice": 10}, "integer"),
    ("SkuOnhand", {"PartNo": "1001", "WarehouseCode": "MAIN", "LocationCode": "MAIN", "OnhandValue": "5"},
     "JSON number"),
    ("SkuOnhandHeader", {"AccountId": 1, "FullFile": "false"}, "true or false"),
    ("DeliveryNote", {"OrderNo": "7", "NoteNo": "7-1", "DeliverynoteItems": []}, "no property"),
    ("OrderItem", {"LineNo": 1, "PartNo": "1", "Quantity": 1, "UnitPrice": 1, "UnitPriceOriginal": 1, "UnitVat": 0,
                   "VatRate": 0, "Discount": 0, "Type": "Product", "TypeGroup": "Physical"}, "Type"),
    ("JobResponse", {"JobId": 12}, "string"),
])
def test_broken_messages_are_named(name: str, message: dict[str, Any], where: str) -> None:
    with pytest.raises(ContractError, match=where):
        validate(name, message)
