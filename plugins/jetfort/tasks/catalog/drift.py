"""The drift check: both sides compared in full (product existence, stock, base prices), one frame row
per difference, then corrected per the tenant's rule (:mod:`jetfort.tasks.catalog.corrections`).

Prices can only be compared for a shop's default price list (``Product_Get`` reports that one).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pandas as pd

from jetfort.mapping import prices as price_map
from jetfort.mapping import stock as stock_map
from jetfort.mapping.prices import PriceTarget
from jetfort.shop.models import Product
from jetfort.tasks.catalog.base import CatalogRun, Counts
from jetfort.tasks.catalog.corrections import Corrections
from jetfort.tasks.catalog.prices import PriceRows, PriceSync
from jetfort.tasks.catalog.products import ProductSync
from jetfort.tasks.catalog.stock import StockSync

DRIFT_COLUMNS = ["kind", "shop", "article", "fortnox", "jetshop", "guid", "action"]
#: Difference kind → the summary row it is counted in.
KIND_ENTITY = {"missing_in_shop": "products", "missing_in_fortnox": "products", "stock": "stock",
               "price": "prices"}


def drift_row(kind: str, shop: str, article: str, fortnox: str, jetshop: str, *, guid: str = "") -> dict[str, Any]:
    return {"kind": kind, "shop": shop, "article": article, "fortnox": fortnox, "jetshop": jetshop,
            "guid": guid, "action": ""}


@dataclass
class FortnoxSide:
    """What the comparison needs from Fortnox, read once for every shop."""

    numbers: set[str | None]  # every article Fortnox has
    in_scope: set[str]  # web-shop articles in the tenant's scope
    quantities: dict[str, Decimal] = field(default_factory=dict)
    targets: list[PriceTarget] = field(default_factory=list)  # default price lists (no customer group)
    price_rows: dict[str, PriceRows] = field(default_factory=dict)
    vat: dict[str, Decimal] = field(default_factory=dict)


class DriftCheck:
    """Compare one tenant's shops with Fortnox."""

    def __init__(self, prices: PriceSync, stock: StockSync) -> None:
        self.run: CatalogRun = prices.run
        self.prices = prices
        self.stock = stock

    def read_fortnox(self) -> FortnoxSide:
        run = self.run
        flow = run.rules.flow
        items = run.read_fortnox_items()
        side = FortnoxSide(
            numbers={i.article_number for i in items},
            in_scope={i.article_number for i in items if i.article_number and run.scope.admits(
                i.article_number, webshop=i.webshop_article)})
        if run.rules.stock.enabled and flow in ("erp", "combo"):
            side.quantities = self.stock.fortnox_quantities()
        if flow in ("erp", "combo"):
            side.targets = [t for t in price_map.price_targets(run.rules) if t.customer_group is None]
        existing = self.prices.existing_price_lists() if side.targets else set()
        for code in sorted({t.fortnox_price_list for t in side.targets} & existing):
            side.price_rows[code] = self.prices.fortnox_price_rows(code, sorted(side.in_scope))
        if side.price_rows:
            side.vat = self.prices.article_vat(sorted(side.in_scope))
        return side

    def compare(self, fortnox: FortnoxSide) -> tuple[dict[str, Counts], pd.DataFrame]:
        """Summary rows per entity (read, changed) and the drift frame (one row per difference)."""
        counts = {k: Counts(f"drift {k}") for k in ("products", "stock", "prices")}
        rows: list[dict[str, Any]] = []
        for shop in self.run.rules.shops:
            products = {p.article_number: p for p in self.run.read_shop_products(shop.key)}
            rows.extend(self._existence(shop.key, products, fortnox, counts["products"]))
            if fortnox.quantities:
                rows.extend(self._stock(shop.key, products, fortnox.quantities, counts["stock"]))
            for target in (t for t in fortnox.targets if t.shop == shop.key):
                rows.extend(self._prices(target, products, fortnox, counts["prices"]))
        frame = pd.DataFrame(rows, columns=DRIFT_COLUMNS)
        for kind, entity in KIND_ENTITY.items():
            counts[entity].changed += int((frame["kind"] == kind).sum())
        return counts, frame

    def _existence(self, shop_key: str, products: Mapping[str, Product], fortnox: FortnoxSide,
                   counts: Counts) -> Iterator[dict[str, Any]]:
        in_shop = {a for a in products if self.run.scope.matches(a)}
        counts.read += len(in_shop | fortnox.in_scope)
        for article in sorted(fortnox.in_scope - in_shop):
            yield drift_row("missing_in_shop", shop_key, article, "exists", "missing")
        for article in sorted(in_shop - fortnox.numbers):
            yield drift_row("missing_in_fortnox", shop_key, article, "missing", "exists")

    def _stock(self, shop_key: str, products: Mapping[str, Product], quantities: Mapping[str, Decimal],
               counts: Counts) -> Iterator[dict[str, Any]]:
        for article, (update, cell) in self.stock.stock_cells(quantities, shop_key).items():
            product = products.get(article)
            if product is None or product.stock is None:
                continue
            counts.read += 1
            stock = product.stock
            date = stock.delivery_date.date() if stock.delivery_date and update.delivery_date else None
            have = stock_map.stock_cell(stock.stock_count, stock.stock_status_id or 0, date)
            if have != cell:
                yield drift_row("stock", shop_key, article, cell, have)

    def _prices(self, target: PriceTarget, products: Mapping[str, Product], fortnox: FortnoxSide,
                counts: Counts) -> Iterator[dict[str, Any]]:
        base, _ = price_map.split_breaks(fortnox.price_rows.get(target.fortnox_price_list, {}))
        rate = self.prices.currency_rate(target.currency)
        for article, expected in price_map.cells(target, base, fortnox.vat, currency_rate=rate):
            product = products.get(article)
            if product is None or product.price_list_id.upper() != target.guid:
                continue  # Product_Get reports the shop's default list only
            counts.read += 1
            shown = (product.price_ex_vat * (1 + product.vat_rate)).quantize(price_map.CENT)
            if abs(shown - expected) > Decimal("0.01"):
                yield drift_row("price", target.shop, article, str(expected), str(shown), guid=target.guid)


def drift(products: ProductSync, prices: PriceSync, stock: StockSync, *,
          correct: bool | None = None) -> tuple[list[Counts], pd.DataFrame]:
    """Compare both sides in full (product existence, stock, base prices); optionally correct.

    Returns summary rows and the drift frame (one row per difference, with the action taken).
    """
    run = products.run
    correct = run.rules.catalog.correct_drift if correct is None else correct
    check = DriftCheck(prices, stock)
    fortnox = check.read_fortnox()
    counts, frame = check.compare(fortnox)
    if correct and not frame.empty:
        Corrections(products, prices, stock).apply(frame, counts, fortnox.quantities)
    elif not frame.empty:
        frame["action"] = "reported"
    return list(counts.values()), frame
