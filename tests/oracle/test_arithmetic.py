"""The oracle on documents worked out by hand (figures in the comments), and its independence."""

from __future__ import annotations

import ast
from decimal import Decimal
from pathlib import Path

from tests.oracle import arithmetic

D = Decimal


def test_net_document_rounds_vat_once_not_per_rate() -> None:
    document = {"VATIncluded": False, "Currency": "SEK", "InvoiceRows": [
        {"DeliveredQuantity": "1", "Price": 100.02, "VAT": 25},  # VAT 25.005
        {"DeliveredQuantity": "1", "Price": 100.05, "VAT": 12},  # VAT 12.006
    ]}
    totals = arithmetic.compute(document, "InvoiceRows")
    assert totals.net == D("200.07")
    assert totals.total_vat == D("37.01")  # 37.011 rounded once
    assert totals.vat_by_rate == {D(25): D("25.01"), D(12): D("12.01")}
    assert totals.total_vat_per_rate == D("37.02")  # the per-rate alternative: 0.01 more
    assert arithmetic.per_rate_difference_bound(set(totals.vat_by_rate)) == D("0.01")
    assert (totals.before_rounding, totals.total, totals.round_off) == (D("237.08"), D("237"), D("-0.08"))


def test_gross_document_splits_each_row_and_the_freight() -> None:
    document = {"VATIncluded": True, "Freight": 49, "OrderRows": [
        {"DeliveredQuantity": "1", "Price": 99.90, "VAT": 12},  # net 89.196.. -> 89.20, VAT 10.70
        {"DeliveredQuantity": "3", "Price": 49, "VAT": 25, "Discount": 10, "DiscountType": "PERCENT"},  # 132.30
    ]}
    totals = arithmetic.compute(document, "OrderRows")
    assert [(r.total, r.total_excluding_vat) for r in totals.rows] == [(D("99.90"), D("89.20")),
                                                                       (D("132.30"), D("105.84"))]
    assert totals.net == D("195.04")
    assert totals.freight_vat == D("9.80")
    assert totals.total_vat == D("46.96")  # 10.70 + 26.46 + 9.80
    assert totals.before_rounding == D("281.20")  # 99.90 + 132.30 + 49: what the buyer sees
    assert (totals.total, totals.round_off) == (D("281"), D("-0.20"))


def test_vat_free_customer_in_euros_keeps_the_cents() -> None:
    document = {"VATIncluded": False, "Currency": "EUR", "Freight": 5.9, "AdministrationFee": "1.25",
                "InvoiceRows": [{"DeliveredQuantity": 2, "Price": "10.555", "VAT": 25}]}  # price kept as 10.56
    totals = arithmetic.compute(document, "InvoiceRows", vat_type="EUREVERSEDVAT")
    assert totals.rows[0].total == D("21.12")
    assert (totals.total_vat, totals.freight_vat, totals.administration_fee_vat) == (0, 0, 0)
    assert (totals.total, totals.round_off) == (D("28.27"), 0)
    with_vat = arithmetic.compute(document, "InvoiceRows", vat_type="EUVAT")
    assert with_vat.total_vat == D("7.07")  # rows 5.28 + FreightVAT 1.48 (1.475) + fee VAT 0.31 (0.3125)


def test_amount_discounts_and_decimal_quantities() -> None:
    document = {"InvoiceRows": [
        {"DeliveredQuantity": "1.5", "Price": 33.33, "VAT": 6, "Discount": "0.005", "DiscountType": "AMOUNT"},
        {"DeliveredQuantity": "0.125", "Price": 100, "VAT": 6},  # Fortnox keeps 0.13
    ]}
    totals = arithmetic.compute(document, "InvoiceRows")
    assert [r.total for r in totals.rows] == [D("49.99"), D("13.00")]  # 49.995 - 0.005; 0.13 x 100
    assert totals.total_vat == D("3.78")  # (49.99 + 13.00) x 6 % = 3.7794


def test_the_oracle_imports_neither_jetfort_nor_the_sandbox() -> None:
    tree = ast.parse(Path(arithmetic.__file__).read_text(encoding="utf-8"))
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert imported and not {name for name in imported if name.split(".")[0] in ("jetfort", "sandbox", "tests")}
