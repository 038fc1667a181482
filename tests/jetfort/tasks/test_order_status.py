"""tasks.order_status with a real ledger and in-memory Fortnox/Jetshop fakes (no sandboxes, no Airflow).

The fakes keep exactly what the task relies on: Fortnox documents and their change list, the shop
order's status, tracking, payment and capture, and a record of every call.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from jetfort.fortnox.models import FortnoxInvoice, FortnoxOrder, InvoiceListItem, OrderListItem
from jetfort.jetshop.errors import JetshopConnectionError
from jetfort.ledger import Ledger
from jetfort.rules import parse_tenant
from jetfort.shop.models import (
    Address,
    CaptureResult,
    OrderStatus,
    Payment,
    PaymentProvider,
    ShopCustomer,
    ShopOrder,
    StatusUpdateResult,
)
from jetfort.tasks import order_status as task
from jetfort.tasks.runtime import TenantRuntime

REPO = Path(__file__).resolve().parents[3]
TENANT = "demo_erp"
D = Decimal
NOW = dt.datetime(2026, 11, 29, 12, 0, tzinfo=dt.UTC)


class FakeFortnox:
    def __init__(self) -> None:
        self.orders: dict[str, dict[str, Any]] = {}
        self.invoices: dict[str, dict[str, Any]] = {}
        self.changed_orders: list[str] = []
        self.changed_invoices: list[str] = []
        self.calls: list[str] = []

    def order(self, number: str, **fields: Any) -> None:
        self.orders[number] = {"DocumentNumber": number, "Cancelled": False, "InvoiceReference": "0",
                               "Total": 548, "Currency": "SEK", "WarehouseReady": True, **fields}
        self.changed_orders.append(number)

    def invoice(self, number: str, **fields: Any) -> None:
        origin = self.orders.get(str(fields.get("OrderReference")), {})  # invoiced from an order: its key
        self.invoices[number] = {"DocumentNumber": number, "Cancelled": False, "Credit": "false",
                                 "CreditInvoiceReference": "0", "Total": 548, "Balance": 548, "Currency": "SEK",
                                 "ExternalInvoiceReference1": origin.get("ExternalInvoiceReference1", ""), **fields}
        self.changed_invoices.append(number)

    def orders_changed_since(self, since: Any) -> list[OrderListItem]:
        self.calls.append("orders_changed_since")
        return [OrderListItem.model_validate(self.orders[n]) for n in dict.fromkeys(self.changed_orders)]

    def invoices_changed_since(self, since: Any) -> list[InvoiceListItem]:
        self.calls.append("invoices_changed_since")
        return [InvoiceListItem.model_validate(self.invoices[n]) for n in dict.fromkeys(self.changed_invoices)]

    def get_order(self, number: str) -> FortnoxOrder:
        self.calls.append(f"get_order {number}")
        return FortnoxOrder.model_validate(self.orders[number])

    def get_invoice(self, number: str) -> FortnoxInvoice:
        self.calls.append(f"get_invoice {number}")
        return FortnoxInvoice.model_validate(self.invoices[number])

    def list_invoice_payments(self, number: str) -> list[Any]:
        return []

    def close(self) -> None:
        pass


class FakeShop:
    STATUSES = [OrderStatus(status_id=1, name="Ny"), OrderStatus(status_id=3, name="Skickad", captures_payment=True),
                OrderStatus(status_id=4, name="Makulerad", is_cancelled=True), OrderStatus(status_id=6, name="Över")]

    def __init__(self) -> None:
        self.orders: dict[int, dict[str, Any]] = {}
        self.changes: list[tuple[int, int, str | None, bool]] = []
        self.captures: list[tuple[int, Decimal]] = []
        self.fail_status: dict[int, str] = {}
        self.lose: set[str] = set()

    def add(self, order_id: int, *, provider: str = "Klarna", authorised: str = "548", currency: str = "SEK",
            status: int = 6) -> None:
        self.orders[order_id] = {"status": status, "tracking": "", "provider": provider,
                                 "authorised": D(authorised), "captured": D(0), "currency": currency}

    def get_statuses(self) -> list[OrderStatus]:
        return list(self.STATUSES)

    def get_order(self, order_id: int) -> ShopOrder:
        o = self.orders[order_id]
        return ShopOrder(
            shop_id="demoshop", order_id=order_id, order_number=str(order_id), order_date=NOW, modified_date=NOW,
            status_id=o["status"], channel_id=1, currency=o["currency"], customer=ShopCustomer(),
            billing=Address(), delivery=Address(), total_inc_vat=D("548"), total_ex_vat=D("438.4"),
            vat_total=D("109.6"), tracking_number=o["tracking"],
            payment=Payment(provider=PaymentProvider(o["provider"]), authorized_amount=o["authorised"],
                            captured_amount=o["captured"], transaction_id=f"psp-{order_id}"))

    def set_order_status(self, order_id: int, status_id: int, *, tracking_number: str | None = None,
                         tracking_url: str | None = None, send_email: bool = False, strict: bool = True,
                         **_: Any) -> StatusUpdateResult:
        if order_id in self.fail_status:
            return StatusUpdateResult(order_id=order_id, success=False, message=self.fail_status[order_id])
        o = self.orders[order_id]
        if (o["status"], o["tracking"]) != (status_id, tracking_number or o["tracking"]):
            o["status"], o["tracking"] = status_id, tracking_number or o["tracking"]
            self.changes.append((order_id, status_id, tracking_number, send_email))
        if "status" in self.lose:
            raise JetshopConnectionError("connection lost", operation="Order_UpdateStatus")
        return StatusUpdateResult(order_id=order_id, success=True)

    def capture_payment(self, order_id: int, amount: Decimal | None = None, *, strict: bool = True,
                        **_: Any) -> CaptureResult:
        o = self.orders[order_id]
        if o["captured"]:
            return CaptureResult(order_id=order_id, success=True, already_captured=True, captured_amount=o["captured"])
        if amount is not None and amount > o["authorised"]:
            return CaptureResult(order_id=order_id, success=False, message="Capture amount exceeds the authorised amount.")
        o["captured"] = amount
        self.captures.append((order_id, amount or D(0)))
        if "capture" in self.lose:
            raise JetshopConnectionError("connection lost", operation="Order_CapturePayment")
        return CaptureResult(order_id=order_id, success=True, captured_amount=amount or D(0),
                             capture_id=f"CAP-{order_id}", transaction_id=f"psp-{order_id}")

    def close(self) -> None:
        pass


class FakeRuntime(TenantRuntime):
    def __init__(self, ledger: Ledger, fortnox: FakeFortnox, shop: FakeShop, **overrides: Any) -> None:
        rules = json.loads((REPO / "include/mappings/tenants/demo_erp.json").read_text())
        rules.update(overrides)
        super().__init__(parse_tenant(TENANT, rules), ledger=ledger)
        self.fake_fortnox = fortnox
        self.fake_shop = shop

    @property
    def fortnox(self) -> Any:  # type: ignore[override]
        return self.fake_fortnox

    def shop(self, shop_key: str) -> Any:
        assert shop_key == "se"
        return self.fake_shop


@pytest.fixture
def env(sqlite_url: str) -> tuple[FakeRuntime, FakeFortnox, FakeShop]:
    fortnox, shop = FakeFortnox(), FakeShop()
    return FakeRuntime(Ledger.from_url(sqlite_url), fortnox, shop), fortnox, shop


def link(rt: TenantRuntime, order_id: int, number: str, target_type: str = "order") -> None:
    """The orders flow's link, and its idempotency key on the Fortnox document(s)."""
    key = f"se:{order_id}"
    fake: FakeFortnox = rt.fortnox
    docs = fake.orders if target_type == "order" else fake.invoices
    docs[number]["ExternalInvoiceReference1"] = f"jetfort:{key}"
    if target_type == "order" and docs[number].get("InvoiceReference", "0") in fake.invoices:
        fake.invoices[docs[number]["InvoiceReference"]]["ExternalInvoiceReference1"] = f"jetfort:{key}"
    rt.ledger.ensure_record(TENANT, "order", key, state="posted")
    rt.ledger.transition(TENANT, "order", key, "acknowledged", step="post", target_type=target_type,
                         target_key=number, detail={"shop": "se", "order_id": order_id, "order_number": str(order_id)})


def cycle(rt: TenantRuntime, run_id: str = "r1") -> dict[str, Any]:
    read = task.read_changes(TENANT, {"run_id": run_id}, runtime=rt, now=NOW)
    push = task.push_status(TENANT, "se", {"run_id": run_id}, runtime=rt)
    return {"read": read, "push": push}


def test_only_linked_documents_are_read_and_a_rerun_is_a_no_op(env: Any) -> None:
    rt, fortnox, shop = env
    fortnox.order("1", InvoiceReference="10")
    fortnox.invoice("10", OrderReference="1", ExternalInvoiceReference2="PN1")
    fortnox.order("2")  # not linked: never fetched
    fortnox.invoice("11", ExternalInvoiceReference1="")  # not made by jetfort: never fetched
    link(rt, 100, "1")
    shop.add(100)
    out = cycle(rt)
    assert out["read"]["affected"] == 1 and out["read"]["states"] == {"delivered": 1, "invoiced": 1}
    assert "get_order 2" not in fortnox.calls and "get_invoice 11" not in fortnox.calls
    assert shop.changes == [(100, 3, "PN1", True)]
    assert shop.captures == [(100, D("548"))]
    assert out["push"]["states"]["invoiced"]["skipped"] == 1  # demo_erp maps no "invoiced"
    assert rt.ledger.get_cursor(TENANT, task.CURSOR) == NOW.isoformat()
    again = cycle(rt, "r2")
    assert again["push"]["orders"] == 0 and shop.changes == [(100, 3, "PN1", True)] and len(shop.captures) == 1


def test_invoice_of_a_linked_order_is_found_by_its_key_or_by_the_invoice_index(env: Any) -> None:
    rt, fortnox, shop = env
    fortnox.order("1")
    link(rt, 100, "1")
    shop.add(100)
    cycle(rt)
    assert shop.changes == []
    # invoiced by hand in Fortnox, and the invoice lost the key: the order's change finds it
    fortnox.invoice("10", OrderReference="1", ExternalInvoiceReference1="")
    fortnox.order("1", InvoiceReference="10", ExternalInvoiceReference1="jetfort:se:100")
    cycle(rt, "r2")
    assert [c[1] for c in shop.changes] == [3]
    assert rt.ledger.get_cursor(TENANT, "order_status:invoice:10") == "se:100"
    # later only the invoice changes (paid): the index leads to the shop order
    fortnox.changed_orders.clear()
    fortnox.changed_invoices.clear()
    fortnox.invoice("10", OrderReference="1", ExternalInvoiceReference1="", Balance=0, FinalPayDate="2026-11-28")
    out = cycle(rt, "r3")
    assert out["read"]["affected"] == 1 and out["read"]["states"] == {"delivered": 1, "invoiced": 1, "paid": 1}
    facts = rt.ledger.get(TENANT, "order_status", "se:100")
    assert facts.detail["invoice_number"] == "10" and facts.state == "paid"


def test_cancelled_supersedes_and_never_captures(env: Any) -> None:
    rt, fortnox, shop = env
    fortnox.order("1", InvoiceReference="10")
    fortnox.invoice("10", OrderReference="1", Cancelled=True)
    link(rt, 100, "1")
    shop.add(100)
    out = cycle(rt)
    assert shop.changes == [(100, 4, None, True)] and shop.captures == []
    assert out["push"]["states"]["delivered"]["skipped"] == 1
    assert rt.ledger.get(TENANT, "status", "se:100:delivered").state == "superseded"
    assert rt.ledger.get(TENANT, "capture", "se:100") is None


def test_order_cancelled_in_the_shop_is_not_captured(env: Any) -> None:
    rt, fortnox, shop = env
    fortnox.order("1", InvoiceReference="10")
    fortnox.invoice("10", OrderReference="1")
    link(rt, 100, "1")
    shop.add(100, status=4)
    shop.fail_status[100] = "Order 100 is cancelled; its status can not change."
    out = cycle(rt)
    assert shop.captures == []
    assert rt.ledger.get(TENANT, "capture", "se:100").state == "blocked"
    assert out["push"]["states"]["delivered"]["quarantined"] == 1
    (entry,) = rt.ledger.open_quarantine(TENANT, "status")
    assert "is cancelled" in entry.message and "resolve" in entry.message


def test_capture_takes_the_lower_of_document_total_and_authorisation(env: Any) -> None:
    rt, fortnox, shop = env
    for n, (total, authorised) in enumerate([(500, "548"), (548, "300")], start=1):
        fortnox.order(str(n), InvoiceReference=str(10 + n), Total=total)
        fortnox.invoice(str(10 + n), OrderReference=str(n), Total=total, Balance=total)
        link(rt, 100 + n, str(n))
        shop.add(100 + n, authorised=authorised)
    cycle(rt)
    assert sorted(shop.captures) == [(101, D("500")), (102, D("300"))]
    record = rt.ledger.get(TENANT, "capture", "se:101")
    assert record.detail["psp_reference"] == "psp-101" and record.detail["capture_id"] == "CAP-101"


def test_currency_mismatch_is_quarantined_and_the_status_still_goes_out(env: Any) -> None:
    rt, fortnox, shop = env
    fortnox.order("1", InvoiceReference="10")
    fortnox.invoice("10", OrderReference="1", Currency="EUR")
    link(rt, 100, "1")
    shop.add(100, currency="SEK")
    out = cycle(rt)
    assert shop.captures == [] and [c[1] for c in shop.changes] == [3]
    assert out["push"]["states"]["delivered"]["quarantined"] == 1
    (entry,) = rt.ledger.open_quarantine(TENANT, "capture")
    assert entry.reason == "currency_mismatch" and "EUR" in entry.message


def test_refused_status_is_quarantined_then_retried_after_resolve(env: Any) -> None:
    rt, fortnox, shop = env
    fortnox.order("1", ExternalInvoiceReference2="PN1")
    link(rt, 100, "1")
    shop.add(100, provider="Invoice")
    shop.fail_status[100] = "OrderStatus 3 not found."
    out = cycle(rt)
    assert out["push"]["states"]["delivered"]["quarantined"] == 1
    assert rt.ledger.get(TENANT, "capture", "se:100").state == "not_capturable"
    cycle(rt, "r2")  # still open: nothing is retried
    assert shop.changes == []
    del shop.fail_status[100]
    rt.ledger.resolve_quarantine(TENANT, "status", "se:100:delivered")
    cycle(rt, "r3")
    assert shop.changes == [(100, 3, "PN1", True)]


def test_transient_failure_of_one_order_leaves_it_in_doubt_and_finishes_the_others(env: Any) -> None:
    rt, fortnox, shop = env
    for n in (1, 2):
        fortnox.order(str(n), InvoiceReference=str(10 + n))
        fortnox.invoice(str(10 + n), OrderReference=str(n))
        link(rt, 100 + n, str(n))
        shop.add(100 + n)
    shop.lose.add("status")
    task.read_changes(TENANT, {"run_id": "r1"}, runtime=rt, now=NOW)
    with pytest.raises(task.StatusPushIncomplete, match="2 order"):
        task.push_status(TENANT, "se", {"run_id": "r1"}, runtime=rt)
    assert [c[0] for c in shop.changes] == [101, 102]
    assert rt.ledger.get(TENANT, "status", "se:101:delivered").state == "pushing"
    shop.lose.clear()
    # another run within the lease leaves the claims alone (they may still be in flight) ...
    other = task.push_status(TENANT, "se", {"run_id": "r2"}, runtime=rt)
    assert other["states"] == {} and rt.ledger.get(TENANT, "status", "se:101:delivered").state == "pushing"
    # ... the task's own retry (same run) checks the shop and finishes them
    result = task.push_status(TENANT, "se", {"run_id": "r1"}, runtime=rt)
    assert result["states"]["delivered"]["pushed"] == 2
    assert [c[0] for c in shop.changes] == [101, 102]  # the shop showed it; nothing sent again
    assert len(shop.captures) == 2


def test_summary_table_and_open_quarantine(env: Any) -> None:
    rt, _, _ = env
    pushes = [{"shop": "se", "states": {"delivered": {"pushed": 2, "captured": 1, "emails": 2}}}]
    summary = task.summarize(TENANT, {"window": {"start": "a"}, "affected": 2}, pushes, shops=["se"], runtime=rt)
    assert summary["states"]["delivered"] == {"pushed": 2, "captured": 1, "emails": 2, "skipped": 0,
                                              "quarantined": 0}
    assert summary["shops_not_finished"] == []
    assert summary["rows"][0] == {"state": "delivered", "pushed": 2, "captured": 1, "emails": 2, "skipped": 0,
                                  "quarantined": 0}
    assert summary["rows"][-1]["state"] == "total"
    missing = task.summarize(TENANT, None, [None], shops=["se"], runtime=rt)
    assert missing["shops_not_finished"] == ["se"]


def test_manual_recheck_of_given_orders_whatever_the_window(env: Any) -> None:
    rt, fortnox, shop = env
    fortnox.order("1", ExternalInvoiceReference2="PN1")
    fortnox.changed_orders.clear()  # not changed in this window
    link(rt, 100, "1")
    shop.add(100)
    context = {"run_id": "m1", "params": {"orders": ["se:100", "se:999"]}}
    read = task.read_changes(TENANT, context, runtime=rt, now=NOW)
    assert read["affected"] == 1 and read["not_linked"] == ["se:999"]
    task.push_status(TENANT, "se", context, runtime=rt)
    assert shop.changes == [(100, 3, "PN1", True)]


def test_an_unreadable_linked_document_is_quarantined_and_the_others_go_on(env: Any) -> None:
    from jetfort.fortnox.errors import FortnoxNotFound

    rt, fortnox, shop = env
    fortnox.order("1", InvoiceReference="10")
    fortnox.invoice("10", OrderReference="1")
    fortnox.order("2", InvoiceReference="11")
    link(rt, 100, "1")
    link(rt, 101, "2")  # its invoice 11 cannot be read
    shop.add(100)
    shop.add(101)
    real = fortnox.get_invoice

    def get_invoice(number: str) -> Any:
        if number == "11":
            raise FortnoxNotFound("GET /3/invoices/11: HTTP 404, code 2000434: Kan inte hitta fakturan.")
        return real(number)

    fortnox.get_invoice = get_invoice  # type: ignore[method-assign]
    out = cycle(rt)
    assert out["read"]["quarantined"] == 1 and [c[0] for c in shop.changes] == [100]
    (entry,) = rt.ledger.open_quarantine(TENANT, "order_status")
    assert entry.source_key == "se:101" and "invoices/11" in entry.message and "resolve" in entry.message
    fortnox.invoice("11", OrderReference="2")
    fortnox.get_invoice = real  # type: ignore[method-assign]
    cycle(rt, "r2")
    assert [c[0] for c in shop.changes] == [100, 101]
    assert rt.ledger.open_quarantine(TENANT, "order_status") == []


def test_psp_refusal_is_quarantined_with_its_message_and_the_status_still_goes_out(env: Any) -> None:
    rt, fortnox, shop = env
    fortnox.order("1", InvoiceReference="10")
    fortnox.invoice("10", OrderReference="1", Total=548)
    link(rt, 100, "1")
    shop.add(100)

    def refuse(order_id: int, amount: Any = None, *, strict: bool = True, **_: Any) -> CaptureResult:
        return CaptureResult(order_id=order_id, success=False, message="Klarna: authorisation expired (code 410).")

    shop.capture_payment = refuse  # type: ignore[method-assign]
    out = cycle(rt)
    assert [c[1] for c in shop.changes] == [3] and shop.captures == []
    assert out["push"]["states"]["delivered"]["quarantined"] == 1
    (entry,) = rt.ledger.open_quarantine(TENANT, "capture")
    assert entry.reason == "capture_refused" and "authorisation expired" in entry.message
    assert "PSP" in entry.message  # says what to do
    cycle(rt, "r2")  # open quarantine: no second attempt
    assert rt.ledger.open_quarantine(TENANT, "capture")[0].attempts == 1


def _ledger_state(rt: TenantRuntime) -> dict[str, Any]:
    from types import SimpleNamespace

    from tests.e2e.conftest import ledger_state

    return ledger_state(SimpleNamespace(ledger=lambda: rt.ledger), TENANT)


def test_a_dry_run_writes_nothing_and_plans_what_the_real_run_then_does(env: Any) -> None:
    rt, fortnox, shop = env
    fortnox.order("1", InvoiceReference="10")
    fortnox.invoice("10", OrderReference="1", ExternalInvoiceReference2="PN1")
    link(rt, 100, "1")
    shop.add(100)
    before = _ledger_state(rt)
    context = {"run_id": "dry", "params": {"dry_run": True}}
    read = task.read_changes(TENANT, context, runtime=rt, now=NOW)
    plan = task.push_status(TENANT, "se", context, runtime=rt, read=read)
    assert _ledger_state(rt) == before  # no facts, status records, invoice index, cursor or quarantine
    assert shop.changes == [] and shop.captures == []
    assert plan["dry_run"] and plan["states"]["delivered"] == {**dict.fromkeys(task.COUNTERS, 0), "pushed": 1,
                                                               "captured": 1, "emails": 1}
    assert plan["states"]["invoiced"]["skipped"] == 1  # demo_erp maps no "invoiced"
    real = cycle(rt, "real")
    assert shop.changes == [(100, 3, "PN1", True)] and shop.captures == [(100, D("548"))]
    assert real["push"]["states"] == plan["states"]


def test_a_range_reads_from_since_and_leaves_the_cursor(env: Any) -> None:
    from jetfort.tasks.params import InvalidParams

    rt, fortnox, shop = env
    seen: list[Any] = []
    listed = fortnox.orders_changed_since
    fortnox.orders_changed_since = lambda since: seen.append(since) or listed(since)  # type: ignore[method-assign]
    fortnox.order("1", ExternalInvoiceReference2="PN1")
    link(rt, 100, "1")
    shop.add(100)
    rt.ledger.set_cursor(TENANT, task.CURSOR, NOW.isoformat())
    params = {"since": "2026-11-20T00:00:00+01:00", "until": "2026-11-23T00:00:00+01:00"}
    read = task.read_changes(TENANT, {"run_id": "range", "params": params}, runtime=rt, now=NOW)
    assert read["window"]["source"] == "params" and read["affected"] == 1
    assert seen == [dt.datetime(2026, 11, 19, 23, tzinfo=dt.UTC)]  # exactly since, no overlap
    assert rt.ledger.get_cursor(TENANT, task.CURSOR) == NOW.isoformat()
    with pytest.raises(InvalidParams, match="either orders or since/until"):
        task.read_changes(TENANT, {"params": {**params, "orders": ["se:100"]}}, runtime=rt, now=NOW)
    with pytest.raises(InvalidParams, match="later than since"):
        task.read_changes(TENANT, {"params": {"since": params["until"], "until": params["since"]}}, runtime=rt)
