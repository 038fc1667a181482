"""Stock with an expected delivery date: an article out of stock in Fortnox with an open warehouse purchase
order gets the *expected* stock status and the order's delivery date in every shop backend — Jetshop's
stock ``DeliveryDate``, Norce's on-hand ``NextDeliveryDate``/``LeadTimeDayCount``. Purchase orders are
read once per run; a company without the warehouse module still gets its stock (without dates); a
failing read fails the run rather than sending stock without dates.

Outcomes are read from the shop sandboxes themselves; the expected values are written by hand from the
tenant rules (demo_erp / demo_norce: out at or below 0, status ids in stock 1, out of stock 2, expected 9).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from jetfort.fortnox.errors import FortnoxServerError
from jetfort.tasks.catalog.sync import CatalogSync
from jetfort.tasks.runtime import TenantRuntime
from sandbox.fortnox.resources.purchaseorders import add_purchase_order
from sandbox.fortnox.stock import refresh_article_stock

FAST_WINDOW = 0.5
PO_PATH = "/api/warehouse/purchaseorders-v1"


@pytest.fixture
def env(sync_env: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    sync_env.fortnox.limiter.configure(25, FAST_WINDOW)
    sync_env.set_rate_window(monkeypatch, FAST_WINDOW)
    yield sync_env


def company(env: Any) -> Any:
    return env.fortnox.company(env.env.fortnox_tenant_id)


def set_stock(env: Any, article: str, quantity: float) -> None:
    """Fortnox stock of one article (no reservations, no open customer orders count here)."""
    fx = company(env)
    with fx.lock:
        for order in fx.data["orders"].values():  # open orders would reserve stock: make the figure exact
            order["Cancelled"] = True
        for key in [k for k in fx.stock if k[0] == article]:
            del fx.stock[key]
        fx.stock[(article, "LAGER1")] = [float(quantity), 0.0]
        fx.data["articles"][article]["StockGoods"] = True
        refresh_article_stock(fx, only=article)


def purchase(env: Any, article: str, delivery: dt.date, quantity: int = 10) -> None:
    add_purchase_order(company(env), {"deliveryDate": delivery.isoformat(),
                                      "rows": [{"itemId": article, "orderedQuantity": quantity}]})


def purchase_order_reads(env: Any) -> int:
    return sum(1 for e in list(env.fortnox.request_log) if str(e.get("path", "")).startswith(PO_PATH))


def sync(tenant: str, run_id: str) -> CatalogSync:
    return CatalogSync(TenantRuntime.for_tenant(tenant), run_id=run_id)


def stock_articles(known: set[str], env: Any, count: int) -> list[str]:
    fx = company(env)
    picked = sorted(a for a in known if fx.data["articles"][a].get("Type", "STOCK") == "STOCK")[:count]
    assert len(picked) == count, known
    return picked


def test_jetshop_gets_the_expected_status_and_the_delivery_date(env: Any) -> None:
    setup = sync("demo_erp", "run-1")
    setup.products_to_shop()
    coming, gone, plenty = stock_articles(setup.run.known_in_shop("se"), env, 3)
    today = env.fortnox.clock.today()
    set_stock(env, coming, 0)
    set_stock(env, gone, 0)
    set_stock(env, plenty, 40)
    purchase(env, coming, today + dt.timedelta(days=7))
    purchase(env, coming, today + dt.timedelta(days=20))  # a later order does not move the date
    purchase(env, plenty, today + dt.timedelta(days=3))  # in stock: a delivery date changes nothing
    before = purchase_order_reads(env)

    counts = sync("demo_erp", "run-2").stock_to_shop()
    assert counts.written > 0 and purchase_order_reads(env) - before == 1  # read once per run

    stock = {a: env.jetshop.product("demoshop", a)["stock"] for a in (coming, gone, plenty)}
    assert (stock[coming]["NewStockCount"], stock[coming]["StockStatusId"]) == (0, 9)
    assert str(stock[coming]["DeliveryDate"]).startswith((today + dt.timedelta(days=7)).isoformat())
    assert (stock[gone]["NewStockCount"], stock[gone]["StockStatusId"], stock[gone]["DeliveryDate"]) == (0, 2, None)
    assert (stock[plenty]["NewStockCount"], stock[plenty]["StockStatusId"]) == (40, 1)
    assert not stock[plenty]["DeliveryDate"]

    purchase(env, gone, today + dt.timedelta(days=2))  # a new purchase order: the next run sends it
    again = sync("demo_erp", "run-3").stock_to_shop()
    assert again.written == 1
    stock_gone = env.jetshop.product("demoshop", gone)["stock"]
    assert stock_gone["StockStatusId"] == 9
    assert str(stock_gone["DeliveryDate"]).startswith((today + dt.timedelta(days=2)).isoformat())


def test_a_norce_stock_job_carries_the_next_delivery_date_and_the_lead_time(env: Any) -> None:
    catalog = env.norce.catalog
    setup = sync("demo_norce", "run-1")
    setup.products_to_shop()
    setup.settle_jobs()  # job_delay_seconds 0: the sandbox finishes a job as soon as it is read
    coming, gone = stock_articles(setup.run.known_in_shop("norce"), env, 2)
    today = env.fortnox.clock.today()
    set_stock(env, coming, 0)
    set_stock(env, gone, 0)
    purchase(env, coming, today + dt.timedelta(days=5))

    run = sync("demo_norce", "run-2")
    assert run.stock_to_shop().changed > 0
    assert run.settle_jobs().job_failures == 0
    onhand = catalog.onhand(coming)
    assert onhand is not None and int(onhand["OnhandValue"]) == 0
    assert onhand["LeadTimeDayCount"] == 5
    assert onhand["NextDeliveryDate"] is not None
    assert onhand["NextDeliveryDate"].date() == today + dt.timedelta(days=5)
    other = catalog.onhand(gone)
    assert other is not None and other["NextDeliveryDate"] is None and other["LeadTimeDayCount"] is None


def test_without_the_warehouse_module_stock_goes_without_dates_and_says_so_once(
        env: Any, caplog: pytest.LogCaptureFixture) -> None:
    setup = sync("demo_erp", "run-1")
    setup.products_to_shop()
    (coming,) = stock_articles(setup.run.known_in_shop("se"), env, 1)
    set_stock(env, coming, 0)
    purchase(env, coming, env.fortnox.clock.today() + dt.timedelta(days=7))
    oauth = env.fortnox.oauth  # the integration loses the warehouse scope (Fortnox: 400, code 2000663)
    for holder in [*oauth.clients.values(), *oauth.refresh_tokens.values(), *oauth.access_tokens.values()]:
        holder.scopes = tuple(s for s in holder.scopes if s != "warehouse")

    with caplog.at_level(logging.WARNING, logger="jetfort.tasks.catalog.stock"):
        run = sync("demo_erp", "run-2")
        counts = run.stock_to_shop()
        run.stock.stock_cells({coming: 0}, "se")  # later use in the same run (drift, corrections)
    stock = env.jetshop.product("demoshop", coming)["stock"]
    assert counts.written > 0 and (stock["StockStatusId"], stock["DeliveryDate"]) == (2, None)
    warnings = [r for r in caplog.records if "expected delivery dates" in r.getMessage()]
    assert len(warnings) == 1 and "demo_erp" in warnings[0].getMessage()


def test_a_failing_purchase_order_read_fails_the_stock_run(env: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    setup = sync("demo_erp", "run-1")
    setup.products_to_shop()
    (coming,) = stock_articles(setup.run.known_in_shop("se"), env, 1)
    set_stock(env, coming, 0)
    purchase(env, coming, env.fortnox.clock.today() + dt.timedelta(days=7))
    run = sync("demo_erp", "run-2")
    hook = run.run.rt.fortnox
    monkeypatch.setattr(hook, "max_attempts", 2)
    monkeypatch.setattr(hook, "max_backoff", 0.05)
    read = hook.purchase_orders

    def failing(**kwargs: Any) -> Any:  # Fortnox answers 500 to the purchase-order read (every retry)
        env.fortnox.set_faults(forced={"server_error": 2})
        return read(**kwargs)

    monkeypatch.setattr(hook, "purchase_orders", failing)
    writes = len(env.jetshop.calls)
    with pytest.raises(FortnoxServerError):
        run.stock_to_shop()
    assert [c["operation"] for c in list(env.jetshop.calls)[writes:] if "Stock" in c["operation"]] == []
    assert run.run.ledger.snapshot("demo_erp", "shop", "stock:se") == {}
