"""Real Fortnox invoices (figures Fortnox itself computed) anchor the sandbox's arithmetic.

Each document's inputs — rows (article, quantity, price, discount, VAT), Freight, AdministrationFee,
VATIncluded, Currency — are posted to the Fortnox sandbox over HTTP; the invoice it stores must carry
every figure the real document shows (Fortnox sends binary doubles such as 37.740000000000002, so
the figures are compared at 2 decimals). The independent oracle (``tests.oracle.arithmetic``) must
compute the same figures from the same inputs. The documents and their licences are in
``tests/data/fortnox-real-invoices/``.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.oracle import arithmetic

from .conftest import Api

DATA = Path(__file__).resolve().parents[2] / "data" / "fortnox-real-invoices"
HEADER_FIGURES = ("Net", "Gross", "TotalVAT", "FreightVAT", "AdministrationFeeVAT", "Total", "RoundOff", "TotalToPay")
ROW_INPUTS = ("ArticleNumber", "Description", "DeliveredQuantity", "Price", "Discount", "DiscountType", "VAT", "Unit")
HEADER_INPUTS = ("Freight", "AdministrationFee", "VATIncluded", "Currency")


def _xml_value(element: ET.Element) -> Any:
    if len(element):
        return [_xml_dict(child) for child in element] if element.tag.endswith("Rows") else _xml_dict(element)
    text = (element.text or "").strip()
    return {"true": True, "false": False}.get(text, text)


def _xml_dict(element: ET.Element) -> dict[str, Any]:
    return {child.tag: _xml_value(child) for child in element}


def _real_invoices() -> dict[str, dict[str, Any]]:
    documents: dict[str, dict[str, Any]] = {}
    for path in sorted(DATA.iterdir()):
        if path.suffix == ".json":
            documents[path.name] = json.loads(path.read_text(encoding="utf-8"))["Invoice"]
        elif path.suffix == ".xml":
            documents[path.name] = _xml_dict(ET.fromstring(path.read_text(encoding="utf-8")))
    return documents


REAL = _real_invoices()


def figure(value: Any) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))


def test_the_real_documents_are_all_there() -> None:
    assert sorted(REAL) == ["FriendsOfApi-fortnox-InvoiceTest-docs-example-invoice203.json",
                            "notima-fortnox4j-SampleInvoice.xml"]
    for document in REAL.values():
        assert document["InvoiceRows"] and all(document.get(name) not in (None, "") for name in HEADER_FIGURES)


def _inputs(real: dict[str, Any]) -> dict[str, Any]:
    """What a client sent for this document: rows and the header fields that carry money."""
    rows = []
    for row in real["InvoiceRows"]:
        rows.append({name: row[name] for name in ROW_INPUTS if row.get(name) not in (None, "")})
    header = {name: real[name] for name in HEADER_INPUTS if real.get(name) not in (None, "")}
    return {**header, "InvoiceRows": rows}


@pytest.mark.parametrize("name", sorted(REAL))
def test_the_sandbox_stores_the_totals_fortnox_computed(name: str, api: Api) -> None:
    real = REAL[name]
    inputs = _inputs(real)
    for row in inputs["InvoiceRows"]:
        number = row["ArticleNumber"]
        if api.get(f"/3/articles/{number}", contract=False).status_code == 404:
            created = api.post("/3/articles", {"Article": {"ArticleNumber": number, "Description": row["Description"]}})
            assert created.status_code == 201, created.text
    customer = api.post("/3/customers", {"Customer": {"Name": real["CustomerName"]}})
    assert customer.status_code == 201, customer.text
    number = customer.json()["Customer"]["CustomerNumber"]
    response = api.post("/3/invoices", {"Invoice": {"CustomerNumber": number, **inputs}})
    assert response.status_code == 201, response.text
    stored = api.get(f"/3/invoices/{response.json()['Invoice']['DocumentNumber']}").json()["Invoice"]
    assert {name: figure(stored[name]) for name in HEADER_FIGURES} == \
        {name: figure(real[name]) for name in HEADER_FIGURES}
    assert [figure(r["Total"]) for r in stored["InvoiceRows"]] == [figure(r["Total"]) for r in real["InvoiceRows"]]
    assert figure(stored["Balance"]) == figure(real["Balance"])  # unpaid: the whole total


@pytest.mark.parametrize("name", sorted(REAL))
def test_the_oracle_computes_the_totals_fortnox_computed(name: str) -> None:
    real = REAL[name]
    totals = arithmetic.compute(_inputs(real), "InvoiceRows")
    computed = {"Net": totals.net, "TotalVAT": totals.total_vat, "FreightVAT": totals.freight_vat,
                "AdministrationFeeVAT": totals.administration_fee_vat, "Total": totals.total,
                "RoundOff": totals.round_off, "TotalToPay": totals.total}
    assert {k: figure(v) for k, v in computed.items()} == {k: figure(real[k]) for k in computed}
    assert [figure(r.total) for r in totals.rows] == [figure(r["Total"]) for r in real["InvoiceRows"]]
    # one VAT rate on both documents: rounding per rate or once gives the same TotalVAT
    assert totals.total_vat_per_rate == totals.total_vat
