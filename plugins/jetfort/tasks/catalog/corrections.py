"""Drift corrections: write the master side's value where the two sides differ (per the tenant's flow)
and note on each drift row what was done (``action``; ``reported`` where nothing was written).

* ``erp`` — an article missing in a shop is created there, with its stock and prices;
* ``erp``/``combo`` — stock and default-list prices are written to the shop;
* ``ecom``/``combo`` — a shop product missing in Fortnox is created there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

import pandas as pd

from jetfort.mapping import prices as price_map
from jetfort.tasks.catalog.base import FORTNOX, PRODUCT, Counts, shop_entity
from jetfort.tasks.catalog.prices import PriceSync
from jetfort.tasks.catalog.products import ProductSync
from jetfort.tasks.catalog.stock import StockSync


def rows_of(frame: pd.DataFrame, kind: str, shop: str | None = None) -> pd.Series:
    """Mask of the drift rows of one kind (and shop)."""
    mask = frame["kind"] == kind
    return mask & (frame["shop"] == shop) if shop is not None else mask


class Corrections:
    """Write the master side's value for each difference found by the drift check."""

    def __init__(self, products: ProductSync, prices: PriceSync, stock: StockSync) -> None:
        self.run = products.run
        self.products = products
        self.prices = prices
        self.stock = stock

    def apply(self, frame: pd.DataFrame, counts: Mapping[str, Counts], quantities: Mapping[str, Decimal]) -> None:
        flow = self.run.rules.flow
        frame["action"] = "reported"
        for shop in self.run.rules.shops:
            if flow == "erp":
                self._create_in_shop(frame, shop.key, counts, quantities)
            self._stock(frame, shop.key, counts["stock"], quantities)
            self._prices(frame, shop.key, counts["prices"])
        if flow in ("ecom", "combo"):
            self._create_in_fortnox(frame, counts["products"])

    def _create_in_shop(self, frame: pd.DataFrame, shop_key: str, counts: Mapping[str, Counts],
                        quantities: Mapping[str, Decimal]) -> None:
        missing = frame[rows_of(frame, "missing_in_shop", shop_key)]["article"].tolist()
        if not missing:
            return
        mapping = self.run.mapping
        records = {k: mapping.canonical_from_fortnox(a) for k, a in self.run.fortnox_details(missing).items()}
        outcome = self.products.write_shop_products(shop_key, list(records), records)
        counts["products"].written += len(outcome.written)
        frame.loc[rows_of(frame, "missing_in_shop", shop_key) & frame["article"].isin(outcome.written),
                  "action"] = "created in shop"
        frame.loc[rows_of(frame, "missing_in_shop", shop_key) & frame["article"].isin(outcome.pending),
                  "action"] = "queued in shop (job)"
        self._fill_new_products(shop_key, outcome.written, quantities, counts)

    def _fill_new_products(self, shop_key: str, articles: Sequence[str], quantities: Mapping[str, Decimal],
                           counts: Mapping[str, Counts]) -> None:
        """Stock and prices of products the correction just created in a shop."""
        if not articles:
            return
        wanted = set(articles)
        if quantities:
            cells = self.stock.stock_cells({a: q for a, q in quantities.items() if a in wanted}, shop_key)
            counts["stock"].written += len(self.stock.write_cells(shop_key, cells, counts["stock"]))
        all_cells = self.prices.price_cells(Counts("prices")).get(shop_key, {})
        prices = {k: v for k, v in all_cells.items() if v[0] in wanted}
        done = self.prices.write_prices(shop_key, list(prices.values()), counts["prices"])
        counts["prices"].written += len(done)
        self.run.save_cells(shop_entity("price", shop_key), ((k, str(prices[k][2])) for k in done))

    def _stock(self, frame: pd.DataFrame, shop_key: str, counts: Counts, quantities: Mapping[str, Decimal]) -> None:
        articles = frame[rows_of(frame, "stock", shop_key)]["article"].tolist()
        if not articles:
            return
        cells = self.stock.stock_cells({a: quantities[a] for a in articles if a in quantities}, shop_key)
        written = self.stock.write_cells(shop_key, cells, counts)
        counts.written += len(written)
        frame.loc[rows_of(frame, "stock", shop_key) & frame["article"].isin(written), "action"] = "stock written"

    def _prices(self, frame: pd.DataFrame, shop_key: str, counts: Counts) -> None:
        price_rows = frame[rows_of(frame, "price", shop_key)]
        if price_rows.empty:
            return
        fixes = [(str(r["article"]), str(r["guid"]), Decimal(str(r["fortnox"])))
                 for r in price_rows.to_dict("records")]
        done = set(self.prices.write_prices(shop_key, fixes, counts))
        counts.written += len(done)
        values = {price_map.price_cell_key(a, g): str(p) for a, g, p in fixes}
        self.run.save_cells(shop_entity("price", shop_key), ((k, values[k]) for k in done))
        cell_keys = [price_map.price_cell_key(str(a), str(g or ""))
                     for a, g in zip(frame["article"], frame["guid"], strict=True)]
        hit = pd.Series([k in done for k in cell_keys], index=frame.index, dtype=bool)
        frame.loc[rows_of(frame, "price", shop_key) & hit, "action"] = "price written"

    def _create_in_fortnox(self, frame: pd.DataFrame, counts: Counts) -> None:
        missing = sorted(set(frame[rows_of(frame, "missing_in_fortnox")]["article"]))
        if not missing:
            return
        scratch = Counts("drift products")
        records, _ = self.products.shop_records({}, set(), scratch)
        wanted = [k for k in missing if k in records]
        outcome = self.products.write_fortnox(wanted, records, {}, scratch)
        counts.written += len(outcome.written)
        counts.quarantined += len(outcome.failed)
        self.run.save(FORTNOX, PRODUCT, ((k, self.run.record_hash(records[k]), None) for k in outcome.written),
                      written=True)
        frame.loc[rows_of(frame, "missing_in_fortnox") & frame["article"].isin(outcome.written),
                  "action"] = "created in Fortnox"
