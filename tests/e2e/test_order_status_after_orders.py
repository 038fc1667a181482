"""Orders flow, then status back: the links the orders DAG wrote are what the status DAG follows.

demo_combo: two shops (demoshop SEK, nordicshop EUR) posted as Fortnox invoices. Some invoices
are then moved in Fortnox (sandbox.demo_status.move, the demo's own helper) and
``jetfort__demo_combo__order_status`` brings each state back to its own shop with that shop's
status ids. Everything asserted about the shops comes from the Jetshop sandbox's records.
"""

from __future__ import annotations

from typing import Any

import pytest

from jetfort.tasks.runtime import TenantRuntime
from sandbox.demo_status import advance_demo_orders, move
from tests.e2e.conftest import add_channel_projects, run_orders
from tests.harness import run_dag, task_states

TENANT = "demo_combo"


@pytest.mark.timeout(300)
def test_orders_then_status_reaches_both_shops(orders_env: Any) -> None:
    env = orders_env
    add_channel_projects(env)
    demo_ids = [o["OrderId"] for o in env.orders.shop_orders("demoshop") if o["_kind"] == "ordinary"][:4]
    nordic_ids = [o["OrderId"] for o in env.orders.shop_orders("nordicshop")][:2]
    env.orders.touch("demoshop", order_ids=demo_ids)
    env.orders.touch("nordicshop", order_ids=nordic_ids)
    orders = run_orders(TENANT)
    assert str(orders.state) == "success", task_states(orders)

    plan = {("se", demo_ids[0]): "delivered", ("se", demo_ids[1]): "paid", ("se", demo_ids[2]): "cancelled",
            ("nordic", nordic_ids[0]): "delivered", ("nordic", nordic_ids[1]): "cancelled"}
    with TenantRuntime.for_tenant(TENANT) as rt:
        for (shop, order_id), target in plan.items():
            link = rt.ledger.get(TENANT, "order", f"{shop}:{order_id}")
            assert link is not None and link.target_type == "invoice", (shop, order_id)
            move(rt, link, target, tracking=f"TR{order_id}{shop}")

    status = run_dag(f"jetfort__{TENANT}__order_status")
    assert str(status.state) == "success", task_states(status)
    sb = env.jetshop
    ids = {"se": "demoshop", "nordic": "nordicshop"}
    expected = {("se", "delivered"): [3], ("se", "paid"): [3], ("se", "cancelled"): [4],
                ("nordic", "delivered"): [30], ("nordic", "cancelled"): [40]}
    for (shop, order_id), target in plan.items():
        shop_id = ids[shop]
        got = [c["to_status_id"] for c in sb.status_changes(shop_id, order_id)
               if c["from_status_id"] != c["to_status_id"] or c["tracking_number"]]
        assert got[-len(expected[shop, target]):] == expected[shop, target], (shop, target, got)
        captures = sb.captures(shop_id, order_id)
        capturable = sb.order(shop_id, order_id)["PaymentProvider"] in ("Klarna", "DIBS", "Card")
        assert len(captures) == (1 if capturable and target != "cancelled" else 0), (shop, target)
    # delivered on the Swedish shop carries tracking and an e-mail; the Nordic map sends none
    (se_change,) = [c for c in sb.status_changes("demoshop", demo_ids[0]) if c["to_status_id"] == 3]
    assert se_change["tracking_number"] == f"TR{demo_ids[0]}se" and se_change["send_email"] is True
    (fi_change,) = [c for c in sb.status_changes("nordicshop", nordic_ids[0]) if c["to_status_id"] == 30]
    assert fi_change["send_email"] is False and sb.emails("nordicshop", nordic_ids[0]) == []

    # the demo helper moves further documents and a repeat changes nothing twice
    before = len(sb.status_changes())
    again = run_dag(f"jetfort__{TENANT}__order_status")
    assert str(again.state) == "success" and len(sb.status_changes()) == before
    moved = advance_demo_orders(TENANT, per_state=1)  # what `make demo` does: only open documents move
    assert moved["delivered"] and moved["delivered"][0].startswith(f"se:{demo_ids[3]}:")
    assert not moved["invoiced"] and not moved["paid"] and not moved["cancelled"]
    last = run_dag(f"jetfort__{TENANT}__order_status")
    assert str(last.state) == "success", task_states(last)
    assert [c["to_status_id"] for c in sb.status_changes("demoshop", demo_ids[3])][-1:] == [3]
