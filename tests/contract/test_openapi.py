"""The contract module itself: the relaxation keeps every schema and still rejects wrong data."""

from __future__ import annotations

import pytest

from tests.contract.openapi import ContractError, official_spec, relax, validate_request, validate_response


def test_relaxation_keeps_every_path_operation_and_schema() -> None:
    spec = official_spec()
    relaxed = relax(spec)
    assert relaxed["paths"].keys() == spec["paths"].keys()
    assert relaxed["components"]["schemas"].keys() == spec["components"]["schemas"].keys()
    for path, operations in spec["paths"].items():
        assert relaxed["paths"][path].keys() == operations.keys()
    # required lists, enums and limits survive
    order = relaxed["components"]["schemas"]["fortnox_Order"]
    assert order["required"] == ["CustomerNumber"]


def test_recorded_quirks_pass() -> None:
    validate_response("GET", "/3/articles", 200, {
        "MetaInformation": {"@TotalResources": 1, "@TotalPages": 1, "@CurrentPage": 1},
        "Articles": [{"ArticleNumber": "1", "Description": "Test article", "QuantityInStock": "0", "VAT": None}]})
    validate_response("GET", "/3/invoices/1", 200, {"Invoice": {
        "CustomerNumber": "1", "PaymentWay": "", "InvoicePeriodStart": "", "FinalPayDate": None}})
    validate_response("GET", "/3/articles/1", 200, {"Article": {"Description": "x", "ConstructionAccount": 0}})
    validate_response("GET", "/api/warehouse/status-v1/stockbalance", 200,
                      [{"itemId": "1", "stockPointCode": "A", "inStock": 1, "availableStock": 1}])
    validate_request("POST", "https://api.fortnox.se/3/orders", {"Order": {
        "CustomerNumber": "1", "OrderRows": [{"ArticleNumber": "101", "OrderedQuantity": 1.0}]}})
    validate_request("PUT", "https://api.fortnox.se/3/orders/6", {"Order": {"Comments": "Updated comments"}})
    with pytest.raises(ContractError):  # partial, but still typed and limited
        validate_request("PUT", "https://api.fortnox.se/3/orders/6", {"Order": {"YourOrderNumber": "x" * 76}})


@pytest.mark.parametrize(("method", "url", "status", "body"), [
    ("GET", "/3/orders/1", 200, {"Order": {"CustomerNumber": "1", "Cancelled": "maybe"}}),
    ("GET", "/3/orders/1", 200, {"Order": {"Total": 10}}),  # required CustomerNumber missing
    ("GET", "/3/invoices/1", 200, {"Invoice": {"CustomerNumber": "1", "PaymentWay": "BITCOIN"}}),
    ("GET", "/3/invoices/1", 200, {"Invoice": {"CustomerNumber": "1", "DueDate": "tomorrow"}}),
    ("GET", "/3/articles", 200, {"Articles": [{"Description": "x", "QuantityInStock": "many"}]}),
    ("GET", "/3/customers/1", 404, {"ErrorInformation": {"Error": 1, "Message": "x", "Code": "not-a-number"}}),
])
def test_wrong_responses_are_rejected(method: str, url: str, status: int, body: object) -> None:
    with pytest.raises(ContractError):
        validate_response(method, url, status, body)


@pytest.mark.parametrize("body", [
    {"Order": {"CustomerNumber": "1", "YourOrderNumber": "x" * 76}},
    {"Order": {"CustomerNumber": "1", "TaxReductionType": "maybe"}},
    {"Order": {"Comments": "no customer"}},
    {"Invoice": {"CustomerNumber": "1", "ExternalInvoiceReference1": "y" * 81}},
])
def test_wrong_requests_are_rejected(body: dict[str, object]) -> None:
    path = "/3/orders" if "Order" in body else "/3/invoices"
    with pytest.raises(ContractError):
        validate_request("POST", f"http://127.0.0.1:8801{path}", body)
