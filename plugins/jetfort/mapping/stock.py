"""Stock: a Fortnox quantity → Jetshop ``NewStockCount`` and stock status, by the tenant's thresholds.

The quantity is the article's ``DisposableQuantity`` (in stock - reserved), or with the warehouse
module the sum of ``availableStock`` over the tenant's stock points. Status: at or below
``out_at_or_below`` → out of stock (or *expected* with a delivery date when the rules allow and the
shop has that status), at or below ``low_at_or_below`` → low stock when the shop has such a status,
else in stock. Jetshop keeps one stock per product and shop, so a shop uses the thresholds of the
first of its channels that has its own (``stock.per_channel``), else the tenant's.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from jetfort.shop.models import StockUpdate

__all__ = ["StockPolicy", "shop_stock_policy", "stock_cell", "stock_quantities", "stock_update"]


@dataclass(frozen=True)
class StockPolicy:
    """Thresholds and status ids for one shop."""

    low_at_or_below: int
    out_at_or_below: int
    in_stock: int
    out_of_stock: int
    low_stock: int | None = None
    expected: int | None = None
    use_expected_date: bool = True

    def status(self, quantity: int, expected_date: dt.date | None = None) -> int:
        if quantity <= self.out_at_or_below:
            if self.use_expected_date and expected_date is not None and self.expected is not None:
                return self.expected
            return self.out_of_stock
        if quantity <= self.low_at_or_below and self.low_stock is not None:
            return self.low_stock
        return self.in_stock


def shop_stock_policy(rules: Any, shop_key: str) -> StockPolicy:
    """The policy of one shop: its first channel with an override, else the tenant's stock rules."""
    stock = rules.stock
    shop = next(s for s in rules.shops if s.key == shop_key)
    refs = [f"{shop.key}/{ch.key}" for ch in shop.channels]
    ref = next((r for r in refs if r in stock.per_channel), refs[0])
    thresholds, ids = stock.thresholds_for(ref), stock.status_ids_for(ref)
    return StockPolicy(low_at_or_below=thresholds.low_at_or_below, out_at_or_below=thresholds.out_at_or_below,
                       in_stock=ids.in_stock, out_of_stock=ids.out_of_stock, low_stock=ids.low_stock,
                       expected=ids.expected, use_expected_date=stock.use_expected_date)


def whole(quantity: Decimal | float | int | None) -> int:
    """Jetshop counts whole pieces; a negative disposable quantity (over-reserved) shows as 0."""
    value = Decimal(str(quantity or 0)).to_integral_value(rounding=ROUND_FLOOR)
    return max(int(value), 0)


def stock_cell(quantity: int, status_id: int, expected_date: dt.date | None = None) -> str:
    """What is compared and hashed for one article's stock in one shop."""
    return f"{quantity}|{status_id}|{expected_date.isoformat() if expected_date else ''}"


def stock_update(article_number: str, quantity: Decimal | float | int | None, policy: StockPolicy,
                 expected_date: dt.date | None = None) -> tuple[StockUpdate, str]:
    """The Jetshop stock write for one article and its comparison cell."""
    count = whole(quantity)
    status = policy.status(count, expected_date)
    delivery = None
    if expected_date is not None and status == policy.expected:
        delivery = dt.datetime.combine(expected_date, dt.time(0, 0), tzinfo=dt.UTC)
    update = StockUpdate(article_number=article_number, stock_count=count, stock_status_id=status,
                         delivery_date=delivery)
    return update, stock_cell(count, status, expected_date if delivery else None)


def stock_quantities(balances: Iterable[Any], stock_points: Iterable[str]) -> dict[str, Decimal]:
    """Warehouse balances (``item_id``, ``stock_point_code``, ``available_stock``) summed per article
    over the tenant's stock points."""
    points = set(stock_points)
    totals: dict[str, Decimal] = {}
    for row in balances:
        if points and row.stock_point_code not in points:
            continue
        item = str(row.item_id)
        totals[item] = totals.get(item, Decimal(0)) + Decimal(str(row.available_stock or 0))
    return totals


def disposable_quantities(items: Iterable[Any]) -> Mapping[str, Decimal]:
    """``DisposableQuantity`` per article from Fortnox article list items."""
    return {str(i.article_number): Decimal(str(i.disposable_quantity or 0)) for i in items if i.article_number}
