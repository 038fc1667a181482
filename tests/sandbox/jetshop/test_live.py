"""Live mode of the Jetshop sandbox: new orders keep arriving, found by jetfort's order search."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import requests

from jetfort.jetshop.hook import JetshopHook
from sandbox.jetshop.app import create_app
from sandbox.jetshop.live import LIVE_AWKWARD, LiveJetshop
from sandbox.jetshop.state import JetshopSandbox
from sandbox.server import serve_in_thread
from tests.sandbox.jetshop.test_orders_modelled import TRAITS

LOGINS = {"demoshop": ("jetfort-demo", "demo-secret"), "nordicshop": ("jetfort-nordic", "nordic-secret")}
RELEASE_STATUS = {"demoshop": 1, "nordicshop": 10}  # what the demo tenants trigger on


def _live_orders(sb: JetshopSandbox, shop_id: str) -> list[dict[str, Any]]:
    return [o for o in sb.orders(shop_id) if o["_kind"].startswith("live:")]


@pytest.fixture(scope="module")
def live_server() -> Iterator[tuple[Any, str]]:
    """A live sandbox (loop not started: the test drives the clock) with 25 minutes of orders, one
    every 5 s, made in ticks 20 s apart up to now (``app.state.live.started`` + 25 min)."""
    app = create_app(seed=1, live=True, orders_per_minute=12)
    generator: LiveJetshop = app.state.live
    end = datetime.now(UTC)
    start = end - timedelta(minutes=25)
    generator.start(start)
    for second in range(0, 25 * 60 + 1, 20):
        generator.tick(start + timedelta(seconds=second))
    with serve_in_thread(app) as base:
        yield app, base


def _hook(base: str, shop_id: str) -> JetshopHook:
    login, password = LOGINS[shop_id]
    return JetshopHook.from_params(endpoint=base, login=login, password=password, shop_id=shop_id,
                                   retries=1, retry_wait=0.01, timeout=10)


@pytest.mark.parametrize("shop_id", ["demoshop", "nordicshop"])
def test_jetfort_order_search_finds_the_new_orders_of_the_current_window(live_server: tuple[Any, str],
                                                                         shop_id: str) -> None:
    app, base = live_server
    sb: JetshopSandbox = app.state.jetshop
    now = datetime.now(UTC)
    generator: LiveJetshop = app.state.live
    assert generator.started is not None
    # the last 10 minutes, starting between two ticks (orders are dated at their tick)
    window_start = generator.started + timedelta(minutes=15, seconds=-10)
    hook = _hook(base, shop_id)
    try:
        found = hook.list_orders(status_id=RELEASE_STATUS[shop_id], modified_from=window_start,
                                 modified_to=now + timedelta(seconds=1))
    finally:
        hook.close()
    tz = sb.shop(shop_id).timezone
    local_start = window_start.astimezone(tz).replace(tzinfo=None)
    expected = {o["OrderId"] for o in _live_orders(sb, shop_id) if o["ModifiedDate"] >= local_start}
    assert expected, "no live order in the last 10 minutes"
    assert {o.order_id for o in found} == expected  # the seeded orders are weeks old: only live ones
    assert all(o.status_id == RELEASE_STATUS[shop_id] for o in found)
    assert all(abs((o.order_date - now).total_seconds()) <= 11 * 60 for o in found)
    if shop_id == "nordicshop":
        assert {o.currency for o in found} == {"SEK", "EUR"}
        assert any(o.currency == "EUR" and o.channel_id == 2 and o.billing.country_code == "FI" for o in found)


def test_the_mix_has_awkward_kinds_returning_buyers_companies_and_orders_to_quarantine(
        live_server: tuple[Any, str]) -> None:
    app, base = live_server
    sb: JetshopSandbox = app.state.jetshop
    orders = _live_orders(sb, "demoshop") + _live_orders(sb, "nordicshop")
    assert len(orders) == 301  # 12 a minute for 25 minutes, the first one at the start
    kinds = Counter(o["_kind"].removeprefix("live:") for o in orders)
    assert kinds["ordinary"] > 100 and kinds["company"] > 20
    awkward = [k for k in kinds if k in LIVE_AWKWARD]
    assert len(awkward) >= 25, sorted(awkward)
    for order in orders:  # every awkward live order really is awkward in its own way
        kind = order["_kind"].removeprefix("live:")
        if kind in TRAITS:
            assert TRAITS[kind](order), (kind, order["OrderId"])
    assert kinds["total_mismatch"] + kinds["unknown_article"] + kinds["negative_quantity"] \
        + kinds["missing_article_number"] >= 4
    for order in (o for o in orders if o["_kind"] == "live:total_mismatch"):
        rows = sum((r["RowTotalIncVat"] for r in order["OrderItems"]), Decimal(0))
        computed = rows + order["FreightPriceIncVat"] + order["PaymentFeeIncVat"] - order["OrderDiscountIncVat"]
        assert order["OrderTotalIncVat"] - computed >= Decimal("1.00")
    for order in (o for o in orders if o["_kind"] == "live:unknown_article"):
        assert "1099" in {r["ArticleNumber"] for r in order["OrderItems"]}
    # buyers: returning customers order again with the same e-mail and account; companies have VAT numbers
    report = requests.get(base + "/_sandbox/live", timeout=10).json()
    buyers = {s: report["by_shop"][s]["buyers"] for s in ("demoshop", "nordicshop")}
    assert all(b.get("returning", 0) >= 5 and b.get("new", 0) >= 20 for b in buyers.values()), buyers
    emails = Counter(o["Email"] for o in orders if o["_kind"] in ("live:ordinary", "live:company"))
    assert max(emails.values()) >= 2
    companies = [o for o in orders if o["_kind"] == "live:company"]
    assert all(o["VatNumber"].startswith("SE") and o["OrgNumber"] and o["CompanyName"] for o in companies)
    for shop_id, channel in (("demoshop", 3), ("nordicshop", 1)):  # the B2B channel / the SEK channel
        assert {o["ChannelId"] for o in _live_orders(sb, shop_id) if o["_kind"] == "live:company"} == {channel}
    assert report["orders_created"] == 301
    assert sum(report["by_shop"][s]["orders"] for s in report["by_shop"]) == 301
    # the seeded awkward orders keep their ids: live orders never stand in for them
    assert sb.awkward_orders("demoshop") == {k: 10000 + i for i, k in enumerate(sb.awkward_kinds())}


def _signature(sb: JetshopSandbox) -> list[tuple[Any, ...]]:
    return [(o["_kind"], o["OrderId"], o["ChannelId"], o["Email"], str(o["OrderTotalIncVat"]),
             tuple((r["ArticleNumber"], r["Quantity"]) for r in o["OrderItems"]))
            for shop in ("demoshop", "nordicshop") for o in _live_orders(sb, shop)]


def test_the_same_seed_gives_the_same_orders_whatever_the_timing() -> None:
    first, second, other = JetshopSandbox(seed=1), JetshopSandbox(seed=1), JetshopSandbox(seed=2)
    LiveJetshop(first, seed=1).create(80)
    live = LiveJetshop(second, seed=1, orders_per_minute=60)
    start = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    live.start(start)
    for second_ in range(0, 80, 7):  # other ticks, other dates: same sequence
        live.tick(start + timedelta(seconds=second_))
    live.create(80 - live.created)
    LiveJetshop(other, seed=2).create(80)
    assert _signature(first) == _signature(second)
    assert len(_signature(first)) == 80
    assert _signature(first) != _signature(other)


def test_orders_arrive_at_the_configured_rate_dated_now() -> None:
    sb = JetshopSandbox(seed=1)
    live = LiveJetshop(sb, seed=1, orders_per_minute=4)
    start = datetime(2026, 12, 1, 11, 0, tzinfo=UTC)
    live.start(start)
    assert len(live.tick(start)) == 1  # the first one at once
    assert live.tick(start + timedelta(seconds=14)) == []
    made = live.tick(start + timedelta(seconds=61))
    assert len(made) == 4
    shop_id, order_id = made[-1]
    assert sb.order(shop_id, order_id)["OrderDate"] == datetime(2026, 12, 1, 12, 1, 1)  # Stockholm, "now"
    assert live.tick(start + timedelta(hours=1), limit=10) and live.created == 15  # a backlog comes in slices


def test_the_loop_runs_in_the_lifespan_and_stops_on_shutdown() -> None:
    app = create_app(seed=3, live=True, orders_per_minute=600)
    with serve_in_thread(app, lifespan="on") as base:
        deadline = time.monotonic() + 10
        report: dict[str, Any] = {}
        while time.monotonic() < deadline:
            report = requests.get(base + "/_sandbox/live", timeout=5).json()
            if report["orders_created"] >= 3:
                break
            time.sleep(0.1)
        assert report["orders_created"] >= 3 and report["loop"]["running"]
        made = requests.post(base + "/_sandbox/live/orders", json={"count": 2}, timeout=5).json()["orders"]
        assert len(made) == 2 and all(o["shop_id"] in ("demoshop", "nordicshop") for o in made)
    assert not app.state.live_loop.running
    count = app.state.live.created
    time.sleep(0.3)
    assert app.state.live.created == count


def test_without_live_the_sandbox_stays_still() -> None:
    app = create_app(seed=1)
    with serve_in_thread(app, lifespan="on") as base:
        assert requests.get(base + "/_sandbox/live", timeout=5).json()["enabled"] is False
        assert requests.post(base + "/_sandbox/live/orders", json={"count": 1}, timeout=5).status_code == 409
        time.sleep(0.2)
    sb: JetshopSandbox = app.state.jetshop
    assert not _live_orders(sb, "demoshop") and len(sb.orders("nordicshop")) == 6
