"""The orders DAG end to end through Airflow (``dag.test()``) against both sandboxes.

Outcomes are read from the sandboxes' own state — Fortnox documents and their totals as the Fortnox
sandbox computed them, shop statuses as the Jetshop sandbox holds them — and from the ledger.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.e2e.conftest import run_orders, summary_of
from tests.harness import crash_ledger_writes, task_states

#: awkward kinds that must not reach Fortnox, with the quarantine reason (ecom rules, all channels)
QUARANTINED = {
    "currency_nok_non_eu": "vat_charged_on_vat_free_sale",  # Norway is export; the shop charged VAT
    "non_latin_text": "vat_charged_on_vat_free_sale",  # delivered to Japan with Swedish VAT
    "negative_quantity": "negative_quantity",  # a return inside a sale needs a credit
}
#: awkward kinds sold by weight or length: the first row's quantity as Fortnox must store it
DECIMAL_QUANTITIES = {"decimal_quantity_1_5_kg": "1.5", "decimal_quantity_0_25_m": "0.25"}
#: awkward kinds whose shop status is not a trigger status: never released
NOT_RELEASED = {"unknown_status_id", "cancelled_order"}

DEMOSHOP_CHANNELS = [
    {"key": "no", "jetshop_channel_id": 2, "culture": "nb-NO", "currency": "NOK",
     "price_list_guid": "0036268D-6D49-4A21-B0A2-3C12AF44FB14"},
    {"key": "b2b", "jetshop_channel_id": 3, "culture": "sv-SE", "currency": "SEK",
     "price_list_guid": "F2585A2D-452F-45EB-9CB1-9080134CE0C9"},
    {"key": "eu", "jetshop_channel_id": 4, "culture": "en-GB", "currency": "EUR",
     "price_list_guid": "5E1B7C1A-9A57-4F1E-9C55-3E0B2D1E7A44"},
]


def all_channels(env: Any, base: str = "demo_ecom", **orders: Any) -> dict[str, Any]:
    rules = env.tenant_rules(base)
    rules["shops"][0]["channels"] += DEMOSHOP_CHANNELS
    rules["orders"].update(orders)
    return rules


def doc_amount(doc: dict[str, Any]) -> Decimal:
    """What the buyer owes per Fortnox before öresavrundning (Total carries the rounding)."""
    return Decimal(str(doc["Total"])) - Decimal(str(doc.get("RoundOff") or 0))


def assert_success(run: Any) -> None:
    assert str(run.state) == "success", task_states(run)


# ------------------------------------------------------------------------------------------ kinds
def test_every_awkward_order_is_posted_with_the_shop_total_or_quarantined_with_its_reason(orders_env: Any) -> None:
    env = orders_env
    env.set_tenant("awkward", all_channels(env))
    env.orders.touch("demoshop")
    run = run_orders("awkward")
    assert_success(run)

    kinds = env.jetshop.awkward_orders("demoshop")
    assert len(kinds) >= 30 and set(DECIMAL_QUANTITIES) <= set(kinds)
    docs = env.orders.by_key()
    ledger = env.ledger()
    quarantine = {q.source_key: q for q in ledger.open_quarantine("awkward")}
    for kind, order_id in kinds.items():
        key = f"se:{order_id}"
        shop = env.jetshop.order("demoshop", order_id)
        record = ledger.get("awkward", "order", key)
        found = docs.get(f"jetfort:se:{order_id}", [])
        if kind in NOT_RELEASED:
            assert record is None and not found, kind
        elif kind in QUARANTINED:
            assert record is not None and record.state == "quarantined", kind
            assert quarantine[key].reason == QUARANTINED[kind], (kind, quarantine[key])
            assert quarantine[key].field and quarantine[key].message, kind
            assert not found, kind
            assert shop["OrderStatusId"] == 1, kind  # left for a person to act on
        else:
            assert len(found) == 1, (kind, found)
            doc = found[0]
            assert doc["Currency"] == shop["CurrencyCode"], kind
            assert abs(doc_amount(doc) - Decimal(str(shop["OrderTotalIncVat"]))) <= Decimal("0.01"), \
                (kind, doc["Total"], doc.get("RoundOff"), shop["OrderTotalIncVat"])
            assert doc["YourOrderNumber"] == shop["OrderNumber"], kind
            assert record is not None and record.state == "acknowledged", kind
            assert record.target_type == "invoice" and record.target_key == doc["DocumentNumber"], kind
            assert shop["OrderStatusId"] == 6, kind  # transferred
            assert record.detail is not None
            for field in ("shop", "order_id", "order_number", "currency", "total", "payment_provider",
                          "authorized_amount"):
                assert field in record.detail, field
            steps = [a["step"] for a in ledger.audit("awkward", "order", key)]
            assert steps[:1] == ["extract"] and {"map", "post", "acknowledge"} <= set(steps), (kind, steps)
            assert any(a["payload"] for a in ledger.audit("awkward", "order", key) if a["step"] == "post")
            if kind in DECIMAL_QUANTITIES:  # sold by weight or length: the shop's quantity, not 0 or 2
                assert doc["InvoiceRows"][0]["DeliveredQuantity"] == DECIMAL_QUANTITIES[kind], kind

    (row,) = summary_of(run)
    released = len(kinds) - len(NOT_RELEASED) + 10  # + the ordinary seed orders
    assert row["seen"] == released
    assert row["quarantined"] == len(QUARANTINED)
    assert row["posted"] == row["acknowledged"] == released - len(QUARANTINED)


# ------------------------------------------------------------------------------------------ flows
def test_erp_flow_posts_orders_with_fee_rows_and_quarantines_unknown_articles(orders_env: Any) -> None:
    env = orders_env
    kinds = env.jetshop.awkward_orders("demoshop")
    picked = {k: kinds[k] for k in ("plain_single_row", "payment_fee", "paid_freight_mixed_vat",
                                    "gift_card_purchase", "company_buyer_se")}
    env.orders.touch("demoshop", order_ids=list(picked.values()))
    env.orders.set_status("demoshop", 2, [picked["payment_fee"]])  # erp releases status 1 and 2
    assert_success(run_orders("demo_erp"))

    orders = env.orders.by_key("orders")
    assert env.orders.documents("invoices") == []
    for kind in ("plain_single_row", "payment_fee", "paid_freight_mixed_vat", "company_buyer_se"):
        (doc,) = orders[f"jetfort:se:{picked[kind]}"]
        shop = env.jetshop.order("demoshop", picked[kind])
        assert abs(doc_amount(doc) - Decimal(str(shop["OrderTotalIncVat"]))) <= Decimal("0.01"), kind
    fee_doc = orders[f"jetfort:se:{picked['payment_fee']}"][0]
    assert {"FRAKT", "AVGIFT"} <= {r["ArticleNumber"] for r in fee_doc["OrderRows"]}
    company_doc = orders[f"jetfort:se:{picked['company_buyer_se']}"][0]
    customer = env.orders.company.get("customers", company_doc["CustomerNumber"])
    assert customer["OrganisationNumber"].replace("-", "") == "5566778899"
    # the gift card has no Fortnox article and the erp rules say quarantine
    (entry,) = env.ledger().open_quarantine("demo_erp")
    assert entry.source_key == f"se:{picked['gift_card_purchase']}" and entry.reason == "unknown_article"


def test_combo_two_shops_into_one_fortnox(orders_env: Any) -> None:
    env = orders_env
    demo_ids = [o["OrderId"] for o in env.orders.shop_orders("demoshop") if o["_kind"] == "ordinary"]
    env.orders.touch("demoshop", order_ids=demo_ids)
    env.orders.touch("nordicshop")
    run = run_orders("demo_combo")
    assert_success(run)
    names = {(ti.task_id, ti.rendered_map_index) for ti in run.get_task_instances() if ti.map_index >= 0}
    assert ("shop.post", "se") in names and ("shop.post", "nordic") in names  # the grid names the shops
    rows = {r["shop"]: r for r in summary_of(run)}
    nordic = [o for o in env.orders.shop_orders("nordicshop")]
    assert rows["se"]["posted"] == len(demo_ids)
    assert rows["nordic"]["posted"] == len(nordic)
    assert rows["TOTAL"]["posted"] == len(demo_ids) + len(nordic)
    docs = env.orders.by_key()
    for order in nordic:  # same order ids in both shops, distinct keys, one document each
        (doc,) = docs[f"jetfort:nordic:{order['OrderId']}"]
        assert doc["Project"] == ("WEBFI" if order["ChannelId"] == 2 else "")
        assert abs(doc_amount(doc) - Decimal(str(order["OrderTotalIncVat"]))) <= Decimal("0.01")
        assert env.jetshop.order("nordicshop", order["OrderId"])["OrderStatusId"] == 50
    for oid in demo_ids:
        assert len(docs[f"jetfort:se:{oid}"]) == 1
        assert env.jetshop.order("demoshop", oid)["OrderStatusId"] == 6


# ------------------------------------------------------------------------------------------ once
def test_reruns_backfills_and_a_lost_ledger_create_nothing_twice(orders_env: Any) -> None:
    env = orders_env
    rules = env.tenant_rules("demo_ecom")
    rules["schedules"]["orders"] = "0 0 * * *"  # daily intervals for the backfill-style runs
    env.set_tenant("demo_ecom", rules)
    tz = ZoneInfo("Europe/Stockholm")
    today = dt.datetime.now(tz).replace(hour=0, minute=0, second=0, microsecond=0)
    ids = [o["OrderId"] for o in env.orders.shop_orders("demoshop") if o["_kind"] == "ordinary"]
    env.orders.touch("demoshop", when=today - dt.timedelta(hours=12), order_ids=ids)

    first = run_orders("demo_ecom", logical_date=today, manual=False)  # interval: yesterday → today
    assert_success(first)
    assert summary_of(first)[0]["posted"] == len(ids)
    count = len(env.orders.documents())

    assert_success(run_orders("demo_ecom"))  # manual run without a date: from the cursor
    # someone releases them again in the shop, and the backfill of that day sees them in its window
    env.orders.set_status("demoshop", 1, ids)
    env.orders.touch("demoshop", when=today - dt.timedelta(hours=12), order_ids=ids)
    again = run_orders("demo_ecom", logical_date=today, manual=False)  # the backfill of that day
    assert_success(again)
    assert summary_of(again)[0]["posted"] == 0
    assert len(env.orders.documents()) == count

    # the ledger lost its records (restored from an old backup): Fortnox still has the keys
    import sqlalchemy as sa

    from jetfort.ledger.schema import records

    with env.ledger().transaction() as conn:
        conn.execute(sa.delete(records))
    env.orders.set_status("demoshop", 1, ids)
    env.orders.touch("demoshop", when=today - dt.timedelta(hours=12), order_ids=ids)
    lost = run_orders("demo_ecom", logical_date=today, manual=False)
    assert_success(lost)
    row = summary_of(lost)[0]
    assert row["adopted"] == len(ids) and row["posted"] == 0
    assert len(env.orders.documents()) == count
    assert all(len(v) == 1 for v in env.orders.by_key().values())


def crash_after_the_first_create(monkeypatch: Any) -> list[str]:
    """The worker "dies" after Fortnox's first successful create, before the ledger learns of it;
    the returned list names the order it died on."""
    crashed: list[str] = []

    def crash_once(key: str, state: str, step: str | None) -> bool:
        if state == "posted" and step == "post" and not crashed:
            crashed.append(key)
            return True
        return False

    crash_ledger_writes(monkeypatch, crash_once)
    return crashed


def test_dropped_answers_and_a_crash_after_post_end_with_one_document(orders_env: Any, monkeypatch: Any) -> None:
    env = orders_env
    ids = [o["OrderId"] for o in env.orders.shop_orders("demoshop") if o["_kind"] == "ordinary"]
    env.orders.touch("demoshop", order_ids=ids)
    # Fortnox commits the next three POSTs and drops their answers
    env.fortnox.set_faults(forced={"drop_after_commit": 3}, drop_methods=["POST"])
    crashed = crash_after_the_first_create(monkeypatch)
    run = run_orders("demo_ecom")
    assert_success(run)
    post_ti = next(ti for ti in run.get_task_instances() if ti.task_id == "shop.post")
    assert post_ti.try_number == 2  # Airflow retried the task
    assert crashed and env.fortnox.faults.counts["drop_after_commit"] == 3
    docs = env.orders.by_key()
    for oid in ids:
        assert len(docs[f"jetfort:se:{oid}"]) == 1, oid
    # the summary counts what both tries of post did, each order with its document
    (row,) = summary_of(run)
    assert row["posted"] + row["adopted"] == len(ids) and row["acknowledged"] == len(ids)
    for line in row["orders"]:
        assert line["document_number"] == docs[f"jetfort:{line['key']}"][0]["DocumentNumber"], line
    ledger = env.ledger()
    assert ledger.get("demo_ecom", "order", crashed[0]).state == "acknowledged"  # type: ignore[union-attr]
    assert [a["step"] for a in ledger.audit("demo_ecom", "order", crashed[0])].count("adopt") == 1


def test_a_shop_clock_weeks_ahead_still_ends_with_one_document_after_a_crash(orders_env: Any, monkeypatch: Any) -> None:
    """Order dates three weeks in the future (a shop clock or time zone set wrong): the retry after a
    crash between Fortnox's create and the ledger commit must still find what the first try posted."""
    env = orders_env
    ids = [o["OrderId"] for o in env.orders.shop_orders("demoshop") if o["_kind"] == "ordinary"]
    shop = env.jetshop.shops["demoshop"]
    ahead = (dt.datetime.now(dt.UTC) + dt.timedelta(days=21)).astimezone(shop.timezone).replace(tzinfo=None)
    with env.jetshop.lock:
        for oid in ids:
            shop.orders[oid]["OrderDate"] = ahead
    env.orders.touch("demoshop", order_ids=ids)
    crashed = crash_after_the_first_create(monkeypatch)
    run = run_orders("demo_ecom")
    assert_success(run)
    post_ti = next(ti for ti in run.get_task_instances() if ti.task_id == "shop.post")
    assert crashed and post_ti.try_number == 2
    docs = env.orders.by_key()
    assert {oid: len(docs.get(f"jetfort:se:{oid}", [])) for oid in ids} == {oid: 1 for oid in ids}


# ------------------------------------------------------------------------------------------ people
def test_quarantine_dry_run_and_resync_on_demand(orders_env: Any) -> None:
    env = orders_env
    env.set_tenant("strict", all_channels(env, missing_article="quarantine"))
    kinds = env.jetshop.awkward_orders("demoshop")
    gift = kinds["gift_card_purchase"]
    plain = kinds["plain_single_row"]
    env.orders.touch("demoshop", order_ids=[gift, plain])

    dry = run_orders("strict", conf={"dry_run": True})
    assert_success(dry)
    assert env.orders.documents() == [] and env.ledger().open_quarantine("strict") == []
    assert env.jetshop.order("demoshop", plain)["OrderStatusId"] == 1
    assert env.ledger().records("strict", "order") == []  # a dry run records nothing

    assert_success(run_orders("strict"))
    (entry,) = env.ledger().open_quarantine("strict")
    assert (entry.source_key, entry.reason, entry.field) == (f"se:{gift}", "unknown_article", "rows[0].article_number")
    assert "GIFT-500" in entry.message

    # nothing changed: the next run tries again and quarantines again, the rest goes on
    assert_success(run_orders("strict"))
    assert env.ledger().open_quarantine("strict")[0].attempts == 2
    # the cause is fixed in Fortnox; a re-sync on demand posts it
    env.orders.company.put("articles", "GIFT-500", {**env.orders.company.get("articles", "1001"),
                                                    "ArticleNumber": "GIFT-500", "Description": "Presentkort",
                                                    "VAT": 0, "SalesAccount": 3004})
    resync = run_orders("strict", conf={"order_numbers": [str(gift)]})
    assert_success(resync)
    assert env.ledger().open_quarantine("strict") == []
    assert len(env.orders.by_key()[f"jetfort:se:{gift}"]) == 1
    assert env.jetshop.order("demoshop", gift)["OrderStatusId"] == 6


def test_plan_cap_holds_orders_until_the_cap_is_raised(orders_env: Any) -> None:
    env = orders_env
    rules = env.tenant_rules("demo_ecom")
    rules.update(plan="100", plan_overrides={"monthly_order_cap": 4})
    env.set_tenant("demo_ecom", rules)
    ids = [o["OrderId"] for o in env.orders.shop_orders("demoshop") if o["_kind"] == "ordinary"]
    env.orders.touch("demoshop", order_ids=ids)
    run = run_orders("demo_ecom")
    assert_success(run)  # held is not failed
    row = summary_of(run)[0]
    assert row["posted"] == 4 and row["held"] == len(ids) - 4
    assert len(env.ledger().records("demo_ecom", "order", states=["held"])) == len(ids) - 4
    rules["plan_overrides"] = {"monthly_order_cap": 100}
    env.set_tenant("demo_ecom", rules)
    later = run_orders("demo_ecom")
    assert_success(later)
    assert summary_of(later)[0]["posted"] == len(ids) - 4
    assert len(env.orders.documents()) == len(ids)


def test_preflight_lists_every_gap_and_stops_the_tenant(orders_env: Any) -> None:
    env = orders_env
    rules = env.tenant_rules("demo_ecom")
    rules["shops"][0]["channels"][0]["currency"] = "CHF"
    rules["orders"].update(trigger_statuses=[77], collective_customer_number="9999",
                           customer_defaults={"terms_of_payment": "XX", "way_of_delivery": "P"})
    env.set_tenant("bad", rules)
    env.orders.touch("demoshop")
    run = run_orders("bad")
    states = task_states(run)
    assert str(run.state) == "failed" and states["preflight"] == "failed", states
    assert states["summary"] == "failed" and states["shop.extract[0]"] == "upstream_failed"
    from jetfort.ledger import Ledger
    from jetfort.rules import parse_tenant
    from jetfort.tasks.preflight import preflight_tenant
    from jetfort.tasks.runtime import TenantRuntime

    runtime = TenantRuntime(parse_tenant("bad", rules), ledger=Ledger.from_url(env.ledger_url))
    with pytest.raises(Exception) as caught:
        preflight_tenant(runtime, force=True)
    text = str(caught.value)
    for gap in ("currency CHF", "status 77", "collective customer 9999", "terms of payment 'XX'"):
        assert gap in text, (gap, text)
    assert env.orders.documents() == []

    # a good tenant: pre-flight on demand only checks, syncs nothing, and remembers the pass
    only = run_orders("demo_ecom", conf={"preflight_only": True})
    assert_success(only)
    assert task_states(only)["shop.extract[0]"] == "skipped"
    assert env.orders.documents() == []
    assert env.ledger().get_cursor("demo_ecom", "orders:preflight")


def test_a_fortnox_rejection_is_quarantined_with_its_code_and_retried_when_fixed(orders_env: Any) -> None:
    env = orders_env
    ids = [o["OrderId"] for o in env.orders.shop_orders("demoshop") if o["_kind"] == "ordinary"][:3]
    env.orders.touch("demoshop", order_ids=ids)
    assert_success(run_orders("demo_ecom", conf={"preflight_only": True}))  # passes with customer 1000
    company = env.orders.company
    with company.lock:  # the collective customer disappears from Fortnox after pre-flight
        collective = company.data["customers"].pop("1000")
    run = run_orders("demo_ecom")
    assert_success(run)  # the batch goes on; nothing failed, the orders wait in quarantine
    entries = {q.source_key: q for q in env.ledger().open_quarantine("demo_ecom")}
    private = [k for k, q in entries.items() if q.reason == "fortnox_rejected"]
    assert private, entries
    for key in private:
        assert entries[key].code and entries[key].code.isdigit() and "Fortnox said" in entries[key].message
        assert entries[key].payload and entries[key].payload.get("CustomerNumber") == "1000"
    with company.lock:
        company.data["customers"]["1000"] = collective
    assert_success(run_orders("demo_ecom"))  # the next run retries them
    assert env.ledger().open_quarantine("demo_ecom") == []
    docs = env.orders.by_key()
    assert all(len(docs[f"jetfort:se:{oid}"]) == 1 for oid in ids)


def test_orders_that_fortnox_cannot_take_are_quarantined_with_the_named_reason(orders_env: Any) -> None:
    env = orders_env
    env.set_tenant("awkward", all_channels(env))
    assert_success(run_orders("awkward", conf={"preflight_only": True}))
    kinds = env.jetshop.awkward_orders("demoshop")
    # after pre-flight, Fortnox loses EUR and the 12 % sales account
    company = env.orders.company
    with company.lock:
        company.data["currencies"].pop("EUR")
        company.data["accounts"].pop("3002")
    from sandbox.jetshop import seed

    bad_org = env.jetshop.add_order("demoshop", rows=[seed.row("1006", 2)], kind="added_bad_org",
                                    bill=seed.SE, company_name="Fel AB", org_number="556677-8890",
                                    email="fel@example.se", channel_id=3)
    long_zip = env.jetshop.add_order("demoshop", rows=[seed.row("1006", 1)], kind="added_long_zip",
                                     bill={**seed.SE, "ZipCode": "1" * 14}, email="zip@example.se")
    picked = {"currency_eur_eu_consumer": kinds["currency_eur_eu_consumer"], "vat_12_only": kinds["vat_12_only"],
              "bad_org": bad_org, "long_zip": long_zip, "plain_single_row": kinds["plain_single_row"]}
    env.orders.touch("demoshop", order_ids=list(picked.values()))
    assert_success(run_orders("awkward"))
    reasons = {q.source_key: q for q in env.ledger().open_quarantine("awkward")}
    expected = {"currency_eur_eu_consumer": "currency_not_enabled", "vat_12_only": "vat_rate_not_set_up",
                "bad_org": "invalid_org_number", "long_zip": "field_too_long"}
    for kind, reason in expected.items():
        entry = reasons[f"se:{picked[kind]}"]
        assert entry.reason == reason and entry.field and entry.message, (kind, entry)
    assert len(env.orders.by_key()[f"jetfort:se:{picked['plain_single_row']}"]) == 1  # the rest goes on


def test_a_posted_order_keeps_its_link_and_shop_order_and_the_post_audit_keeps_what_was_sent(orders_env: Any) -> None:
    """Once posted, the record's detail no longer carries the document to send (the post step's audit
    has it, as sent): the detail keeps what later flows read (the shop order as posted, for a credit
    note) and the customer it was booked to."""
    env = orders_env
    kinds = env.jetshop.awkward_orders("demoshop")
    picked = {k: kinds[k] for k in ("plain_single_row", "company_buyer_se")}
    env.orders.touch("demoshop", order_ids=list(picked.values()))
    assert_success(run_orders("demo_erp"))

    ledger, orders = env.ledger(), env.orders.by_key("orders")
    for kind, order_id in picked.items():
        (doc,) = orders[f"jetfort:se:{order_id}"]
        record = ledger.get("demo_erp", "order", f"se:{order_id}")
        assert record is not None and record.state == "acknowledged", kind  # posted, then the shop told
        assert record.target_key == doc["DocumentNumber"], kind
        detail = record.detail or {}
        assert not {"document", "articles_to_create", "customer_keys"} & set(detail), (kind, sorted(detail))
        assert str(detail["order"]["order_id"]) == str(order_id), kind
        assert detail["customer_number"] == doc["CustomerNumber"], kind
        (post,) = [a for a in ledger.audit("demo_erp", "order", f"se:{order_id}")
                   if a["step"] == "post" and a["state"] == "posted"]  # the claim is a post step too
        sent = post["payload"]["Order"]
        assert sent["CustomerNumber"] == doc["CustomerNumber"], kind
        assert f"jetfort:se:{order_id}" in sent.values(), kind  # the idempotency key, as sent
        assert [r["ArticleNumber"] for r in sent["OrderRows"]] == [r["ArticleNumber"] for r in doc["OrderRows"]], kind
