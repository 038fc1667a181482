"""Shops that keep row totals to 4 decimals: the document still adds up to what the buyer paid.

A shop sums 4-decimal row totals and rounds once (35 x 8.0625 EUR = 282.1875 → 282.19); Fortnox keeps
2 decimals per row. Rounding each row alone would give 35 x 8.06 = 282.10, 9 cents short, and such
an order was quarantined as a total mismatch. Oracles: the shop's own sum, what the Fortnox sandbox
stored, and the independent arithmetic in tests/oracle (no jetfort arithmetic).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import pytest

from jetfort.mapping.customers import plan_customer
from jetfort.mapping.orders import FortnoxFacts, map_document
from jetfort.shop.models import ShopOrder
from tests.oracle.arithmetic import compute

from .conftest import SHOP_KEY, FortnoxPoster, make_rules

D = Decimal
CENT = D("0.01")


def _repeated(order: ShopOrder, count: int, unit: str) -> ShopOrder:
    """``order`` with ``count`` copies of its first row at a 4-decimal gross unit price, no freight or fee."""
    first = order.rows[0]
    price = D(unit)
    rows = [first.model_copy(update={
        "row_id": i + 1, "quantity": D(1), "unit_price_inc_vat": price, "discount_inc_vat": D(0),
        "unit_price_ex_vat": (price / (1 + first.vat_rate)).quantize(D("0.0001")), "total_inc_vat": price})
        for i in range(count)]
    total = (price * count).quantize(CENT, rounding=ROUND_HALF_UP)
    vat = (total - total / (1 + first.vat_rate)).quantize(CENT, rounding=ROUND_HALF_UP)
    return order.model_copy(update={
        "rows": rows, "freight_inc_vat": D(0), "order_discount_inc_vat": D(0), "total_inc_vat": total,
        "total_ex_vat": total - vat, "vat_total": vat,
        "payment": order.payment.model_copy(update={"fee_inc_vat": D(0)})})


@pytest.mark.parametrize(("kind", "count", "unit"), [
    ("currency_eur_eu_consumer", 35, "8.0625"),  # 282.1875 EUR: 9 cents over EUR's tolerance if rounded per row
    ("plain_single_row", 400, "8.0625"),  # 3225.00 SEK
    ("plain_single_row", 7, "33.3349"),
])
@pytest.mark.parametrize("vat_included", [True, False])
def test_four_decimal_row_totals_add_up_to_what_the_buyer_paid(
        kind: str, count: int, unit: str, vat_included: bool, awkward: dict[str, ShopOrder], facts: FortnoxFacts,
        poster: FortnoxPoster) -> None:
    order = _repeated(awkward[kind], count, unit)
    rules = make_rules({"document": "invoice", "vat_included": vat_included})
    number = poster.customer(plan_customer(order, rules, SHOP_KEY))
    mapped = map_document(order, rules, SHOP_KEY, customer_number=number, facts=facts)
    stored = poster.document(mapped)
    rows = stored["InvoiceRows"]
    assert len(rows) == count
    # every row within an öre of the shop's row (gross: the row total; net: the row net)
    for row in rows:
        own = D(unit) if vat_included else D(unit) / (1 + order.rows[0].vat_rate)
        assert abs(D(str(row["Total"])) - own) <= CENT, row
    paid = D(str(stored["Total"])) - D(str(stored.get("RoundOff") or 0))
    assert abs(paid - order.total_inc_vat) <= CENT, (paid, order.total_inc_vat)
    oracle = compute(stored, "InvoiceRows", stored.get("VATType") or "SEVAT")
    assert oracle.total == D(str(stored["Total"]))
