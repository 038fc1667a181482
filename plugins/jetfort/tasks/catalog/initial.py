"""The initial sync: the whole assortment across with the same article numbers, in one direction.

Products the other side already holds unchanged are skipped; the rest is created or updated. Safe to
repeat: a second run finds everything in sync. Afterwards the ledger snapshots and cursors are where
a delta run would have left them.
"""

from __future__ import annotations

from jetfort.tasks.catalog.base import ARTICLE_VAT, FORTNOX, PRODUCT, SHOP, STOCK_ARTICLE, Counts, shop_entity
from jetfort.tasks.catalog.products import FORTNOX_ARTICLES_CURSOR, ProductSync, shop_products_cursor

DIRECTIONS = ("shop_to_fortnox", "fortnox_to_shop")


def initial_sync(products: ProductSync, direction: str) -> Counts:
    """Bring the whole assortment across with the same article numbers; safe to repeat."""
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {DIRECTIONS}, not {direction!r}")
    return to_fortnox(products) if direction == "shop_to_fortnox" else to_shop(products)


def to_fortnox(products: ProductSync) -> Counts:
    """Every shop product in scope → Fortnox, unless Fortnox holds it unchanged."""
    run = products.run
    counts = Counts("initial products → Fortnox")
    snap_fx = run.ledger.snapshot(run.tenant, FORTNOX, PRODUCT)
    records, per_shop = products.shop_records({}, set(snap_fx), counts)
    existing = {i.article_number for i in run.read_fortnox_items() if i.article_number}
    details = run.fortnox_details(sorted(set(records) & existing))
    to_write: list[str] = []
    for key, record in records.items():
        current = details.get(key)
        if current is not None and run.mapping.same(record, run.mapping.canonical_from_fortnox(current)):
            counts.skipped += 1
        else:
            to_write.append(key)
    outcome = products.write_fortnox(to_write, records, dict.fromkeys(existing), counts)
    counts.quarantined = len(outcome.failed)
    counts.written = len(outcome.written)
    in_sync = [k for k in records if k not in outcome.failed]
    run.save(SHOP, PRODUCT, ((k, run.record_hash(records[k]), None) for k in records))
    for shop_key, rows in per_shop.items():
        run.save(SHOP, shop_entity(PRODUCT, shop_key), rows)
    run.save(FORTNOX, PRODUCT, ((k, run.record_hash(records[k]), None) for k in in_sync), written=True)
    run.save(FORTNOX, ARTICLE_VAT, products.vat_rows(records, in_sync))
    for shop in run.rules.shops:
        run.advance(shop_products_cursor(shop.key))
    return counts


def to_shop(products: ProductSync) -> Counts:
    """Every Fortnox article in scope → every shop, unless the shop holds it unchanged."""
    run = products.run
    counts = Counts("initial products → shop")
    items = run.read_fortnox_items()
    snap_fx = run.ledger.snapshot(run.tenant, FORTNOX, PRODUCT)
    records = products.fortnox_records(items, set(snap_fx), counts)
    in_sync_everywhere = set(records)
    for shop in run.rules.shops:
        current = {p.article_number: p for p in run.read_shop_products(shop.key)}
        to_write = [k for k in records
                    if k not in current or not run.mapping.shop_holds(current[k], records[k])]
        counts.skipped += len(records) - len(to_write)
        outcome = products.write_shop_products(shop.key, to_write, records)
        created = [k for k in outcome.written if k not in current]  # also right for a dry run
        counts.created += len(created)
        counts.updated += len(outcome.written) - len(created)
        counts.quarantined += len(outcome.failed)
        counts.written += len(outcome.written)
        in_sync_everywhere -= {*outcome.failed, *outcome.pending}  # a queued write is recorded when it succeeds
        same = [k for k in records if k not in to_write]
        run.save(SHOP, shop_entity(PRODUCT, shop.key), ((k, run.record_hash(records[k]), None) for k in same))
    run.save(FORTNOX, PRODUCT, ((k, run.record_hash(records[k]), None) for k in records))
    run.save(FORTNOX, ARTICLE_VAT, products.vat_rows(records, records))
    run.save(FORTNOX, STOCK_ARTICLE, products.stock_kinds)
    run.save(SHOP, PRODUCT, ((k, run.record_hash(records[k]), None) for k in in_sync_everywhere), written=True)
    run.advance(FORTNOX_ARTICLES_CURSOR)
    return counts
