"""fortnox_total against Fortnox's own arithmetic: the recorded real invoice and the Fortnox
sandbox's totals computation over many generated documents (gross/net, discounts, header freight and
fee, VAT-free customers, SEK and foreign currency)."""

from __future__ import annotations

import json
import random
from decimal import Decimal

import pytest

from jetfort.fortnox.models import DiscountType, DocumentRow, FortnoxInvoice, FortnoxOrder
from jetfort.mapping.totals import fortnox_total, fortnox_totals
from sandbox.fortnox import totals as sandbox_totals

D = Decimal


def test_recorded_real_invoice() -> None:
    """fortnox-api.md §5.5: 10 x 159 @25 %, Freight 95 → TotalVAT 421.25, Total 2106, RoundOff -0.25."""
    invoice = FortnoxInvoice(customer_number="1", vat_included=False, freight=D(95), rows=[
        DocumentRow(article_number="1", delivered_quantity=D(10), price=D(159), vat=D(25))])
    totals = fortnox_totals(invoice)
    assert (totals.net, totals.vat, totals.unrounded) == (D(1590), D("421.25"), D("2106.25"))
    assert (totals.total, totals.round_off, totals.freight_vat) == (D(2106), D("-0.25"), D("23.75"))
    assert fortnox_total(invoice) == D(2106)


def test_order_totals_follow_delivered_quantity() -> None:
    order = FortnoxOrder(customer_number="1", vat_included=True, rows=[
        DocumentRow(article_number="1", ordered_quantity=D(1), delivered_quantity=D(0), price=D(100), vat=D(25))])
    assert fortnox_total(order) == 0


def _random_document(rng: random.Random) -> tuple[FortnoxOrder | FortnoxInvoice, bool]:
    model = rng.choice([FortnoxOrder, FortnoxInvoice])
    rows = []
    for _ in range(rng.randint(1, 8)):
        quantity = D(rng.randint(-2, 40)) if rng.random() < 0.9 else D(rng.randint(1, 900)) / 100
        price = D(rng.randint(-5000, 250000)) / 100
        discount_type = rng.choice([None, DiscountType.AMOUNT, DiscountType.PERCENT])
        discount = (D(rng.randint(0, 3000)) / 100 if discount_type == DiscountType.AMOUNT
                    else D(rng.randint(0, 100)) if discount_type else None)
        values = {"article_number": "1001", "delivered_quantity": quantity, "price": price,
                  "vat": D(rng.choice([25, 12, 6, 0]))}
        if discount_type:
            values.update(discount=discount, discount_type=discount_type)
        rows.append(DocumentRow(**values))
    header: dict[str, object] = {"customer_number": "1", "vat_included": rng.random() < 0.6, "rows": rows,
                                 "currency": rng.choice(["SEK", "SEK", "EUR"])}
    if rng.random() < 0.6:
        header["freight"] = D(rng.randint(0, 20000)) / 100
    if rng.random() < 0.4:
        header["administration_fee"] = D(rng.randint(0, 5000)) / 100
    return model(**header), rng.random() < 0.2


@pytest.mark.parametrize("seed", range(8))
def test_agrees_with_the_sandbox_computation(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(60):
        document, vat_free = _random_document(rng)
        kind_rows = "OrderRows" if isinstance(document, FortnoxOrder) else "InvoiceRows"
        payload = json.loads(json.dumps(document.to_payload()))
        sandbox_totals.compute(payload, kind_rows, D(25), vat_free)
        ours = fortnox_totals(document, vat_free=vat_free)
        assert D(str(payload["Total"])) == ours.total
        assert D(str(payload["TotalVAT"])) == ours.vat
        assert D(str(payload["RoundOff"])) == ours.round_off
        assert D(str(payload["Net"])) == ours.net
        assert D(str(payload["FreightVAT"])) == ours.freight_vat
        assert D(str(payload["AdministrationFeeVAT"])) == ours.administration_fee_vat
        if document.currency == "SEK":
            assert ours.total == ours.total.to_integral_value()
        else:
            assert ours.round_off == 0
