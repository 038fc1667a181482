"""Generated Jetshop orders: the shop's own figures, computed the way the shop computes them.

A row's total is quantity x unit price incl. VAT - row discount (4 decimals, as Jetshop sends them);
the order total is the rows + freight + payment fee - order discount, to the öre; the VAT total
carries each row's VAT, the order discount's share of each rate, and the freight's and fee's VAT.
The same generator runs on Hypothesis draws (small orders, shrinkable) and on a seeded
``random.Random`` (the tail rows of a large order: a 300-row order does not fit in one Hypothesis
example's budget).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Protocol, TypeVar

from hypothesis import strategies as st

from jetfort.shop.models import (
    Address,
    OrderRow,
    Payment,
    PaymentProvider,
    RowType,
    ShopCustomer,
    ShopOrder,
)

T = TypeVar("T")
HYPOTHESIS_ROWS = 12  # rows drawn one by one through Hypothesis; a longer order's tail is seeded

# Fortnox sandbox articles (sandbox/fortnox/seed.py) with their VAT; the shop charges the same rate.
KNOWN_ARTICLES = [("1001", 25), ("1003", 25), ("1006", 25), ("1007", 25), ("1011", 12), ("1012", 12),
                  ("1016", 6), ("1017", 6)]
UNKNOWN_ARTICLES = [("NEW-25", 25), ("NEW-12", 12), ("NEW-6", 6), ("BOK-0", 0)]
DECIMAL_QUANTITIES = ["0.25", "0.5", "1.5", "2.75", "0.1", "3.33", "12.5"]


@dataclass(frozen=True)
class Market:
    name: str
    channel_id: int
    culture: str
    currency: str
    rate: Decimal  # SEK per unit, as the shop states it
    country: str
    company: str = ""
    vat_number: str = ""
    org_number: str = ""

    @property
    def vat_free(self) -> bool:
        return self.name in ("eu_company", "export")


MARKETS = [
    Market("se_consumer", 1, "sv-SE", "SEK", Decimal(1), "SE"),
    Market("se_company", 3, "sv-SE", "SEK", Decimal(1), "SE", company="Bygg & Co AB",
           vat_number="SE556677889901", org_number="556677-8899"),
    Market("eu_consumer", 4, "en-GB", "EUR", Decimal("11.4523"), "DE"),
    Market("eu_consumer", 4, "en-GB", "EUR", Decimal("11.4523"), "FI"),
    Market("eu_company", 4, "en-GB", "EUR", Decimal("11.4523"), "NL", company="Tulip Trading B.V.",
           vat_number="NL004495445B01"),
    Market("export", 2, "nb-NO", "NOK", Decimal("0.9876"), "NO"),
]


class Chooser(Protocol):
    def pick(self, options: Sequence[T]) -> T: ...

    def integer(self, low: int, high: int) -> int: ...


class Drawn:
    """Choices drawn through Hypothesis (shrinkable)."""

    def __init__(self, data: Any) -> None:
        self.data = data

    def pick(self, options: Sequence[T]) -> T:
        return self.data.draw(st.sampled_from(list(options)))

    def integer(self, low: int, high: int) -> int:
        return int(self.data.draw(st.integers(low, high)))


class Seeded:
    """Choices from a seeded random.Random (reproducible)."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def pick(self, options: Sequence[T]) -> T:
        return self.rng.choice(list(options))

    def integer(self, low: int, high: int) -> int:
        return self.rng.randint(low, high)


def q2(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def q4(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


def _amount(c: Chooser, high_cents: int) -> Decimal:
    """An amount in öre/cents, skewed towards everyday prices."""
    scale = c.pick([2_000, 2_000, 30_000, high_cents])
    return Decimal(c.integer(1, max(scale, 1))) / 100


def _quantity(c: Chooser, decimals: bool) -> Decimal:
    kind = c.integer(0, 9)
    if decimals and kind == 0:
        return Decimal(c.pick(DECIMAL_QUANTITIES))
    if kind == 1:
        return Decimal(c.integer(4, 60))
    return Decimal(c.integer(1, 3))


def product_row(c: Chooser, row_id: int, market: Market, decimals: bool) -> OrderRow:
    """One sold row: a known article, an article Fortnox lacks, a gift card bought, or a free item."""
    kind = c.pick(["known"] * 6 + ["unknown", "gift_card", "free"])
    row_type = RowType.PRODUCT
    if kind == "unknown":
        article, rate = c.pick(UNKNOWN_ARTICLES)
    elif kind == "gift_card":
        article, rate, row_type = "GIFT-500", 0, RowType.GIFT_CARD
    else:
        article, rate = c.pick(KNOWN_ARTICLES)
    fraction = Decimal(0) if market.vat_free else Decimal(rate) / 100
    quantity = Decimal(1) if row_type == RowType.GIFT_CARD else _quantity(c, decimals)
    if kind == "free":
        unit = Decimal(0)
    elif row_type == RowType.GIFT_CARD:
        unit = Decimal(c.pick([100, 250, 500, 1000]))
    elif c.integer(0, 5) == 0:  # the shop keeps 4 decimals: an ex-VAT price made gross
        unit = q4(Decimal(c.integer(1, 2_000_000)) / 10_000 * (1 + fraction))
    else:
        unit = _amount(c, 250_000)
    gross = unit * quantity
    discount = Decimal(0)
    if gross > 0 and c.integer(0, 5) == 0:
        discount = q2(gross * c.integer(1, 100) / 100)
    return OrderRow(row_id=row_id, article_number=article, name=f"Artikel {article}", row_type=row_type,
                    quantity=quantity, unit_price_inc_vat=unit, unit_price_ex_vat=q4(unit / (1 + fraction)),
                    vat_rate=fraction, discount_inc_vat=discount, total_inc_vat=q4(gross - discount))


REPEATED_PRICES = ("8.0625", "33.3349", "0.4950", "12.1251")
"""Gross unit prices of 4 decimals whose rounding remainder has one sign, so it adds up over rows."""


def repeated_row(row: OrderRow, row_id: int, unit: str) -> OrderRow:
    """A copy of ``row`` (its article and VAT) sold once at the 4-decimal gross price ``unit``."""
    price = Decimal(unit)
    return row.model_copy(update={"row_id": row_id, "quantity": Decimal(1), "unit_price_inc_vat": price,
                                  "unit_price_ex_vat": q4(price / (1 + row.vat_rate)),
                                  "discount_inc_vat": Decimal(0), "total_inc_vat": price})


def weighed_row(row: OrderRow, quantity: Decimal) -> OrderRow:
    """``row`` sold in a quantity of more decimals than Fortnox keeps (jetfort must refuse it)."""
    unit = row.unit_price_inc_vat if row.unit_price_inc_vat > 0 else Decimal(100)
    return row.model_copy(update={"quantity": quantity, "unit_price_inc_vat": unit, "discount_inc_vat": Decimal(0),
                                  "unit_price_ex_vat": q4(unit / (1 + row.vat_rate)),
                                  "total_inc_vat": q4(unit * quantity)})


def redemption_row(row_id: int, amount: Decimal) -> OrderRow:
    """A gift card used as payment: a negative row without an article at 0 %."""
    return OrderRow(row_id=row_id, article_number=None, name="Presentkort 4001-XYZ", row_type=RowType.GIFT_CARD,
                    quantity=Decimal(1), unit_price_inc_vat=-amount, unit_price_ex_vat=-amount, vat_rate=Decimal(0),
                    total_inc_vat=-amount)


def row_count(c: Chooser) -> int:
    band = c.pick(["few", "few", "few", "few", "some", "some", "many"])
    if band == "few":
        return c.integer(1, 4)
    if band == "some":
        return c.integer(5, 40)
    return c.integer(100, 300)


def shop_order(c: Chooser, order_id: int, *, decimals: bool) -> ShopOrder:
    """A whole order of one market, with the shop's totals."""
    market = c.pick(MARKETS)
    count = row_count(c)
    tail = Seeded(c.integer(0, 2**31)) if count > HYPOTHESIS_ROWS else c
    rows = [product_row(c if i < HYPOTHESIS_ROWS else tail, i + 1, market, decimals) for i in range(count)]
    if count > 1 and c.integer(0, 4) == 0:  # one 4-decimal price many times: per-row rounding would drift
        article, rate = c.pick(KNOWN_ARTICLES)
        first = product_row(c, 1, market, False).model_copy(update={
            "article_number": article, "name": f"Artikel {article}", "row_type": RowType.PRODUCT,
            "vat_rate": Decimal(0) if market.vat_free else Decimal(rate) / 100})
        price = c.pick(REPEATED_PRICES)
        rows = [repeated_row(first, i + 1, price) for i in range(count)]
    if decimals and c.integer(0, 24) == 0:  # weighed to the gram: 3 decimals, which Fortnox cannot keep
        rows[0] = weighed_row(rows[0], Decimal("0.125"))
    positive = sum((r.total_inc_vat for r in rows if r.total_inc_vat > 0), Decimal(0))
    order_discount = q2(positive * c.integer(1, 50) / 100) if positive and c.integer(0, 4) == 0 else Decimal(0)
    left = sum((r.total_inc_vat for r in rows), Decimal(0)) - order_discount
    if left > 1 and c.integer(0, 6) == 0:
        rows.append(redemption_row(len(rows) + 1, q2(left * c.integer(1, 100) / 100)))
    freight = Decimal(c.pick(["0", "0", "49", "79", "29.90", "19.99", "99", "150"]))
    fee = Decimal(c.pick(["0", "0", "0", "29", "19.50", "39"]))
    freight_vat = Decimal(0) if market.vat_free else Decimal(c.pick(["0.25", "0.25", "0.25", "0.12", "0.06"]))
    fee_vat = Decimal(0) if market.vat_free else Decimal(c.pick(["0.25", "0.25", "0.12"]))
    return _with_totals(order_id, market, rows, order_discount, freight, freight_vat, fee, fee_vat)


def _with_totals(order_id: int, market: Market, rows: list[OrderRow], order_discount: Decimal, freight: Decimal,
                 freight_vat: Decimal, fee: Decimal, fee_vat: Decimal) -> ShopOrder:
    vat = Decimal(0)
    by_rate: dict[Decimal, Decimal] = {}
    for r in rows:
        vat += r.total_inc_vat * r.vat_rate / (1 + r.vat_rate)
        if r.total_inc_vat > 0:
            by_rate[r.vat_rate] = by_rate.get(r.vat_rate, Decimal(0)) + r.total_inc_vat
    positive = sum(by_rate.values(), Decimal(0))
    for rate, amount in by_rate.items():  # the discount carries the VAT mix of the goods it reduces
        vat -= order_discount * (amount / positive) * rate / (1 + rate)
    vat += freight * freight_vat / (1 + freight_vat) + fee * fee_vat / (1 + fee_vat)
    total = q2(sum((r.total_inc_vat for r in rows), Decimal(0)) + freight + fee - order_discount)
    vat = q2(vat)
    when = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
    address = Address(first_name="Kim", last_name="Testsson", company=market.company, street="Storgatan 1",
                      zip_code="11122", city="Stad", country_code=market.country)
    return ShopOrder(
        shop_id="demoshop", order_id=order_id, order_number=str(order_id), order_date=when, modified_date=when,
        status_id=1, channel_id=market.channel_id, culture=market.culture, currency=market.currency,
        currency_rate=market.rate,
        customer=ShopCustomer(email=f"kund{order_id}@example.se", company_name=market.company,
                              org_number=market.org_number, vat_number=market.vat_number),
        billing=address, delivery=address, rows=rows, delivery_method="PostNord", freight_inc_vat=freight,
        freight_vat_rate=freight_vat,
        payment=Payment(method="Klarna", provider=PaymentProvider.KLARNA, fee_inc_vat=fee, fee_vat_rate=fee_vat),
        discount_code="KOD" if order_discount else "", order_discount_inc_vat=order_discount,
        total_inc_vat=total, total_ex_vat=total - vat, vat_total=vat)
