"""Decimal quantities (goods sold by weight or length) through the mapping and the Fortnox sandbox.

Oracles: the shop's row total (the sandbox shop computed it) and what the Fortnox sandbox stores and
computes from the payload; a quantity Fortnox would round is quarantined, never rounded.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from jetfort.mapping.customers import plan_customer
from jetfort.mapping.orders import FortnoxFacts, map_document
from jetfort.mapping.problems import MappingProblem
from jetfort.shop.models import ShopOrder
from sandbox.fortnox.errors import FortnoxError
from sandbox.fortnox.validation import validate

from .conftest import SHOP_KEY, FortnoxPoster, make_rules

D = Decimal


def _with_quantity(order: ShopOrder, index: int, quantity: str, unit: str) -> ShopOrder:
    """The order with one row re-priced like the shop would: total = quantity x unit price incl. VAT."""
    rows = list(order.rows)
    row = rows[index]
    q, u = D(quantity), D(unit)
    total = (q * u).quantize(D("0.0001"))
    rows[index] = row.model_copy(update={
        "quantity": q, "unit_price_inc_vat": u, "unit_price_ex_vat": (u / (1 + row.vat_rate)).quantize(D("0.0001")),
        "discount_inc_vat": D(0), "total_inc_vat": total})
    shop_total = (order.total_inc_vat - row.total_inc_vat + total).quantize(D("0.01"))
    return order.model_copy(update={"rows": rows, "total_inc_vat": shop_total})


@pytest.mark.parametrize("document", ["invoice", "order"])
@pytest.mark.parametrize("vat_included", [True, False])
def test_a_1_5_kg_row_posts_with_quantity_1_5_and_the_shop_row_total(
        document: str, vat_included: bool, awkward: dict[str, ShopOrder], facts: FortnoxFacts,
        poster: FortnoxPoster) -> None:
    order = awkward["decimal_quantity_1_5_kg"]
    shop_row = order.rows[0]
    assert shop_row.quantity == D("1.5")
    rules = make_rules({"document": document, "vat_included": vat_included})
    number = poster.customer(plan_customer(order, rules, SHOP_KEY))
    mapped = map_document(order, rules, SHOP_KEY, customer_number=number, facts=facts)
    stored = poster.document(mapped)
    rows_key = "OrderRows" if document == "order" else "InvoiceRows"
    row = stored[rows_key][0]
    assert row["DeliveredQuantity"] == "1.5"
    if document == "order":
        assert row["OrderedQuantity"] == "1.5"
    # Fortnox's row total (its own arithmetic) is the shop's row total, to the öre
    gross = D(str(row["Total"])) if vat_included else D(str(row["Total"])) * (1 + D(str(row["VAT"])) / 100)
    assert abs(gross - shop_row.total_inc_vat) <= D("0.01")
    assert abs(D(str(stored["Total"])) - D(str(stored.get("RoundOff") or 0)) - order.total_inc_vat) <= D("0.01")


@pytest.mark.parametrize(("quantity", "unit"), [("0.25", "119.90"), ("1.33", "33.33"), ("2.75", "0.07"),
                                                ("0.01", "1999.99"), ("7.99", "12.4567")])
@pytest.mark.parametrize("vat_included", [True, False])
def test_fractional_quantities_keep_price_x_quantity_minus_discount_equal_to_the_shop_row_total(
        quantity: str, unit: str, vat_included: bool, awkward: dict[str, ShopOrder], facts: FortnoxFacts,
        poster: FortnoxPoster) -> None:
    """Unit prices are rounded up to the öre and the excess goes into an AMOUNT discount: with a
    fractional quantity that excess has up to 4 decimals, yet Fortnox's row total must be the shop's."""
    order = _with_quantity(awkward["decimal_quantity_0_25_m"], 0, quantity, unit)
    rules = make_rules({"document": "invoice", "vat_included": vat_included})
    number = poster.customer(plan_customer(order, rules, SHOP_KEY))
    mapped = map_document(order, rules, SHOP_KEY, customer_number=number, facts=facts)
    stored = poster.document(mapped)
    row = stored["InvoiceRows"][0]
    assert D(row["DeliveredQuantity"]) == D(quantity)
    assert D(str(row.get("Discount") or 0)) == D(str(row.get("Discount") or 0)).quantize(D("0.01"))
    net_total = order.rows[0].total_inc_vat if vat_included else order.rows[0].total_inc_vat / D("1.25")
    assert D(str(row["Total"])) == net_total.quantize(D("0.01"), rounding="ROUND_HALF_UP")


@pytest.mark.parametrize("quantity", ["0.125", "1.001", "2.3333"])
def test_a_quantity_with_more_decimals_than_fortnox_keeps_is_quarantined_not_rounded(
        quantity: str, awkward: dict[str, ShopOrder], facts: FortnoxFacts) -> None:
    order = _with_quantity(awkward["decimal_quantity_1_5_kg"], 0, quantity, "179.00")
    with pytest.raises(MappingProblem) as caught:
        map_document(order, make_rules(), SHOP_KEY, customer_number="1", facts=facts)
    problem = caught.value
    assert (problem.reason, problem.field) == ("quantity_precision", "rows[0].quantity")
    assert order.order_number in problem.message and quantity in problem.message
    assert "2 decimals" in problem.message


@pytest.mark.parametrize("text", ["1,5", "abc", "NaN", "1.5.0"])
def test_the_fortnox_sandbox_refuses_a_quantity_that_is_not_a_number(text: str) -> None:
    body = {"Invoice": {"CustomerNumber": "1", "InvoiceRows": [{"ArticleNumber": "1001", "DeliveredQuantity": text}]}}
    with pytest.raises(FortnoxError) as caught:
        validate("Invoice", body, create=True)
    assert caught.value.code == 2000108
    assert validate("Invoice", {"Invoice": {"CustomerNumber": "1", "InvoiceRows": [
        {"ArticleNumber": "1001", "DeliveredQuantity": "1.125"}]}}, create=True)["InvoiceRows"][0][
        "DeliveredQuantity"] == "1.125"
