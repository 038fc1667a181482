"""NorceShop with the real client against the Norce sandbox: pull, status + delivery note, capture through
lost answers (once), never for a cancelled order, and an import job to its outcome."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from jetfort.norce.backend import NorceShop
from jetfort.norce.settings import NorceSettings
from jetfort.shop.interface import JobState
from jetfort.shop.models import PriceListPrice, ProductUpsert, StockUpdate
from sandbox.norce.app import create_app
from sandbox.norce.state import NorceSandbox
from sandbox.server import serve_in_thread

BASE = datetime(2025, 6, 12, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[NorceSandbox, str]]:
    app = create_app(seed=1, base_time=BASE, push_auto=False)
    with serve_in_thread(app) as base:
        yield app.state.norce, base
    app.state.norce.pusher.stop()


@pytest.fixture
def sb(server: tuple[NorceSandbox, str]) -> NorceSandbox:
    server[0].reset(1)
    return server[0]


@pytest.fixture
def shop(server: tuple[NorceSandbox, str], sb: NorceSandbox) -> Iterator[NorceShop]:
    settings = NorceSettings.from_params(
        conn_id="norce_demo", slug="demoshop", environment="stage", client_id="jetfort-demo",
        client_secret="norce-demo-secret", application_id=1244, account_id=17, base_url=server[1],
        warehouse_code="MAIN", location_code="MAIN")
    backend = NorceShop("norce_demo", settings=settings)
    ok, message = backend.test_connection()  # a token first: the fault plans below are for Connect posts
    assert ok, message
    yield backend
    backend.close()


def open_order(sb: NorceSandbox) -> int:
    """A seeded order that is neither cancelled nor captured, with one reservation covering it."""
    for order in sb.order_list():
        if (order.quotation_id and order.status_id not in (5, 6) and not order.captures and len(order.payments) == 1
                and order.reserved == order.total_inc_vat and order.kind == "ordinary"):
            return order.quotation_id
    raise AssertionError("the seed has no open ordinary order")


def test_pull_reads_the_seeded_orders(shop: NorceShop, sb: NorceSandbox) -> None:
    unreadable: list[object] = []
    orders = list(shop.iter_orders(unreadable=unreadable))  # type: ignore[arg-type]
    readable = [o for o in sb.order_list() if o.quotation_id]
    assert len(orders) + len(unreadable) == len(readable) and orders
    first = shop.get_order(orders[0].order_id)
    assert first == orders[0]


def test_delivery_then_capture_through_lost_answers_captures_once(shop: NorceShop, sb: NorceSandbox) -> None:
    ref = open_order(sb)
    assert shop.set_order_status(ref, 2, erp_reference="5501").success  # acknowledged: OrderNo is now 5501

    sb.faults.update(forced={"drop_after_commit": 1})  # the delivery note is made, its answer lost
    delivered = shop.set_order_status(ref, 4, tracking_number="TRK-1", erp_reference="5501")
    assert delivered.success, delivered.message
    state = sb.order_state(ref)
    assert [n["NoteNo"] for n in state["delivery_notes"]] == ["5501-TRK-1"]
    assert state["delivery_notes"][0]["packages"] == [{"ParcelNumber": "TRK-1", "StatusId": 4}]

    sb.faults.update(forced={"drop_after_commit": 1})  # the capture is made, its answer lost
    first = shop.capture_payment(ref, erp_reference="5501", invoice_number="9001")
    assert first.success, first.message
    again = shop.capture_payment(ref, erp_reference="5501", invoice_number="9001")  # a rerun task
    assert again.success and again.already_captured

    state = sb.order_state(ref)
    assert len(state["captures"]) == 1 and state["captures"][0]["amount"] == state["reserved"]
    assert sb.double_captures() == 0 and state["status_id"] == 5
    assert sb.faults.counts["drop_after_commit"] == 2


def test_cancelled_order_is_never_captured(shop: NorceShop, sb: NorceSandbox) -> None:
    ref = open_order(sb)
    assert shop.cancel_order(ref).success
    result = shop.capture_payment(ref, invoice_number="9002", strict=False)
    assert not result.success and "cancelled" in result.message
    assert sb.order_state(ref)["captures"] == [] and sb.order_state(ref)["status_id"] == 6


def test_stock_and_price_jobs_reach_their_outcome(shop: NorceShop, sb: NorceSandbox) -> None:
    sb.catalog.set_faults(reject_skus=["1002"])
    stock = shop.update_stock([StockUpdate(article_number="1001", stock_count=42),
                               StockUpdate(article_number="1002", stock_count=5)])
    prices = shop.update_prices([PriceListPrice(article_number="1001", price_list_id="SEK-BASE",
                                                price_inc_vat=Decimal("250.00"))])
    [stock_job], [price_job] = stock.jobs, prices.jobs
    assert stock_job.keys == ("1001", "1002") and price_job.keys == ("1001@SEK-BASE",)
    stock_outcome = shop.job_outcome(stock_job)
    assert stock_outcome.state is JobState.SUCCEEDED and set(stock_outcome.failed) == {"1002"}
    assert shop.job_outcome(price_job).state is JobState.SUCCEEDED
    sku = sb.catalog.product("1001")
    assert sku is not None
    assert [p.article_number for p in shop.iter_products() if p.article_number == "1001"] == ["1001"]
    [mine] = [p for p in shop.iter_products() if p.article_number == "1001"]
    assert mine.price_ex_vat == Decimal("200.0000") and mine.stock is not None and mine.stock.stock_count == 42
    assert shop.known_price_lists() == {"SEK-BASE", "EUR-BASE"}


def test_product_upserts_land_and_a_new_sku_without_manufacturer_is_named(shop: NorceShop, sb: NorceSandbox) -> None:
    wrote = shop.upsert_products([
        ProductUpsert(article_number="1001", name="T-shirt ekologisk", ean="7350000001001", vat_rate=Decimal("0.25")),
        ProductUpsert(article_number="NEW-1", name="Ny produkt")])
    assert [j.keys for j in wrote.jobs] == [("1001",), ("NEW-1",)]  # different fields set: one header each
    updated, created = (shop.job_outcome(job) for job in wrote.jobs)
    assert updated.state is JobState.SUCCEEDED and updated.failed == {}, updated
    sku = sb.catalog.product("1001")
    assert sku is not None and sku["EanCode"] == "7350000001001"
    assert sku["Product"]["Cultures"]["sv-SE"]["Name"] == "T-shirt ekologisk"
    assert sb.catalog.product("NEW-1") is None and "NEW-1" in created.failed, created
