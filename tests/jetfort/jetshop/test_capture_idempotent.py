"""Driving one order to 'delivered' three times, through retries and lost answers, captures once."""

from __future__ import annotations

from collections.abc import Callable

from jetfort.jetshop.hook import JetshopHook
from sandbox.jetshop.state import JetshopSandbox

DELIVERED = 3


def test_three_deliveries_with_drops_and_resets_capture_exactly_once(
        make_hook: Callable[..., JetshopHook], sb: JetshopSandbox) -> None:
    hook = make_hook(retries=4)
    oid = sb.awkward_orders()["plain_single_row"]
    authorised = sb.order("demoshop", oid)["AuthorizedAmount"]

    # 1st: the shop applies the status (and captures) but the answer is lost; the hook retries
    sb.faults.update(forced={"drop_after_commit": 1})
    first = hook.set_order_status(oid, DELIVERED, tracking_number="TRK-1", send_email=True)
    assert first.success and first.payment_captured and first.captured_amount == authorised

    # 2nd: a reset before the work, then a lost answer, then success
    sb.faults.update(forced={"reset": 1, "drop_after_commit": 1})
    second = hook.set_order_status(oid, DELIVERED, tracking_number="TRK-1", send_email=True)
    assert second.success and second.payment_captured

    # 3rd: an explicit capture call after a dropped answer, as a rerun task would do
    sb.faults.update(forced={"drop_after_commit": 1, "server_error": 1})
    third = hook.capture_payment(oid)
    assert third.success and third.already_captured and third.captured_amount == authorised

    captures = sb.captures("demoshop", oid)
    assert len(captures) == 1 and captures[0]["amount"] == authorised
    assert len(sb.emails("demoshop", oid)) == 1
    assert len(sb.status_changes("demoshop", oid)) == 1
    assert sb.faults.counts["drop_after_commit"] == 3 and sb.faults.counts["reset"] == 1
    assert hook.get_order(oid).payment.captured_amount == authorised
