"""Catalog flows: products, prices, price lists, stock and stock status; the initial sync; the drift report.

Who is master (DESIGN.md, issue 7):

* ``ecom``  — products shop → Fortnox;
* ``erp``   — products, prices, price lists and stock Fortnox → shop;
* ``combo`` — products shop → Fortnox; prices, price lists, stock and stock status Fortnox → shop.

A shop is any backend (Jetshop, Norce) behind :mod:`jetfort.shop.interface`. Every step reads the
master side (incrementally where the API allows: Fortnox ``lastmodified``, the shop's product listing
changed since), holds it as a pandas frame, hashes each row or cell and diffs it with the ledger
snapshot (:mod:`jetfort.catalog.diff`), writes only new and changed rows in batches, and records what
it wrote (``written=True``) so reading that side later is recognised as jetfort's own echo. A shop
that settles writes later (Norce import jobs) has them recorded when its job succeeded
(:mod:`~jetfort.tasks.catalog.jobs`). Article numbers Fortnox refuses are quarantined (kind ``article``); the batch
goes on. Tasks return counts only (XCom ``return_value`` and key ``summary``).

One module per concern:

* :mod:`~jetfort.tasks.catalog.base` — one run's shared state, reading the sides, cursors, snapshot
  saves, quarantine, the summary counts;
* :mod:`~jetfort.tasks.catalog.products` — products in both directions;
* :mod:`~jetfort.tasks.catalog.prices` and :mod:`~jetfort.tasks.catalog.stock` — Fortnox → shop;
* :mod:`~jetfort.tasks.catalog.initial` — the initial sync;
* :mod:`~jetfort.tasks.catalog.drift` and :mod:`~jetfort.tasks.catalog.corrections` — the drift check;
* :mod:`~jetfort.tasks.catalog.report` — the drift report files (CSV + PNG);
* :mod:`~jetfort.tasks.catalog.sync` — :class:`CatalogSync`, the steps of one task run;
* :mod:`~jetfort.tasks.catalog.dag` — the Airflow wiring: task runners and DAG builders (imported by
  ``dags/jetfort_catalog.py`` only, so importing this package does not import Airflow).

Choices worth knowing:

* several shops feeding Fortnox (combo): the first shop in the rules wins for an article number;
* products are written in each shop's first channel's culture (Fortnox has one description);
* empty text never overwrites the other side (Fortnox ignores ``""``; clearing needs ``API_BLANK``).

Snapshot layout (ledger ``catalog_snapshots``; side / entity / key):

* ``shop``/``product`` and ``fortnox``/``product`` — canonical product hash per article;
* ``shop``/``product:<shop>`` — articles known to exist in one shop (prices and stock go only there);
* ``fortnox``/``article_vat`` — VAT percent per article (the value itself as the "hash");
  ``fortnox``/``stock_article`` — ``1``/``0``: service and non-stock articles get no stock writes;
* ``shop``/``price:<shop>`` — incl.-VAT price per ``article@GUID``; ``shop``/``stock:<shop>`` —
  ``count|status|date`` per article (short values are stored as-is: readable and comparable).
"""

from jetfort.tasks.catalog.base import (
    ARTICLE_VAT,
    FORTNOX,
    INITIAL_COLUMNS,
    PRODUCT,
    SHOP,
    STOCK_ARTICLE,
    SUMMARY_COLUMNS,
    CatalogRun,
    Counts,
    Outcome,
    shop_entity,
)
from jetfort.tasks.catalog.sync import CatalogSync

__all__ = [
    "ARTICLE_VAT",
    "FORTNOX",
    "INITIAL_COLUMNS",
    "PRODUCT",
    "SHOP",
    "STOCK_ARTICLE",
    "SUMMARY_COLUMNS",
    "CatalogRun",
    "CatalogSync",
    "Counts",
    "Outcome",
    "shop_entity",
]
