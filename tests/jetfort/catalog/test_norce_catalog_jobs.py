"""The catalog flow against the Norce sandbox: every write is an import job (reference §4.1), so nothing
counts as written until the job has succeeded; what Norce refuses lands in the quarantine with its message.

Outcomes are read from the sandbox's own catalog (``NorceCatalog.product/price/onhand``), not from jetfort.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from jetfort.tasks.catalog import dag as catalog_dag
from jetfort.tasks.catalog.sync import CatalogSync
from jetfort.tasks.runtime import TenantRuntime
from tests.harness import load_dag, task_states

TENANT = "demo_norce"
SHOP_KEY = "norce"
FAST_WINDOW = 0.5  # the Fortnox sandbox allows 25 requests per this many seconds here (real: 5 s)


@pytest.fixture
def norce_env(sync_env: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    if sync_env.norce_app is None:
        pytest.fail("the Norce sandbox is not running in this environment")
    sync_env.fortnox.limiter.configure(25, FAST_WINDOW)
    sync_env.set_rate_window(monkeypatch, FAST_WINDOW)
    yield sync_env


def catalog_sync(run_id: str) -> CatalogSync:
    return CatalogSync(TenantRuntime.for_tenant(TENANT), run_id=run_id)


def open_quarantine(env: Any, kind: str) -> dict[str, Any]:
    return {q.source_key: q for q in env.ledger().open_quarantine(TENANT, kind)}


def without_default_manufacturer(env: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The Norce connection as a tenant leaves it when it sets no ``default_manufacturer``."""
    conn = json.loads(json.dumps(env.env.connections["norce_demo"]))
    del conn["extra"]["default_manufacturer"]
    monkeypatch.setenv("AIRFLOW_CONN_NORCE_DEMO", json.dumps(conn))


def test_new_products_get_the_default_manufacturer_only_when_the_article_names_none(norce_env: Any) -> None:
    catalog = norce_env.norce.catalog
    company = norce_env.fortnox.company(norce_env.env.fortnox_tenant_id)
    with company.lock:
        makers = {a["ArticleNumber"]: a.get("Manufacturer") or "" for a in company.snapshot("articles")}
    before = {a: catalog.product(a)["Product"]["ManufacturerCode"] for a in makers if catalog.product(a)}
    sync = catalog_sync("run-1")
    counts = sync.products_to_shop()
    catalog.jobs.process_all()
    tally = sync.settle_jobs()
    assert tally.job_failures == 0 and tally.written == counts.changed > 0
    written = sync.run.known_in_shop(SHOP_KEY)
    codes = {a: catalog.product(a)["Product"]["ManufacturerCode"] for a in written}
    new = set(written) - set(before)
    assert new and set(before) & set(written)
    assert {a: codes[a] for a in new} == {a: makers[a] or "JETFORT-DEMO" for a in new}
    assert "JETFORT-DEMO" in codes.values()
    # a product Norce had keeps its manufacturer unless Fortnox names one
    assert {a: codes[a] for a in set(before) & set(written)} == {a: makers[a] or before[a]
                                                                  for a in set(before) & set(written)}


def test_products_prices_and_stock_count_as_written_only_once_norce_has_run_the_job(
        norce_env: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    without_default_manufacturer(norce_env, monkeypatch)
    catalog = norce_env.norce.catalog
    catalog.set_faults(job_delay_seconds=None)  # jobs move only when the test says so
    first = catalog_sync("run-1")
    counts = first.products_to_shop()
    assert counts.changed > 0 and counts.written == 0 and first.jobs.recorded >= 1
    assert first.settle_jobs().still_open and first.run.known_in_shop(SHOP_KEY) == set()

    catalog.jobs.process_all()
    tally = first.settle_jobs()
    known = first.run.known_in_shop(SHOP_KEY)
    assert tally.still_open == [] and tally.written == len(known) > 0
    assert all(catalog.product(article) is not None for article in known)
    refused = open_quarantine(norce_env, "product")
    assert len(refused) == tally.job_failures > 0  # the demo has products Norce cannot create
    for key, entry in refused.items():
        article = key.split(":", 1)[1]
        assert catalog.product(article) is None and entry.reason == "rejected_by_shop"
        assert "ManufacturerCode" in entry.message and entry.payload["ArticleNumber"] == article

    second = catalog_sync("run-2")
    prices = second.prices_to_shop()
    assert prices.changed > 0 and prices.written == 0
    catalog.jobs.process_all()
    assert second.settle_jobs().written == prices.changed
    cells = second.run.ledger.snapshot(TENANT, "shop", f"price:{SHOP_KEY}")
    assert {k.split("@")[0] for k in cells} <= known
    assert all(catalog.price(k.split("@")[0], "SEK-BASE") is not None for k in cells)

    posted = len(catalog.jobs_seen)
    again = catalog_sync("run-3")
    # nothing written is sent twice; what Norce refused is sent again (until it lands or is resolved)
    assert (again.products_to_shop().changed, again.prices_to_shop().changed) == (len(refused), 0)
    retries = catalog.jobs_seen[posted:]  # rows setting other fields go in a job of their own
    assert {j["Operation"] for j in retries} == {"ImportProducts"}
    assert sum(j["Rows"] for j in retries) == len(refused)


def test_a_failed_stock_job_records_nothing_and_the_next_run_sends_the_stock_again(norce_env: Any) -> None:
    catalog = norce_env.norce.catalog
    setup = catalog_sync("run-1")
    setup.products_to_shop()
    setup.settle_jobs()  # job_delay_seconds 0: the sandbox finishes a job as soon as it is read
    known = setup.run.known_in_shop(SHOP_KEY)

    catalog.set_faults(fail_next_jobs=1)
    failing = catalog_sync("run-2")
    stock = failing.stock_to_shop()
    tally = failing.settle_jobs()
    assert stock.changed > 0 and (tally.written, tally.job_failures) == (0, stock.changed)
    assert failing.run.ledger.snapshot(TENANT, "shop", f"stock:{SHOP_KEY}") == {}
    entries = open_quarantine(norce_env, "stock")
    assert len(entries) == stock.changed and all(e.reason == "rejected_by_shop" for e in entries.values())

    retry = catalog_sync("run-3")
    assert retry.stock_to_shop().changed == stock.changed
    assert retry.settle_jobs().written == stock.changed
    assert open_quarantine(norce_env, "stock") == {}
    cells = retry.run.ledger.snapshot(TENANT, "shop", f"stock:{SHOP_KEY}")
    assert set(cells) <= known
    for article, (seen, _) in cells.items():
        onhand = catalog.onhand(article)
        assert onhand is not None and int(onhand["OnhandValue"]) == int(seen.split("|")[0])


def test_the_norce_catalog_dag_waits_for_the_product_jobs_before_it_sends_prices(norce_env: Any) -> None:
    dag_run = load_dag(f"jetfort__{TENANT}__catalog").test()
    states = task_states(dag_run)
    assert states == {t: "success" for t in ("products_to_shop", "await_product_jobs", "prices_to_shop",
                                             "stock_to_shop", "await_jobs", "summary")}, states
    rows = _summary(dag_run)
    assert rows["shop jobs (products)"]["written"] > 0 and rows["shop jobs"]["pending_jobs"] == 0
    # prices went to the products created in this very run (they were settled before the prices step)
    assert rows["prices → shop"]["changed"] > 0 and rows["shop jobs"]["written"] > 0
    assert json.dumps(rows)  # the summary is plain JSON (XCom)


def _summary(dag_run: Any) -> dict[str, dict[str, Any]]:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    query = XComModel.get_many(run_id=dag_run.run_id, dag_ids=dag_run.dag_id, task_ids="summary", key="summary")
    with create_session() as session:
        row = session.scalars(query).first()
        rows = list(XComModel.deserialize_value(row)) if row is not None else []
    return {r["entity"]: r for r in rows}


def test_a_job_still_running_reschedules_the_sensor_until_norce_has_run_it(norce_env: Any,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.models.taskreschedule import TaskReschedule
    from airflow.utils.session import create_session

    monkeypatch.setattr(catalog_dag, "JOBS_POKE_INTERVAL", dt.timedelta(seconds=1))
    norce_env.norce.catalog.set_faults(job_delay_seconds=2)  # each job takes 2 s of sandbox (real) time
    dag_run = load_dag(f"jetfort__{TENANT}__catalog").test()
    assert set(task_states(dag_run).values()) == {"success"}, task_states(dag_run)
    sensor = next(ti for ti in dag_run.get_task_instances() if ti.task_id == "await_product_jobs")
    with create_session() as session:
        reschedules = session.scalars(sa.select(TaskReschedule).where(TaskReschedule.ti_id == sensor.id)).all()
    assert len(reschedules) >= 1  # it gave its slot back at least once while the job ran
    assert _summary(dag_run)["shop jobs (products)"]["written"] > 0
