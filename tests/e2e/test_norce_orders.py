"""A Norce Commerce shop end to end through the real orders DAG (``dag.test()``): orders by pull (Query
API) and by push (jetfort's order receiver), confirmed back with the Fortnox number, each posted once.

Outcomes are read from the sandboxes' own state: Fortnox documents and their totals as the Fortnox
sandbox computed them, Norce orders (status, ERP number, pushes) as the Norce sandbox holds them.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from jetfort.norce.receiver import create_receiver_app
from sandbox.server import serve_in_thread
from tests.e2e.conftest import run_orders, summary_of
from tests.harness import task_states

TENANT = "demo_norce"
REFS = [str(ref) for ref in range(100101, 100121)]
CONFIRMED = 2  # Norce OrderStatus.Confirmed: the demo tenant's transferred status


def since(days: int = 8) -> dict[str, str]:
    return {"since": (dt.datetime.now(dt.UTC) - dt.timedelta(days=days)).isoformat()}


def assert_success(run: Any) -> None:
    assert str(run.state) == "success", task_states(run)


def norce_total(payload: dict[str, Any]) -> Decimal:
    """What the buyer owes for a Norce ``OrderRequest``: sum of (UnitPrice + UnitVat) * quantity (reference §2a:
    no order total is sent; Quantity2 holds a non-integer quantity)."""
    total = Decimal(0)
    for item in payload["Items"]:
        quantity = item["Quantity2"] if item.get("Quantity2") not in (None, 0) else item["Quantity"]
        total += (Decimal(str(item["UnitPrice"])) + Decimal(str(item["UnitVat"]))) * Decimal(str(quantity))
    return total


def fortnox_amount(doc: dict[str, Any]) -> Decimal:
    """What the buyer owes per Fortnox before öresavrundning (Total carries the rounding)."""
    return Decimal(str(doc["Total"])) - Decimal(str(doc.get("RoundOff") or 0))


def test_released_orders_are_posted_once_with_the_buyers_total_and_confirmed_with_the_fortnox_number(
        orders_env: Any) -> None:
    env = orders_env
    states = {ref: env.norce.order_state(ref) for ref in REFS}
    released = sorted(ref for ref, s in states.items() if s["status_id"] == 0)
    oss_sale = "100104"  # EUR to Finland at 25.5 %: the demo company is not OSS-registered
    assert oss_sale in released and len(released) >= 8

    run = run_orders(TENANT, conf=since())
    assert_success(run)

    docs = env.orders.by_key()
    posted = {key.rsplit(":", 1)[1]: found for key, found in docs.items() if key.startswith("jetfort:norce:")}
    assert sorted(posted) == sorted(set(released) - {oss_sale})
    for ref, found in posted.items():
        assert len(found) == 1, f"order {ref} has {len(found)} documents"
        doc = found[0]
        assert abs(fortnox_amount(doc) - norce_total(states[ref]["order_request"])) <= Decimal("0.01"), ref
        after = env.norce.order_state(ref)
        assert (after["status_id"], after["erp_order_no"]) == (CONFIRMED, str(doc["DocumentNumber"])), ref
    [row] = summary_of(run)
    assert (row["posted"], row["quarantined"]) == (len(released) - 1, 1)
    quarantined = {o["order"]: o.get("reason") for o in row["orders"] if o["outcome"] == "quarantined"}
    assert quarantined == {oss_sale: "vat_rate_not_set_up"}
    assert env.norce.order_state(oss_sale)["status_id"] == 0  # not confirmed: it is not in Fortnox

    not_released = [ref for ref in REFS if ref not in released]
    assert all(f"jetfort:norce:{ref}" not in docs for ref in not_released)

    again = run_orders(TENANT, conf=since())
    assert_success(again)
    assert env.orders.by_key() == docs  # nothing posted twice


@pytest.fixture
def receiver(orders_env: Any) -> Iterator[str]:
    """jetfort's order receiver served on loopback (in production Airflow's api-server mounts it), and the
    Norce sandbox told to push new orders there with the receiver connection's Basic login."""
    env = orders_env
    app = create_receiver_app(ledger_factory=env.ledger)
    login = env.env.connections["norce_receiver_demo"]
    with serve_in_thread(app) as url:
        env.norce.set_knobs(push_auto=False)
        env.norce.set_push_target(f"{url}/norce_demo/orders", login["login"], login["password"])
        yield url


def new_order(env: Any, ref: str, **extra: Any) -> dict[str, Any]:
    spec = {"client_order_ref": ref, "rows": [{"part_no": "1001", "name": "T-shirt", "qty": 3,
                                               "price_inc_vat": "249.00", "vat_rate": 25}],
            "freight_inc_vat": "49.00", "buyer": {"first_name": "Nils", "last_name": "Push", "email": "nils@example.se",
                                                  "line1": "Pushgatan 2", "zip_code": "41101", "city": "Göteborg",
                                                  "country": "SE"}, **extra}
    env.norce.add_order(spec, push=True)
    return dict(env.norce.order_state(ref)["order_request"])


def test_a_pushed_order_is_posted_once_even_when_pushed_twice_and_also_pulled(orders_env: Any, receiver: str) -> None:
    env = orders_env
    env.norce.set_knobs(duplicate_push_percent=100, push_speed=1000)  # Norce retries: every order twice
    payload = new_order(env, "200001")
    env.norce.push_pending()
    time.sleep(0.05)  # the duplicate is due 5 s / 1000 later
    env.norce.push_pending()
    pushes = env.norce.order_state("200001")["pushes"]
    assert [(p["duplicate"], p["state"]) for p in pushes] == [(False, "delivered"), (True, "delivered")], pushes
    assert env.ledger().inbox_count_pending("norce_demo") == 1  # stored once

    run = run_orders(TENANT, conf=since(days=1))  # the window's pull finds it too
    assert_success(run)
    [doc] = env.orders.by_key()["jetfort:norce:200001"]
    assert fortnox_amount(doc) == norce_total(payload) == Decimal("796.00")
    assert env.ledger().inbox_count_pending("norce_demo") == 0  # consumed once recorded
    assert env.norce.order_state("200001")["erp_order_no"] == str(doc["DocumentNumber"])

    run_orders(TENANT, conf=since(days=1))
    assert len(env.orders.by_key()["jetfort:norce:200001"]) == 1


def test_a_push_alone_is_enough_when_the_pull_window_misses_the_order(orders_env: Any, receiver: str) -> None:
    env = orders_env
    old = (dt.datetime.now(dt.UTC) - dt.timedelta(days=30)).isoformat()
    payload = new_order(env, "200002", order_date=old, updated=old)  # outside any window below
    assert env.norce.push_pending() == 1
    run = run_orders(TENANT, conf=since(days=1))
    assert_success(run)
    [doc] = env.orders.by_key()["jetfort:norce:200002"]
    assert fortnox_amount(doc) == norce_total(payload)


def test_an_unreadable_push_is_quarantined_by_its_field_and_the_others_go_on(orders_env: Any, receiver: str) -> None:
    env = orders_env
    good = new_order(env, "200003")
    env.norce.push_pending()
    ledger = env.ledger()
    broken = {**good, "ClientOrderRef": "200004",
              "Items": [{**good["Items"][0], "UnitPrice": "två hundra"}, *good["Items"][1:]]}
    assert ledger.inbox_put("norce_demo", "200004", broken)
    run = run_orders(TENANT, conf=since(days=1))
    assert_success(run)
    assert len(env.orders.by_key()["jetfort:norce:200003"]) == 1
    [entry] = [q for q in ledger.open_quarantine(TENANT, "order") if q.source_key == "norce:200004"]
    assert entry.reason == "unreadable_value" and entry.field == "Items[0].UnitPrice"


def test_one_tenant_with_a_jetshop_shop_and_a_norce_shop_posts_both_into_one_company(orders_env: Any) -> None:
    env = orders_env
    env.orders.touch("demoshop")  # the Jetshop shop's orders inside the run's window
    run = run_orders("demo_mixed", conf=since())
    assert_success(run)
    rows = {row["shop"]: row for row in summary_of(run)}
    assert set(rows) == {"se", "norce", "TOTAL"} and rows["se"]["posted"] > 0 and rows["norce"]["posted"] > 0
    docs = env.orders.by_key()
    jetshop_keys = [k for k in docs if k.startswith("jetfort:se:")]
    norce_keys = [k for k in docs if k.startswith("jetfort:norce:")]
    assert (len(jetshop_keys), len(norce_keys)) == (rows["se"]["posted"], rows["norce"]["posted"])
    assert all(len(found) == 1 for found in docs.values())
    numbers = [str(d["DocumentNumber"]) for found in docs.values() for d in found]
    assert len(numbers) == len(set(numbers))  # one Fortnox company, one number series
    for key in norce_keys:
        ref = key.rsplit(":", 1)[1]
        assert env.norce.order_state(ref)["erp_order_no"] == str(docs[key][0]["DocumentNumber"])
