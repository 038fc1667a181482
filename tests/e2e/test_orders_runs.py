"""How the orders DAG behaves across runs (``dag.test()`` against both sandboxes): a dry run leaves no
trace, a summary says what its run did after a re-run, a date range is re-examined in one run, an
empty run skips the shop's stages.

Outcomes are read from the sandboxes (Fortnox documents and customers, shop statuses) and from the
ledger's tables, never from jetfort's own counts alone.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.e2e.conftest import (
    FAST_WINDOW,
    Orders,
    fortnox_view,
    ledger_state,
    run_orders,
    shop_view,
    summary_of,
)
from tests.e2e.test_orders import all_channels, assert_success
from tests.harness import sync_environment, task_states


# ------------------------------------------------------------------------------------------ dry run
def _dry_run_scenario(env: Any, monkeypatch: pytest.MonkeyPatch, *, dry_first: bool) -> dict[str, Any]:
    """History (a quarantined and a posted order), then new orders in the window and one released
    order outside every window; then (a dry run or two, then) a normal run."""
    env.fortnox.limiter.configure(25, FAST_WINDOW)
    env.set_rate_window(monkeypatch, FAST_WINDOW)
    orders = Orders(env)
    env.set_tenant("strict", all_channels(env, missing_article="quarantine"))
    kinds = env.jetshop.awkward_orders("demoshop")
    gift, plain, company = kinds["gift_card_purchase"], kinds["plain_single_row"], kinds["company_buyer_se"]
    ordinary = [o["OrderId"] for o in orders.shop_orders("demoshop") if o["_kind"] == "ordinary"]
    outside = ordinary[-1]  # released (status 1) but never touched: outside every window
    assert env.jetshop.order("demoshop", outside)["OrderStatusId"] == 1
    orders.touch("demoshop", order_ids=[gift, plain])
    assert_success(run_orders("strict"))
    orders.touch("demoshop", order_ids=[*ordinary[:3], company])
    out: dict[str, Any] = {"outside": outside}
    if dry_first:
        ledger_before, fortnox_before, shop_before = ledger_state(env, "strict"), fortnox_view(env), shop_view(env)
        assert ledger_before["records"] and ledger_before["quarantine"] and ledger_before["cursors"]
        number = {oid: str(env.jetshop.order("demoshop", oid)["OrderNumber"]) for oid in (outside, gift)}
        # (dag.test() replaces the previous manual run: each summary is read before the next run)
        for name, conf in (("dry_window", {"dry_run": True}),
                           ("dry_on_demand", {"dry_run": True, "order_numbers": list(number.values())})):
            run = run_orders("strict", conf=conf)
            assert_success(run)
            out[name] = {line["key"]: line["outcome"] for line in summary_of(run)[0]["orders"]}
        assert ledger_state(env, "strict") == ledger_before  # records, audit, cursors, quarantine
        assert fortnox_view(env) == fortnox_before and shop_view(env) == shop_before
    assert_success(run_orders("strict"))
    out.update(fortnox=fortnox_view(env), shop=shop_view(env))
    return out


def test_a_dry_run_changes_nothing_and_the_next_run_does_what_it_would_have_done(
        sync_env: Any, fast: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with_dry = _dry_run_scenario(sync_env, monkeypatch, dry_first=True)
    with sync_environment(monkeypatch, tmp_path / "alone") as other:
        alone = _dry_run_scenario(other, monkeypatch, dry_first=False)

    assert with_dry["fortnox"] == alone["fortnox"]  # the same documents, numbers, customers
    assert with_dry["shop"] == alone["shop"]
    documents = with_dry["fortnox"]["invoices"]
    assert len(documents) >= 5  # plain, three ordinary, the company buyer
    assert f"jetfort:se:{with_dry['outside']}" not in {d[1] for d in documents}  # a dry run released nothing
    # the dry runs said what a real run would do
    assert set(with_dry["dry_window"].values()) == {"would_post", "would_quarantine"}
    assert with_dry["dry_on_demand"] == {f"se:{with_dry['outside']}": "would_post",
                                         f"se:{sync_env.jetshop.awkward_orders('demoshop')['gift_card_purchase']}":
                                         "would_quarantine"}


# ------------------------------------------------------------------------------------------ summary
def _daily(env: Any) -> dt.datetime:
    rules = env.tenant_rules("demo_ecom")
    rules["schedules"]["orders"] = "0 0 * * *"  # whole-day intervals: a logical date's window is yesterday
    env.set_tenant("demo_ecom", rules)
    return dt.datetime.now(ZoneInfo("Europe/Stockholm")).replace(hour=0, minute=0, second=0, microsecond=0)


def test_the_summary_of_a_cleared_and_rerun_run_reports_what_that_run_posted(
        orders_env: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    env = orders_env
    today = _daily(env)
    ids = [o["OrderId"] for o in env.orders.shop_orders("demoshop") if o["_kind"] == "ordinary"][:2]
    env.orders.touch("demoshop", when=today - dt.timedelta(hours=12), order_ids=ids)
    # dag.test() deletes a run with the same logical date and starts it again: with the same run id,
    # that is Airflow's "clear the whole run" (every task runs again, its XComs are gone)
    from airflow.models.dagrun import DagRun

    monkeypatch.setattr(DagRun, "generate_run_id", staticmethod(lambda **_: "manual__cleared_and_rerun"))
    first = run_orders("demo_ecom", logical_date=today, manual=False)
    assert_success(first)
    assert summary_of(first)[0]["posted"] == 2
    first_run_id = first.run_id
    again = run_orders("demo_ecom", logical_date=today, manual=False)
    assert_success(again)
    assert again.run_id == first_run_id

    docs = env.orders.by_key()
    assert len(env.orders.documents()) == 2  # the re-run created nothing
    (row,) = summary_of(again)
    assert row["posted"] == 2 and row["status"] == "ok"
    lines = {line["key"]: line for line in row["orders"]}
    assert set(lines) == {f"se:{oid}" for oid in ids}
    for oid in ids:
        (doc,) = docs[f"jetfort:se:{oid}"]
        line = lines[f"se:{oid}"]
        assert line["outcome"] == "posted" and line["document_number"] == doc["DocumentNumber"]
        assert line["acknowledged"] and "earlier try" in line["note"]


def test_a_range_run_reads_its_days_once_and_a_second_one_posts_nothing(orders_env: Any) -> None:
    env = orders_env
    now = dt.datetime.now(dt.UTC)
    ids = [o["OrderId"] for o in env.orders.shop_orders("demoshop") if o["_kind"] == "ordinary"][:6]
    days = {ids[0]: 2.5, ids[1]: 2.5, ids[2]: 1.5, ids[3]: 1.5, ids[4]: 0.5, ids[5]: 0.5}
    for oid, age in days.items():
        env.orders.touch("demoshop", when=now - dt.timedelta(days=age), order_ids=[oid])
    keys = {oid: f"jetfort:se:{oid}" for oid in ids}

    plain = run_orders("demo_ecom")  # a first run without a range looks one day back
    assert_success(plain)
    docs = env.orders.by_key()
    assert [oid for oid in ids if keys[oid] in docs] == ids[4:]
    cursor = env.ledger().get_cursor("demo_ecom", "orders:se")

    span = {"since": (now - dt.timedelta(days=3)).isoformat(), "until": now.isoformat()}
    ranged = run_orders("demo_ecom", conf=span)
    assert_success(ranged)
    docs = env.orders.by_key()
    assert all(len(docs[keys[oid]]) == 1 for oid in ids), docs
    (row,) = summary_of(ranged)
    assert row["posted"] == 4 and {line["key"] for line in row["orders"]} == {f"se:{oid}" for oid in ids[:4]}
    assert env.ledger().get_cursor("demo_ecom", "orders:se") == cursor  # the schedule's cursor stays
    assert all(env.jetshop.order("demoshop", oid)["OrderStatusId"] == 6 for oid in ids)

    env.orders.set_status("demoshop", 1, ids)  # released again in the shop, inside the same range
    for oid, age in days.items():
        env.orders.touch("demoshop", when=now - dt.timedelta(days=age), order_ids=[oid])
    count = len(env.orders.documents())
    second = run_orders("demo_ecom", conf=span)
    assert_success(second)
    (row,) = summary_of(second)
    # already in Fortnox: never posted again, acknowledged again (the shop gets the transferred status back)
    assert row["posted"] == row["adopted"] == 0 and row["already_linked"] == len(ids)
    assert len(env.orders.documents()) == count
    assert all(env.jetshop.order("demoshop", oid)["OrderStatusId"] == 6 for oid in ids)


def test_invalid_range_fails_before_any_shop_is_touched(orders_env: Any) -> None:
    env = orders_env
    env.orders.touch("demoshop")
    run = run_orders("demo_ecom", conf={"since": "2026-11-03T00:00:00Z", "until": "2026-11-01T00:00:00Z"})
    states = task_states(run)
    assert str(run.state) == "failed" and states["preflight"] == "failed", states
    assert states["shop.extract[0]"] == "upstream_failed"
    assert env.orders.documents() == [] and env.ledger().records("demo_ecom", "order") == []


# ------------------------------------------------------------------------------------------ empty
def test_an_empty_run_skips_the_shop_stages_without_running_them(orders_env: Any) -> None:
    env = orders_env
    run = run_orders("demo_ecom")  # nothing changed in the shop in the last day
    assert_success(run)
    states = task_states(run)
    assert states["shop.extract[0]"] == "skipped"  # looked, found nothing
    tis = {(ti.task_id, ti.map_index): ti for ti in run.get_task_instances()}
    for stage in ("shop.map", "shop.post", "shop.acknowledge"):
        ti = tis[(stage, 0)]
        assert str(ti.state) == "skipped", (stage, states)
        assert ti.try_number == 0 and ti.hostname in (None, ""), (stage, ti.try_number, ti.hostname)
    (row,) = summary_of(run)
    assert row["status"] == "ok" and row["seen"] == row["posted"] == 0 and row["orders"] == []
    assert env.orders.documents() == []
