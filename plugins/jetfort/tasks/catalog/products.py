"""Products in both directions: shop → Fortnox articles (ecom, combo) and Fortnox → every shop (erp).

Each direction reads the master side changed since its cursor, diffs the canonical records with the
ledger snapshot and writes only new and changed products. Article numbers Fortnox refuses are
quarantined (kind ``article``), products a shop refuses too (kind ``product``, key ``<shop>:<article>``);
the batch goes on. Products a shop queues in an import job (Norce) are recorded with the job and count as
written when it succeeds (:mod:`jetfort.tasks.catalog.jobs`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence

from jetfort.catalog.diff import diff_frame
from jetfort.extensions import apply_catalog_plugins
from jetfort.fortnox.errors import FortnoxNotFound, FortnoxValidationError
from jetfort.fortnox.models import ArticleListItem, FortnoxArticle
from jetfort.mapping.products import decimal_text
from jetfort.shop.models import ProductUpsert
from jetfort.tasks.catalog.base import (
    ARTICLE_VAT,
    FORTNOX,
    PRODUCT,
    SHOP,
    STOCK_ARTICLE,
    CatalogRun,
    Counts,
    Outcome,
    Row,
    shop_entity,
)
from jetfort.tasks.catalog.jobs import (
    REJECTED_BY_SHOP,
    JobItem,
    ShopJobs,
    SnapshotTarget,
    WriteOutcome,
    pending_items,
)

Records = dict[str, dict[str, str]]


def shop_products_cursor(shop_key: str) -> str:
    return f"catalog.shop_products.{shop_key}"


FORTNOX_ARTICLES_CURSOR = "catalog.fortnox_articles"


class ProductSync:
    """Products of one tenant for one run, read and written in either direction."""

    def __init__(self, run: CatalogRun, jobs: ShopJobs | None = None) -> None:
        self.run = run
        self.jobs = jobs or ShopJobs(run)
        #: Per article read from Fortnox: "1" a stock article, "0" a service / non-stock one.
        self.stock_kinds: list[Row] = []

    # ---------------------------------------------------------------------------- reading
    def shop_records(self, since_by_shop: Mapping[str, dt.datetime | None], known: set[str],
                     counts: Counts) -> tuple[Records, dict[str, list[Row]]]:
        """Canonical records of every shop's products in scope (first shop wins for an article) and,
        per shop, the existence rows to save."""
        run = self.run
        merged: Records = {}
        per_shop: dict[str, list[Row]] = {}
        for shop in run.rules.shops:
            rows = per_shop.setdefault(shop.key, [])
            for product in run.read_shop_products(shop.key, since_by_shop.get(shop.key)):
                number = product.article_number
                record = run.mapping.canonical_from_shop(product)
                rows.append((number, run.record_hash(record), None))
                if not run.scope.admits(number, active=not product.hide_product, known=number in known):
                    counts.skipped += 1
                    continue
                merged.setdefault(number, record)
        counts.read += len(merged)
        return merged, per_shop

    def fortnox_records(self, items: Sequence[ArticleListItem], known: set[str], counts: Counts,
                        also: Sequence[str] = ()) -> Records:
        """Canonical records of the Fortnox articles in scope (one GET each: list items are slim); ``also``:
        article numbers to read whether or not they are in ``items`` (their scope is checked on the GET)."""
        run = self.run
        wanted = [i.article_number for i in items if i.article_number and run.scope.admits(
            i.article_number, webshop=i.webshop_article, known=i.article_number in known)]
        counts.skipped += len(items) - len(wanted)
        wanted += [n for n in also if n not in wanted]
        records: Records = {}
        for number, article in run.fortnox_details(n for n in wanted if n).items():
            if not run.scope.admits(number, webshop=article.webshop_article, active=article.active,
                                    known=number in known):
                counts.skipped += 1
                continue
            records[number] = run.mapping.canonical_from_fortnox(article)
            stock_article = article.stock_goods is not False and article.type != "SERVICE"
            self.stock_kinds.append((number, "1" if stock_article else "0", None))
        counts.read += len(records)
        return records

    def vat_rows(self, records: Mapping[str, Mapping[str, str]], keys: Iterable[str]) -> list[Row]:
        """VAT percent per article (the ``article_vat`` snapshot rows)."""
        rows: list[Row] = []
        for key in keys:
            vat = self.run.mapping.vat_percent(records[key])
            if vat is not None:
                rows.append((key, decimal_text(vat), None))
        return rows

    # ---------------------------------------------------------------------------- shop → Fortnox
    def to_fortnox(self, *, full: bool = False) -> Counts:
        """ecom/combo: shop products changed since the cursor → Fortnox articles."""
        run = self.run
        counts = Counts("products → Fortnox")
        snap_fx = run.ledger.snapshot(run.tenant, FORTNOX, PRODUCT)
        since = {s.key: run.since(shop_products_cursor(s.key), full) for s in run.rules.shops}
        records, per_shop = self.shop_records(since, set(snap_fx), counts)
        frame = run.frame(records)
        result = diff_frame(frame, run.ledger.snapshot(run.tenant, SHOP, PRODUCT))
        counts.echo_suppressed = len(result.echo)
        counts.changed = len(result.to_write)
        outcome = self.write_fortnox(result.to_write, records, snap_fx, counts)
        counts.written = len(outcome.written)
        counts.quarantined = len(outcome.failed)
        hashes = frame["hash"].to_dict()
        run.save(SHOP, PRODUCT, ((k, hashes[k], None) for k in records))
        for shop_key, rows in per_shop.items():
            run.save(SHOP, shop_entity(PRODUCT, shop_key), rows)
        run.save(FORTNOX, PRODUCT, ((k, hashes[k], None) for k in outcome.written), written=True)
        run.save(FORTNOX, ARTICLE_VAT, self.vat_rows(records, outcome.written))
        for shop in run.rules.shops:
            run.advance(shop_products_cursor(shop.key))
        return counts

    def write_fortnox(self, keys: Sequence[str], records: Mapping[str, Mapping[str, str]],
                      snap_fx: Mapping[str, object], counts: Counts) -> Outcome:
        """Create or update each article; refusals are quarantined and the rest goes on."""
        run = self.run
        outcome = Outcome()
        for key in keys:
            record = records[key]
            problem = run.mapping.article_number_problem(key)
            if problem:
                outcome.failed[key] = problem
                run.quarantine("article", key, "invalid_article_number", problem, payload=dict(record))
                continue
            try:
                self._write_article(key, record, key in snap_fx, counts, outcome)
            except ValueError as exc:  # mapping: a value Fortnox cannot take (e.g. no account for the VAT)
                outcome.failed[key] = str(exc)
                run.quarantine("article", key, "unmappable_value", str(exc), payload=dict(record))
            except FortnoxValidationError as exc:
                outcome.failed[key] = str(exc)
                run.quarantine("article", key, "rejected_by_fortnox", exc.message, code=exc.code,
                               payload=dict(record))
        run.resolve("article", outcome.written)
        return outcome

    def _write_article(self, key: str, record: Mapping[str, str], known: bool, counts: Counts,
                       outcome: Outcome) -> None:
        """Update the article if Fortnox has it (known, or found), else create it."""
        fortnox = self.run.rt.fortnox
        exists = known or fortnox.find_article(key) is not None
        if self.run.dry_run:
            if exists:
                counts.updated += 1
            else:
                counts.created += 1
            outcome.written.append(key)
            return
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

    def _article(self, record: Mapping[str, str], *, create: bool) -> FortnoxArticle:
        """The article to write, after the tenant's ``after_map_article`` plugins (ValueError → quarantine)."""
        rules = self.run.rules
        article = self.run.mapping.to_fortnox(record, create=create)
        if any(p.enabled for p in rules.plugins):
            article = apply_catalog_plugins("after_map_article", article, dict(record), rules)
        return article

    # ---------------------------------------------------------------------------- Fortnox → shop
    def to_shop(self, *, full: bool = False) -> Counts:
        """erp: Fortnox articles changed since the cursor → every shop (default culture of each)."""
        run = self.run
        counts = Counts("products → shop")
        snap_fx = run.ledger.snapshot(run.tenant, FORTNOX, PRODUCT)
        items = run.read_fortnox_items(run.since(FORTNOX_ARTICLES_CURSOR, full))
        again = self.refused_by_a_shop()
        records = self.fortnox_records(items, set(snap_fx), counts, also=again)
        frame = run.frame(records)
        result = diff_frame(frame, snap_fx)
        to_write = [*result.to_write, *sorted(k for k in again if k in records and k not in result.to_write)]
        counts.echo_suppressed = len(result.echo)
        counts.changed = len(to_write)
        written: set[str] = set(to_write)
        created: set[str] = set()
        for shop in run.rules.shops:
            outcome = self.write_shop_products(shop.key, to_write, records)
            counts.quarantined += len(outcome.failed)
            written &= set(outcome.written)
            created |= set(outcome.created)
        counts.written = len(written)
        counts.created = len(created & written)
        counts.updated = counts.written - counts.created
        hashes = frame["hash"].to_dict()
        run.save(FORTNOX, PRODUCT, ((k, hashes[k], None) for k in records))
        run.save(FORTNOX, ARTICLE_VAT, self.vat_rows(records, records))
        run.save(FORTNOX, STOCK_ARTICLE, self.stock_kinds)
        run.save(SHOP, PRODUCT, ((k, hashes[k], None) for k in written), written=True)
        run.advance(FORTNOX_ARTICLES_CURSOR)
        return counts

    def refused_by_a_shop(self) -> list[str]:
        """Articles a shop refused (open quarantine, kind product): sent again every run, whether or not
        Fortnox changed them, until a shop takes them or a person resolves the entry."""
        shops = {s.key for s in self.run.rules.shops}
        keys = (q.source_key.split(":", 1) for q in self.run.ledger.open_quarantine(self.run.tenant, "product"))
        return sorted({article for shop, article in keys if shop in shops})

    def write_shop_products(self, shop_key: str, keys: Sequence[str],
                            records: Mapping[str, Mapping[str, str]]) -> WriteOutcome:
        """Upsert products into one shop; refused items are quarantined (kind product), items the shop
        queued in a job are recorded with it (``pending``: written once the job succeeds)."""
        run = self.run
        outcome = WriteOutcome()
        if not keys:
            return outcome
        upserts = self._upserts(shop_key, keys, records, outcome)
        keys = [u.article_number for u in upserts]
        if run.dry_run:
            outcome.written.extend(keys)
            return outcome
        write = run.rt.shop(shop_key).upsert_products(upserts)
        by_key = {r.article_number: r for r in write.results}
        hashes = {k: run.record_hash(records[k]) for k in keys}
        queued = pending_items(by_key, write.jobs)
        targets = [SnapshotTarget(shop_entity(PRODUCT, shop_key), seen=False), SnapshotTarget(PRODUCT, seen=False)]
        outcome.pending.extend(sorted(self.jobs.record(
            shop_key, "product", write.jobs,
            {k: JobItem(k, hashes[k], dict(records[k])) for k in keys if k in queued}, targets)))
        for key in keys:
            res = by_key.get(key)
            if res is None and key in queued:
                continue
            if res is not None and res.success:
                outcome.written.append(key)
                if res.created:
                    outcome.created.append(key)
            else:
                message = res.message if res is not None else "no result returned"
                outcome.failed[key] = message
                run.quarantine("product", f"{shop_key}:{key}", REJECTED_BY_SHOP, message,
                               payload=dict(records[key]))
        run.resolve("product", (f"{shop_key}:{k}" for k in outcome.written))
        run.save(SHOP, shop_entity(PRODUCT, shop_key), ((k, hashes[k], None) for k in outcome.written), written=True)
        return outcome

    def _upserts(self, shop_key: str, keys: Sequence[str], records: Mapping[str, Mapping[str, str]],
                 outcome: Outcome) -> list[ProductUpsert]:
        """The upserts of one shop (its first channel's culture); a product a plugin refuses is quarantined."""
        culture = self.run.shop_culture(shop_key)
        upserts = []
        for key in keys:
            try:
                upserts.append(self._product(records[key], culture))
            except ValueError as exc:  # a plugin refused or broke it
                outcome.failed[key] = str(exc)
                self.run.quarantine("product", f"{shop_key}:{key}", "unmappable_value", str(exc),
                                    payload=dict(records[key]))
        return upserts

    def _product(self, record: Mapping[str, str], culture: str) -> ProductUpsert:
        """The product upsert, after the tenant's ``after_map_product`` plugins."""
        rules = self.run.rules
        product = self.run.mapping.to_shop(record, culture=culture)
        if any(p.enabled for p in rules.plugins):
            product = apply_catalog_plugins("after_map_product", product, dict(record), rules)
        return product
