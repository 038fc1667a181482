"""Models parse what Fortnox really returns and write what its official contract accepts."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
import yaml
from pydantic import BaseModel, ValidationError

from jetfort.fortnox.models import (
    ArticleListItem,
    CustomerListItem,
    CustomerType,
    DocumentRow,
    FortnoxArticle,
    FortnoxCustomer,
    FortnoxInvoice,
    FortnoxOrder,
    InvoiceListItem,
    OrderListItem,
    Price,
    field_limits,
    fit,
    max_length,
)
from tests.contract.openapi import spec_path, validate_request

VCR = spec_path().parent / "fortnox-recorded-responses-vcr"
PARSERS: dict[str, Any] = {
    "Order": FortnoxOrder, "Invoice": FortnoxInvoice, "Customer": FortnoxCustomer, "Article": FortnoxArticle,
    "Orders": OrderListItem, "Invoices": InvoiceListItem, "Customers": CustomerListItem,
    "Articles": ArticleListItem,
}


def recorded_bodies() -> list[tuple[str, dict[str, Any]]]:
    out = []
    for path in sorted(VCR.glob("*/*.yml")):
        for interaction in yaml.safe_load(path.read_text())["http_interactions"]:
            try:
                body = json.loads(interaction["response"]["body"]["string"])
            except (ValueError, TypeError):
                continue
            if isinstance(body, dict) and set(body) & set(PARSERS):
                out.append((f"{path.parent.name}/{path.stem}", body))
    return out


def _recorded(name: str) -> dict[str, Any]:
    return dict(next(body for key, body in recorded_bodies() if key == name))


def test_every_recorded_real_response_parses() -> None:
    bodies = recorded_bodies()
    assert len(bodies) > 40
    for _name, body in bodies:
        for key, model in PARSERS.items():
            if key in body:
                items = body[key] if isinstance(body[key], list) else [body[key]]
                for item in items:
                    model.model_validate(item)  # raises with the field name on a mismatch


def test_real_quirks_become_python_values() -> None:
    order = FortnoxOrder.model_validate(_recorded("orders/save_with_nested_model")["Order"])
    assert order.document_number == "7"
    assert order.invoice_reference is None and not order.invoiced  # "0" means none
    assert order.delivery_date is None  # null date
    row = order.rows[0] if order.rows else None
    assert row is not None and row.ordered_quantity == Decimal(1) and row.delivered_quantity == 0  # strings
    invoice = FortnoxInvoice.model_validate(_recorded("invoices/find_id_1")["Invoice"])
    assert invoice.credit is False  # "false" string
    assert invoice.payment_way is None  # "" for an unset enum
    assert invoice.ocr and invoice.invoice_date is not None


def test_payload_has_spec_names_and_types_and_no_read_only_fields() -> None:
    invoice = FortnoxInvoice(
        customer_number="1", external_invoice_reference1="shop-42", vat_included=True, freight=Decimal("49.00"),
        rows=[DocumentRow(article_number="A-1", ordered_quantity=Decimal(2), delivered_quantity=Decimal("2.50"),
                          price=Decimal("99.90"), vat=Decimal(25), total=Decimal("1"))])
    payload = invoice.to_payload()
    assert payload == {
        "CustomerNumber": "1", "VATIncluded": True, "Freight": 49, "ExternalInvoiceReference1": "shop-42",
        "InvoiceRows": [{"ArticleNumber": "A-1", "DeliveredQuantity": "2.5", "Price": 99.9, "VAT": 25}],
    }
    validate_request("POST", "/3/invoices", {"Invoice": payload})
    parsed = FortnoxOrder.model_validate(_recorded("orders/save_with_nested_model")["Order"])
    written = parsed.to_payload()
    assert not {"Total", "@url", "Cancelled", "InvoiceReference", "OrderType", "TotalVAT"} & set(written)
    assert written["OrderRows"][0]["OrderedQuantity"] == "1" and "Total" not in written["OrderRows"][0]
    validate_request("PUT", "/3/orders/7", {"Order": written})


def test_spec_limits_are_enforced_and_published() -> None:
    assert max_length(FortnoxOrder, "your_order_number") == 75
    assert max_length(FortnoxInvoice, "external_invoice_reference1") == 80
    assert max_length(DocumentRow, "description") == 255
    assert field_limits(FortnoxArticle)["description"] == 200
    with pytest.raises(ValidationError, match="your_order_number"):
        FortnoxOrder(customer_number="1", your_order_number="x" * 76)
    assert fit(FortnoxOrder, "remarks", "y" * 2000) == "y" * 1024
    with pytest.raises(ValidationError):
        DocumentRow(account_number=99999)  # row accounts are 4 digits


def test_price_from_quantity_and_customer_aliases() -> None:
    price = Price.model_validate({"PriceList": "A", "ArticleNumber": "1", "FromQuantity": "10", "Price": "12.5"})
    assert price.from_quantity == 10 and price.price == Decimal("12.5")
    customer = FortnoxCustomer(name="Anna", email="anna@example.se", type=CustomerType.PRIVATE)
    assert customer.to_payload() == {"Name": "Anna", "Type": "PRIVATE", "Email": "anna@example.se"}
    validate_request("POST", "/3/customers", {"Customer": customer.to_payload()})


def _walked_payload(model: Any) -> dict[str, Any]:
    """The payload by the definition, model by model: set, writable, non-null fields, nested alike."""
    out: dict[str, Any] = {}
    for name, info in type(model).model_fields.items():
        value = getattr(model, name)
        if name not in model.model_fields_set or name in type(model).read_only_fields() or value is None:
            continue
        key = info.alias or name
        if isinstance(value, BaseModel):
            out[key] = _walked_payload(value)
        elif isinstance(value, list):
            out[key] = [_walked_payload(v) if isinstance(v, BaseModel) else v for v in value]
        else:
            out[key] = model.model_dump(mode="json", by_alias=True, include={name})[key]
    return out


def test_one_dump_payload_equals_the_field_by_field_definition_for_every_recorded_document() -> None:
    compared = 0
    for _name, body in recorded_bodies():
        for key in ("Order", "Invoice", "Customer", "Article"):
            if key in body:
                parsed = PARSERS[key].model_validate(body[key])
                expected = _walked_payload(parsed)
                if key == "Invoice":  # FortnoxInvoice's own rule: no order-only quantities on invoice rows
                    for row in expected.get("InvoiceRows", []):
                        row.pop("OrderedQuantity", None)
                        row.pop("ReservedQuantity", None)
                assert parsed.to_payload() == expected, _name
                compared += 1
    assert compared > 20
