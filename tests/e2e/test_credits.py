"""Money back end to end: shop orders cancelled or returned after they reached Fortnox, through the
real orders DAG (``dag.test()``) against both sandboxes.

Orders are posted by the orders DAG itself (demo_erp: Fortnox orders; demo_ecom: invoices); Fortnox
documents are moved on through the Fortnox API (createinvoice, bookkeep, payments) as a person or
another integration would; the shop cancels (a status flagged IsCancelled) or registers returns in
the Jetshop sandbox. Every outcome is read from the Fortnox sandbox's stored documents (counted
there, amounts recomputed here from the stored rows) and the ledger's quarantine.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from jetfort.tasks.runtime import TenantRuntime
from sandbox.jetshop import seed
from tests.e2e.conftest import run_orders, summary_of
from tests.e2e.test_orders import assert_success
from tests.harness import crash_ledger_writes, run_dag, task_states

SHOP = "demoshop"
CANCELLED = 4  # demoshop's "Makulerad" (IsCancelled)
RETURNED = 13  # a status added to the sandbox shop for these tests
D = Decimal


# ------------------------------------------------------------------------------------------ helpers
def _post(env: Any, tenant: str, rows: list[dict[str, Any]], *, freight: str = "0", fee: str = "0") -> int:
    """A new released shop order, posted to Fortnox by the orders DAG; returns its shop order id."""
    spec: dict[str, Any] = {"rows": rows, "freight": freight}
    if fee != "0":
        spec.update(payment_fee=fee)
    order_id = env.jetshop.add_order(SHOP, **spec)
    env.orders.touch(SHOP, order_ids=[order_id])
    assert_success(run_orders(tenant))
    return order_id


def _docs(env: Any, kind: str) -> list[dict[str, Any]]:
    return env.orders.documents(kind)


def _by_key(env: Any, kind: str, key: str) -> list[dict[str, Any]]:
    return [d for d in _docs(env, kind) if d.get("ExternalInvoiceReference1") == key]


def _credit_notes(env: Any, order_id: int) -> list[dict[str, Any]]:
    """Credit invoices for the order: every invoice whose key names the order's money-back events,
    and every invoice Fortnox marks as a credit of one of the order's invoices."""
    originals = {d["DocumentNumber"] for d in _by_key(env, "invoices", f"jetfort:se:{order_id}")
                 if d.get("Credit") != "true"}
    for order in _by_key(env, "orders", f"jetfort:se:{order_id}"):
        if order.get("InvoiceReference") not in (None, "0"):
            originals.add(order["InvoiceReference"])
    return [d for d in _docs(env, "invoices")
            if str(d.get("ExternalInvoiceReference1") or "").startswith(f"jetfort:se:{order_id}:")
            or (d.get("Credit") == "true" and d.get("CreditInvoiceReference") in originals)]


def _row_total(row: dict[str, Any]) -> Decimal:
    """A stored row's total recomputed from its quantity, price and discount (not Fortnox's Total)."""
    quantity, price = D(str(row.get("DeliveredQuantity") or 0)), D(str(row.get("Price") or 0))
    discount = D(str(row.get("Discount") or 0))
    if row.get("DiscountType") == "AMOUNT":
        return quantity * price - discount
    return quantity * price * (1 - discount / 100)


def _gross(doc: dict[str, Any]) -> Decimal:
    """A stored document's amount incl. VAT, recomputed from its rows and header (before rounding)."""
    included = bool(doc.get("VATIncluded"))
    total = D(0)
    for row in doc.get("InvoiceRows") or doc.get("OrderRows") or ():
        amount, rate = _row_total(row), D(str(row.get("VAT") or 0))
        total += amount if included else amount * (1 + rate / 100)
    for name in ("Freight", "AdministrationFee"):
        amount = D(str(doc.get(name) or 0))
        total += amount if included else amount * D("1.25")
    return total.quantize(D("0.01"))


def _cancel_in_shop(env: Any, order_id: int) -> None:
    env.orders.set_status(SHOP, CANCELLED, [order_id])
    env.orders.touch(SHOP, order_ids=[order_id])


def _fortnox(tenant: str) -> Any:
    return TenantRuntime.for_tenant(tenant)


def _row_ids(env: Any, order_id: int) -> list[int]:
    return [item["RowId"] for item in env.jetshop.order(SHOP, order_id)["OrderItems"]]


# ------------------------------------------------------------------------------------------ cancellations
def test_a_shop_cancellation_before_invoicing_cancels_the_fortnox_order(orders_env: Any) -> None:
    env = orders_env
    order_id = _post(env, "demo_erp", [seed.row("1001", 2)])
    (order,) = _by_key(env, "orders", f"jetfort:se:{order_id}")
    assert not order["Cancelled"]

    _cancel_in_shop(env, order_id)
    assert_success(run_orders("demo_erp"))
    (order,) = _by_key(env, "orders", f"jetfort:se:{order_id}")
    assert order["Cancelled"] is True
    assert _docs(env, "invoices") == []  # nothing invoiced, nothing credited
    record = env.ledger().get("demo_erp", "credit", f"se:{order_id}:cancel")
    assert record.state == "credited" and record.target_key == order["DocumentNumber"]
    # a second run (and a backfill over the same window) does nothing more
    assert_success(run_orders("demo_erp"))
    assert [a["step"] for a in env.ledger().audit("demo_erp", "credit", f"se:{order_id}:cancel")].count("credit") == 1


def test_a_cancellation_after_an_unbooked_invoice_cancels_the_invoice(orders_env: Any) -> None:
    env = orders_env
    order_id = _post(env, "demo_erp", [seed.row("1001", 1)], freight="49.00")
    (order,) = _by_key(env, "orders", f"jetfort:se:{order_id}")
    with _fortnox("demo_erp") as rt:
        invoice_number = rt.fortnox.create_invoice_from_order(order["DocumentNumber"])

    _cancel_in_shop(env, order_id)
    assert_success(run_orders("demo_erp"))
    invoice = env.orders.company.get("invoices", invoice_number)
    assert invoice["Cancelled"] is True and invoice["CreditInvoiceReference"] == "0"
    assert _credit_notes(env, order_id) == []


@pytest.mark.parametrize("method", ["accrual", "cash"])
def test_a_cancellation_after_a_booked_invoice_credits_it_in_full(orders_env: Any, method: str) -> None:
    env = orders_env
    rules = env.tenant_rules("demo_erp")
    rules["credits"] = {"accounting_method": method}
    env.set_tenant("demo_erp", rules)
    order_id = _post(env, "demo_erp", [seed.row("1001", 2), seed.row("1006", 1)], freight="49.00")
    (order,) = _by_key(env, "orders", f"jetfort:se:{order_id}")
    with _fortnox("demo_erp") as rt:
        invoice_number = rt.fortnox.create_invoice_from_order(order["DocumentNumber"])
        if method == "accrual":
            rt.fortnox.bookkeep_invoice(invoice_number)  # accrual: booked → credit
        else:  # cash: an invoice that was sent counts as booked
            rt.fortnox._request("PUT", f"3/invoices/{invoice_number}/externalprint", idempotent=False)

    _cancel_in_shop(env, order_id)
    assert_success(run_orders("demo_erp"))
    original = env.orders.company.get("invoices", invoice_number)
    (credit,) = _credit_notes(env, order_id)
    assert original["Cancelled"] is False and original["CreditInvoiceReference"] == credit["DocumentNumber"]
    assert credit["Credit"] == "true" and credit["CreditInvoiceReference"] == invoice_number
    assert _gross(credit) == -_gross(original)
    # the credit carries its own key, so the orders flow never mistakes it for the order's invoice
    assert credit["ExternalInvoiceReference1"] == f"jetfort:se:{order_id}:cancel"
    assert_success(run_orders("demo_erp"))
    assert len(_credit_notes(env, order_id)) == 1


# ------------------------------------------------------------------------------------------ returns
def _return(env: Any, order_id: int, rows: list[tuple[int, str]], *, freight: str = "0") -> int:
    """Register a return in the shop: (row index, quantity) pairs, the amount the shop's own share."""
    ids = _row_ids(env, order_id)
    return int(env.jetshop.add_return(SHOP, order_id, [{"row_id": ids[i], "quantity": D(q)} for i, q in rows],
                                      freight_inc_vat=D(freight)))


def _returned_amount(env: Any, order_id: int, return_id: int) -> Decimal:
    """What the shop says the return refunds, incl. VAT (rows, freight and fee)."""
    order = env.jetshop.order(SHOP, order_id)
    (ret,) = [r for r in order["Returns"] if r["ReturnId"] == return_id]
    return (sum((D(str(i["AmountIncVat"])) for i in ret["Items"]), D(0)) + D(str(ret["FreightRefundIncVat"]))
            + D(str(ret["PaymentFeeRefundIncVat"])))


def _goods(doc: dict[str, Any]) -> dict[str, Decimal]:
    """Article → quantity on a stored document's article rows (freight/text rows left out)."""
    out: dict[str, Decimal] = {}
    for row in doc.get("InvoiceRows") or ():
        if row.get("ArticleNumber") and D(str(row.get("DeliveredQuantity") or 0)):
            out[row["ArticleNumber"]] = out.get(row["ArticleNumber"], D(0)) + D(str(row["DeliveredQuantity"]))
    return out


def test_three_partial_returns_credit_exactly_their_rows_and_the_third_the_freight(orders_env: Any) -> None:
    env = orders_env
    order_id = _post(env, "demo_ecom", [seed.row("1001", 3), seed.row("1006", 2)], freight="49.00")
    (invoice,) = _by_key(env, "invoices", f"jetfort:se:{order_id}")
    invoiced = _gross(invoice)
    assert D(str(invoice["Freight"])) > 0  # demo_ecom carries freight on the header
    accounts = {r["ArticleNumber"]: (r["AccountNumber"], r["VAT"]) for r in invoice["InvoiceRows"]}
    with _fortnox("demo_ecom") as rt:
        rt.fortnox.bookkeep_invoice(invoice["DocumentNumber"])

    first = _return(env, order_id, [(0, "1")])
    dry = run_orders("demo_ecom", conf={"dry_run": True})  # says what it would do, writes nothing
    assert_success(dry)
    assert _credit_notes(env, order_id) == [] and env.ledger().records("demo_ecom", "credit") == []
    assert summary_of(dry)[0]["credits"] == {"orders": 1, "planned": 1}
    assert_success(run_orders("demo_ecom"))
    second = _return(env, order_id, [(0, "1"), (1, "1")])
    third = _return(env, order_id, [(1, "1")], freight="49.00")
    assert_success(run_orders("demo_ecom"))  # two returns in one run

    credits = {d["ExternalInvoiceReference1"]: d for d in _credit_notes(env, order_id)}
    assert set(credits) == {f"jetfort:se:{order_id}:r{r}" for r in (first, second, third)}
    expected_goods = {first: {"1001": D(-1)}, second: {"1001": D(-1), "1006": D(-1)}, third: {"1006": D(-1)}}
    for return_id, goods in expected_goods.items():
        credit = credits[f"jetfort:se:{order_id}:r{return_id}"]
        assert _goods(credit) == goods, return_id
        for row in credit["InvoiceRows"]:  # each credited row on the original row's account and VAT rate
            if row.get("ArticleNumber"):
                assert (row["AccountNumber"], row["VAT"]) == accounts[row["ArticleNumber"]], row
        assert _gross(credit) == -_returned_amount(env, order_id, return_id), return_id
        # the freight (all of it) only on the return that refunds it, as the invoice carried it
        assert D(str(credit["Freight"])) == (-D(str(invoice["Freight"])) if return_id == third else 0), return_id
        assert credit["CustomerNumber"] == invoice["CustomerNumber"] and str(invoice["DocumentNumber"]) in \
            credit["Remarks"]
    credited = sum((-_gross(c) for c in credits.values()), D(0))
    assert credited <= invoiced
    # the original stays as it was: not cancelled, not marked as credited in full
    original = env.orders.company.get("invoices", invoice["DocumentNumber"])
    assert original["Cancelled"] is False and original["CreditInvoiceReference"] == "0"

    # a fourth return of more than is left is quarantined with the reason, the field and both figures
    fourth = _return(env, order_id, [(0, "2")])
    assert_success(run_orders("demo_ecom"))
    assert len(_credit_notes(env, order_id)) == 3
    (entry,) = [q for q in env.ledger().open_quarantine("demo_ecom", "credit")]
    assert entry.source_key == f"se:{order_id}:r{fourth}" and entry.reason == "over_credit"
    assert entry.field == "returns[3].rows[0].quantity"
    order_number = env.jetshop.order(SHOP, order_id)["OrderNumber"]
    assert (f"return {fourth} of order {order_number} credits 2 x 1001 but only 3 were invoiced and 2 "
            "already credited") in entry.message

    # the shop cancels the order: only what is left (one 1001) is credited, never the whole invoice again
    _cancel_in_shop(env, order_id)
    assert_success(run_orders("demo_ecom"))
    notes = _credit_notes(env, order_id)
    (rest,) = [d for d in notes if d["ExternalInvoiceReference1"] == f"jetfort:se:{order_id}:cancel"]
    assert _goods(rest) == {"1001": D(-1)}
    assert sum((-_gross(c) for c in notes), D(0)) == invoiced


def test_a_return_before_the_order_is_invoiced_waits_then_credits_the_invoice(orders_env: Any) -> None:
    """demo_erp with the optional status-map state ``credited`` → shop status 13 ("Returnerad")."""
    env = orders_env
    env.jetshop.shop(SHOP).statuses.append({"id": RETURNED, "names": dict.fromkeys(
        ("sv-SE", "nb-NO", "en-GB", "fi-FI"), "Returnerad"), "captures": False, "cancelled": False, "sort": 13})
    rules = env.tenant_rules("demo_erp")
    rules["status_map"]["states"]["credited"] = {"jetshop_status": RETURNED, "send_email": True}
    env.set_tenant("demo_erp", rules)
    order_id = _post(env, "demo_erp", [seed.row("1001", 2), seed.row("1006", 1)], freight="49.00")
    (order,) = _by_key(env, "orders", f"jetfort:se:{order_id}")
    returned = _return(env, order_id, [(0, "1")])
    assert_success(run_orders("demo_erp"))
    assert _docs(env, "invoices") == []  # nothing to credit yet, and the order is left as it is
    assert env.ledger().get("demo_erp", "credit", f"se:{order_id}:r{returned}").state == "waiting"
    assert env.orders.company.get("orders", order["DocumentNumber"])["Cancelled"] is False

    with _fortnox("demo_erp") as rt:
        invoice_number = rt.fortnox.create_invoice_from_order(order["DocumentNumber"])
    assert_success(run_orders("demo_erp"))  # no shop change since: the waiting record brings it back
    (credit,) = _credit_notes(env, order_id)
    assert credit["ExternalInvoiceReference1"] == f"jetfort:se:{order_id}:r{returned}"
    assert _goods(credit) == {"1001": D(-1)} and _gross(credit) == -_returned_amount(env, order_id, returned)
    invoice = env.orders.company.get("invoices", invoice_number)
    # demo_erp books the freight as a FRAKT row: a return without freight leaves it alone
    assert "FRAKT" in {r["ArticleNumber"] for r in invoice["InvoiceRows"]} and "FRAKT" not in _goods(credit)
    accounts = {r["ArticleNumber"]: r["AccountNumber"] for r in invoice["InvoiceRows"]}
    assert {r["AccountNumber"] for r in credit["InvoiceRows"] if r.get("ArticleNumber")} == {accounts["1001"]}
    # the shop learns it once (status and e-mail), not again on the next run
    assert_success(run_orders("demo_erp"))
    assert _status_changes(env, order_id)[-1:] == [RETURNED]
    assert _status_changes(env, order_id).count(RETURNED) == 1
    assert [m["status_id"] for m in env.jetshop.emails(SHOP, order_id)].count(RETURNED) == 1

def test_a_return_the_shop_sends_unreadable_is_quarantined_until_it_reads(orders_env: Any) -> None:
    env = orders_env
    order_id = _post(env, "demo_ecom", [seed.row("1001", 2)])
    returned = _return(env, order_id, [(0, "1")])
    with env.jetshop.lock:  # the shop sends a decimal comma: a value jetfort cannot read
        env.jetshop.shops[SHOP].orders[order_id]["Returns"][0]["Items"][0]["Quantity"] = "1,5"
    assert_success(run_orders("demo_ecom"))  # the rest of the shop goes on
    assert _credit_notes(env, order_id) == []
    (entry,) = env.ledger().open_quarantine("demo_ecom", "credit")
    assert entry.source_key == f"se:{order_id}:read" and entry.reason == "unreadable_value"
    assert "'1,5'" in entry.message and "Quantity" in (entry.field or "")

    with env.jetshop.lock:  # corrected in the shop (no new modification date: the open record brings it back)
        env.jetshop.shops[SHOP].orders[order_id]["Returns"][0]["Items"][0]["Quantity"] = D(1)
    assert_success(run_orders("demo_ecom"))
    (credit,) = _credit_notes(env, order_id)
    assert credit["ExternalInvoiceReference1"] == f"jetfort:se:{order_id}:r{returned}"
    assert env.ledger().open_quarantine("demo_ecom", "credit") == []

# ------------------------------------------------------------------------------------------ exactly once
def test_each_credit_is_made_once_under_dropped_answers_and_a_crash_before_the_ledger_commit(
        orders_env: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    env = orders_env
    returned = _post(env, "demo_ecom", [seed.row("1001", 2), seed.row("1006", 2)], freight="49.00")
    cancelled = _post(env, "demo_ecom", [seed.row("1001", 1)])
    invoices = {oid: _by_key(env, "invoices", f"jetfort:se:{oid}")[0]["DocumentNumber"]
                for oid in (returned, cancelled)}
    with _fortnox("demo_ecom") as rt:
        for number in invoices.values():
            rt.fortnox.bookkeep_invoice(number)
    first = _return(env, returned, [(0, "1")])
    second = _return(env, returned, [(1, "2")], freight="49.00")
    _cancel_in_shop(env, cancelled)

    # Fortnox commits the next writes and drops their answers; the worker dies after the first
    # credit reached Fortnox, before the ledger recorded it (Airflow retries the task)
    env.fortnox.set_faults(forced={"drop_after_commit": 3}, drop_methods=["POST", "PUT"])
    crashed: list[str] = []

    def crash_once(key: str, state: str, step: str | None) -> bool:
        if state == "credited" and not crashed:
            crashed.append(key)
            return True
        return False

    crash_ledger_writes(monkeypatch, crash_once)
    run = run_orders("demo_ecom")
    assert_success(run)
    credits_ti = next(ti for ti in run.get_task_instances() if ti.task_id == "shop.credits")
    assert crashed and credits_ti.try_number == 2, task_states(run)
    assert env.fortnox.faults.counts["drop_after_commit"] == 3

    def counted() -> dict[str, int]:
        notes = _credit_notes(env, returned) + _credit_notes(env, cancelled)
        return {key: sum(1 for d in notes if d["ExternalInvoiceReference1"] == key) for key in
                {d["ExternalInvoiceReference1"] for d in notes}}

    expected = {f"jetfort:se:{returned}:r{first}": 1, f"jetfort:se:{returned}:r{second}": 1,
                f"jetfort:se:{cancelled}:cancel": 1}
    assert counted() == expected
    full = env.orders.company.get("invoices", invoices[cancelled])
    assert full["CreditInvoiceReference"] != "0"
    # again, and a backfill over the whole day: nothing more
    env.fortnox.clear_faults()
    assert_success(run_orders("demo_ecom"))
    now = dt.datetime.now(dt.UTC)
    ranged = run_orders("demo_ecom", conf={"since": (now - dt.timedelta(days=1)).isoformat(),
                                           "until": now.isoformat()})
    assert_success(ranged)
    assert counted() == expected
    # the orders flow's recovery never took a credit invoice for the order's invoice
    for oid, number in invoices.items():
        (link,) = [r for r in env.ledger().records("demo_ecom", "order") if r.source_key == f"se:{oid}"]
        assert link.target_key == number
    assert summary_of(ranged)[0]["status"] == "ok"


# ------------------------------------------------------------------------------------------ status back
def _status_changes(env: Any, order_id: int) -> list[int]:
    return [c["to_status_id"] for c in env.jetshop.status_changes(SHOP, order_id)]


@pytest.mark.timeout(300)
def test_status_back_tells_a_partial_credit_from_a_cancellation(orders_env: Any) -> None:
    """demo_erp maps cancelled → shop status 4. A person's partial credit in Fortnox (PUT credit, then
    the credit invoice's rows cut down) is no cancellation; a full credit is. A shop cancellation that
    jetfort credited is not pushed back over the shop's own status either."""
    env = orders_env
    partial = _post(env, "demo_erp", [seed.row("1001", 2)])
    full = _post(env, "demo_erp", [seed.row("1001", 1)])
    by_shop = _post(env, "demo_erp", [seed.row("1006", 1)])
    before = {oid: _status_changes(env, oid) for oid in (partial, full, by_shop)}
    with _fortnox("demo_erp") as rt:
        invoices = {oid: rt.fortnox.create_invoice_from_order(_by_key(env, "orders", f"jetfort:se:{oid}")[0]
                                                              ["DocumentNumber"]) for oid in (partial, full, by_shop)}
        for number in invoices.values():
            rt.fortnox.bookkeep_invoice(number)
        credit = rt.fortnox.credit_invoice(invoices[partial]).credit_invoice_reference
        assert credit
        rows = env.orders.company.get("invoices", credit)["InvoiceRows"]
        rt.fortnox.update_invoice_fields(credit, {"InvoiceRows": [
            {"ArticleNumber": rows[0]["ArticleNumber"], "DeliveredQuantity": "-1", "Price": rows[0]["Price"]}]})
        rt.fortnox.credit_invoice(invoices[full])
    _cancel_in_shop(env, by_shop)
    assert_success(run_orders("demo_erp"))  # jetfort credits the shop's cancellation
    assert env.orders.company.get("invoices", invoices[by_shop])["CreditInvoiceReference"] != "0"

    status_run = run_dag("jetfort__demo_erp__order_status")
    assert str(status_run.state) == "success", task_states(status_run)
    new = {oid: _status_changes(env, oid)[len(before[oid]):] for oid in before}
    assert CANCELLED not in new[partial]  # partly credited: not cancelled
    assert new[full][-1:] == [CANCELLED]  # fully credited: cancelled, as before
    # the shop cancelled by itself: the status flow does not push (nor e-mail) the cancellation back
    assert new[by_shop] == [] and env.jetshop.order(SHOP, by_shop)["OrderStatusId"] == CANCELLED
    assert env.jetshop.emails(SHOP, by_shop) == []
