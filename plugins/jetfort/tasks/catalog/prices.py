"""Prices and price lists Fortnox → Jetshop (erp, combo): the base rows of each Fortnox price list the
rules map to a Jetshop price list (by GUID), incl. VAT, written only for articles known in that shop.

Jetshop price lists have no quantity steps: Fortnox rows with ``FromQuantity`` > 0 are skipped
(counted); an upsert would create unknown articles, so prices go only where the product exists.
Prices a shop queues in an import job (Norce) are saved when it succeeds (:mod:`jetfort.tasks.catalog.jobs`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal

from jetfort.fortnox.errors import FortnoxNotFound, FortnoxValidationError
from jetfort.fortnox.models import Price
from jetfort.mapping import prices as price_map
from jetfort.mapping.products import decimal_text
from jetfort.shop.interface import PendingJob
from jetfort.shop.models import PriceListPrice
from jetfort.tasks.catalog.base import ARTICLE_VAT, FORTNOX, SHOP, CatalogRun, Counts, Row, shop_entity
from jetfort.tasks.catalog.jobs import REJECTED_BY_SHOP, JobItem, ShopJobs, SnapshotTarget

log = logging.getLogger(__name__)

#: One Fortnox price list: ``(article, from quantity) → price``.
PriceRows = dict[tuple[str, Decimal], Decimal]
#: One price to write: (article, Jetshop price list GUID, incl.-VAT price).
PriceCell = tuple[str, str, Decimal]


class PriceSync:
    """Prices of one tenant for one run (currency rates are read once per run)."""

    def __init__(self, run: CatalogRun, jobs: ShopJobs | None = None) -> None:
        self.run = run
        self.jobs = jobs or ShopJobs(run)
        self._currency_rates: dict[str, Decimal] = {}

    # ---------------------------------------------------------------------------- reading Fortnox
    def article_vat(self, articles: Iterable[str]) -> dict[str, Decimal]:
        """VAT percent per article: from the snapshot, else one GET per unknown article (then remembered)."""
        run = self.run
        snap = run.ledger.snapshot(run.tenant, FORTNOX, ARTICLE_VAT)
        vat = {k: Decimal(v[0]) for k, v in snap.items()}
        missing = [a for a in articles if a not in vat]
        fetched: list[Row] = []
        for number, article in run.fortnox_details(missing).items():
            if article.vat is not None:
                vat[number] = Decimal(article.vat)
                fetched.append((number, decimal_text(article.vat), None))
        run.save(FORTNOX, ARTICLE_VAT, fetched)
        return vat

    def fortnox_price_rows(self, code: str, articles: Iterable[str] | None = None) -> PriceRows:
        """Every row of one Fortnox price list: ``(article, from quantity) → price``.

        Reads the list route ``/3/prices?pricelist=`` (500 rows a request). The reference marks that
        route's list behaviour as unconfirmed, so when Fortnox refuses it the rows are read per
        article through ``/3/prices/sublist/{list}/{article}`` for ``articles``.
        """
        fortnox = self.run.rt.fortnox
        rows: PriceRows = {}

        def keep(price: Price) -> None:
            if price.price_list != code or not price.article_number or price.price is None:
                return  # the search matches substrings: keep exactly this list
            rows[(price.article_number, Decimal(price.from_quantity or 0))] = Decimal(price.price)

        try:
            for price in fortnox.iter_list("3/prices", "Prices", Price, {"pricelist": code}):
                keep(price)
        except (FortnoxNotFound, FortnoxValidationError):
            if articles is None:
                raise
            log.info("tenant %s: price list %s read per article (list route refused)", self.run.tenant, code)
            rows.clear()
            for article in articles:
                try:
                    for price in fortnox.list_prices(code, article):
                        keep(price)
                except FortnoxNotFound:
                    continue
        return rows

    def existing_price_lists(self) -> set[str | None]:
        """The codes of the price lists Fortnox has."""
        return {p.code for p in self.run.rt.fortnox.list_price_lists()}

    def currency_rate(self, currency: str) -> Decimal:
        """Company currency per unit of ``currency`` (Fortnox SellRate / Unit); 1 for SEK."""
        if currency == "SEK":
            return Decimal(1)
        if currency not in self._currency_rates:
            found = self.run.rt.fortnox.get_currency(currency)
            rate = Decimal(found.sell_rate or 0) / Decimal(found.unit or 1)
            self._currency_rates[currency] = rate if rate > 0 else Decimal(1)
        return self._currency_rates[currency]

    # ---------------------------------------------------------------------------- cells
    def price_cells(self, counts: Counts) -> dict[str, dict[str, PriceCell]]:
        """Per shop: cell key → (article, GUID, incl.-VAT price) for every target list of the rules."""
        run = self.run
        targets = price_map.price_targets(run.rules)
        lists = self._read_lists(sorted({t.fortnox_price_list for t in targets}),
                                 sorted({a for t in targets for a in run.known_in_shop(t.shop)}))
        articles = {a for rows in lists.values() for (a, q) in rows if q == 0 and run.scope.matches(a)}
        vat = self.article_vat(sorted(articles))
        out: dict[str, dict[str, PriceCell]] = {}
        for target in targets:
            cells = out.setdefault(target.shop, {})
            rows = lists.get(target.fortnox_price_list)
            if rows is None:
                continue
            base, breaks = price_map.split_breaks(rows)
            counts.skipped += breaks
            known = run.known_in_shop(target.shop)
            in_shop = {a: p for a, p in base.items() if a in known and run.scope.matches(a)}
            counts.skipped += len(base) - len(in_shop)
            rate = self.currency_rate(target.currency)
            for article, price in price_map.cells(target, in_shop, vat, currency_rate=rate):
                cells[price_map.price_cell_key(article, target.guid)] = (article, target.guid, price)
        return out

    def _read_lists(self, codes: Sequence[str], candidates: Sequence[str]) -> dict[str, PriceRows]:
        """The rows of each Fortnox price list that exists; a missing one is logged and its targets skipped."""
        existing = self.existing_price_lists()
        lists: dict[str, PriceRows] = {}
        for code in codes:
            if code not in existing:
                log.warning("tenant %s: Fortnox price list %r does not exist; its Jetshop lists are skipped",
                            self.run.tenant, code)
                continue
            lists[code] = self.fortnox_price_rows(code, candidates)
        return lists

    # ---------------------------------------------------------------------------- → shop
    def to_shop(self) -> Counts:
        """erp/combo: Fortnox price lists (base rows) → Jetshop price lists by GUID, incl. VAT."""
        run = self.run
        counts = Counts("prices → shop")
        for shop_key, cells in self.price_cells(counts).items():
            counts.read += len(cells)
            values = {k: str(v[2]) for k, v in cells.items()}
            result = run.diff_values(values, SHOP, shop_entity("price", shop_key))
            counts.changed += len(result.to_write)
            counts.echo_suppressed += len(result.echo)
            written = self.write_prices(shop_key, [cells[k] for k in result.to_write], counts)
            counts.written += len(written)
            run.save_cells(shop_entity("price", shop_key), ((k, values[k]) for k in written))
        return counts

    def write_prices(self, shop_key: str, cells: Sequence[PriceCell], counts: Counts) -> list[str]:
        """Write price cells to one shop; the cell keys written (refusals quarantined, kind price).

        Cells the shop queues in a job are recorded with it and saved when it succeeds (not returned)."""
        if not cells:
            return []
        keys = [price_map.price_cell_key(a, g) for a, g, _ in cells]
        if self.run.dry_run:
            return keys
        run = self.run
        writes = {price_map.price_cell_key(a, g): price_map.to_price_list_price(a, g, p) for a, g, p in cells}
        write = run.rt.shop(shop_key).update_prices(list(writes.values()))
        values = {price_map.price_cell_key(a, g): str(p) for a, g, p in cells}
        settled = {price_map.price_cell_key(r.article_number, r.price_list_id) for r in write.results}
        self._record_jobs(shop_key, write.jobs, writes, values, settled)
        ok = {price_map.price_cell_key(r.article_number, r.price_list_id) for r in write.results if r.success}
        for r in write.results:
            if not r.success:
                counts.quarantined += 1
                cell = price_map.price_cell_key(r.article_number, r.price_list_id)
                item = writes.get(cell)
                run.quarantine("price", f"{shop_key}:{cell}", REJECTED_BY_SHOP, r.message or "refused",
                               payload=item.model_dump(mode="json") if item is not None else None)
        return [k for k in keys if k in ok]

    def _record_jobs(self, shop_key: str, jobs: Sequence[PendingJob], writes: Mapping[str, PriceListPrice],
                     values: Mapping[str, str], settled: set[str]) -> None:
        """Record the shop's jobs with the cells they carry (job keys ``<article>@<list>``, matched as cells)."""
        items: dict[str, JobItem] = {}
        for key in (k for job in jobs for k in job.keys):
            article, _, price_list = key.rpartition("@")
            cell = price_map.price_cell_key(article, price_list)
            if cell in writes and cell not in settled:
                items[key] = JobItem(cell, values[cell], writes[cell].model_dump(mode="json"))
        self.jobs.record(shop_key, "price", jobs, items, [SnapshotTarget(shop_entity("price", shop_key), seen=True)])
