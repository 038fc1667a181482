"""The catalog steps of one tenant for one task run, each done by the module of its concern, and the
settling of the shop jobs those steps queued."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import pandas as pd

from jetfort.mapping.products import ProductMapping
from jetfort.tasks.catalog.base import CatalogRun, Counts
from jetfort.tasks.catalog.drift import drift
from jetfort.tasks.catalog.initial import initial_sync
from jetfort.tasks.catalog.jobs import JobTally, ShopJobs, settle_open_jobs
from jetfort.tasks.catalog.prices import PriceSync
from jetfort.tasks.catalog.products import ProductSync
from jetfort.tasks.catalog.stock import StockSync
from jetfort.tasks.runtime import TenantRuntime


class CatalogSync:
    """One run's shared state (:class:`CatalogRun`) and one object per concern, sharing it."""

    def __init__(self, rt: TenantRuntime, *, run_id: str | None = None, dry_run: bool = False,
                 extra_include: Iterable[str] = (), now: dt.datetime | None = None) -> None:
        self.run = CatalogRun(rt, run_id=run_id, dry_run=dry_run, extra_include=extra_include, now=now)
        #: The shop jobs this run's writes queued (shared by every concern: one count for the summary).
        self.jobs = ShopJobs(self.run)
        self.products = ProductSync(self.run, self.jobs)
        self.prices = PriceSync(self.run, self.jobs)
        self.stock = StockSync(self.run, self.jobs)

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

    def settle_jobs(self) -> JobTally:
        """Record what the tenant's settled shop jobs did; the ones still running stay open."""
        return settle_open_jobs(self.run)

    def initial(self, direction: str) -> Counts:
        return initial_sync(self.products, direction)

    def drift(self, *, correct: bool | None = None) -> tuple[list[Counts], pd.DataFrame]:
        return drift(self.products, self.prices, self.stock, correct=correct)
