"""Order status back, end to end through Airflow against both sandboxes.

Shop orders are created in the Jetshop sandbox, their Fortnox documents through FortnoxHook, and
the link is recorded in the ledger exactly as the orders flow records it (kind ``order``,
``<shop>:<order id>``, state ``posted``, target order/invoice). Then documents are moved in
Fortnox (sandbox.demo_status.move) and ``jetfort__<tenant>__order_status`` runs through
``dag.test()``. Every assertion about the shop reads the Jetshop sandbox's own records (status
changes, e-mails, captures).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from jetfort.fortnox.models import DocumentRow, FortnoxInvoice, FortnoxOrder
from jetfort.tasks.runtime import TenantRuntime
from sandbox.demo_status import move
from sandbox.jetshop import seed
from tests.harness import run_dag, task_states

TENANT = "demo_erp"
DAG_ID = f"jetfort__{TENANT}__order_status"
SHOP = "demoshop"
TEMPLATE = "https://tracking.postnord.com/?id={tracking}"
INVOICED, PAID = 11, 12  # statuses added to the sandbox shop for these tests (the seed has none)


def _add_statuses(env: Any) -> None:
    shop = env.jetshop.shop(SHOP)
    for sid, name in ((INVOICED, "Fakturerad"), (PAID, "Betald")):
        if shop.status(sid) is None:
            shop.statuses.append({"id": sid, "names": {"sv-SE": name, "nb-NO": name, "en-GB": name,
                                                       "fi-FI": name},
                                  "captures": False, "cancelled": False, "sort": sid})


def full_status_map(env: Any) -> None:
    """demo_erp with every state mapped: delivered 3 (e-mail, capture, tracking), invoiced 11,
    paid 12 (e-mail), cancelled 4 (e-mail)."""
    _add_statuses(env)
    rules = env.tenant_rules(TENANT)
    rules["status_map"]["states"].update({
        "invoiced": {"jetshop_status": INVOICED, "send_email": False},
        "paid": {"jetshop_status": PAID, "send_email": True},
    })
    env.set_tenant(TENANT, rules)


def link_order(env: Any, *, document: str = "order", provider: str = "Klarna", authorized: str | None = None,
               rows: list[dict[str, Any]] | None = None) -> tuple[int, str]:
    """A shop order and its Fortnox document, linked in the ledger as the orders flow links them."""
    spec: dict[str, Any] = {"rows": rows or [seed.row("1001", 2, "249.00")], "freight": "49.00",
                            "payment_provider": provider,
                            "payment_method": {"Klarna": "Klarna Checkout"}.get(provider, provider)}
    if authorized is not None:
        spec["authorized"] = authorized
    order_id = env.jetshop.add_order(SHOP, **spec)
    shop_order = env.jetshop.order(SHOP, order_id)
    doc_rows = [DocumentRow(article_number=r["ArticleNumber"], ordered_quantity=Decimal(r["Quantity"]),
                            delivered_quantity=Decimal(r["Quantity"]), price=Decimal(r["UnitPriceIncVat"]))
                for r in spec["rows"]]
    key = f"jetfort:se:{order_id}"  # the orders flow's idempotency key
    with TenantRuntime.for_tenant(TENANT) as rt:
        if document == "order":
            created: Any = rt.fortnox.create_order(FortnoxOrder(
                customer_number="1", vat_included=True, freight=Decimal("49"), rows=doc_rows,
                external_invoice_reference1=key, your_order_number=str(shop_order["OrderNumber"])))
        else:
            created = rt.fortnox.create_invoice(FortnoxInvoice(
                customer_number="1", vat_included=True, freight=Decimal("49"), rows=doc_rows,
                external_invoice_reference1=key, your_order_number=str(shop_order["OrderNumber"])))
        number = str(created.document_number)
        source_key = f"se:{order_id}"
        ledger = rt.ledger
        ledger.ensure_record(TENANT, "order", source_key, state="posted")
        ledger.transition(TENANT, "order", source_key, "posted", step="post", target_type=document,
                          target_key=number, detail={
                              "shop": "se", "order_id": order_id, "order_number": shop_order["OrderNumber"],
                              "currency": shop_order["CurrencyCode"], "total": str(shop_order["OrderTotalIncVat"]),
                              "payment_provider": provider,
                              "authorized_amount": str(shop_order["AuthorizedAmount"])})
    return order_id, number


def advance(env: Any, order_id: int, target: str, tracking: str | None = None) -> str:
    with TenantRuntime.for_tenant(TENANT) as rt:
        link = rt.ledger.get(TENANT, "order", f"se:{order_id}")
        assert link is not None
        return move(rt, link, target, tracking=tracking)


def run(**kwargs: Any) -> tuple[Any, dict[str, Any]]:
    dag_run = run_dag(DAG_ID, **kwargs)
    states = task_states(dag_run)
    summary = None
    for ti in dag_run.get_task_instances():
        if ti.task_id == "summary":
            summary = ti.xcom_pull(task_ids="summary", key="summary")
    return dag_run, {"tasks": states, "summary": summary}


def changes(env: Any, order_id: int) -> list[dict[str, Any]]:
    return env.jetshop.status_changes(SHOP, order_id)


@pytest.mark.timeout(240)
def test_every_state_reaches_the_shop_with_status_tracking_email_and_capture(sync_env: Any) -> None:
    full_status_map(sync_env)
    delivered, _ = link_order(sync_env)
    invoiced, _ = link_order(sync_env)
    paid, _ = link_order(sync_env)
    cancelled, _ = link_order(sync_env)
    untouched, _ = link_order(sync_env)
    advance(sync_env, delivered, "delivered", tracking="PN111SE")
    advance(sync_env, invoiced, "invoiced", tracking="PN222SE")
    advance(sync_env, paid, "paid", tracking="PN333SE")
    advance(sync_env, cancelled, "cancelled")

    dag_run, out = run()
    assert str(dag_run.state) == "success", out["tasks"]
    assert out["tasks"]["push_status[0]"] == "success"
    (push_ti,) = [ti for ti in dag_run.get_task_instances() if ti.task_id == "push_status"]
    assert push_ti.rendered_map_index == "se"  # the grid names each mapped instance by its shop

    sb = sync_env.jetshop
    # delivered: status 3 with tracking + URL, e-mail, capture of the document total (≤ authorised)
    (change,) = changes(sync_env, delivered)
    assert (change["to_status_id"], change["tracking_number"]) == (3, "PN111SE")
    assert change["tracking_url"] == TEMPLATE.format(tracking="PN111SE") and change["send_email"] is True
    (mail,) = sb.emails(SHOP, delivered)
    assert "PN111SE" in mail["body"]
    (capture,) = sb.captures(SHOP, delivered)
    assert Decimal(capture["amount"]) <= Decimal(sb.order(SHOP, delivered)["AuthorizedAmount"])
    # invoiced: delivered first, then invoiced (no e-mail for invoiced)
    assert [c["to_status_id"] for c in changes(sync_env, invoiced)] == [3, INVOICED]
    assert [m["status_id"] for m in sb.emails(SHOP, invoiced)] == [3]
    assert len(sb.captures(SHOP, invoiced)) == 1
    # paid: delivered, invoiced, paid in that order; e-mails for delivered and paid
    assert [c["to_status_id"] for c in changes(sync_env, paid)] == [3, INVOICED, PAID]
    assert [m["status_id"] for m in sb.emails(SHOP, paid)] == [3, PAID]
    assert len(sb.captures(SHOP, paid)) == 1
    # cancelled: status 4 with e-mail, never captured
    assert [c["to_status_id"] for c in changes(sync_env, cancelled)] == [4]
    assert [m["status_id"] for m in sb.emails(SHOP, cancelled)] == [4]
    assert sb.captures(SHOP, cancelled) == []
    assert changes(sync_env, untouched) == [] and sb.captures(SHOP, untouched) == []

    summary = out["summary"]
    assert summary["states"]["delivered"]["pushed"] == 3
    assert summary["states"]["delivered"]["captured"] == 3
    assert summary["states"]["delivered"]["emails"] == 3
    assert summary["states"]["invoiced"]["pushed"] == 2
    assert summary["states"]["paid"]["pushed"] == 1 and summary["states"]["paid"]["emails"] == 1
    assert summary["states"]["cancelled"]["pushed"] == 1 and summary["states"]["cancelled"]["captured"] == 0
    assert [r["state"] for r in summary["rows"]] == ["delivered", "invoiced", "paid", "cancelled", "total"]
    assert summary["rows"][-1]["pushed"] == 7

    # the capture is recorded once in the ledger with the PSP reference
    ledger = sync_env.ledger()
    record = ledger.get(TENANT, "capture", f"se:{delivered}")
    assert record.state == "captured"
    assert record.detail["psp_reference"] == sb.order(SHOP, delivered)["PaymentTransactionId"]
    assert ledger.get(TENANT, "capture", f"se:{cancelled}") is None


@pytest.mark.timeout(240)
def test_cancelled_after_delivery_is_quarantined_with_the_reason_and_never_captured_twice(sync_env: Any) -> None:
    order_id, number = link_order(sync_env)
    advance(sync_env, order_id, "invoiced")  # delivered + invoiced (invoiced unmapped in demo_erp)
    dag_run, out = run()
    assert str(dag_run.state) == "success", out["tasks"]
    assert [c["to_status_id"] for c in changes(sync_env, order_id)] == [3]
    assert out["summary"]["states"]["invoiced"]["skipped"] == 1  # not in the status map
    # now the invoice is credited in Fortnox: the shop refuses to cancel a captured order
    with TenantRuntime.for_tenant(TENANT) as rt:
        invoice_number = rt.fortnox.get_order(number).invoice_reference
        assert invoice_number
        rt.fortnox.bookkeep_invoice(invoice_number)
        rt.fortnox.credit_invoice(invoice_number)
    dag_run, out = run()
    assert str(dag_run.state) == "success", out["tasks"]
    assert out["summary"]["states"]["cancelled"]["quarantined"] == 1
    assert [c["to_status_id"] for c in changes(sync_env, order_id)] == [3]
    assert len(sync_env.jetshop.captures(SHOP, order_id)) == 1
    (entry,) = sync_env.ledger().open_quarantine(TENANT, "status")
    assert entry.source_key == f"se:{order_id}:cancelled"
    assert "captured" in entry.message and "refund" in entry.message


@pytest.mark.timeout(240)
def test_refused_capture_is_quarantined_and_the_status_still_goes_out(sync_env: Any) -> None:
    swish, _ = link_order(sync_env, provider="Swish")
    low, _ = link_order(sync_env, authorized="100.00")  # authorised below the total
    advance(sync_env, swish, "delivered")
    advance(sync_env, low, "delivered")
    dag_run, out = run()
    assert str(dag_run.state) == "success", out["tasks"]
    sb = sync_env.jetshop
    assert [c["to_status_id"] for c in changes(sync_env, swish)] == [3]
    assert sb.captures(SHOP, swish) == []
    assert sync_env.ledger().get(TENANT, "capture", f"se:{swish}").state == "not_capturable"
    (capture,) = sb.captures(SHOP, low)
    assert Decimal(capture["amount"]) == Decimal("100.00")  # never above the authorisation
    assert [c["to_status_id"] for c in changes(sync_env, low)] == [3]


@pytest.mark.timeout(240)
def test_direct_invoice_link_is_invoiced_at_once_and_never_moves_backwards(sync_env: Any) -> None:
    full_status_map(sync_env)
    order_id, _ = link_order(sync_env, document="invoice")
    dag_run, out = run()
    assert [c["to_status_id"] for c in changes(sync_env, order_id)] == [INVOICED]  # the invoice itself
    advance(sync_env, order_id, "paid")  # tracking + payment → delivered (superseded) and paid
    dag_run, out = run()
    assert str(dag_run.state) == "success", out["tasks"]
    assert [c["to_status_id"] for c in changes(sync_env, order_id)] == [INVOICED, PAID]
    assert out["summary"]["states"]["delivered"]["skipped"] == 1  # the shop never moves backwards
    assert len(sync_env.jetshop.captures(SHOP, order_id)) == 1  # captured once although delivered was skipped


def test_dag_is_built_only_where_status_map_is_enabled(sync_env: Any) -> None:
    from tests.harness import load_dag

    dag = load_dag(DAG_ID)
    assert {t.task_id for t in dag.tasks} == {"read_changes", "push_status", "summary"}
    assert dag.timetable.__class__.__name__ == "CronDataIntervalTimetable"
    with pytest.raises(AssertionError):
        load_dag("jetfort__demo_ecom__order_status")


def test_plan_below_200_is_refused_by_the_rules(sync_env: Any) -> None:
    from jetfort.rules import RulesError, parse_tenant

    rules = sync_env.tenant_rules(TENANT)
    rules["plan"] = "100"
    with pytest.raises(RulesError) as err:
        parse_tenant(TENANT, rules)
    assert "order_status" in str(err.value) or "Order status" in str(err.value)


def _today() -> dt.date:
    return dt.date.today()


@pytest.mark.timeout(240)
def test_dry_run_shows_the_plan_and_sends_nothing(sync_env: Any) -> None:
    order_id, _ = link_order(sync_env)
    advance(sync_env, order_id, "delivered", tracking="PN5SE")
    dag_run, out = run(conf={"dry_run": True})
    assert str(dag_run.state) == "success", out["tasks"]
    assert out["summary"]["dry_run"] is True
    assert out["summary"]["states"]["delivered"]["pushed"] == 1
    assert out["summary"]["states"]["delivered"]["captured"] == 1
    assert changes(sync_env, order_id) == [] and sync_env.jetshop.captures(SHOP, order_id) == []
    assert sync_env.ledger().get_cursor(TENANT, "order_status") is None  # a dry run moves no cursor
    dag_run, out = run()
    assert [c["to_status_id"] for c in changes(sync_env, order_id)] == [3]
    assert len(sync_env.jetshop.captures(SHOP, order_id)) == 1


@pytest.mark.timeout(240)
def test_successful_runs_ask_for_no_xcom_that_was_never_pushed(sync_env: Any, capfd: pytest.CaptureFixture[str],
                                                                caplog: pytest.LogCaptureFixture) -> None:
    empty, out = run()  # nothing linked: push_status finds nothing and returns its zero counts
    assert str(empty.state) == "success", out["tasks"]
    order_id, _ = link_order(sync_env)
    advance(sync_env, order_id, "delivered", tracking="PN7SE")
    busy, out = run()
    assert str(busy.state) == "success", out["tasks"]
    assert out["summary"]["states"]["delivered"]["pushed"] == 1 and out["summary"]["shops_not_finished"] == []
    captured = capfd.readouterr()
    logs = captured.out + captured.err + caplog.text
    assert "XCom not found" not in logs  # the API's 404, logged as an error by the task's supervisor
