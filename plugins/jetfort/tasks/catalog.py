"""Catalog flows: products, prices, price lists, stock and stock status; the initial sync; the drift report.

Who is master (DESIGN.md, issue 7):

* ``ecom``  — products Jetshop → Fortnox;
* ``erp``   — products, prices, price lists and stock Fortnox → Jetshop;
* ``combo`` — products Jetshop → Fortnox; prices, price lists, stock and stock status Fortnox → Jetshop.

Every step reads the master side (incrementally where the API allows: Fortnox ``lastmodified``, the
Jetshop product listing's ``ModifiedFrom``), holds it as a pandas frame, hashes each row or cell and
diffs it with the ledger snapshot (:mod:`jetfort.catalog.diff`), writes only new and changed rows in
batches, and records what it wrote (``written=True``) so reading that side later is recognised as
jetfort's own echo. Article numbers Fortnox refuses are quarantined (kind ``article``); the batch
goes on. Tasks return counts only (XCom ``return_value`` and key ``summary``).

Choices worth knowing:

* several shops feeding Fortnox (combo): the first shop in the rules wins for an article number;
* products are written in each shop's first channel's culture (Fortnox has one description);
* empty text never overwrites the other side (Fortnox ignores ``""``; clearing needs ``API_BLANK``);
* Jetshop price lists have no quantity steps: Fortnox rows with ``FromQuantity`` > 0 are skipped
  (counted); prices go only to articles known to exist in that shop (an upsert would create them);
* the *expected* stock status needs a delivery date, which the Fortnox reads here do not supply yet
  (:func:`jetfort.mapping.stock.stock_update` takes one; purchase orders would be the source);
* the drift report can only compare prices of a shop's default price list (``Product_Get`` reports
  that one), stock and product existence.

Snapshot layout (ledger ``catalog_snapshots``; side / entity / key):

* ``shop``/``product`` and ``fortnox``/``product`` — canonical product hash per article;
* ``shop``/``product:<shop>`` — articles known to exist in one shop (prices and stock go only there);
* ``fortnox``/``article_vat`` — VAT percent per article (the value itself as the "hash");
  ``fortnox``/``stock_article`` — ``1``/``0``: service and non-stock articles get no stock writes;
* ``shop``/``price:<shop>`` — incl.-VAT price per ``article@GUID``; ``shop``/``stock:<shop>`` —
  ``count|status|date`` per article (short values are stored as-is: readable and comparable).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jetfort.catalog.diff import Diff, diff_frame, frame_of, hash_rows
from jetfort.mapping import prices as price_map
from jetfort.mapping import stock as stock_map
from jetfort.mapping.products import KEY, ArticleScope, ProductMapping
from jetfort.rules import load_mapping
from jetfort.tasks.runtime import TenantRuntime, format_table

if TYPE_CHECKING:
    import pandas as pd

    from jetfort.fortnox.models import ArticleListItem, FortnoxArticle
    from jetfort.jetshop.models import Product, ProductUpsert
    from jetfort.rules import TenantRules

log = logging.getLogger(__name__)

SHOP, FORTNOX = "shop", "fortnox"
PRODUCT = "product"
ARTICLE_VAT = "article_vat"
STOCK_ARTICLE = "stock_article"  # "0": a service / non-stock article (no stock pushed to the shop)
SUMMARY_COLUMNS = ["entity", "read", "changed", "written", "skipped", "quarantined", "echo_suppressed"]
INITIAL_COLUMNS = ["entity", "read", "created", "updated", "skipped", "quarantined"]
CATALOG_FIELDS_FILE = "catalog_fields.json"
DIRECTIONS = ("shop_to_fortnox", "fortnox_to_shop")


def shop_entity(kind: str, shop_key: str) -> str:
    return f"{kind}:{shop_key}"


@dataclass
class Counts:
    """One summary row: what a step read, found changed, wrote, skipped, quarantined, suppressed."""

    entity: str
    read: int = 0
    changed: int = 0
    written: int = 0
    skipped: int = 0
    quarantined: int = 0
    echo_suppressed: int = 0
    created: int = 0
    updated: int = 0

    def row(self, columns: Sequence[str] = SUMMARY_COLUMNS) -> dict[str, Any]:
        data = asdict(self)
        return {c: data[c] for c in columns}


@dataclass
class Outcome:
    """Keys written and refused by one write pass."""

    written: list[str] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


class CatalogSync:
    """The catalog steps of one tenant, for one task run (hooks and ledger from the runtime)."""

    def __init__(self, rt: TenantRuntime, *, run_id: str | None = None, dry_run: bool = False,
                 extra_include: Iterable[str] = (), now: dt.datetime | None = None) -> None:
        self.rt = rt
        self.rules: TenantRules = rt.rules
        self.tenant = rt.tenant
        self.run_id = run_id
        self.dry_run = dry_run
        self.now = now or dt.datetime.now(dt.UTC)
        self.mapping = ProductMapping.from_rules(self.rules, load_mapping(CATALOG_FIELDS_FILE))
        self.scope = ArticleScope.from_rules(self.rules.catalog.article_filter, extra_include)
        self._currency_rates: dict[str, Decimal] = {}
        self._stock_kinds: list[tuple[str, str, Any]] = []  # (article, "1" stock article / "0" not, None)

    # ---------------------------------------------------------------------------- helpers
    @property
    def ledger(self) -> Any:
        return self.rt.ledger

    def shop_culture(self, shop_key: str) -> str:
        shop = next(s for s in self.rules.shops if s.key == shop_key)
        return shop.channels[0].culture

    def _overlap(self) -> dt.timedelta:
        return dt.timedelta(minutes=self.rules.schedules.window_overlap_minutes)

    def _since(self, cursor: str, full: bool) -> dt.datetime | None:
        if full:
            return None
        stored = self.ledger.get_cursor(self.tenant, cursor)
        return dt.datetime.fromisoformat(stored) - self._overlap() if stored else None

    def _advance(self, cursor: str) -> None:
        if not self.dry_run:
            self.ledger.set_cursor(self.tenant, cursor, self.now.isoformat())

    def _save(self, side: str, entity: str, rows: Iterable[tuple[str, str, Any]], *, written: bool = False) -> None:
        rows = list(rows)
        if rows and not self.dry_run:
            self.ledger.save_snapshot(self.tenant, side, entity, rows, written=written)

    def _save_cells(self, entity: str, cells: Iterable[tuple[str, str]]) -> None:
        """Price/stock cells jetfort wrote to the shop: recorded as written *and* as the value the shop
        now holds (the delta compares Fortnox's next value with it; the shop is not read back here)."""
        rows = [(key, value, None) for key, value in cells]
        self._save(SHOP, entity, rows, written=True)
        self._save(SHOP, entity, rows)

    def _quarantine(self, kind: str, key: str, reason: str, message: str, *, code: Any = None,
                    payload: Any = None) -> None:
        log.warning("quarantine %s %s: %s: %s", kind, key, reason, message)
        if not self.dry_run:
            self.ledger.quarantine(self.tenant, kind, key, reason=reason, message=message,
                                   code=str(code) if code is not None else None, payload=payload,
                                   run_id=self.run_id)

    def _resolve(self, kind: str, keys: Iterable[str]) -> None:
        """Close open quarantine entries of keys that have now been written."""
        if self.dry_run:
            return
        wanted = set(keys)
        if not wanted:
            return
        for entry in self.ledger.open_quarantine(self.tenant, kind):
            if entry.source_key in wanted:
                self.ledger.resolve_quarantine(self.tenant, kind, entry.source_key)
                log.info("quarantine %s %s resolved: written", kind, entry.source_key)

    def _frame(self, records: Mapping[str, Mapping[str, str]]) -> pd.DataFrame:
        columns = self.mapping.columns
        frame = frame_of(records.values(), columns, key=KEY)
        frame["hash"] = hash_rows(frame, columns) if columns else ""
        return frame

    # ---------------------------------------------------------------------------- reading
    def read_shop_products(self, shop_key: str, since: dt.datetime | None = None) -> list[Product]:
        hook = self.rt.jetshop(shop_key)
        return list(hook.iter_products(culture=self.shop_culture(shop_key), modified_from=since))

    def read_fortnox_items(self, since: dt.datetime | None = None) -> list[ArticleListItem]:
        return list(self.rt.fortnox.list_articles(since=since))

    def fortnox_details(self, numbers: Iterable[str]) -> dict[str, FortnoxArticle]:
        out: dict[str, FortnoxArticle] = {}
        for number in numbers:
            article = self.rt.fortnox.find_article(number)
            if article is not None:
                out[number] = article
        return out

    def shop_records(self, since_by_shop: Mapping[str, dt.datetime | None], known: set[str],
                     counts: Counts) -> tuple[dict[str, dict[str, str]], dict[str, list[tuple[str, str, Any]]]]:
        """Canonical records of every shop's products in scope (first shop wins for an article) and,
        per shop, the existence rows to save."""
        merged: dict[str, dict[str, str]] = {}
        per_shop: dict[str, list[tuple[str, str, Any]]] = {}
        for shop in self.rules.shops:
            rows = per_shop.setdefault(shop.key, [])
            for product in self.read_shop_products(shop.key, since_by_shop.get(shop.key)):
                number = product.article_number
                record = self.mapping.canonical_from_shop(product)
                rows.append((number, _hash(record, self.mapping.columns), None))
                if not self.scope.admits(number, active=not product.hide_product, known=number in known):
                    counts.skipped += 1
                    continue
                merged.setdefault(number, record)
        counts.read += len(merged)
        return merged, per_shop

    # ---------------------------------------------------------------------------- products → Fortnox
    def products_to_fortnox(self, *, full: bool = False) -> Counts:
        """ecom/combo: shop products changed since the cursor → Fortnox articles."""
        counts = Counts("products → Fortnox")
        snap_fx = self.ledger.snapshot(self.tenant, FORTNOX, PRODUCT)
        since = {s.key: self._since(f"catalog.shop_products.{s.key}", full) for s in self.rules.shops}
        records, per_shop = self.shop_records(since, set(snap_fx), counts)
        frame = self._frame(records)
        result = diff_frame(frame, self.ledger.snapshot(self.tenant, SHOP, PRODUCT))
        counts.echo_suppressed = len(result.echo)
        counts.changed = len(result.to_write)
        outcome = self.write_fortnox(result.to_write, records, snap_fx, counts)
        counts.written = len(outcome.written)
        counts.quarantined = len(outcome.failed)
        hashes = frame["hash"].to_dict()
        self._save(SHOP, PRODUCT, ((k, hashes[k], None) for k in records))
        for shop_key, rows in per_shop.items():
            self._save(SHOP, shop_entity(PRODUCT, shop_key), rows)
        self._save(FORTNOX, PRODUCT, ((k, hashes[k], None) for k in outcome.written), written=True)
        self._save(FORTNOX, ARTICLE_VAT, self._vat_rows(records, outcome.written))
        for shop in self.rules.shops:
            self._advance(f"catalog.shop_products.{shop.key}")
        return counts

    def _vat_rows(self, records: Mapping[str, Mapping[str, str]], keys: Iterable[str]) -> list[tuple[str, str, Any]]:
        rows = []
        for key in keys:
            vat = self.mapping.vat_percent(records[key])
            if vat is not None:
                rows.append((key, _dec(vat), None))
        return rows

    def write_fortnox(self, keys: Sequence[str], records: Mapping[str, Mapping[str, str]],
                      snap_fx: Mapping[str, Any], counts: Counts) -> Outcome:
        """Create or update each article; refusals are quarantined and the rest goes on."""
        from jetfort.fortnox.errors import FortnoxNotFound, FortnoxValidationError

        outcome = Outcome()
        fortnox = self.rt.fortnox
        for key in keys:
            record = records[key]
            problem = self.mapping.article_number_problem(key)
            if problem:
                outcome.failed[key] = problem
                self._quarantine("article", key, "invalid_article_number", problem, payload=dict(record))
                continue
            try:
                exists = key in snap_fx or fortnox.find_article(key) is not None
                if self.dry_run:
                    (counts.__setattr__("updated", counts.updated + 1) if exists
                     else counts.__setattr__("created", counts.created + 1))
                    outcome.written.append(key)
                    continue
                if exists:
                    try:
                        fortnox.update_article(key, self._article(record, create=False))
                        counts.updated += 1
                    except FortnoxNotFound:
                        exists = False
                if not exists:
                    fortnox.create_article(self._article(record, create=True))
                    counts.created += 1
                    outcome.created.append(key)
                outcome.written.append(key)
            except ValueError as exc:  # mapping: a value Fortnox cannot take (e.g. no account for the VAT)
                outcome.failed[key] = str(exc)
                self._quarantine("article", key, "unmappable_value", str(exc), payload=dict(record))
            except FortnoxValidationError as exc:
                outcome.failed[key] = str(exc)
                self._quarantine("article", key, "rejected_by_fortnox", exc.message, code=exc.code,
                                 payload=dict(record))
        self._resolve("article", outcome.written)
        return outcome

    def _article(self, record: Mapping[str, str], *, create: bool) -> FortnoxArticle:
        """The article to write, after the tenant's ``after_map_article`` plugins (ValueError → quarantine)."""
        article = self.mapping.to_fortnox(record, create=create)
        if any(p.enabled for p in self.rules.plugins):
            from jetfort.extensions import apply_catalog_plugins

            article = apply_catalog_plugins("after_map_article", article, dict(record), self.rules)
        return article

    def _product(self, record: Mapping[str, str], culture: str) -> ProductUpsert:
        """The product upsert, after the tenant's ``after_map_product`` plugins."""
        product = self.mapping.to_shop(record, culture=culture)
        if any(p.enabled for p in self.rules.plugins):
            from jetfort.extensions import apply_catalog_plugins

            product = apply_catalog_plugins("after_map_product", product, dict(record), self.rules)
        return product

    # ---------------------------------------------------------------------------- products → shop
    def fortnox_records(self, items: Sequence[ArticleListItem], known: set[str],
                        counts: Counts) -> dict[str, dict[str, str]]:
        """Canonical records of the Fortnox articles in scope (one GET each: list items are slim)."""
        wanted = [i.article_number for i in items if i.article_number and self.scope.admits(
            i.article_number, webshop=i.webshop_article, known=i.article_number in known)]
        counts.skipped += len(items) - len(wanted)
        records: dict[str, dict[str, str]] = {}
        for number, article in self.fortnox_details(n for n in wanted if n).items():
            if not self.scope.admits(number, webshop=article.webshop_article, active=article.active,
                                     known=number in known):
                counts.skipped += 1
                continue
            records[number] = self.mapping.canonical_from_fortnox(article)
            stock_article = article.stock_goods is not False and article.type != "SERVICE"
            self._stock_kinds.append((number, "1" if stock_article else "0", None))
        counts.read += len(records)
        return records

    def products_to_shop(self, *, full: bool = False) -> Counts:
        """erp: Fortnox articles changed since the cursor → every shop (default culture of each)."""
        counts = Counts("products → shop")
        snap_fx = self.ledger.snapshot(self.tenant, FORTNOX, PRODUCT)
        items = self.read_fortnox_items(self._since("catalog.fortnox_articles", full))
        records = self.fortnox_records(items, set(snap_fx), counts)
        frame = self._frame(records)
        result = diff_frame(frame, snap_fx)
        counts.echo_suppressed = len(result.echo)
        counts.changed = len(result.to_write)
        written: set[str] = set(result.to_write)
        created: set[str] = set()
        for shop in self.rules.shops:
            outcome = self.write_shop_products(shop.key, result.to_write, records)
            counts.quarantined += len(outcome.failed)
            written &= set(outcome.written)
            created |= set(outcome.created)
        counts.written = len(written)
        counts.created = len(created & written)
        counts.updated = counts.written - counts.created
        hashes = frame["hash"].to_dict()
        self._save(FORTNOX, PRODUCT, ((k, hashes[k], None) for k in records))
        self._save(FORTNOX, ARTICLE_VAT, self._vat_rows(records, records))
        self._save(FORTNOX, STOCK_ARTICLE, self._stock_kinds)
        self._save(SHOP, PRODUCT, ((k, hashes[k], None) for k in written), written=True)
        self._advance("catalog.fortnox_articles")
        return counts

    def write_shop_products(self, shop_key: str, keys: Sequence[str],
                            records: Mapping[str, Mapping[str, str]], *,
                            known: set[str] | None = None) -> Outcome:
        """Upsert products into one shop (batches of 100); refused items are quarantined (kind product)."""
        outcome = Outcome()
        if not keys:
            return outcome
        culture = self.shop_culture(shop_key)
        upserts = []
        for key in keys:
            try:
                upserts.append(self._product(records[key], culture))
            except ValueError as exc:  # a plugin refused or broke it
                outcome.failed[key] = str(exc)
                self._quarantine("product", f"{shop_key}:{key}", "unmappable_value", str(exc),
                                 payload=dict(records[key]))
        keys = [u.article_number for u in upserts]
        if self.dry_run:
            outcome.written.extend(keys)
            return outcome
        results = self.rt.jetshop(shop_key).upsert_products(upserts, strict=False)
        by_key = {r.article_number: r for r in results}
        for key in keys:
            res = by_key.get(key)
            if res is not None and res.success:
                outcome.written.append(key)
                if res.created:
                    outcome.created.append(key)
            else:
                message = res.message if res is not None else "no result returned"
                outcome.failed[key] = message
                self._quarantine("product", f"{shop_key}:{key}", "rejected_by_jetshop", message,
                                 payload=dict(records[key]))
        self._resolve("product", (f"{shop_key}:{k}" for k in outcome.written))
        hashes = {k: _hash(records[k], self.mapping.columns) for k in outcome.written}
        self._save(SHOP, shop_entity(PRODUCT, shop_key), ((k, hashes[k], None) for k in outcome.written),
                   written=True)
        return outcome

    # ---------------------------------------------------------------------------- prices → shop
    def article_vat(self, articles: Iterable[str]) -> dict[str, Decimal]:
        """VAT percent per article: from the snapshot, else one GET per unknown article (then remembered)."""
        snap = self.ledger.snapshot(self.tenant, FORTNOX, ARTICLE_VAT)
        vat = {k: Decimal(v[0]) for k, v in snap.items()}
        missing = [a for a in articles if a not in vat]
        fetched: list[tuple[str, str, Any]] = []
        for number, article in self.fortnox_details(missing).items():
            if article.vat is not None:
                vat[number] = Decimal(article.vat)
                fetched.append((number, _dec(article.vat), None))
        if fetched and not self.dry_run:
            self.ledger.save_snapshot(self.tenant, FORTNOX, ARTICLE_VAT, fetched)
        return vat

    def fortnox_price_rows(self, code: str, articles: Iterable[str] | None = None
                           ) -> dict[tuple[str, Decimal], Decimal]:
        """Every row of one Fortnox price list: ``(article, from quantity) → price``.

        Reads the list route ``/3/prices?pricelist=`` (500 rows a request). The reference marks that
        route's list behaviour as unconfirmed, so when Fortnox refuses it the rows are read per
        article through ``/3/prices/sublist/{list}/{article}`` for ``articles``.
        """
        from jetfort.fortnox.errors import FortnoxNotFound, FortnoxValidationError
        from jetfort.fortnox.models import Price

        rows: dict[tuple[str, Decimal], Decimal] = {}

        def keep(price: Price) -> None:
            if price.price_list != code or not price.article_number or price.price is None:
                return  # the search matches substrings: keep exactly this list
            rows[(price.article_number, Decimal(price.from_quantity or 0))] = Decimal(price.price)

        try:
            for price in self.rt.fortnox.iter_list("3/prices", "Prices", Price, {"pricelist": code}):
                keep(price)
        except (FortnoxNotFound, FortnoxValidationError):
            if articles is None:
                raise
            log.info("tenant %s: price list %s read per article (list route refused)", self.tenant, code)
            rows.clear()
            for article in articles:
                try:
                    for price in self.rt.fortnox.list_prices(code, article):
                        keep(price)
                except FortnoxNotFound:
                    continue
        return rows

    def currency_rate(self, currency: str) -> Decimal:
        """Company currency per unit of ``currency`` (Fortnox SellRate / Unit); 1 for SEK."""
        if currency == "SEK":
            return Decimal(1)
        if currency not in self._currency_rates:
            found = self.rt.fortnox.get_currency(currency)
            rate = Decimal(found.sell_rate or 0) / Decimal(found.unit or 1)
            self._currency_rates[currency] = rate if rate > 0 else Decimal(1)
        return self._currency_rates[currency]

    def known_in_shop(self, shop_key: str) -> set[str]:
        return set(self.ledger.snapshot(self.tenant, SHOP, shop_entity(PRODUCT, shop_key)))

    def price_cells(self, counts: Counts) -> dict[str, dict[str, tuple[str, str, Decimal]]]:
        """Per shop: cell key → (article, GUID, incl.-VAT price) for every target list of the rules."""
        targets = price_map.price_targets(self.rules)
        codes = sorted({t.fortnox_price_list for t in targets})
        existing = {p.code for p in self.rt.fortnox.list_price_lists()}
        lists: dict[str, dict[tuple[str, Decimal], Decimal]] = {}
        for code in codes:
            if code not in existing:
                log.warning("tenant %s: Fortnox price list %r does not exist; its Jetshop lists are skipped",
                            self.tenant, code)
                continue
            candidates = sorted({a for t in targets for a in self.known_in_shop(t.shop)})
            lists[code] = self.fortnox_price_rows(code, candidates)
        articles = {a for rows in lists.values() for (a, q) in rows if q == 0 and self.scope.matches(a)}
        vat = self.article_vat(sorted(articles))
        out: dict[str, dict[str, tuple[str, str, Decimal]]] = {}
        for target in targets:
            cells = out.setdefault(target.shop, {})
            rows = lists.get(target.fortnox_price_list)
            if rows is None:
                continue
            base, breaks = price_map.split_breaks(rows)
            counts.skipped += breaks
            known = self.known_in_shop(target.shop)
            in_shop = {a: p for a, p in base.items() if a in known and self.scope.matches(a)}
            counts.skipped += len(base) - len(in_shop)
            rate = self.currency_rate(target.currency)
            for article, price in price_map.cells(target, in_shop, vat, currency_rate=rate):
                cells[price_map.price_cell_key(article, target.guid)] = (article, target.guid, price)
        return out

    def prices_to_shop(self) -> Counts:
        """erp/combo: Fortnox price lists (base rows) → Jetshop price lists by GUID, incl. VAT."""
        counts = Counts("prices → shop")
        for shop_key, cells in self.price_cells(counts).items():
            counts.read += len(cells)
            values = {k: str(v[2]) for k, v in cells.items()}
            result = self._diff_values(values, SHOP, shop_entity("price", shop_key))
            counts.changed += len(result.to_write)
            counts.echo_suppressed += len(result.echo)
            written = self.write_prices(shop_key, [cells[k] for k in result.to_write], counts)
            counts.written += len(written)
            self._save_cells(shop_entity("price", shop_key), ((k, values[k]) for k in written))
        return counts

    def write_prices(self, shop_key: str, cells: Sequence[tuple[str, str, Decimal]], counts: Counts) -> list[str]:
        if not cells:
            return []
        keys = [price_map.price_cell_key(a, g) for a, g, _ in cells]
        if self.dry_run:
            return keys
        writes = [price_map.to_price_list_price(a, g, p) for a, g, p in cells]
        results = self.rt.jetshop(shop_key).update_prices(writes, strict=False)
        ok = {price_map.price_cell_key(r.article_number, r.price_list_id) for r in results if r.success}
        for r in results:
            if not r.success:
                counts.quarantined += 1
                self._quarantine("price", f"{shop_key}:{price_map.price_cell_key(r.article_number, r.price_list_id)}",
                                 "rejected_by_jetshop", r.message or "refused")
        return [k for k in keys if k in ok]

    def _diff_values(self, values: Mapping[str, str], side: str, entity: str) -> Diff:
        import pandas as pd

        series = pd.Series(values, dtype=object)
        return diff_frame(series, self.ledger.snapshot(self.tenant, side, entity))

    # ---------------------------------------------------------------------------- stock → shop
    def fortnox_quantities(self) -> dict[str, Decimal]:
        """Available quantity per article: disposable (article list) or warehouse stock points."""
        rules = self.rules.stock
        if rules.source == "warehouse":
            balances = self.rt.fortnox.stock_balance(stock_point_codes=rules.stock_points)
            if not balances:
                log.warning("tenant %s: no warehouse balances for stock points %s", self.tenant, rules.stock_points)
            return stock_map.stock_quantities(balances, rules.stock_points)
        return dict(stock_map.disposable_quantities(self.read_fortnox_items()))

    def stock_cells(self, quantities: Mapping[str, Decimal], shop_key: str,
                    expected: Mapping[str, dt.date] | None = None) -> dict[str, tuple[Any, str]]:
        policy = stock_map.shop_stock_policy(self.rules, shop_key)
        known = self.known_in_shop(shop_key)
        not_stock = {k for k, (v, _) in self.ledger.snapshot(self.tenant, FORTNOX, STOCK_ARTICLE).items() if v == "0"}
        cells: dict[str, tuple[Any, str]] = {}
        for article, quantity in quantities.items():
            if article in known and article not in not_stock and self.scope.matches(article):
                cells[article] = stock_map.stock_update(article, quantity, policy, (expected or {}).get(article))
        return cells

    def stock_to_shop(self) -> Counts:
        """erp/combo: Fortnox quantity → NewStockCount and stock status per shop, by the thresholds."""
        counts = Counts("stock → shop")
        if not self.rules.stock.enabled:
            log.info("tenant %s: stock sync is off (stock.enabled false)", self.tenant)
            return counts
        quantities = self.fortnox_quantities()
        for shop in self.rules.shops:
            cells = self.stock_cells(quantities, shop.key)
            counts.read += len(cells)
            counts.skipped += len(quantities) - len(cells)
            values = {k: v[1] for k, v in cells.items()}
            result = self._diff_values(values, SHOP, shop_entity("stock", shop.key))
            counts.changed += len(result.to_write)
            counts.echo_suppressed += len(result.echo)
            written = self.write_stock(shop.key, [cells[k][0] for k in result.to_write], counts)
            counts.written += len(written)
            self._save_cells(shop_entity("stock", shop.key), ((k, values[k]) for k in written))
        return counts

    def write_stock(self, shop_key: str, updates: Sequence[Any], counts: Counts) -> list[str]:
        if not updates:
            return []
        if self.dry_run:
            return [u.article_number for u in updates]
        results = self.rt.jetshop(shop_key).update_stock(updates, culture=self.shop_culture(shop_key), strict=False)
        ok = [r.article_number for r in results if r.success]
        for r in results:
            if not r.success:
                counts.quarantined += 1
                self._quarantine("stock", f"{shop_key}:{r.article_number}", "rejected_by_jetshop", r.message)
        return ok

    # ---------------------------------------------------------------------------- initial sync
    def initial(self, direction: str) -> Counts:
        """Bring the whole assortment across with the same article numbers; safe to repeat."""
        if direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {DIRECTIONS}, not {direction!r}")
        return self._initial_to_fortnox() if direction == "shop_to_fortnox" else self._initial_to_shop()

    def _initial_to_fortnox(self) -> Counts:
        counts = Counts("initial products → Fortnox")
        snap_fx = self.ledger.snapshot(self.tenant, FORTNOX, PRODUCT)
        records, per_shop = self.shop_records({}, set(snap_fx), counts)
        existing = {i.article_number for i in self.read_fortnox_items() if i.article_number}
        details = self.fortnox_details(sorted(set(records) & existing))
        to_write: list[str] = []
        for key, record in records.items():
            current = details.get(key)
            if current is not None and self.mapping.same(record, self.mapping.canonical_from_fortnox(current)):
                counts.skipped += 1
            else:
                to_write.append(key)
        known = {k: None for k in existing}
        outcome = self.write_fortnox(to_write, records, known, counts)
        counts.quarantined = len(outcome.failed)
        counts.written = len(outcome.written)
        columns = self.mapping.columns
        in_sync = [k for k in records if k not in outcome.failed]
        self._save(SHOP, PRODUCT, ((k, _hash(records[k], columns), None) for k in records))
        for shop_key, rows in per_shop.items():
            self._save(SHOP, shop_entity(PRODUCT, shop_key), rows)
        self._save(FORTNOX, PRODUCT, ((k, _hash(records[k], columns), None) for k in in_sync), written=True)
        self._save(FORTNOX, ARTICLE_VAT, self._vat_rows(records, in_sync))
        for shop in self.rules.shops:
            self._advance(f"catalog.shop_products.{shop.key}")
        return counts

    def _initial_to_shop(self) -> Counts:
        counts = Counts("initial products → shop")
        items = self.read_fortnox_items()
        snap_fx = self.ledger.snapshot(self.tenant, FORTNOX, PRODUCT)
        records = self.fortnox_records(items, set(snap_fx), counts)
        columns = self.mapping.columns
        in_sync_everywhere = set(records)
        for shop in self.rules.shops:
            current = {p.article_number: p for p in self.read_shop_products(shop.key)}
            to_write = [k for k in records
                        if k not in current or not self.mapping.shop_holds(current[k], records[k])]
            counts.skipped += len(records) - len(to_write)
            outcome = self.write_shop_products(shop.key, to_write, records)
            created = [k for k in outcome.written if k not in current]  # also right for a dry run
            counts.created += len(created)
            counts.updated += len(outcome.written) - len(created)
            counts.quarantined += len(outcome.failed)
            counts.written += len(outcome.written)
            in_sync_everywhere -= set(outcome.failed)
            same = [k for k in records if k not in to_write]
            self._save(SHOP, shop_entity(PRODUCT, shop.key), ((k, _hash(records[k], columns), None) for k in same))
        self._save(FORTNOX, PRODUCT, ((k, _hash(records[k], columns), None) for k in records))
        self._save(FORTNOX, ARTICLE_VAT, self._vat_rows(records, records))
        self._save(FORTNOX, STOCK_ARTICLE, self._stock_kinds)
        self._save(SHOP, PRODUCT, ((k, _hash(records[k], columns), None) for k in in_sync_everywhere), written=True)
        self._advance("catalog.fortnox_articles")
        return counts

    # ---------------------------------------------------------------------------- drift
    def drift(self, *, correct: bool | None = None) -> tuple[list[Counts], pd.DataFrame]:
        """Compare both sides in full (product existence, stock, base prices); optionally correct.

        Returns summary rows and the drift frame (one row per difference).
        """
        import pandas as pd

        correct = self.rules.catalog.correct_drift if correct is None else correct
        flow = self.rules.flow
        items = self.read_fortnox_items()
        fortnox_in_scope = {i.article_number for i in items if i.article_number and self.scope.admits(
            i.article_number, webshop=i.webshop_article)}
        rows: list[dict[str, Any]] = []
        counts = {k: Counts(f"drift {k}") for k in ("products", "stock", "prices")}
        quantities: dict[str, Decimal] = {}
        if self.rules.stock.enabled and flow in ("erp", "combo"):
            quantities = self.fortnox_quantities()
        price_rows: dict[str, dict[tuple[str, Decimal], Decimal]] = {}
        targets = [t for t in price_map.price_targets(self.rules) if t.customer_group is None] \
            if flow in ("erp", "combo") else []
        existing_lists = {p.code for p in self.rt.fortnox.list_price_lists()} if targets else set()
        for code in sorted({t.fortnox_price_list for t in targets} & existing_lists):
            price_rows[code] = self.fortnox_price_rows(code, sorted(fortnox_in_scope))
        vat = self.article_vat(sorted(fortnox_in_scope)) if price_rows else {}
        for shop in self.rules.shops:
            products = {p.article_number: p for p in self.read_shop_products(shop.key)}
            in_shop = {a for a, p in products.items() if self.scope.matches(a)}
            counts["products"].read += len(in_shop | fortnox_in_scope)
            for article in sorted(fortnox_in_scope - in_shop):
                rows.append(_drift_row("missing_in_shop", shop.key, article, "exists", "missing"))
            for article in sorted(in_shop - {i.article_number for i in items}):
                rows.append(_drift_row("missing_in_fortnox", shop.key, article, "missing", "exists"))
            if quantities:
                for article, (update, cell) in self.stock_cells(quantities, shop.key).items():
                    product = products.get(article)
                    if product is None or product.stock is None:
                        continue
                    counts["stock"].read += 1
                    have = stock_map.stock_cell(product.stock.stock_count, product.stock.stock_status_id or 0,
                                                product.stock.delivery_date.date()
                                                if product.stock.delivery_date and update.delivery_date else None)
                    if have != cell:
                        rows.append(_drift_row("stock", shop.key, article, cell, have))
            for target in (t for t in targets if t.shop == shop.key):
                base, _ = price_map.split_breaks(price_rows.get(target.fortnox_price_list, {}))
                rate = self.currency_rate(target.currency)
                for article, expected in price_map.cells(target, base, vat, currency_rate=rate):
                    product = products.get(article)
                    if product is None or product.price_list_id.upper() != target.guid:
                        continue  # Product_Get reports the shop's default list only
                    counts["prices"].read += 1
                    shown = (product.price_ex_vat * (1 + product.vat_rate)).quantize(price_map.CENT)
                    if abs(shown - expected) > Decimal("0.01"):
                        rows.append(_drift_row("price", shop.key, article, str(expected), str(shown),
                                               guid=target.guid))
        frame = pd.DataFrame(rows, columns=["kind", "shop", "article", "fortnox", "jetshop", "guid", "action"])
        for kind, entity in (("missing_in_shop", "products"), ("missing_in_fortnox", "products"),
                             ("stock", "stock"), ("price", "prices")):
            counts[entity].changed += int((frame["kind"] == kind).sum())
        if correct and not frame.empty:
            self._correct(frame, counts, quantities)
        elif not frame.empty:
            frame["action"] = "reported"
        return list(counts.values()), frame

    def _fill_new_products(self, shop_key: str, articles: Sequence[str], quantities: Mapping[str, Decimal],
                           counts: Mapping[str, Counts]) -> None:
        """Stock and prices of products the drift correction just created in a shop."""
        if not articles:
            return
        wanted = set(articles)
        if quantities:
            cells = self.stock_cells({a: q for a, q in quantities.items() if a in wanted}, shop_key)
            written = self.write_stock(shop_key, [c[0] for c in cells.values()], counts["stock"])
            counts["stock"].written += len(written)
            self._save_cells(shop_entity("stock", shop_key), ((a, cells[a][1]) for a in written))
        prices = {k: v for k, v in self.price_cells(Counts("prices")).get(shop_key, {}).items() if v[0] in wanted}
        done = self.write_prices(shop_key, list(prices.values()), counts["prices"])
        counts["prices"].written += len(done)
        self._save_cells(shop_entity("price", shop_key), ((k, str(prices[k][2])) for k in done))

    def _correct(self, frame: pd.DataFrame, counts: Mapping[str, Counts], quantities: Mapping[str, Decimal]) -> None:
        """Write the master side's value where the two sides differ (per the tenant's flow)."""
        import pandas as pd

        flow = self.rules.flow
        frame["action"] = "reported"
        for shop in self.rules.shops:
            mine = frame[frame["shop"] == shop.key]
            missing_shop = mine[mine["kind"] == "missing_in_shop"]["article"].tolist()
            if missing_shop and flow == "erp":
                records = {k: self.mapping.canonical_from_fortnox(a)
                           for k, a in self.fortnox_details(missing_shop).items()}
                outcome = self.write_shop_products(shop.key, list(records), records)
                counts["products"].written += len(outcome.written)
                frame.loc[frame["article"].isin(outcome.written) & (frame["shop"] == shop.key)
                          & (frame["kind"] == "missing_in_shop"), "action"] = "created in shop"
                self._fill_new_products(shop.key, outcome.written, quantities, counts)
            stock_articles = mine[mine["kind"] == "stock"]["article"].tolist()
            if stock_articles:
                cells = self.stock_cells({a: quantities[a] for a in stock_articles if a in quantities}, shop.key)
                written = self.write_stock(shop.key, [cells[a][0] for a in cells], counts["stock"])
                counts["stock"].written += len(written)
                self._save_cells(shop_entity("stock", shop.key), ((a, cells[a][1]) for a in written))
                frame.loc[frame["article"].isin(written) & (frame["shop"] == shop.key)
                          & (frame["kind"] == "stock"), "action"] = "stock written"
            price_rows = mine[mine["kind"] == "price"]
            if not price_rows.empty:
                fixes = [(str(r["article"]), str(r["guid"]), Decimal(str(r["fortnox"])))
                         for r in price_rows.to_dict("records")]
                done = set(self.write_prices(shop.key, fixes, counts["prices"]))
                counts["prices"].written += len(done)
                values = {price_map.price_cell_key(a, g): str(p) for a, g, p in fixes}
                self._save_cells(shop_entity("price", shop.key), ((k, values[k]) for k in done))
                cell_keys = [price_map.price_cell_key(str(a), str(g or "")) for a, g in
                             zip(frame["article"], frame["guid"], strict=True)]
                hit = pd.Series([k in done for k in cell_keys], index=frame.index, dtype=bool)
                frame.loc[(frame["shop"] == shop.key) & (frame["kind"] == "price") & hit, "action"] = "price written"
        if flow in ("ecom", "combo"):
            missing_fx = sorted(set(frame[frame["kind"] == "missing_in_fortnox"]["article"]))
            if missing_fx:
                c = Counts("drift products")
                records, _ = self.shop_records({}, set(), c)
                wanted = [k for k in missing_fx if k in records]
                outcome = self.write_fortnox(wanted, records, {}, c)
                counts["products"].written += len(outcome.written)
                counts["products"].quarantined += len(outcome.failed)
                columns = self.mapping.columns
                self._save(FORTNOX, PRODUCT, ((k, _hash(records[k], columns), None) for k in outcome.written),
                           written=True)
                frame.loc[frame["article"].isin(outcome.written)
                          & (frame["kind"] == "missing_in_fortnox"), "action"] = "created in Fortnox"


def _drift_row(kind: str, shop: str, article: str, fortnox: str, jetshop: str, *, guid: str = "") -> dict[str, Any]:
    return {"kind": kind, "shop": shop, "article": article, "fortnox": fortnox, "jetshop": jetshop,
            "guid": guid, "action": ""}


def _hash(record: Mapping[str, str], columns: Sequence[str]) -> str:
    from jetfort.mapping.products import canonical_hash

    return canonical_hash(record, columns)


def _dec(value: Any) -> str:
    from jetfort.mapping.products import decimal_text

    return decimal_text(value)


# ================================================================================ Airflow glue
STEPS: dict[str, Callable[[CatalogSync], Counts]] = {
    "products_to_fortnox": lambda s: s.products_to_fortnox(),
    "products_to_shop": lambda s: s.products_to_shop(),
    "prices_to_shop": lambda s: s.prices_to_shop(),
    "stock_to_shop": lambda s: s.stock_to_shop(),
}


def flow_steps(rules: TenantRules) -> list[str]:
    """The catalog steps of a flow, in order (products first: prices and stock need them)."""
    if rules.flow == "ecom":
        return ["products_to_fortnox"]
    first = "products_to_shop" if rules.flow == "erp" else "products_to_fortnox"
    steps = [first, "prices_to_shop"]
    if rules.stock.enabled:
        steps.append("stock_to_shop")
    return steps


def _push_summary(context: Mapping[str, Any], rows: list[dict[str, Any]]) -> None:
    ti = context.get("ti") or context.get("task_instance")
    if ti is not None:
        ti.xcom_push(key="summary", value=rows)


def run_step(tenant_id: str, step: str, context: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One catalog step as an Airflow task: counts out (XCom), payloads stay in the ledger."""
    with TenantRuntime.for_tenant(tenant_id) as rt:
        sync = CatalogSync(rt, run_id=context.get("run_id"))
        counts = STEPS[step](sync)
    rows = [counts.row()]
    log.info("jetfort catalog %s · %s\n%s", tenant_id, step, format_table(rows, SUMMARY_COLUMNS))
    _push_summary(context, rows)
    return rows


def summarize(tenant_id: str, step_rows: Iterable[Any], context: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The run's summary table (one row per entity), logged and returned."""
    rows = [row for result in step_rows if result for row in result]
    log.info("jetfort catalog summary · tenant %s · run %s\n%s", tenant_id, context.get("run_id"),
             format_table(rows, SUMMARY_COLUMNS))
    print(catalog_summary_table(rows))
    _push_summary(context, rows)
    return rows


def catalog_summary_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """The summary as a plain-text table (what the demo prints)."""
    return format_table(list(rows), SUMMARY_COLUMNS)


def run_initial(tenant_id: str, context: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The manual initial sync (Params: direction, dry_run, article_filter)."""
    params = dict(context.get("params") or {})
    direction = str(params.get("direction") or "")
    globs = params.get("article_filter") or []
    if isinstance(globs, str):
        globs = [g.strip() for g in globs.split(",") if g.strip()]
    with TenantRuntime.for_tenant(tenant_id) as rt:
        sync = CatalogSync(rt, run_id=context.get("run_id"), dry_run=bool(params.get("dry_run")),
                           extra_include=globs)
        counts = sync.initial(direction)
    rows = [counts.row(INITIAL_COLUMNS)]
    title = f"jetfort initial sync · tenant {tenant_id} · {direction}{' (dry run)' if sync.dry_run else ''}"
    table = format_table(rows, INITIAL_COLUMNS)
    log.info("%s\n%s", title, table)
    print(f"{title}\n{table}")
    _push_summary(context, rows)
    return rows


def report_dir(tenant_id: str) -> Path:
    home = Path(os.environ.get("AIRFLOW_HOME") or Path.home() / "airflow")
    return home / "jetfort" / "reports" / tenant_id


def write_report(frame: pd.DataFrame, counts: Sequence[Counts], directory: Path, run_id: str) -> tuple[Path, Path]:
    """The drift table as CSV and a bar chart (differences per kind and shop) as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    directory.mkdir(parents=True, exist_ok=True)
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in run_id)
    csv_path, png_path = directory / f"{safe}.csv", directory / f"{safe}.png"
    frame.to_csv(csv_path, index=False)
    fig, ax = plt.subplots(figsize=(7, 4))
    if frame.empty:
        ax.bar(["products", "stock", "prices"], [0, 0, 0])
        ax.set_title(f"No drift ({', '.join(f'{c.entity}: {c.read} compared' for c in counts)})", fontsize=8)
    else:
        table = frame.groupby(["kind", "shop"]).size().unstack(fill_value=0)
        table.plot.bar(ax=ax, rot=0)
        ax.set_title(f"Catalog drift: {len(frame)} difference(s) per kind and shop")
    from matplotlib.ticker import MaxNLocator

    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("differences")
    fig.tight_layout()
    fig.savefig(png_path)
    plt.close(fig)
    return csv_path, png_path


def run_drift(tenant_id: str, context: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The drift report task: compare, write CSV + PNG under $AIRFLOW_HOME/jetfort/reports, correct per rule."""
    run_id = str(context.get("run_id") or dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S"))
    with TenantRuntime.for_tenant(tenant_id) as rt:
        sync = CatalogSync(rt, run_id=run_id)
        counts, frame = sync.drift()
    csv_path, png_path = write_report(frame, counts, report_dir(tenant_id), run_id)
    rows = [c.row() for c in counts]
    log.info("jetfort drift · tenant %s · %d difference(s)\n%s\n%s\nreport: %s, %s", tenant_id, len(frame),
             format_table(rows, SUMMARY_COLUMNS), format_table([{str(k): v for k, v in r.items()} for r in frame.to_dict("records")]) if len(frame) else "",
             csv_path, png_path)
    _push_summary(context, rows)
    ti = context.get("ti")
    if ti is not None:
        ti.xcom_push(key="report", value={"csv": str(csv_path), "png": str(png_path), "differences": len(frame)})
    return rows


# ================================================================================ DAG builders
def _context() -> Mapping[str, Any]:
    from airflow.sdk import get_current_context

    return get_current_context()


def _task(fn: Callable[..., Any], task_id: str, **kwargs: Any) -> Any:
    from airflow.sdk import task

    fn.__name__ = task_id
    return task(task_id=task_id, **kwargs)(fn)


def build_catalog(rules: TenantRules) -> None:
    """``jetfort__<tenant>__catalog``: the flow's steps (products first), then the summary table."""
    from jetfort.factory import tenant_of

    tenant = tenant_of(rules)
    outputs = []
    first = None
    for step in flow_steps(rules):
        def run(step: str = step) -> list[dict[str, Any]]:
            return run_step(tenant, step, _context())

        out = _task(run, step)()
        if first is None:
            first = out
        else:
            first >> out
        outputs.append(out)

    def summary(*results: Any) -> list[dict[str, Any]]:
        return summarize(tenant, results, _context())

    _task(summary, "summary")(*outputs)


def initial_params() -> dict[str, Any]:
    from airflow.sdk import Param

    return {
        "direction": Param(None, type=["null", "string"], enum=[None, *DIRECTIONS],
                           description="shop_to_fortnox | fortnox_to_shop; empty: the flow's product master "
                                       "(shop for ecom/combo, Fortnox for erp)"),
        "dry_run": Param(False, type="boolean", description="Count what would be written; write nothing."),
        "article_filter": Param([], type="array", items={"type": "string"},
                                description="Article-number globs to include (e.g. ['10*']); empty: all in scope."),
    }


def default_direction(rules: TenantRules) -> str:
    return "fortnox_to_shop" if rules.flow == "erp" else "shop_to_fortnox"


def build_initial(rules: TenantRules) -> None:
    """``jetfort__<tenant>__catalog_initial``: manual, the whole assortment across."""
    from jetfort.factory import tenant_of

    tenant = tenant_of(rules)
    fallback = default_direction(rules)

    def initial_sync() -> list[dict[str, Any]]:
        context = dict(_context())
        params = dict(context.get("params") or {})
        params["direction"] = params.get("direction") or fallback
        context["params"] = params
        return run_initial(tenant, context)

    _task(initial_sync, "initial_sync")()


def build_drift(rules: TenantRules) -> None:
    """``jetfort__<tenant>__drift``: full comparison, report (CSV + PNG), corrections per rule."""
    from jetfort.factory import tenant_of

    tenant = tenant_of(rules)

    def drift_report() -> list[dict[str, Any]]:
        return run_drift(tenant, _context())

    _task(drift_report, "drift_report")()
