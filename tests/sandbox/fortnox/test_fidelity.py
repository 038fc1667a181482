"""Where real traffic and the spec disagree, real traffic wins — and every such place is written down.

``fidelity.audit()`` walks the recorded exchanges for lengths above the spec's maxLength that Fortnox
stored, numbers it rounded, empty values it kept and enum values outside the spec; each finding must
be a row of ``sandbox/fortnox/FIDELITY.md``. The other tests pin the sandbox behaviour that list
describes, with values taken from the recordings and the reference notes, not from the sandbox.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from .conftest import Api
from .fidelity import Finding, audit, default_diffs, stored_diffs
from .vcr import Exchange, load

FIDELITY = Path(__file__).resolve().parents[3] / "sandbox" / "fortnox" / "FIDELITY.md"


def _documented_rows() -> list[str]:
    return [line for line in FIDELITY.read_text(encoding="utf-8").splitlines() if line.startswith("| ")]


def test_every_divergence_the_recordings_show_is_documented() -> None:
    findings = audit()
    assert {f.kind for f in findings} >= {"decimals", "empty", "enum"}  # the recordings do show these
    rows = _documented_rows()
    missing = [f for f in findings
               if not any(f"`{f.field}`" in row and f"`{f.cassette}`" in row for row in rows)]
    assert not missing, f"FIDELITY.md lacks these divergences: {missing}"


def test_every_cassette_the_document_cites_exists() -> None:
    names = {e.name for e in load()}
    cited = {name for row in _documented_rows() for name in re.findall(r"`([a-z]+/[a-z0-9_/]+)`", row)}
    assert cited, "FIDELITY.md cites no cassette"
    assert cited <= names, f"FIDELITY.md cites cassettes that do not exist: {sorted(cited - names)}"


def _write(name: str, sent: dict[str, Any], answered: dict[str, Any], method: str = "POST") -> Exchange:
    return Exchange(name, method, "https://api.fortnox.se/3/invoices", json.dumps({"Invoice": sent}),
                    201 if method == "POST" else 200, {"Invoice": answered})


def test_the_audit_notices_each_kind_of_divergence() -> None:
    long_reference = "R" * 81  # the spec says ExternalInvoiceReference1 <= 80
    exchanges = [
        _write("x/long", {"ExternalInvoiceReference1": long_reference}, {"ExternalInvoiceReference1": long_reference}),
        _write("x/rounded", {"InvoiceRows": [{"DeliveredQuantity": 2.345}]}, {"InvoiceRows": [{"DeliveredQuantity": "2.35"}]}),
        _write("x/empty", {"YourReference": ""}, {"YourReference": ""}),
        _write("x/default", {"YourReference": ""}, {"YourReference": "Anna"}),
        Exchange("x/listed", "GET", "https://api.fortnox.se/3/invoices", "", 200,
                 {"Invoices": [{"YourReference": "Y" * 51}], "MetaInformation": {}}),
        _write("x/same", {"Comments": "fits", "Freight": 10.5}, {"Comments": "fits", "Freight": 10.5}),
    ]
    found = {(f.kind, f.field, f.cassette): f for f in audit(exchanges)}
    assert set(found) == {("length", "Invoice.ExternalInvoiceReference1", "x/long"),
                          ("decimals", "Invoice.InvoiceRows.DeliveredQuantity", "x/rounded"),
                          ("empty", "Invoice.YourReference", "x/empty"),
                          ("empty", "Invoice.YourReference", "x/default"),
                          ("length", "Invoice.YourReference", "x/listed")}
    assert found["decimals", "Invoice.InvoiceRows.DeliveredQuantity", "x/rounded"].recorded.endswith("(2 decimals)")
    assert "filled in 'Anna'" in found["empty", "Invoice.YourReference", "x/default"].recorded
    assert isinstance(next(iter(found.values())), Finding)


def test_the_stored_entity_comparison_notices_each_kind() -> None:
    sent = {"Comments": "C" * 300, "InvoiceRows": [{"DeliveredQuantity": 1.123}], "YourReference": ""}
    recorded = {"Comments": "C" * 300, "InvoiceRows": [{"DeliveredQuantity": "1.12"}], "YourReference": ""}
    assert stored_diffs(sent, recorded, recorded) == []
    truncated = {**recorded, "Comments": "C" * 255}
    more_decimals = {**recorded, "InvoiceRows": [{"DeliveredQuantity": "1.123"}]}
    defaulted = {**recorded, "YourReference": "Anna"}
    for stored in (truncated, more_decimals, defaulted):
        assert len(stored_diffs(sent, stored, recorded)) == 1
    assert default_diffs({"StockWarning": 0, "Unit": None}, {"StockWarning": None, "Unit": None}) == [
        "StockWarning: the sandbox fills in 0, Fortnox kept None"]
    assert default_diffs({"StockWarning": None}, {"StockWarning": None}) == []


# --- (d) CustomerName on a document is the client's to write ----------------------------------------
def test_a_document_keeps_the_customer_name_it_was_given(api: Api) -> None:
    collective = api.get("/3/customers/1").json()["Customer"]["Name"]
    buyer = "Anna Andersson (webbshop)"
    order = api.post("/3/orders", {"Order": {"CustomerNumber": "1", "CustomerName": buyer, "OrderRows": [
        {"ArticleNumber": "1001", "OrderedQuantity": 1, "DeliveredQuantity": 1}]}}).json()["Order"]
    assert order["CustomerName"] == buyer != collective
    number = order["DocumentNumber"]
    assert api.get(f"/3/orders/{number}").json()["Order"]["CustomerName"] == buyer
    listed = api.get("/3/orders?customername=andersson").json()["Orders"]
    assert [o["DocumentNumber"] for o in listed] == [number]
    renamed = api.put(f"/3/orders/{number}", {"Order": {"CustomerName": "Bo Berg"}}).json()["Order"]
    assert renamed["CustomerName"] == "Bo Berg"
    assert api.put(f"/3/orders/{number}", {"Order": {"CustomerName": ""}}).json()["Order"]["CustomerName"] == "Bo Berg"
    invoiced = api.put(f"/3/orders/{number}/createinvoice").json()["Order"]
    invoice = api.get(f"/3/invoices/{invoiced['InvoiceReference']}").json()["Invoice"]
    assert invoice["CustomerName"] == "Bo Berg"  # the invoice made from the order carries it


def test_a_document_without_a_customer_name_takes_the_customers(api: Api) -> None:
    name = api.get("/3/customers/2").json()["Customer"]["Name"]
    invoice = api.post("/3/invoices", {"Invoice": {"CustomerNumber": "2", "InvoiceRows": [
        {"ArticleNumber": "1001", "DeliveredQuantity": 1}]}}).json()["Invoice"]
    assert invoice["CustomerName"] == name


def test_changing_the_customer_without_a_name_takes_the_new_customers_name(api: Api) -> None:
    order = api.post("/3/orders", {"Order": {"CustomerNumber": "1", "CustomerName": "Anna"}}).json()["Order"]
    name = api.get("/3/customers/3").json()["Customer"]["Name"]
    moved = api.put(f"/3/orders/{order['DocumentNumber']}", {"Order": {"CustomerNumber": "3"}}).json()["Order"]
    assert moved["CustomerName"] == name


# --- (b) decimals: stock figures are kept with 2 decimals, half up ---------------------------------
@pytest.mark.parametrize(("sent", "kept"), [(1.123, 1.12), (1.125, 1.13), (-2.005, -2.01), (7, 7)])
def test_quantity_in_stock_is_stored_with_two_decimals(api: Api, sent: float, kept: float) -> None:
    created = api.post("/3/articles", {"Article": {"Description": "Lim", "StockGoods": True,
                                                    "QuantityInStock": sent}}).json()["Article"]
    number = created["ArticleNumber"]
    assert created["QuantityInStock"] == kept
    assert api.get(f"/3/articles/{number}").json()["Article"]["QuantityInStock"] == kept
    listed = api.get(f"/3/articles?articlenumber={number}").json()["Articles"][0]
    assert float(listed["QuantityInStock"]) == kept
    balance = api.get(f"/api/warehouse/status-v1/stockbalance?itemIds={number}").json()
    assert [b["inStock"] for b in balance] == [kept]


def test_stock_after_a_decimal_delivery_has_no_binary_noise(api: Api) -> None:
    api.put("/3/articles/1001", {"Article": {"QuantityInStock": 1.1}})
    api.post("/3/invoices", {"Invoice": {"CustomerNumber": "1", "InvoiceRows": [
        {"ArticleNumber": "1001", "DeliveredQuantity": 0.8}]}})
    article = api.get("/3/articles/1001").json()["Article"]
    assert article["QuantityInStock"] == 0.3 and article["DisposableQuantity"] == 0.3  # not 0.30000000000000004


def test_row_quantities_keep_two_decimals(api: Api) -> None:
    # recorded: invoices/row_delivered_quantity_decimals, 1.123 -> "1.12"
    order = api.post("/3/orders", {"Order": {"CustomerNumber": "1", "OrderRows": [
        {"ArticleNumber": "1001", "OrderedQuantity": 2.675, "DeliveredQuantity": 1.123}]}}).json()["Order"]
    row = order["OrderRows"][0]
    assert (row["OrderedQuantity"], row["DeliveredQuantity"]) == ("2.68", "1.12")


# --- (c) empties: no default where Fortnox keeps the field empty -----------------------------------
def test_a_new_article_has_no_stock_warning(api: Api) -> None:
    # recorded 2024 (articles/limits/quantity_in_stock_min_value): StockWarning null on a new article
    created = api.post("/3/articles", {"Article": {"Description": "Nytt"}}).json()["Article"]
    assert created["StockWarning"] is None


def test_an_empty_value_in_an_update_leaves_the_field_as_it_was(api: Api) -> None:
    # recorded: invoices/save_old_with_empty_comments and ..._empty_country
    invoice = api.post("/3/invoices", {"Invoice": {"CustomerNumber": "1", "Comments": "Ring först",
                                                   "Country": "Norge"}}).json()["Invoice"]
    number = invoice["DocumentNumber"]
    kept = api.put(f"/3/invoices/{number}", {"Invoice": {"Comments": "", "Country": ""}}).json()["Invoice"]
    assert (kept["Comments"], kept["Country"]) == ("Ring först", "Norge")


# --- (a) lengths: values up to the limit are stored whole, where there is no limit nothing is cut ----
@pytest.mark.parametrize(("path", "envelope", "field", "length"), [
    ("/3/invoices", "Invoice", "ExternalInvoiceReference1", 80),
    ("/3/invoices", "Invoice", "YourOrderNumber", 75),
    ("/3/orders", "Order", "YourOrderNumber", 75),
    ("/3/orders", "Order", "Comments", 5000),  # the spec sets no limit on order comments
])
def test_long_values_are_stored_whole(api: Api, path: str, envelope: str, field: str, length: int) -> None:
    value = ("Långt värde " * 500)[:length]
    created = api.post(path, {envelope: {"CustomerNumber": "1", field: value}})
    assert created.status_code == 201, created.text
    number = created.json()[envelope]["DocumentNumber"]
    assert api.get(f"{path}/{number}").json()[envelope][field] == value


def test_long_row_descriptions_are_stored_whole(api: Api) -> None:
    invoice_row = "Beskrivning " * 21 + "xyz"  # 255 characters, the spec's limit on invoice rows
    order_row = "Orderrad " * 60  # 540 characters: the spec sets no limit on order rows
    assert len(invoice_row) == 255
    invoice = api.post("/3/invoices", {"Invoice": {"CustomerNumber": "1", "InvoiceRows": [
        {"ArticleNumber": "1001", "DeliveredQuantity": 1, "Description": invoice_row}]}}).json()["Invoice"]
    order = api.post("/3/orders", {"Order": {"CustomerNumber": "1", "OrderRows": [
        {"ArticleNumber": "1001", "OrderedQuantity": 1, "Description": order_row}]}}).json()["Order"]
    assert invoice["InvoiceRows"][0]["Description"] == invoice_row
    assert order["OrderRows"][0]["Description"] == order_row
