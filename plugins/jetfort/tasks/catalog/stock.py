"""Stock and stock status Fortnox → Jetshop (erp, combo): the available quantity per article (disposable
quantity or warehouse stock points) as ``NewStockCount`` and a status by the shop's thresholds.

Stock goes only to articles known in the shop; service and non-stock articles get none. The *expected*
status needs a delivery date, which the Fortnox reads here do not supply yet
(:func:`jetfort.mapping.stock.stock_update` takes one; purchase orders would be the source).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from decimal import Decimal

from jetfort.jetshop.models import StockUpdate
from jetfort.mapping import stock as stock_map
from jetfort.tasks.catalog.base import FORTNOX, SHOP, STOCK_ARTICLE, CatalogRun, Counts, shop_entity

log = logging.getLogger(__name__)

#: Per article: the Jetshop stock write and its comparison cell (``count|status|date``).
StockCells = dict[str, tuple[StockUpdate, str]]


class StockSync:
    """Stock of one tenant for one run."""

    def __init__(self, run: CatalogRun) -> None:
        self.run = run

    def fortnox_quantities(self) -> dict[str, Decimal]:
        """Available quantity per article: disposable (article list) or warehouse stock points."""
        run = self.run
        rules = run.rules.stock
        if rules.source == "warehouse":
            balances = run.rt.fortnox.stock_balance(stock_point_codes=rules.stock_points)
            if not balances:
                log.warning("tenant %s: no warehouse balances for stock points %s", run.tenant, rules.stock_points)
            return stock_map.stock_quantities(balances, rules.stock_points)
        return dict(stock_map.disposable_quantities(run.read_fortnox_items()))

    def stock_cells(self, quantities: Mapping[str, Decimal], shop_key: str,
                    expected: Mapping[str, dt.date] | None = None) -> StockCells:
        """The stock writes of one shop: articles known there, stock articles only, in scope."""
        run = self.run
        policy = stock_map.shop_stock_policy(run.rules, shop_key)
        known = run.known_in_shop(shop_key)
        kinds = run.ledger.snapshot(run.tenant, FORTNOX, STOCK_ARTICLE)
        not_stock = {k for k, (v, _) in kinds.items() if v == "0"}
        cells: StockCells = {}
        for article, quantity in quantities.items():
            if article in known and article not in not_stock and run.scope.matches(article):
                cells[article] = stock_map.stock_update(article, quantity, policy, (expected or {}).get(article))
        return cells

    def to_shop(self) -> Counts:
        """erp/combo: Fortnox quantity → NewStockCount and stock status per shop, by the thresholds."""
        run = self.run
        counts = Counts("stock → shop")
        if not run.rules.stock.enabled:
            log.info("tenant %s: stock sync is off (stock.enabled false)", run.tenant)
            return counts
        quantities = self.fortnox_quantities()
        for shop in run.rules.shops:
            cells = self.stock_cells(quantities, shop.key)
            counts.read += len(cells)
            counts.skipped += len(quantities) - len(cells)
            values = {k: v[1] for k, v in cells.items()}
            result = run.diff_values(values, SHOP, shop_entity("stock", shop.key))
            counts.changed += len(result.to_write)
            counts.echo_suppressed += len(result.echo)
            written = self.write_stock(shop.key, [cells[k][0] for k in result.to_write], counts)
            counts.written += len(written)
            run.save_cells(shop_entity("stock", shop.key), ((k, values[k]) for k in written))
        return counts

    def write_cells(self, shop_key: str, cells: StockCells, counts: Counts) -> list[str]:
        """Write every cell to one shop and record what was written; the articles written."""
        written = self.write_stock(shop_key, [update for update, _ in cells.values()], counts)
        self.run.save_cells(shop_entity("stock", shop_key), ((a, cells[a][1]) for a in written))
        return written

    def write_stock(self, shop_key: str, updates: Sequence[StockUpdate], counts: Counts) -> list[str]:
        """Write stock updates to one shop; the articles written (refusals quarantined, kind stock)."""
        run = self.run
        if not updates:
            return []
        if run.dry_run:
            return [u.article_number for u in updates]
        results = run.rt.jetshop(shop_key).update_stock(updates, culture=run.shop_culture(shop_key), strict=False)
        ok = [r.article_number for r in results if r.success]
        for r in results:
            if not r.success:
                counts.quarantined += 1
                run.quarantine("stock", f"{shop_key}:{r.article_number}", "rejected_by_jetshop", r.message)
        return ok
