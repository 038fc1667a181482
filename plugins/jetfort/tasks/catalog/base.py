"""What every catalog step shares: one run's state, reading both sides, cursors, snapshot saves,
quarantine, and the summary counts."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

from jetfort.catalog.diff import Diff, diff_frame, frame_of, hash_rows
from jetfort.fortnox.models import ArticleListItem, FortnoxArticle
from jetfort.ledger import Ledger
from jetfort.mapping.products import KEY, ArticleScope, ProductMapping, canonical_hash
from jetfort.rules import TenantRules, load_mapping
from jetfort.shop.models import Product
from jetfort.tasks.runtime import TenantRuntime

log = logging.getLogger(__name__)

SHOP, FORTNOX = "shop", "fortnox"
PRODUCT = "product"
ARTICLE_VAT = "article_vat"
STOCK_ARTICLE = "stock_article"  # "0": a service / non-stock article (no stock pushed to the shop)
SUMMARY_COLUMNS = ["entity", "read", "changed", "written", "skipped", "quarantined", "echo_suppressed"]
INITIAL_COLUMNS = ["entity", "read", "created", "updated", "skipped", "quarantined"]
CATALOG_FIELDS_FILE = "catalog_fields.json"

#: A snapshot row: (key, hash or short value, payload).
Row = tuple[str, str, Any]


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


class CatalogRun:
    """One tenant's catalog state for one task run: hooks and ledger (from the runtime), the product
    mapping and article scope, and the ledger bookkeeping every step does the same way."""

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

    @property
    def ledger(self) -> Ledger:
        return self.rt.ledger

    def shop_culture(self, shop_key: str) -> str:
        shop = next(s for s in self.rules.shops if s.key == shop_key)
        return shop.channels[0].culture

    # ---------------------------------------------------------------------------- reading the sides
    def read_shop_products(self, shop_key: str, since: dt.datetime | None = None) -> list[Product]:
        shop = self.rt.shop(shop_key)
        return list(shop.iter_products(culture=self.shop_culture(shop_key), modified_from=since))

    def read_fortnox_items(self, since: dt.datetime | None = None) -> list[ArticleListItem]:
        return list(self.rt.fortnox.list_articles(since=since))

    def fortnox_details(self, numbers: Iterable[str]) -> dict[str, FortnoxArticle]:
        out: dict[str, FortnoxArticle] = {}
        for number in numbers:
            article = self.rt.fortnox.find_article(number)
            if article is not None:
                out[number] = article
        return out

    def known_in_shop(self, shop_key: str) -> set[str]:
        """Articles known to exist in one shop (prices and stock go only there)."""
        return set(self.ledger.snapshot(self.tenant, SHOP, shop_entity(PRODUCT, shop_key)))

    # ---------------------------------------------------------------------------- cursors
    def since(self, cursor: str, full: bool) -> dt.datetime | None:
        """Where an incremental read starts: the cursor less the overlap; ``None`` reads everything."""
        if full:
            return None
        stored = self.ledger.get_cursor(self.tenant, cursor)
        overlap = dt.timedelta(minutes=self.rules.schedules.window_overlap_minutes)
        return dt.datetime.fromisoformat(stored) - overlap if stored else None

    def advance(self, cursor: str) -> None:
        if not self.dry_run:
            self.ledger.set_cursor(self.tenant, cursor, self.now.isoformat())

    # ---------------------------------------------------------------------------- hashing and diffing
    def record_hash(self, record: Mapping[str, str]) -> str:
        """The canonical hash of one product record."""
        return canonical_hash(record, self.mapping.columns)

    def frame(self, records: Mapping[str, Mapping[str, str]]) -> pd.DataFrame:
        """Canonical product records as a frame with one hash per row."""
        columns = self.mapping.columns
        frame = frame_of(records.values(), columns, key=KEY)
        frame["hash"] = hash_rows(frame, columns) if columns else ""
        return frame

    def diff_values(self, values: Mapping[str, str], side: str, entity: str) -> Diff:
        """Short values (price and stock cells) against their snapshot."""
        series = pd.Series(values, dtype=object)
        return diff_frame(series, self.ledger.snapshot(self.tenant, side, entity))

    # ---------------------------------------------------------------------------- ledger writes
    def save(self, side: str, entity: str, rows: Iterable[Row], *, written: bool = False) -> None:
        rows = list(rows)
        if rows and not self.dry_run:
            self.ledger.save_snapshot(self.tenant, side, entity, rows, written=written)

    def save_cells(self, entity: str, cells: Iterable[tuple[str, str]]) -> None:
        """Price/stock cells jetfort wrote to the shop: recorded as written *and* as the value the shop
        now holds (the delta compares Fortnox's next value with it; the shop is not read back here)."""
        rows = [(key, value, None) for key, value in cells]
        self.save(SHOP, entity, rows, written=True)
        self.save(SHOP, entity, rows)

    def quarantine(self, kind: str, key: str, reason: str, message: str, *, code: Any = None,
                   payload: Any = None) -> None:
        log.warning("quarantine %s %s: %s: %s", kind, key, reason, message)
        if not self.dry_run:
            self.ledger.quarantine(self.tenant, kind, key, reason=reason, message=message,
                                   code=str(code) if code is not None else None, payload=payload,
                                   run_id=self.run_id)

    def resolve(self, kind: str, keys: Iterable[str]) -> None:
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
