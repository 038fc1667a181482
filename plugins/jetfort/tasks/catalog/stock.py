"""Stock and stock status Fortnox → shop (erp, combo): the available quantity per article (disposable
quantity or warehouse stock points) as the shop's stock count and a status by the shop's thresholds.

Stock goes only to articles known in the shop; service and non-stock articles get none. A shop that
queues the write (Norce ``ImportOnhands``) gets its cells saved when the job succeeds
(:mod:`jetfort.tasks.catalog.jobs`). The *expected* status and a delivery date (Jetshop's date, Norce's
``NextDeliveryDate``/``LeadTimeDayCount``) come from the warehouse module's purchase orders: per article the
earliest open order with quantity left to receive at the rules' stock points (all points for source
``disposable``), delivery today or later (:mod:`jetfort.fortnox.purchases`). They are read once per run,
only when ``stock.use_expected_date`` is on and an *expected* status id is set; a company without the
warehouse module gets stock without dates (one warning per run), any other failure fails the run.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from decimal import Decimal

from jetfort.fortnox.purchases import FORTNOX_TZ, WarehouseUnavailable
from jetfort.mapping import stock as stock_map
from jetfort.shop.models import StockUpdate
from jetfort.tasks.catalog.base import FORTNOX, SHOP, STOCK_ARTICLE, CatalogRun, Counts, shop_entity
from jetfort.tasks.catalog.jobs import REJECTED_BY_SHOP, JobItem, ShopJobs, SnapshotTarget, pending_items

log = logging.getLogger(__name__)

#: Per article: the Jetshop stock write and its comparison cell (``count|status|date``).
StockCells = dict[str, tuple[StockUpdate, str]]


class StockSync:
    """Stock of one tenant for one run."""

    def __init__(self, run: CatalogRun, jobs: ShopJobs | None = None) -> None:
        self.run = run
        self.jobs = jobs or ShopJobs(run)
        self._expected: dict[str, dt.date] | None = None

    def expected_dates(self) -> dict[str, dt.date]:
        """Article → expected delivery date (read once per run; empty when the rules use none)."""
        if self._expected is None:
            self._expected = self._read_expected_dates()
        return self._expected

    def _read_expected_dates(self) -> dict[str, dt.date]:
        run = self.run
        rules = run.rules.stock
        ids = [rules.status_ids, *(o.status_ids for o in rules.per_channel.values() if o.status_ids)]
        if not rules.use_expected_date or all(i.expected is None for i in ids):
            return {}
        points = rules.stock_points if rules.source == "warehouse" else None
        try:
            return run.rt.fortnox.expected_deliveries(points, today=run.now.astimezone(FORTNOX_TZ).date())
        except WarehouseUnavailable as exc:
            log.warning("tenant %s: stock goes without expected delivery dates: Fortnox purchase orders "
                        "are not readable (no warehouse module or scope): %s", run.tenant, exc)
            return {}

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
        """The stock writes of one shop: articles known there, stock articles only, in scope
        (``expected``: delivery dates to use instead of the run's purchase-order dates)."""
        run = self.run
        dates = self.expected_dates() if expected is None else expected
        policy = stock_map.shop_stock_policy(run.rules, shop_key)
        known = run.known_in_shop(shop_key)
        kinds = run.ledger.snapshot(run.tenant, FORTNOX, STOCK_ARTICLE)
        not_stock = {k for k, (v, _) in kinds.items() if v == "0"}
        cells: StockCells = {}
        for article, quantity in quantities.items():
            if article in known and article not in not_stock and run.scope.matches(article):
                cells[article] = stock_map.stock_update(article, quantity, policy, dates.get(article))
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
            written = self.write_stock(shop.key, [cells[k] for k in result.to_write], counts)
            counts.written += len(written)
            run.save_cells(shop_entity("stock", shop.key), ((k, values[k]) for k in written))
        return counts

    def write_cells(self, shop_key: str, cells: StockCells, counts: Counts) -> list[str]:
        """Write every cell to one shop and record what was written; the articles written."""
        written = self.write_stock(shop_key, list(cells.values()), counts)
        self.run.save_cells(shop_entity("stock", shop_key), ((a, cells[a][1]) for a in written))
        return written

    def write_stock(self, shop_key: str, cells: Sequence[tuple[StockUpdate, str]], counts: Counts) -> list[str]:
        """Write stock updates (each with its comparison cell) to one shop; the articles written.

        Refusals are quarantined (kind stock); updates the shop queues in a job are recorded with it and
        their cells saved when it succeeds (not returned)."""
        run = self.run
        if not cells:
            return []
        if run.dry_run:
            return [u.article_number for u, _ in cells]
        by_article = {u.article_number: (u, cell) for u, cell in cells}
        write = run.rt.shop(shop_key).update_stock([u for u, _ in cells], culture=run.shop_culture(shop_key))
        queued = pending_items((r.article_number for r in write.results), write.jobs)
        self.jobs.record(shop_key, "stock", write.jobs,
                         {a: JobItem(a, by_article[a][1], by_article[a][0].model_dump(mode="json"))
                          for a in queued if a in by_article},
                         [SnapshotTarget(shop_entity("stock", shop_key), seen=True)])
        ok = [r.article_number for r in write.results if r.success]
        for r in write.results:
            if not r.success:
                counts.quarantined += 1
                update = by_article.get(r.article_number)
                run.quarantine("stock", f"{shop_key}:{r.article_number}", REJECTED_BY_SHOP, r.message,
                               payload=update[0].model_dump(mode="json") if update is not None else None)
        return ok
