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


# ---------------------------------------------------------------------------------- returns
POSTED_STATUS = {"demoshop": 6, "nordicshop": 50}  # "transferred to ERP" / "exported": jetfort has posted it
CANCELLED_STATUS = {"demoshop": 4, "nordicshop": 40}
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def _world(seed: int = 1, percent: float = 100.0, orders: int = 60) -> tuple[JetshopSandbox, LiveJetshop, Clock,
                                                                               list[tuple[str, int]]]:
    clock = Clock(T0)
    sb = JetshopSandbox(seed=1, clock=clock)
    live = LiveJetshop(sb, seed=seed, returns_percent=percent)
    return sb, live, clock, live.create(orders, T0)


def _returns(sb: JetshopSandbox) -> dict[tuple[str, int], list[dict[str, Any]]]:
    return {(s, o["OrderId"]): o["Returns"] for s in ("demoshop", "nordicshop") for o in _live_orders(sb, s)
            if o.get("Returns")}


def _left_release(sb: JetshopSandbox, shop_id: str, order_id: int) -> datetime:
    change = next(c for c in sb.status_changes(shop_id, order_id) if c["from_status_id"] == RELEASE_STATUS[shop_id])
    return datetime.fromisoformat(change["changed_at"])


def _post(sb: JetshopSandbox, clock: Clock, at: datetime, orders: list[tuple[str, int]]) -> None:
    clock.at = at
    for shop_id, order_id in orders:
        sb.set_status(shop_id, order_id, POSTED_STATUS[shop_id])


def test_returns_come_only_for_posted_orders_some_minutes_after_they_left_the_release_status() -> None:
    sb, live, clock, made = _world()
    posted, cancelled, waiting = made[0::3], made[1::3], made[2::3]
    _post(sb, clock, T0 + timedelta(minutes=1), posted)
    for shop_id, order_id in cancelled:
        sb.set_status(shop_id, order_id, CANCELLED_STATUS[shop_id])
    clock.at = T0 + timedelta(minutes=3, seconds=59)  # 2 min 59 s after posting: too early
    live.returns(clock.at)
    assert _returns(sb) == {}
    for second in range(0, 36 * 60, 5):  # a tick every 5 s
        clock.at = T0 + timedelta(minutes=4, seconds=second)
        live.returns(clock.at)
    returns = _returns(sb)
    # every posted order (100 %) that has a row with something to refund got a return; no other order did
    refundable = {key for key in posted
                  if any(r["Quantity"] > 0 and r["RowTotalIncVat"] > 0 for r in sb.order(*key)["OrderItems"])}
    assert set(returns) == refundable and len(refundable) >= 15
    assert not set(returns) & set(cancelled + waiting)
    assert all(sb.order(*key)["OrderStatusId"] == RELEASE_STATUS[key[0]] for key in waiting)
    for (shop_id, order_id), rets in returns.items():
        left = _left_release(sb, shop_id, order_id)
        first = rets[0]["ReturnDate"] - left
        assert timedelta(minutes=3) <= first <= timedelta(minutes=6, seconds=5), (order_id, first)
        assert len(rets) <= 2
        if len(rets) == 2:
            second = rets[1]["ReturnDate"] - rets[0]["ReturnDate"]
            assert timedelta(minutes=2, seconds=55) <= second <= timedelta(minutes=6, seconds=5)
        assert all(len(r["Items"]) == 1 for r in rets)  # one row at a time, no freight or fee refund
        assert sb.order(shop_id, order_id)["OrderStatusId"] == POSTED_STATUS[shop_id]  # the order keeps its status
    seconds = [k for k, rets in returns.items() if len(rets) == 2]
    assert 1 <= len(seconds) < len(returns) // 2  # a second return now and then (one in four)
    report = live.report()["returns"]
    assert report["created"] == sum(len(r) for r in returns.values())
    assert report["by_shop"] == {s: sum(len(r) for k, r in returns.items() if k[0] == s)
                                 for s in ("demoshop", "nordicshop")}


def test_a_live_return_never_gives_back_more_than_was_sold_and_refunds_the_rows_own_share() -> None:
    sb, live, clock, made = _world(orders=120)
    _post(sb, clock, T0, made)
    for minute in range(1, 30):
        clock.at = T0 + timedelta(minutes=minute)
        live.returns(clock.at)
    returns = _returns(sb)
    partial = 0
    for (shop_id, order_id), rets in returns.items():
        rows = {r["RowId"]: r for r in sb.order(shop_id, order_id)["OrderItems"]}
        back: Counter[int] = Counter()
        refunded: dict[int, Decimal] = {}
        for ret in rets:
            for item in ret["Items"]:
                back[item["RowId"]] += item["Quantity"]
                refunded[item["RowId"]] = refunded.get(item["RowId"], Decimal(0)) + item["AmountIncVat"]
        for row_id, quantity in back.items():
            sold = rows[row_id]
            assert 0 < quantity <= sold["Quantity"], (order_id, row_id)
            assert 0 < refunded[row_id] <= sold["RowTotalIncVat"]
            if quantity == sold["Quantity"]:
                assert refunded[row_id] == sold["RowTotalIncVat"]  # a whole row: all of it, to the öre
            else:
                partial += 1
                share = sold["RowTotalIncVat"] * Decimal(quantity) / Decimal(sold["Quantity"])
                assert abs(refunded[row_id] - share) <= Decimal("0.01")
    assert partial >= 3 and len(returns) >= 40


def _return_signature(sb: JetshopSandbox) -> list[tuple[Any, ...]]:
    return sorted((key, tuple((i["RowId"], str(i["Quantity"]), str(i["AmountIncVat"])) for i in ret["Items"]))
                  for key, rets in _returns(sb).items() for ret in rets)


def test_the_same_seed_gives_the_same_returns_whenever_jetfort_posts() -> None:
    sb1, live1, clock1, made1 = _world(percent=10, orders=200)
    sb2, live2, clock2, made2 = _world(percent=10, orders=200)
    sb3, live3, clock3, made3 = _world(seed=2, percent=10, orders=200)
    assert made1 == made2
    _post(sb1, clock1, T0 + timedelta(minutes=1), made1)
    for i, key in enumerate(reversed(made2)):  # posted in another order, one a minute, ticks in between
        _post(sb2, clock2, T0 + timedelta(minutes=2 + i), [key])
        live2.returns(clock2.at)
    _post(sb3, clock3, T0 + timedelta(minutes=1), made3)
    end = T0 + timedelta(hours=5)
    for live, clock in ((live1, clock1), (live2, clock2), (live3, clock3)):
        clock.at = end
        live.returns(end)
        live.returns(end + timedelta(minutes=7))
    first, second, other = _return_signature(sb1), _return_signature(sb2), _return_signature(sb3)
    assert first == second
    assert first != other
    orders_with_returns = {key for key, _ in first}
    assert 8 <= len(orders_with_returns) <= 40  # about one posted order in ten


def test_returns_percent_0_switches_returns_off() -> None:
    sb, live, clock, made = _world(percent=0)
    _post(sb, clock, T0, made)
    for hour in range(1, 5):
        clock.at = T0 + timedelta(hours=hour)
        live.tick(clock.at)
    assert _returns(sb) == {} and live.report()["returns"]["created"] == 0
    with pytest.raises(ValueError):
        LiveJetshop(sb, returns_percent=101)


def test_the_live_report_lists_the_returns() -> None:
    app = create_app(seed=1, live=True, returns_percent=100)
    sb: JetshopSandbox = app.state.jetshop
    clock = Clock(T0)
    sb.clock = clock
    live: LiveJetshop = app.state.live
    made = live.create(10, T0)
    _post(sb, clock, T0, made)
    clock.at = T0 + timedelta(minutes=30)
    live.returns(clock.at)
    with serve_in_thread(app) as base:
        report = requests.get(base + "/_sandbox/live", timeout=10).json()["returns"]
    returns = _returns(sb)
    assert report["percent"] == 100 and report["created"] == sum(len(r) for r in returns.values()) > 0
    assert {(r["shop_id"], r["order_id"], r["return_id"]) for r in report["recent"]} <= {
        (key[0], key[1], ret["ReturnId"]) for key, rets in returns.items() for ret in rets}
    assert len(report["recent"]) == min(10, report["created"])
