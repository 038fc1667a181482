"""The catalog steps of one tenant for one task run, each done by the module of its concern."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import pandas as pd

from jetfort.mapping.products import ProductMapping
from jetfort.tasks.catalog.base import CatalogRun, Counts
from jetfort.tasks.catalog.drift import drift
from jetfort.tasks.catalog.initial import initial_sync
from jetfort.tasks.catalog.prices import PriceSync
from jetfort.tasks.catalog.products import ProductSync
from jetfort.tasks.catalog.stock import StockSync
from jetfort.tasks.runtime import TenantRuntime


class CatalogSync:
    """One run's shared state (:class:`CatalogRun`) and one object per concern, sharing it."""

    def __init__(self, rt: TenantRuntime, *, run_id: str | None = None, dry_run: bool = False,
                 extra_include: Iterable[str] = (), now: dt.datetime | None = None) -> None:
        self.run = CatalogRun(rt, run_id=run_id, dry_run=dry_run, extra_include=extra_include, now=now)
        self.products = ProductSync(self.run)
        self.prices = PriceSync(self.run)
        self.stock = StockSync(self.run)

    @property
    def dry_run(self) -> bool:
        return self.run.dry_run

    @property
    def mapping(self) -> ProductMapping:
        return self.run.mapping

    # ---------------------------------------------------------------------------- the steps
    def products_to_fortnox(self, *, full: bool = False) -> Counts:
        return self.products.to_fortnox(full=full)

    def products_to_shop(self, *, full: bool = False) -> Counts:
        return self.products.to_shop(full=full)

    def prices_to_shop(self) -> Counts:
        return self.prices.to_shop()

    def stock_to_shop(self) -> Counts:
        return self.stock.to_shop()

    def initial(self, direction: str) -> Counts:
        return initial_sync(self.products, direction)

    def drift(self, *, correct: bool | None = None) -> tuple[list[Counts], pd.DataFrame]:
        return drift(self.products, self.prices, self.stock, correct=correct)
