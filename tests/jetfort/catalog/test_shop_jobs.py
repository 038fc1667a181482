"""Catalog writes a shop settles later (Norce import jobs): recorded in the ledger at once, written to the
snapshots only when the job succeeds, refusals quarantined with the shop's message, never lost between runs.

The shop is a fake backend that queues jobs the way Norce Connect does (reference §4.1/§4.7: a write
answers with a job id, the rows' fate is known from the job later); expected values are written by hand.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import pytest

from jetfort.catalog.diff import diff_frame
from jetfort.fortnox.models import ArticleListItem
from jetfort.ledger import Ledger
from jetfort.rules import parse_tenant
from jetfort.shop.errors import ShopNotFound, ShopServerError
from jetfort.shop.interface import CatalogWrite, JobOutcome, JobState, PendingJob
from jetfort.shop.models import (
    PriceListPrice,
    PriceListResult,
    ProductUpsert,
    ProductUpsertResult,
    StockUpdate,
)
from jetfort.tasks.catalog import dag as catalog_dag
from jetfort.tasks.catalog.base import SHOP, Counts
from jetfort.tasks.catalog.sync import CatalogSync
from jetfort.tasks.runtime import TenantRuntime

GUID = "7C7DFEC3-2312-4DC9-A74F-913F3DA0C686"
RUNNING = JobOutcome(JobState.RUNNING)
RULES = {"flow": "erp", "fortnox_conn_id": "fx", "shops": [
    {"key": "se", "jetshop_conn_id": "js", "channels": [
        {"key": "se", "culture": "sv-SE", "currency": "SEK", "price_list_guid": GUID}]}],
    "stock": {"enabled": True, "source": "disposable", "thresholds": {"low_at_or_below": 3, "out_at_or_below": 0},
              "status_ids": {"in_stock": 1, "out_of_stock": 2}}}


class JobShop:
    """A shop whose catalog writes are queued as jobs (``queue=True``) or answered at once (Jetshop)."""

    backend_name = "fake"

    def __init__(self, *, queue: bool = True, refuse: Sequence[str] = (), onhands: bool = False) -> None:
        self.queue = queue
        self.onhands = onhands  # a product write also queues an on-hands job for the same articles
        self.refuse = set(refuse)
        self.outcomes: dict[str, list[JobOutcome | Exception]] = {}
        self.writes: list[tuple[str, list[Any]]] = []
        self.asked: list[str] = []
        self._next = 100

    def _job(self, operation: str, keys: list[str]) -> PendingJob:
        self._next += 1
        return PendingJob(str(self._next), operation, tuple(keys))

    def upsert_products(self, products: Sequence[ProductUpsert]) -> CatalogWrite[ProductUpsertResult]:
        self.writes.append(("products", list(products)))
        if self.queue:
            keys = [p.article_number for p in products]
            jobs = [self._job("ImportProducts", keys)]
            return CatalogWrite(jobs=[*jobs, self._job("ImportOnhands", keys)] if self.onhands else jobs)
        return CatalogWrite(results=[ProductUpsertResult(article_number=p.article_number, culture="sv-SE",
                                                         status="" if p.article_number in self.refuse else "SuccessNew")
                                     for p in products])

    def update_prices(self, prices: Sequence[PriceListPrice]) -> CatalogWrite[PriceListResult]:
        self.writes.append(("prices", list(prices)))
        if self.queue:
            return CatalogWrite(jobs=[self._job("ImportSkuPriceLists",
                                                [f"{p.article_number}@{p.price_list_id}" for p in prices])])
        return CatalogWrite(results=[PriceListResult(article_number=p.article_number, price_list_id=p.price_list_id,
                                                     success=p.article_number not in self.refuse,
                                                     message="Article not found" if p.article_number in self.refuse
                                                     else "") for p in prices])

    def update_stock(self, updates: Sequence[StockUpdate], *,
                     culture: str | None = None) -> CatalogWrite[ProductUpsertResult]:
        self.writes.append(("stock", list(updates)))
        assert self.queue
        return CatalogWrite(jobs=[self._job("ImportOnhands", [u.article_number for u in updates])])

    def job_outcome(self, job: PendingJob) -> JobOutcome:
        self.asked.append(job.job_id)
        queue = self.outcomes.get(job.job_id) or [RUNNING]
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(answer, Exception):
            raise answer
        return answer

    def close(self) -> None:
        pass


class FakeFortnox:
    def __init__(self, quantities: dict[str, str]) -> None:
        self.quantities = quantities

    def list_articles(self, since: dt.datetime | None = None) -> list[ArticleListItem]:
        return [ArticleListItem(article_number=a, disposable_quantity=Decimal(q)) for a, q in self.quantities.items()]

    def expected_deliveries(self, stock_point_codes: Any = None, *, today: dt.date | None = None) -> dict[str, dt.date]:
        return {}  # no purchase orders

    def close(self) -> None:
        pass


class Runtime(TenantRuntime):
    def __init__(self, ledger: Ledger, shop: JobShop, fortnox: FakeFortnox | None = None) -> None:
        super().__init__(parse_tenant("t", RULES), ledger=ledger)
        self.fake_shop = shop
        self.__dict__["fortnox"] = fortnox or FakeFortnox({})

    def shop(self, shop_key: str) -> Any:
        if shop_key != "se":
            raise KeyError(shop_key)
        return self.fake_shop


@pytest.fixture
def ledger(sqlite_url: str) -> Ledger:
    return Ledger.from_url(sqlite_url)


def sync(ledger: Ledger, shop: JobShop, run_id: str = "run-1", fortnox: FakeFortnox | None = None) -> CatalogSync:
    return CatalogSync(Runtime(ledger, shop, fortnox), run_id=run_id)


def records() -> dict[str, dict[str, str]]:
    return {n: {"ArticleNumber": n, "Description": d} for n, d in
            [("1001", "Kaffekopp"), ("1002", "Tekanna"), ("1003", "Termos")]}


def open_quarantine(ledger: Ledger, kind: str) -> dict[str, Any]:
    return {q.source_key: q for q in ledger.open_quarantine("t", kind)}


def job_states(ledger: Ledger) -> dict[str, str]:
    return {r.source_key: r.state for r in ledger.records("t", "shop_job")}


# ------------------------------------------------------------------------------------ products
def test_products_in_a_job_are_written_only_after_it_succeeds_and_its_failed_rows_are_quarantined(
        ledger: Ledger) -> None:
    shop = JobShop()
    first = sync(ledger, shop)
    outcome = first.products.write_shop_products("se", ["1001", "1002", "1003"], records())
    assert (outcome.written, outcome.failed, outcome.pending) == ([], {}, ["1001", "1002", "1003"])
    assert first.jobs.recorded == 1
    assert ledger.snapshot("t", SHOP, "product:se") == {} and first.run.known_in_shop("se") == set()
    assert job_states(ledger) == {"se:101": "open"}

    shop.outcomes["101"] = [RUNNING, JobOutcome(JobState.SUCCEEDED, failed={"1002": "ManufacturerCode is missing"})]
    waiting = first.settle_jobs()
    assert (waiting.still_open, waiting.written) == (["se:101"], 0)
    assert ledger.snapshot("t", SHOP, "product:se") == {}

    done = first.settle_jobs()
    assert (done.still_open, done.written, done.job_failures) == ([], 2, 1)
    assert job_states(ledger) == {"se:101": "succeeded"}
    assert first.run.known_in_shop("se") == {"1001", "1003"}  # prices and stock now go there
    # reading the shop back finds jetfort's own write (echo) for the two written products, not for 1002
    read_back = diff_frame(first.run.frame(records()), ledger.snapshot("t", SHOP, "product"))
    assert sorted(read_back.echo) == ["1001", "1003"] and read_back.new == ["1002"]
    entry = open_quarantine(ledger, "product")["se:1002"]
    assert entry.reason == "rejected_by_shop" and "ManufacturerCode is missing" in entry.message
    assert "101" in entry.message and entry.payload == {"ArticleNumber": "1002", "Description": "Tekanna"}

    again = first.settle_jobs()  # nothing open any more: no question to the shop
    assert (again.checked, again.still_open, shop.asked) == (0, [], ["101", "101"])


def test_a_product_quarantined_by_a_job_is_resolved_when_a_later_job_writes_it(ledger: Ledger) -> None:
    shop = JobShop()
    run = sync(ledger, shop)
    run.products.write_shop_products("se", ["1002"], records())
    shop.outcomes["101"] = [JobOutcome(JobState.SUCCEEDED, failed={"1002": "ManufacturerCode is missing"})]
    run.settle_jobs()
    assert "se:1002" in open_quarantine(ledger, "product")
    run.products.write_shop_products("se", ["1002"], records())
    shop.outcomes["102"] = [JobOutcome(JobState.SUCCEEDED)]
    run.settle_jobs()
    assert open_quarantine(ledger, "product") == {} and run.run.known_in_shop("se") == {"1002"}


def test_the_jobs_of_one_write_settle_together_and_an_item_needs_every_one_of_them(ledger: Ledger) -> None:
    shop = JobShop(onhands=True)
    run = sync(ledger, shop)
    outcome = run.products.write_shop_products("se", ["1001", "1003"], records())
    assert outcome.pending == ["1001", "1003"] and sorted(job_states(ledger)) == ["se:101", "se:102"]
    shop.outcomes["101"] = [JobOutcome(JobState.SUCCEEDED)]
    shop.outcomes["102"] = [RUNNING, JobOutcome(JobState.SUCCEEDED, failed={"1003": "Warehouse MAIN unknown"})]
    assert run.settle_jobs().still_open == ["se:101", "se:102"]  # the product job alone decides nothing
    assert run.run.known_in_shop("se") == set() and job_states(ledger)["se:101"] == "open"
    tally = run.settle_jobs()
    assert (tally.written, tally.job_failures) == (1, 1)
    assert run.run.known_in_shop("se") == {"1001"}
    assert "Warehouse MAIN unknown" in open_quarantine(ledger, "product")["se:1003"].message
    assert job_states(ledger) == {"se:101": "succeeded", "se:102": "succeeded"}


# ------------------------------------------------------------------------------------ stock
def test_a_failed_job_quarantines_every_row_with_the_job_message_and_writes_nothing(ledger: Ledger) -> None:
    shop = JobShop()
    ledger.save_snapshot("t", SHOP, "product:se", [("1001", "h", None), ("1002", "h", None)])
    run = sync(ledger, shop, fortnox=FakeFortnox({"1001": "10", "1002": "0"}))
    counts = run.stock.to_shop()
    assert (counts.read, counts.changed, counts.written) == (2, 2, 0)
    shop.outcomes["101"] = [JobOutcome(JobState.FAILED, message="Import failed: warehouse MAIN not found")]
    tally = run.settle_jobs()
    assert (tally.written, tally.job_failures, tally.still_open) == (0, 2, [])
    assert ledger.snapshot("t", SHOP, "stock:se") == {}
    quarantined = open_quarantine(ledger, "stock")
    assert sorted(quarantined) == ["se:1001", "se:1002"]
    assert all("warehouse MAIN not found" in q.message for q in quarantined.values())
    assert quarantined["se:1002"].payload["stock_count"] == 0
    assert job_states(ledger) == {"se:101": "failed"}


def test_stock_queued_in_one_run_is_settled_by_the_next_and_not_sent_again(ledger: Ledger) -> None:
    shop = JobShop()
    ledger.save_snapshot("t", SHOP, "product:se", [("1001", "h", None), ("1002", "h", None)])
    fortnox = FakeFortnox({"1001": "10", "1002": "0"})
    first = sync(ledger, shop, "run-1", fortnox)
    first.stock.to_shop()
    assert first.settle_jobs().still_open == ["se:101"]  # the sensor times out with the job still running

    shop.outcomes["101"] = [JobOutcome(JobState.SUCCEEDED)]
    second = sync(ledger, shop, "run-2", fortnox)  # a new run, a new worker: the ledger holds the job
    tally = second.settle_jobs()
    assert (tally.checked, tally.written, tally.still_open) == (1, 2, [])
    # count|status|date: 10 in stock (status 1), 0 out of stock (status 2); seen and written
    assert ledger.snapshot("t", SHOP, "stock:se") == {"1001": ("10|1|", "10|1|"), "1002": ("0|2|", "0|2|")}
    writes = len(shop.writes)
    counts = sync(ledger, shop, "run-3", fortnox).stock.to_shop()
    assert (counts.changed, counts.written, len(shop.writes)) == (0, 0, writes)


def test_a_newer_job_carrying_the_same_article_decides_its_snapshot(ledger: Ledger) -> None:
    shop = JobShop()
    ledger.save_snapshot("t", SHOP, "product:se", [("1001", "h", None)])
    sync(ledger, shop, "run-1", FakeFortnox({"1001": "10"})).stock.to_shop()  # job 101: 10
    later = sync(ledger, shop, "run-2", FakeFortnox({"1001": "5"}))
    later.stock.to_shop()  # job 102: 5, queued before 101 settled
    shop.outcomes["101"] = [JobOutcome(JobState.SUCCEEDED)]
    later.settle_jobs()
    assert ledger.snapshot("t", SHOP, "stock:se") == {}  # 101's value is not what the shop ends with
    shop.outcomes["102"] = [JobOutcome(JobState.SUCCEEDED)]
    later.settle_jobs()
    assert ledger.snapshot("t", SHOP, "stock:se") == {"1001": ("5|1|", "5|1|")}


# ------------------------------------------------------------------------------------ prices
def test_prices_in_a_job_are_saved_as_cells_when_it_succeeds(ledger: Ledger) -> None:
    shop = JobShop()
    run = sync(ledger, shop)
    cells = [("1001", GUID, Decimal("125.00")), ("1002", GUID, Decimal("99.50"))]
    counts = Counts("prices")
    assert run.prices.write_prices("se", cells, counts) == []
    assert shop.writes[0][1][0].price_list_id == GUID
    shop.outcomes["101"] = [JobOutcome(JobState.SUCCEEDED, failed={f"1002@{GUID}": "Sku 1002 does not exist"})]
    run.settle_jobs()
    assert ledger.snapshot("t", SHOP, "price:se") == {f"1001@{GUID}": ("125.00", "125.00")}
    entry = open_quarantine(ledger, "price")[f"se:1002@{GUID}"]
    assert "Sku 1002 does not exist" in entry.message and entry.payload["price_inc_vat"] == "99.50"


# ------------------------------------------------------------------------------------ the shop's answers
def test_a_shop_that_cannot_be_reached_leaves_the_job_open_and_an_unknown_job_fails(ledger: Ledger) -> None:
    shop = JobShop()
    run = sync(ledger, shop)
    run.products.write_shop_products("se", ["1001"], records())
    run.products.write_shop_products("se", ["1003"], records())
    shop.outcomes["101"] = [ShopServerError("Bad Gateway", status_code=502)]
    shop.outcomes["102"] = [ShopNotFound("no job 102")]
    tally = run.settle_jobs()
    assert tally.still_open == ["se:101"] and job_states(ledger) == {"se:101": "open", "se:102": "failed"}
    assert "no job 102" in open_quarantine(ledger, "product")["se:1003"].message


def test_immediate_results_are_handled_as_before_and_record_no_job(ledger: Ledger) -> None:
    shop = JobShop(queue=False, refuse=["1002"])
    run = sync(ledger, shop)
    outcome = run.products.write_shop_products("se", ["1001", "1002"], records())
    assert (outcome.written, list(outcome.failed), outcome.pending) == (["1001"], ["1002"], [])
    assert run.run.known_in_shop("se") == {"1001"}
    assert open_quarantine(ledger, "product")["se:1002"].reason == "rejected_by_shop"
    counts = Counts("prices")
    assert run.prices.write_prices("se", [("1001", GUID, Decimal("10")), ("1002", GUID, Decimal("20"))],
                                   counts) == [f"1001@{GUID}"]
    assert open_quarantine(ledger, "price")[f"se:1002@{GUID}"].message == "Article not found"
    assert job_states(ledger) == {} and run.jobs.recorded == 0
    assert run.settle_jobs().checked == 0 and shop.asked == []


# ------------------------------------------------------------------------------------ the sensor
def test_the_sensor_is_done_at_the_first_poke_without_open_jobs_and_waits_for_a_running_one(
        ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    shop = JobShop()
    monkeypatch.setattr(catalog_dag.TenantRuntime, "for_tenant", classmethod(lambda cls, t: Runtime(ledger, shop)))
    done, rows = catalog_dag.poke_jobs("t", {"run_id": "r"})
    assert done and rows[0]["pending_jobs"] == 0 and shop.asked == []

    sync(ledger, shop).products.write_shop_products("se", ["1001", "1002"], records())
    done, rows = catalog_dag.poke_jobs("t", {"run_id": "r"})
    assert not done and rows[0]["pending_jobs"] == 1
    shop.outcomes["101"] = [JobOutcome(JobState.SUCCEEDED, failed={"1001": "Bad EAN"})]
    sensor = catalog_dag.ShopJobsSensor(task_id="await_jobs", tenant_id="t")
    assert sensor.mode == "reschedule" and sensor.poke_interval == 30 and sensor.timeout == 45 * 60
    answer = sensor.poke({"run_id": "r"})
    assert answer.is_done and answer.xcom_value[0]["written"] == 1 and answer.xcom_value[0]["job_failures"] == 1


def test_the_erp_catalog_dag_waits_for_product_jobs_before_prices_and_stock_and_for_all_before_the_summary(
        ) -> None:
    from airflow.sdk import DAG

    with DAG("jobs_wiring", schedule=None) as built:
        catalog_dag.build_catalog(parse_tenant("t", RULES))
    tasks = built.task_dict
    assert set(tasks) == {"products_to_shop", "await_product_jobs", "prices_to_shop", "stock_to_shop",
                          "await_jobs", "summary"}
    assert tasks["await_product_jobs"].upstream_task_ids == {"products_to_shop"}
    assert tasks["prices_to_shop"].upstream_task_ids == {"await_product_jobs"}
    assert tasks["stock_to_shop"].upstream_task_ids == {"await_product_jobs"}
    assert tasks["await_jobs"].upstream_task_ids == {"products_to_shop", "await_product_jobs", "prices_to_shop",
                                                     "stock_to_shop"}
    assert "await_jobs" in tasks["summary"].upstream_task_ids
    assert all(tasks[t].mode == "reschedule" for t in ("await_product_jobs", "await_jobs"))


def test_an_ecom_catalog_dag_has_no_shop_writes_to_wait_for() -> None:
    from airflow.sdk import DAG

    rules = {**RULES, "flow": "ecom", "stock": {"enabled": False}}
    with DAG("jobs_wiring_ecom", schedule=None) as built:
        catalog_dag.build_catalog(parse_tenant("t", rules))
    assert set(built.task_dict) == {"products_to_fortnox", "summary"}
