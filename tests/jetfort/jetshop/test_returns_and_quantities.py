"""Returns (MODELLED) and decimal quantities, read back through the hook exactly, by both parsers.

Oracle: what the sandbox stored (its own state, read with ``JetshopSandbox.order``), never jetfort's
arithmetic. Unreadable values refuse their order by name; the rest of the page is read.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from jetfort.jetshop.errors import JetshopError, JetshopUnreadableOrder
from jetfort.jetshop.hook import JetshopHook
from jetfort.shop.models import OrderReturn, ReturnRow
from sandbox.jetshop import seed as seeding
from sandbox.jetshop.state import JetshopSandbox

D = Decimal
BOTH = pytest.mark.parametrize("fast", [True, False], ids=["fast-reader", "zeep"])


def _returns_in_sandbox(sb: JetshopSandbox, order_id: int) -> list[OrderReturn]:
    """The sandbox's stored returns, as the interface promises them (shop-local times, aware)."""
    tz = sb.shop("demoshop").timezone
    return [OrderReturn(return_id=r["ReturnId"], return_date=r["ReturnDate"].replace(tzinfo=tz),
                        freight_inc_vat=r["FreightRefundIncVat"], payment_fee_inc_vat=r["PaymentFeeRefundIncVat"],
                        rows=[ReturnRow(row_id=i["RowId"], quantity=i["Quantity"], amount_inc_vat=i["AmountIncVat"])
                              for i in r["Items"]])
            for r in sb.order("demoshop", order_id).get("Returns", [])]


@BOTH
def test_a_1_5_kg_row_and_a_0_25_m_row_are_read_with_their_decimal_quantities(
        fast: bool, make_hook: Callable[..., JetshopHook], sb: JetshopSandbox) -> None:
    oid = sb.add_order(rows=[seeding.row("1011", D("1.5")), seeding.row("1007", D("0.25"))])
    order = make_hook(fast_replies=fast).get_order(oid)
    stored = sb.order("demoshop", oid)["OrderItems"]
    assert [r.quantity for r in order.rows] == [D("1.5"), D("0.25")] == [i["Quantity"] for i in stored]
    assert [r.total_inc_vat for r in order.rows] == [i["RowTotalIncVat"] for i in stored]


@BOTH
def test_returns_registered_in_the_shop_are_read_back_exactly_by_get_order_and_iter_orders(
        fast: bool, make_hook: Callable[..., JetshopHook], sb: JetshopSandbox) -> None:
    hook = make_hook(fast_replies=fast)
    oid = sb.add_order(rows=[seeding.row("1011", D("1.5")), seeding.row("1001", 3), seeding.row("1016", 1)],
                       freight="49.00", payment_fee="19.00")
    assert hook.get_order(oid).returns == []
    first = sb.add_return("demoshop", oid, [{"row_id": 1, "quantity": "0.5"}])
    second = sb.add_return("demoshop", oid, [{"row_id": 2, "quantity": 2, "amount_inc_vat": "400.00"},
                                             {"row_id": 3, "quantity": 1}],
                           freight_inc_vat="49.00", payment_fee_inc_vat="19.00", status_id=8)
    expected = _returns_in_sandbox(sb, oid)
    assert [r.return_id for r in expected] == [first, second] and first != second

    order = hook.get_order(oid)
    assert order.returns == expected
    assert order.status_id == 8
    # the default amount is the row's share to the öre: 0.5 of 1.5 x 89.00
    assert order.returns[0].rows[0].amount_inc_vat == D("44.50")
    assert order.returns[1].freight_inc_vat == D("49.00") and order.returns[1].payment_fee_inc_vat == D("19.00")

    # registering a return moves ModifiedDate: a modified-date search finds the order, with its returns
    modified = sb.order("demoshop", oid)["ModifiedDate"].replace(tzinfo=sb.shop("demoshop").timezone)
    found = [o for o in hook.iter_orders(modified_from=modified - dt.timedelta(seconds=1), page_size=7)
             if o.order_id == oid]
    assert [o.returns for o in found] == [expected]


def test_a_return_of_more_than_was_sold_is_stored_as_the_shop_says_it(hook: JetshopHook, sb: JetshopSandbox) -> None:
    oid = sb.add_order(rows=[seeding.row("1001", 1)])
    sb.add_return("demoshop", oid, [{"row_id": 1, "quantity": 3}])
    (ret,) = hook.get_order(oid).returns
    assert ret.rows[0].quantity == 3 and ret.rows[0].amount_inc_vat == D("747.00")  # 3/1 x 249.00


def test_the_admin_api_registers_a_return(hook: JetshopHook, sb: JetshopSandbox, base_url: str) -> None:
    import requests

    oid = sb.add_order(rows=[seeding.row("1001", 2)])
    answer = requests.post(f"{base_url}/_sandbox/shops/demoshop/orders/{oid}/returns", timeout=10,
                           json={"rows": [{"row_id": 1, "quantity": "1"}], "freight_inc_vat": "49.00"})
    assert answer.status_code == 200
    (ret,) = hook.get_order(oid).returns
    assert ret.return_id == answer.json()["return_id"] and ret.freight_inc_vat == D("49.00")
    assert requests.post(f"{base_url}/_sandbox/shops/demoshop/orders/{oid}/returns", timeout=10,
                         json={"rows": [{"row_id": 9, "quantity": "1"}]}).status_code == 400


def _break(sb: JetshopSandbox, order_id: int, change: Callable[[dict[str, Any]], None]) -> None:
    with sb.lock:
        change(sb.shop("demoshop").orders[order_id])


def _row_quantity(text: str) -> Callable[[dict[str, Any]], None]:
    def change(order: dict[str, Any]) -> None:
        order["OrderItems"][1]["Quantity"] = text  # a raw wire text: the sandbox sends it as is
    return change


@pytest.mark.parametrize("text", ["1,5", "abc", "NaN", "1.5e400x"])
def test_an_unreadable_quantity_refuses_that_order_by_order_row_and_field_and_the_page_goes_on(
        text: str, hook: JetshopHook, sb: JetshopSandbox) -> None:
    bad = sb.add_order(rows=[seeding.row("1001", 1), seeding.row("1011", 2)])
    good = sb.add_order(rows=[seeding.row("1001", 1)])
    _break(sb, bad, _row_quantity(text))
    with pytest.raises(JetshopUnreadableOrder, match=rf"^Order_Get: order {bad} row 2: Quantity '{text}'") as info:
        hook.get_order(bad)
    assert (info.value.order_id, info.value.row_id, info.value.field_path) == (bad, 2, "rows[2].Quantity")
    unreadable: list[JetshopUnreadableOrder] = []
    ids = [o.order_id for o in hook.iter_orders(page_size=5, unreadable=unreadable)]
    assert good in ids and bad not in ids and len(ids) == len(sb.orders()) - 1
    assert [(u.order_id, u.field_path, u.text) for u in unreadable] == [(bad, "rows[2].Quantity", text)]


def test_an_empty_quantity_is_missing_not_zero(hook: JetshopHook, sb: JetshopSandbox) -> None:
    bad = sb.add_order(rows=[seeding.row("1001", 1), seeding.row("1011", 2)])
    _break(sb, bad, _row_quantity(""))
    with pytest.raises(JetshopUnreadableOrder, match=rf"order {bad} row 2: Quantity is missing"):
        hook.get_order(bad)


@pytest.mark.parametrize(("element", "text"), [("OrderStatusId", "3.0"), ("CustomerId", "x"),
                                                ("OrderDate", "2026-13-45T00:00:00"), ("OrderTotalIncVat", "1 000,00")])
def test_other_unreadable_order_values_name_their_field(
        element: str, text: str, hook: JetshopHook, sb: JetshopSandbox) -> None:
    bad = sb.add_order(rows=[seeding.row("1001", 1)])
    _break(sb, bad, lambda order: order.__setitem__(element, text))
    with pytest.raises(JetshopUnreadableOrder, match=rf"order {bad}: {element} '") as info:
        hook.get_order(bad)
    assert info.value.field_path == element


def test_zeep_alone_fails_the_call_loudly_instead_of_reading_an_unreadable_value_as_nothing(
        make_hook: Callable[..., JetshopHook], sb: JetshopSandbox) -> None:
    """Without the fast reader zeep reads ``1.5`` in an int element as None (a log line): refused."""
    bad = sb.add_order(rows=[seeding.row("1001", 1)])
    slow = make_hook(fast_replies=False)
    _break(sb, bad, lambda order: order.__setitem__("ChannelId", "1.5"))
    with pytest.raises(JetshopError, match=r"^Order_Get: unreadable value in the reply \(.*1\.5"):
        slow.get_order(bad)
    _break(sb, bad, _row_quantity_first("1,5"))
    _break(sb, bad, lambda order: order.__setitem__("ChannelId", 1))
    with pytest.raises(JetshopError, match=r"^Order_Get: unreadable value in the reply"):
        slow.get_order(bad)


def _row_quantity_first(text: str) -> Callable[[dict[str, Any]], None]:
    def change(order: dict[str, Any]) -> None:
        order["OrderItems"][0]["Quantity"] = text
    return change


def test_a_page_of_only_unreadable_orders_does_not_end_the_search(hook: JetshopHook, sb: JetshopSandbox) -> None:
    """Page 0 holds only the unreadable order (the oldest modification): the pages after it are still read."""
    bad = sb.add_order(rows=[seeding.row("1001", 1), seeding.row("1011", 2)])
    oldest = min(o["ModifiedDate"] for o in sb.orders())
    _break(sb, bad, _row_quantity("1,5"))
    _break(sb, bad, lambda order: order.__setitem__("ModifiedDate", oldest - dt.timedelta(days=1)))
    unreadable: list[JetshopUnreadableOrder] = []
    ids = {o.order_id for o in hook.iter_orders(page_size=1, unreadable=unreadable)}
    assert ids == {o["OrderId"] for o in sb.orders()} - {bad}
    assert [u.order_id for u in unreadable] == [bad]
