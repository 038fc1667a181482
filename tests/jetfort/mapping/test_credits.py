"""jetfort.mapping.credits with plain data: cancel vs credit, credit rows that total exactly minus the
refund, and never more credited than invoiced (per row, freight and in total)."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jetfort.mapping.credits import (
    Credited,
    Extras,
    Original,
    OriginalRow,
    cancel_action,
    credit_key,
    credit_row,
    credited_from,
    plan_remainder,
    plan_return,
)
from jetfort.mapping.problems import MappingProblem
from jetfort.shop.models import OrderReturn, ReturnRow, ShopOrder

D = Decimal
NOW = dt.datetime(2026, 12, 1, 12, 0)


def shop_order(**extra: Any) -> ShopOrder:
    """Order 1007: 2 x ART-1 at 125 incl. 25 % VAT, 1 x ART-2 at 112 incl. 12 %, freight 49."""
    address = {"first_name": "A", "last_name": "B", "country_code": "SE"}
    data: dict[str, Any] = {
        "shop_id": "demoshop", "order_id": 7, "order_number": "1007", "order_date": NOW, "modified_date": NOW,
        "status_id": 6, "channel_id": 1, "customer": {"email": "a@example.se"}, "billing": address,
        "delivery": address, "freight_inc_vat": D("49"), "freight_vat_rate": D("0.25"),
        "total_inc_vat": D("411"), "total_ex_vat": D("329.2"), "vat_total": D("81.8"),
        "rows": [
            {"row_id": 11, "article_number": "ART-1", "name": "One", "quantity": D(2), "unit_price_inc_vat": D(125),
             "unit_price_ex_vat": D(100), "vat_rate": D("0.25"), "total_inc_vat": D(250)},
            {"row_id": 12, "article_number": "ART-2", "name": "Two", "quantity": D(1), "unit_price_inc_vat": D(112),
             "unit_price_ex_vat": D(100), "vat_rate": D("0.12"), "total_inc_vat": D(112)},
        ],
    }
    data.update(extra)
    return ShopOrder.model_validate(data)


def original(**extra: Any) -> Original:
    rows = (OriginalRow("ART-1", D(2), D(100), D(25), 3001, "One"),
            OriginalRow("ART-2", D(1), D(100), D(12), 3002, "Two"))
    values: dict[str, Any] = {"kind": "invoice", "document_number": "55", "rows": rows, "freight": D("39.20"),
                              "total": D(411)}
    values.update(extra)
    return Original(**values)


def ret(return_id: int, rows: list[tuple[int, str, str]], freight: str = "0") -> OrderReturn:
    return OrderReturn(return_id=return_id, return_date=NOW, freight_inc_vat=D(freight),
                       rows=[ReturnRow(row_id=r, quantity=D(q), amount_inc_vat=D(a)) for r, q, a in rows])


def gross(row: Any, vat_included: bool = False) -> Decimal:
    """A credit row's amount incl. VAT, computed here from its fields (not from jetfort)."""
    total = row.delivered_quantity * row.price - (row.discount or 0)
    return total if vat_included else (total * (1 + row.vat / 100)).quantize(D("0.01"), ROUND_HALF_UP)


# ------------------------------------------------------------------------------------------ cancel
@pytest.mark.parametrize(("facts", "method", "expected"), [
    (dict(kind="order"), "accrual", "cancel_order"),
    (dict(kind="order", cancelled=True), "accrual", "done"),
    (dict(), "accrual", "cancel_invoice"),
    (dict(sent=True), "accrual", "cancel_invoice"),  # sent but not booked: fakturametoden cancels
    (dict(sent=True), "cash", "credit_full"),  # kontantmetoden: a sent invoice counts as booked
    (dict(booked=True), "accrual", "credit_full"),
    (dict(paid_any=True), "accrual", "credit_full"),  # a payment is never cancelled away
    (dict(cancelled=True), "accrual", "done"),
    (dict(credit_invoice_reference="56"), "accrual", "done"),
])
def test_cancel_or_credit(facts: dict[str, Any], method: str, expected: str) -> None:
    doc = original(**facts)
    invoice = None if doc.kind == "order" else doc
    assert cancel_action(doc, invoice, Credited(), method)[0] == expected


def test_after_a_partial_credit_only_the_rest_is_credited_never_cancelled() -> None:
    credited = Credited(rows={11: (D(1), D(125))}, total=D(125))
    assert cancel_action(original(), original(), credited, "accrual")[0] == "credit_remainder"
    plan = plan_remainder(shop_order(), original(), credited, Extras())
    assert plan is not None
    assert [(r.article_number, r.delivered_quantity) for r in plan.document_rows] == [
        ("ART-1", D(-1)), ("ART-2", D(-1))]
    assert [gross(r) for r in plan.document_rows] == [D(-125), D(-112)] and plan.header_freight == D("-39.20")
    assert plan.total == D(411) - D(125)
    assert plan_remainder(shop_order(), original(), credited_from([plan.to_detail(), {
        "rows": {"11": ["1", "125"]}, "total": "125"}]), Extras()) is None


# ------------------------------------------------------------------------------------------ returns
def test_a_return_credits_its_rows_on_the_original_account_and_rate() -> None:
    plan = plan_return(shop_order(), ret(3, [(11, "1", "125"), (12, "1", "112")]), 0, original(), Credited(),
                       Extras())
    assert [(r.article_number, r.delivered_quantity, r.account_number, r.vat) for r in plan.document_rows] == [
        ("ART-1", D(-1), 3001, D(25)), ("ART-2", D(-1), 3002, D(12))]
    assert [gross(r) for r in plan.document_rows] == [D(-125), D(-112)]
    assert plan.header_freight == 0 and plan.total == D(237)


def test_freight_is_credited_only_when_refunded_and_in_the_invoice_s_terms() -> None:
    plan = plan_return(shop_order(), ret(3, [], freight="49"), 0, original(), Credited(), Extras())
    assert plan.document_rows == [] and plan.header_freight == D("-39.20")
    row_freight = original(rows=(*original().rows, OriginalRow("FRAKT", D(1), D("39.20"), D(25), None, "Frakt")),
                           freight=D(0))
    plan = plan_return(shop_order(), ret(3, [], freight="24.50"), 0, row_freight, Credited(), Extras("FRAKT"))
    assert [(r.article_number, r.price) for r in plan.document_rows] == [("FRAKT", D("19.60"))]


@pytest.mark.parametrize(("the_return", "credited", "field", "words"), [
    (ret(3, [(11, "3", "375")]), Credited(), "returns[0].rows[0].quantity",
     "return 3 of order 1007 credits 3 x ART-1 but only 2 were invoiced and 0 already credited"),
    (ret(3, [(11, "2", "250")]), Credited(rows={11: (D(1), D(125))}), "returns[0].rows[0].quantity",
     "credits 2 x ART-1 but only 2 were invoiced and 1 already credited"),
    (ret(3, [(11, "1", "130")]), Credited(), "returns[0].rows[0].amount_inc_vat", "refunds 130"),
    (ret(3, [], freight="50"), Credited(), "returns[0].freight_inc_vat", "refunds freight 50"),
    (ret(3, [(99, "1", "1")]), Credited(), "returns[0].rows[0].row_id", "names row 99"),
    (ret(3, [(11, "0", "0")]), Credited(), "returns[0].rows[0].quantity", "quantity 0"),
])
def test_more_than_was_invoiced_is_refused_with_the_field(the_return: OrderReturn, credited: Credited,
                                                          field: str, words: str) -> None:
    with pytest.raises(MappingProblem) as caught:
        plan_return(shop_order(), the_return, 0, original(), credited, Extras())
    assert caught.value.field == field and words in caught.value.message


def test_the_total_is_checked_too_an_order_discount_lowers_what_may_come_back() -> None:
    discounted = shop_order(total_inc_vat=D(361), order_discount_inc_vat=D(50))
    with pytest.raises(MappingProblem) as caught:  # every row in full would credit 411 of an invoice of 361
        plan_return(discounted, ret(3, [(11, "2", "250"), (12, "1", "112")], freight="49"), 0, original(),
                    Credited(), Extras())
    assert caught.value.reason == "over_credit" and "the invoice is 361" in caught.value.message


def test_rows_a_plugin_split_are_not_guessed() -> None:
    moved = original(rows=(OriginalRow("OTHER", D(2), D(100), D(25), 3001), *original().rows[1:]))
    with pytest.raises(MappingProblem) as caught:
        plan_return(shop_order(), ret(3, [(11, "1", "125")]), 0, moved, Credited(), Extras())
    assert caught.value.reason == "credit_row_unknown"


@settings(max_examples=300, deadline=None)
@given(quantity=st.decimals("0.01", "50", places=2), amount=st.decimals("0", "99999", places=2),
       rate=st.sampled_from([D(0), D(6), D(12), D(25)]), vat_included=st.booleans())
def test_a_credit_row_totals_exactly_minus_the_refund(quantity: Decimal, amount: Decimal, rate: Decimal,
                                                      vat_included: bool) -> None:
    row = credit_row(OriginalRow("A", D(1), D(1), rate, 3001), quantity, amount, vat_included)
    assert row.delivered_quantity == -quantity
    net = amount if vat_included or rate == 0 else (amount / (1 + rate / 100)).quantize(D("0.01"), ROUND_HALF_UP)
    assert row.delivered_quantity * row.price - (row.discount or 0) == -net
    assert row.price is not None and row.price >= 0 and -(row.discount or 0) < quantity * D("0.01") + D("0.000001")


def test_keys_name_the_event_and_fit_the_field() -> None:
    assert credit_key("se", 7, "r3") == "jetfort:se:7:r3"
    assert len(credit_key("s" * 20, 10 ** 40, "cancel")) <= 80


def test_the_rest_reverses_a_redeemed_gift_card_too() -> None:
    """A cancelled order paid partly with a gift card: what is left credits the goods and gives the
    redemption back, so the credits sum to the invoice, never above it."""
    order = shop_order(total_inc_vat=D(311), rows=[
        *shop_order().rows,
        {"row_id": 13, "article_number": "GIFT", "name": "Presentkort", "row_type": "GiftCard", "quantity": D(1),
         "unit_price_inc_vat": D(-100), "unit_price_ex_vat": D(-100), "vat_rate": D(0), "total_inc_vat": D(-100)}])
    gift = OriginalRow(None, D(1), D(-100), D(0), 2421, "Presentkort")
    doc = original(rows=(*original().rows, gift), total=D(311))
    credited = Credited(rows={11: (D(1), D(125))}, total=D(125))
    plan = plan_remainder(order, doc, credited, Extras())
    assert plan is not None
    amounts = [gross(r) for r in plan.document_rows]
    assert amounts == [D(-125), D(-112), D(100)]  # ART-1 left, ART-2, the gift card given back
    assert sum(amounts) + plan.header_freight * D("1.25") == -(D(311) - D(125))
