"""Re-released orders and shop values jetfort cannot read, through the real orders DAG.

Outcomes come from the sandboxes' own state (Fortnox documents, the shop's statuses and status
changes) and the ledger's audit and quarantine.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sandbox.jetshop import seed as seeding
from tests.e2e.conftest import run_orders, summary_of
from tests.harness import task_states

TRANSFERRED = 6  # demoshop's "Överförd till ekonomi", the ecom rules' transferred status


def _success(run: Any) -> None:
    assert str(run.state) == "success", task_states(run)


def test_a_posted_order_set_back_to_a_release_status_is_not_posted_again_but_acknowledged_again(
        orders_env: Any) -> None:
    env = orders_env
    kinds = env.jetshop.awkward_orders("demoshop")
    oid, other = kinds["plain_single_row"], kinds["decimal_quantity_1_5_kg"]
    env.orders.touch("demoshop", order_ids=[oid, other])
    _success(run_orders("demo_ecom"))
    (doc,) = env.orders.by_key()[f"jetfort:se:{oid}"]
    number = doc["DocumentNumber"]
    assert env.jetshop.order("demoshop", oid)["OrderStatusId"] == TRANSFERRED

    env.jetshop.set_status("demoshop", oid, 1)  # a shop user releases it again ("Ny"); ModifiedDate = now
    assert env.jetshop.order("demoshop", oid)["OrderStatusId"] == 1
    count = len(env.orders.documents())
    again = run_orders("demo_ecom")
    _success(again)

    assert len(env.orders.documents()) == count  # nothing new in Fortnox
    assert [d["DocumentNumber"] for d in env.orders.by_key()[f"jetfort:se:{oid}"]] == [number]
    assert env.jetshop.order("demoshop", oid)["OrderStatusId"] == TRANSFERRED  # acknowledged again
    moves = [(c["from_status_id"], c["to_status_id"]) for c in env.jetshop.status_changes("demoshop", oid)]
    assert moves == [(1, TRANSFERRED), (TRANSFERRED, 1), (1, TRANSFERRED)]
    audit = env.ledger().audit("demo_ecom", "order", f"se:{oid}")
    assert any(f"already posted as invoice {number}" in (a["message"] or "") for a in audit), audit
    record = env.ledger().get("demo_ecom", "order", f"se:{oid}")
    assert record.state == "acknowledged" and record.target_key == number
    (row,) = summary_of(again)
    (line,) = [line for line in row["orders"] if line["key"] == f"se:{oid}"]
    assert (line["outcome"], line["fortnox"], line["acknowledged"]) == ("already_linked", f"invoice {number}", True)
    assert row["posted"] == 0 and row["acknowledged"] == 1

    _success(run_orders("demo_ecom"))  # and the run after that has nothing left to do with it
    assert len(env.orders.documents()) == count
    assert len(env.jetshop.status_changes("demoshop", oid)) == 3


def test_a_1_5_kg_row_posts_with_quantity_1_5_and_unreadable_or_too_precise_quantities_are_quarantined(
        orders_env: Any) -> None:
    env = orders_env
    kinds = env.jetshop.awkward_orders("demoshop")
    kg, metre = kinds["decimal_quantity_1_5_kg"], kinds["decimal_quantity_0_25_m"]
    comma = env.jetshop.add_order(rows=[seeding.row("1001", 1), seeding.row("1011", Decimal("1.5"))])
    precise = env.jetshop.add_order(rows=[seeding.row("1011", Decimal("0.125"))])
    with env.jetshop.lock:  # the shop sends a decimal comma: a value jetfort cannot read
        env.jetshop.shops["demoshop"].orders[comma]["OrderItems"][1]["Quantity"] = "1,5"
    env.orders.touch("demoshop", order_ids=[kg, metre, comma, precise])
    run = run_orders("demo_ecom")
    _success(run)

    docs = env.orders.by_key()
    for oid, quantity in ((kg, "1.5"), (metre, "0.25")):
        (doc,) = docs[f"jetfort:se:{oid}"]
        shop = env.jetshop.order("demoshop", oid)
        assert doc["InvoiceRows"][0]["DeliveredQuantity"] == quantity
        assert Decimal(str(doc["Total"])) - Decimal(str(doc.get("RoundOff") or 0)) == shop["OrderTotalIncVat"]
        assert shop["OrderStatusId"] == TRANSFERRED
    quarantine = {q.source_key: q for q in env.ledger().open_quarantine("demo_ecom")}
    bad = quarantine[f"se:{comma}"]
    assert (bad.reason, bad.field) == ("unreadable_value", "rows[2].Quantity")
    assert f"order {comma} row 2" in bad.message and "'1,5'" in bad.message
    too_precise = quarantine[f"se:{precise}"]
    assert (too_precise.reason, too_precise.field) == ("quantity_precision", "rows[0].quantity")
    assert "0.125" in too_precise.message
    for oid in (comma, precise):
        assert f"jetfort:se:{oid}" not in docs
        assert env.jetshop.order("demoshop", oid)["OrderStatusId"] == 1  # left for a person to act on
    (row,) = summary_of(run)
    assert row["posted"] == 2 and row["quarantined"] == 2

    # the shop corrects the value: the next run reads the order and posts it, once
    with env.jetshop.lock:
        order = env.jetshop.shops["demoshop"].orders[comma]
        order["OrderItems"][1]["Quantity"] = Decimal("1.5")
    env.orders.touch("demoshop", order_ids=[comma])
    _success(run_orders("demo_ecom"))
    (doc,) = env.orders.by_key()[f"jetfort:se:{comma}"]
    assert doc["InvoiceRows"][1]["DeliveredQuantity"] == "1.5"
    assert env.ledger().get("demo_ecom", "order", f"se:{comma}").state == "acknowledged"
