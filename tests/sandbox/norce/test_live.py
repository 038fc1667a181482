"""Live mode of the Norce sandbox: new checkouts arrive by themselves (deterministic under the seed), are
pushed to the configured receiver, and a Query pull on Created/Updated sees them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from jetfort.norce.backend import NorceShop
from jetfort.norce.settings import NorceSettings
from sandbox.__main__ import main
from sandbox.norce.app import create_app
from sandbox.norce.live import LiveNorce
from sandbox.server import free_port, serve_in_thread

BASE = datetime(2025, 6, 12, 12, 0, tzinfo=UTC)
REPO = Path(__file__).resolve().parents[3]
#: the seeded catalog's sellable article numbers (the Jetshop sandbox's, in stock, not a variant parent)
CATALOG = {"1001", "1003", "1004", "1006", "1007", "1011", "1012", "1016", "1017"}
FIRST_LIVE_REF = 100121  # seeded refs are 100101-100120


def live_app(**knobs: Any) -> FastAPI:
    return create_app(seed=1, base_time=BASE, live=True, push_auto=False, **knobs)


@pytest.fixture
def app() -> Iterator[FastAPI]:
    application = live_app(orders_per_minute=6)
    yield application
    application.state.norce.pusher.stop()


def test_orders_arrive_on_the_schedule_dated_now_in_status_created(app: FastAPI) -> None:
    sb, live = app.state.norce, app.state.live
    assert live.tick() == [str(FIRST_LIVE_REF)]  # the first one at the start
    assert live.tick() == []  # nothing new at the same instant
    sb.advance(59)
    assert len(live.tick()) == 5  # 6/min: one every 10 s → 10, 20, 30, 40, 50 s
    sb.advance(1)
    assert live.tick() == [str(FIRST_LIVE_REF + 6)]
    first = sb.order_state(str(FIRST_LIVE_REF))["query_row"]
    assert (first["ApplicationId"], first["StatusId"], first["Created"], first["Updated"]) == (
        1244, 0, "2025-06-12T12:00:00Z", None)
    last = sb.order_state(str(FIRST_LIVE_REF + 6))["query_row"]
    assert last["Created"] == "2025-06-12T12:01:00Z" and last["OrderDate"] == "2025-06-12T12:01:00Z"
    report = live.report()
    assert report["orders_created"] == 7 and report["first_ref"] == "100121" and report["last_ref"] == "100127"
    assert report["pushed"] == {"delivered": 0, "pending": 7, "dead": 0}  # no push target yet


def test_the_same_seed_gives_the_same_orders_another_seed_others() -> None:
    apps = [live_app(), live_app(), create_app(seed=2, base_time=BASE, live=True, push_auto=False)]
    try:
        for application in apps:
            application.state.live.create(30)
        payloads = [[application.state.norce.order_state(str(FIRST_LIVE_REF + i))["order_request"]
                     for i in range(30)] for application in apps]
    finally:
        for application in apps:
            application.state.norce.pusher.stop()
    assert payloads[0] == payloads[1]
    assert payloads[0] != payloads[2]


def test_live_orders_look_like_a_real_shops(app: FastAPI) -> None:
    sb, live = app.state.norce, app.state.live
    refs = live.create(200)
    requests_ = [sb.order_state(ref)["order_request"] for ref in refs]
    assert all(r["Header"]["ApplicationKey"] for r in requests_)
    rows = [item for r in requests_ for item in r["Items"]]
    products = [item for item in rows if item["Type"] != "Freight"]
    assert {item["PartNo"] for item in products} <= CATALOG
    assert {sb.order_by_ref(ref).application_id for ref in refs} == {1244}
    currencies = [r["CurrencyCode"] for r in requests_]
    assert set(currencies) == {"SEK", "EUR"} and currencies.count("SEK") >= 150  # mostly SEK
    with_freight = [r for r in requests_ if any(i["Type"] == "Freight" for i in r["Items"])]
    assert 40 <= len(with_freight) <= 160  # some, not all
    eur_rates = {i["VatRate"] for r in requests_ if r["CurrencyCode"] == "EUR" for i in r["Items"]}
    assert eur_rates == {25.5}  # Finnish buyers: standard-rate articles at the Finnish rate
    assert any(i["Quantity2"] is not None for i in products)  # coffee sold by weight
    assert any(r["SellTo"]["Company"] and r["CustomerOrderRef"] for r in requests_)  # company orders with a PO
    assert any(r["DiscountCode"] for r in requests_)
    for r in requests_:  # every checkout is paid for in full, in its currency
        total = sum(Decimal(str(i["UnitPrice"] + i["UnitVat"])) * Decimal(str(i["Quantity2"] or i["Quantity"]))
                    for i in r["Items"])
        assert abs(Decimal(str(r["Payments"][0]["Amount"])) - total) < Decimal("0.02"), r["ClientOrderRef"]
        assert r["Payments"][0]["CurrencyCode"] == r["CurrencyCode"]


def test_each_live_order_is_pushed_to_the_receiver(app: FastAPI) -> None:
    received: list[dict[str, Any]] = []
    receiver = FastAPI()

    @receiver.post("/erp/orders")
    async def take(request: Request) -> JSONResponse:
        received.append(await request.json())
        return JSONResponse({"StatusCode": "OK", "Description": "", "HasErpOrderNo": False, "ErpOrderNo": None})

    sb, live = app.state.norce, app.state.live
    with serve_in_thread(receiver) as url:
        sb.set_push_target(url + "/erp/orders", "norce-push", "pw")
        made = live.create(3)
        assert sb.push_pending() >= 3
    assert [r["ClientOrderRef"] for r in received if r["ClientOrderRef"] in made] == made
    assert live.report()["pushed"] == {"delivered": 3, "pending": 0, "dead": 0}
    assert live.report()["push_target"] is True


def test_a_pull_on_created_and_updated_finds_exactly_the_new_orders(app: FastAPI) -> None:
    sb, live = app.state.norce, app.state.live
    sb.advance(3600)  # every seeded order is older than this
    made = live.tick()
    sb.advance(30)
    made += live.tick()
    assert len(made) == 4  # at +0, +10, +20, +30 s
    with serve_in_thread(app) as url:
        settings = NorceSettings.from_params(
            conn_id="norce_live", slug="demoshop", environment="stage", client_id="jetfort-demo",
            client_secret="norce-demo-secret", application_id=1244, account_id=17, base_url=url)
        shop = NorceShop("norce_live", settings=settings)
        try:
            pulled = list(shop.iter_orders(modified_from=BASE + timedelta(minutes=59)))
        finally:
            shop.close()
    assert sorted(o.order_id for o in pulled) == sorted(int(ref) for ref in made)


def test_live_admin_routes() -> None:
    off = create_app(seed=1, base_time=BASE, push_auto=False)
    on = live_app(orders_per_minute=6)
    try:
        with serve_in_thread(off) as url:
            assert requests.get(url + "/_sandbox/live", timeout=10).json()["enabled"] is False
            assert requests.post(url + "/_sandbox/live/orders", json={"count": 1}, timeout=10).status_code == 409
        with serve_in_thread(on) as url:
            made = requests.post(url + "/_sandbox/live/orders", json={"count": 2}, timeout=10).json()
            assert made == {"orders": [{"client_order_ref": "100121"}, {"client_order_ref": "100122"}]}
            assert requests.post(url + "/_sandbox/live/orders", json={"count": 0}, timeout=10).status_code == 400
            report = requests.get(url + "/_sandbox/live", timeout=10).json()
            assert report["enabled"] and report["service"] == "norce" and report["orders_created"] >= 2
            assert report["orders_per_minute"] == 6.0 and report["loop"]["period_seconds"] == 1.0
    finally:
        off.state.norce.pusher.stop()
        on.state.norce.pusher.stop()


def test_live_mode_refuses_a_rate_of_zero() -> None:
    with pytest.raises(ValueError, match="orders_per_minute"):
        LiveNorce(create_app(seed=1, base_time=BASE, push_auto=False).state.norce, orders_per_minute=0)


@pytest.mark.parametrize("argv", [
    ["norce", "--orders-per-minute", "3"],
    ["norce", "--live", "--orders-per-minute", "0"],
    ["norce", "--live", "--returns-percent", "10"],
    ["norce", "--live", "--live-delay-seconds", "30"],
])
def test_live_options_that_mean_nothing_for_norce_are_refused(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2


def test_norce_starts_live_from_the_command_line_and_stops_on_ctrl_c() -> None:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "sandbox", "norce", "--port", str(port), "--seed", "1", "--live",
                             "--orders-per-minute", "120"], cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline, report = time.monotonic() + 30, None
        while time.monotonic() < deadline:
            try:
                report = requests.get(f"http://127.0.0.1:{port}/_sandbox/live", timeout=2).json()
                if report.get("orders_created", 0) >= 2:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.2)
        assert report and report["orders_created"] >= 2 and report["loop"]["running"], report
        token = requests.post(f"http://127.0.0.1:{port}/identity/1.0/connect/token", timeout=10, data={
            "grant_type": "client_credentials", "client_id": "jetfort-demo", "client_secret": "norce-demo-secret",
            "scope": "stage"}).json()["access_token"]
        rows = requests.get(f"http://127.0.0.1:{port}/commerce/query/2.0/Orders/Orders", timeout=10,
                            params={"$filter": f"QuotationId eq {FIRST_LIVE_REF}"},
                            headers={"Authorization": f"Bearer {token}", "applicationId": "1244"}).json()["value"]
        assert [(r["QuotationId"], r["StatusId"], r["Updated"]) for r in rows] == [(FIRST_LIVE_REF, 0, None)]
    finally:
        proc.send_signal(signal.SIGINT)
        output = proc.communicate(timeout=20)[0]
    assert proc.returncode == 0, output
    assert "live: 120 orders/min, each pushed" in output and "Traceback" not in output
