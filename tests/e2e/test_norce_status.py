"""Status back to a Norce Commerce shop through the real DAGs: a delivered Fortnox invoice becomes Norce's
Delivered status with a delivery note carrying the parcel number, and the payment is captured through
``CreateInvoice`` once (never twice, never for a cancelled order).

Orders are posted by the orders DAG, documents moved in the Fortnox sandbox (``sandbox.demo_status.move``),
then ``jetfort__demo_norce__order_status`` runs. Assertions read the Norce sandbox's own records.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from jetfort.tasks.runtime import TenantRuntime
from sandbox.demo_status import move
from tests.e2e.conftest import run_orders
from tests.harness import run_dag, task_states

TENANT = "demo_norce"
DELIVERED, CANCELLED = 4, 6  # Norce OrderStatus values the demo tenant's status map uses


def post_orders(env: Any) -> dict[str, str]:
    """Run the orders DAG over the seeded week; shop order ref → Fortnox invoice number."""
    run = run_orders(TENANT, conf={"since": (dt.datetime.now(dt.UTC) - dt.timedelta(days=8)).isoformat()})
    assert str(run.state) == "success", task_states(run)
    with TenantRuntime.for_tenant(TENANT) as rt:
        return {r.source_key.split(":")[1]: str(r.target_key)
                for r in rt.ledger.records(TENANT, "order", states=["acknowledged"])}


def move_in_fortnox(ref: str, target: str, tracking: str | None = None) -> None:
    with TenantRuntime.for_tenant(TENANT) as rt:
        link = rt.ledger.get(TENANT, "order", f"norce:{ref}")
        assert link is not None
        move(rt, link, target, tracking=tracking)


def run_status() -> Any:
    dag_run = run_dag(f"jetfort__{TENANT}__order_status")
    assert str(dag_run.state) == "success", task_states(dag_run)
    return dag_run


def test_delivered_reaches_norce_with_the_parcel_and_the_payment_is_captured_once(orders_env: Any) -> None:
    env = orders_env
    posted = post_orders(env)
    delivered, cancelled, untouched = sorted(posted)[:3]
    move_in_fortnox(delivered, "delivered", tracking="PN111SE")
    move_in_fortnox(cancelled, "cancelled")
    run_status()

    state = env.norce.order_state(delivered)
    assert state["status_id"] == DELIVERED
    assert state["erp_order_no"] == posted[delivered]  # Norce matched the delivery note on it
    [note] = state["delivery_notes"]
    assert [p["ParcelNumber"] for p in note["packages"]] == ["PN111SE"]
    assert {i["ItemNo"] for i in note["items"]} <= {line["PartNo"] for line in state["order_request"]["Items"]}
    [capture] = state["captures"]
    company = env.fortnox.company(env.env.fortnox_tenant_id)
    invoice = next(d for d in company.snapshot("invoices") if str(d["DocumentNumber"]) == posted[delivered])
    owed = Decimal(str(invoice["Total"])) - Decimal(str(invoice.get("RoundOff") or 0))
    assert abs(Decimal(str(capture["amount"])) - owed) <= Decimal("0.01")
    assert [i["InvoiceNo"] for i in state["invoices"]] == [posted[delivered]]  # the Fortnox invoice number

    gone = env.norce.order_state(cancelled)
    assert gone["status_id"] == CANCELLED and gone["captures"] == []
    assert env.norce.order_state(untouched)["status_id"] == 2  # still just confirmed

    run_status()  # nothing new: nothing sent again
    assert len(env.norce.order_state(delivered)["captures"]) == 1
    assert len(env.norce.order_state(delivered)["delivery_notes"]) == 1
    assert env.norce.double_captures() == 0
