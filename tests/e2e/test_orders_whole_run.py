"""A scheduled orders run does every stage in its first task (``preflight``) and skips the others.

``dag.test()`` makes manual runs only, so these tests point the whole-run rule at manual runs
(``WHOLE_RUN_TYPE``); the stack's scheduler makes the scheduled runs that take it in service
(``bench/run_overhead.py`` measures them). The oracle is the staged layout itself, run in a second
pair of sandboxes on the same orders, and what the sandboxes hold: the same Fortnox documents and
customers, the same shop statuses, each order once.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import sqlalchemy as sa
from airflow.utils.types import DagRunType

from jetfort.errors import PermanentError, TransientError
from jetfort.tasks import orders_run
from jetfort.tasks.orders_run import StageCalls, is_whole_run
from jetfort.tasks.params import OrderParams
from tests.e2e.conftest import (
    FAST_WINDOW,
    Orders,
    add_channel_projects,
    fortnox_view,
    run_orders,
    shop_view,
    summary_of,
)
from tests.e2e.test_events_status import _events_on
from tests.e2e.test_order_status import SHOP
from tests.e2e.test_order_status import TENANT as EVENTS_TENANT
from tests.harness import sync_environment, task_states

COMBO = "demo_combo"  # two shops: demoshop (key se, SEK) and nordicshop (key nordic, EUR)
SHOPS = {"se": "demoshop", "nordic": "nordicshop"}
TRANSFERRED = 6  # the demo shop's transferred status (example tenants)
STAGE_TASKS = ("shop.extract", "shop.map", "shop.post", "shop.acknowledge", "shop.credits", "summary")


def _whole_runs_for_dag_test(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(orders_run, "WHOLE_RUN_TYPE", DagRunType.MANUAL.value)


def _tries(dag_run: Any) -> dict[str, int]:
    return {ti.task_id if ti.map_index < 0 else f"{ti.task_id}[{ti.map_index}]": ti.try_number
            for ti in dag_run.get_task_instances()}


def _combo_orders(env: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, list[int]]:
    """Four orders of the Swedish shop and two of the Nordic one, changed now."""
    env.fortnox.limiter.configure(25, FAST_WINDOW)
    env.set_rate_window(monkeypatch, FAST_WINDOW)
    env.orders = Orders(env)
    add_channel_projects(env)
    ids = {"se": [o["OrderId"] for o in env.orders.shop_orders("demoshop") if o["_kind"] == "ordinary"][:4],
           "nordic": [o["OrderId"] for o in env.orders.shop_orders("nordicshop")][:2]}
    for shop, shop_id in SHOPS.items():
        env.orders.touch(shop_id, order_ids=ids[shop])
    return ids


def _documents_per_key(env: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for doc in env.orders.documents("invoices"):
        key = str(doc.get("ExternalInvoiceReference1") or "")
        counts[key] = counts.get(key, 0) + 1
    return counts


def _fortnox_by_reference(env: Any) -> dict[str, Any]:
    """``fortnox_view`` without Fortnox's numbers: each document under its shop reference, its customer
    by name and e-mail. The staged layout posts its shops in parallel, so which order gets invoice 1
    and which customer gets number 1001 depends on which shop task started first."""
    view = fortnox_view(env)
    who = {number: (name, org, email) for number, name, org, email in view["customers"]}
    out: dict[str, Any] = {"customers": sorted(who.values())}
    for kind in ("invoices", "orders"):
        out[kind] = sorted(((ref, who.get(customer, customer), *rest) for _number, ref, customer, *rest in view[kind]),
                           key=repr)
    return out


def _comparable(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Summary rows without the request counts (a whole run shares one runtime, so its facts are read
    once for both shops) and without Fortnox's document numbers (see ``_fortnox_by_reference``)."""
    numbered = ("fortnox", "document_number")
    return [{k: [{f: x for f, x in line.items() if f not in numbered} for line in v] if k == "orders" else v
             for k, v in row.items() if k != "fortnox_calls"} for row in rows]


def test_only_scheduled_runs_with_default_params_are_done_whole() -> None:
    def context(run_type: DagRunType) -> dict[str, Any]:
        return {"dag_run": SimpleNamespace(run_type=run_type)}

    assert is_whole_run(context(DagRunType.SCHEDULED), OrderParams())
    for run_type in (DagRunType.MANUAL, DagRunType.BACKFILL_JOB, DagRunType.ASSET_TRIGGERED):
        assert not is_whole_run(context(run_type), OrderParams()), run_type
    for params in (OrderParams(dry_run=True), OrderParams(preflight_only=True), OrderParams(order_numbers=("7",)),
                   OrderParams(since=dt.datetime(2026, 12, 1, tzinfo=dt.UTC))):
        assert not is_whole_run(context(DagRunType.SCHEDULED), params), params
    assert not is_whole_run({}, OrderParams())


@pytest.mark.timeout(300)
def test_a_whole_run_posts_what_the_staged_run_posts_in_one_task(
        sync_env: Any, fast: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    ids = _combo_orders(sync_env, monkeypatch)
    with monkeypatch.context() as patch:
        _whole_runs_for_dag_test(patch)
        whole = run_orders(COMBO)
    assert str(whole.state) == "success", task_states(whole)
    whole_out = {"fortnox": _fortnox_by_reference(sync_env),
                 "shops": {s: shop_view(sync_env, i) for s, i in SHOPS.items()},
                 "documents": _documents_per_key(sync_env),
                 "status": {s: [sync_env.jetshop.order(i, oid)["OrderStatusId"] for oid in ids[s]]
                            for s, i in SHOPS.items()}}

    states, tries = task_states(whole), _tries(whole)
    assert states.pop("preflight") == "success" and tries["preflight"] == 1
    assert states and set(states.values()) == {"skipped"}, states  # every stage task and the summary
    assert {key.split("[")[0] for key in states} == set(STAGE_TASKS)
    assert all(tries[key] == 0 for key in states), tries  # skipped without ever starting
    wanted = {f"jetfort:{shop}:{oid}" for shop, oids in ids.items() for oid in oids}
    assert {key: whole_out["documents"].get(key) for key in wanted} == dict.fromkeys(wanted, 1)
    assert all(1 not in statuses for statuses in whole_out["status"].values()), whole_out["status"]
    rows = summary_of(whole, "preflight")  # the run's summary is written by preflight
    assert [(r["shop"], r["status"], r["posted"]) for r in rows] == [("se", "ok", 4), ("nordic", "ok", 2),
                                                                       ("TOTAL", "ok", 6)]

    # the staged layout on the same orders, in sandboxes of its own, made the same
    with sync_environment(monkeypatch, tmp_path / "staged") as other:
        assert _combo_orders(other, monkeypatch) == ids  # the same seed: the same orders
        staged = run_orders(COMBO)
        assert str(staged.state) == "success", task_states(staged)
        assert task_states(staged)["shop.post[1]"] == "success"
        assert _fortnox_by_reference(other) == whole_out["fortnox"]  # documents, rows, totals, customers
        assert {s: shop_view(other, i) for s, i in SHOPS.items()} == whole_out["shops"]  # statuses, captures
    assert summary_of(staged, "preflight") == []
    assert _comparable(summary_of(staged, "summary")) == _comparable(rows)
    # each stage's result is one XCom, not also one per key of its dict (a map task's documents twice)
    assert _xcom_keys(staged, "shop.map") == {"return_value", "summary"}
    assert _xcom_keys(staged, "shop.post") == {"return_value", "summary"}


def _xcom_keys(dag_run: Any, task_id: str) -> set[str]:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    query = XComModel.get_many(run_id=dag_run.run_id, dag_ids=dag_run.dag_id, task_ids=task_id, map_indexes=0)
    with create_session() as session:
        return {row.key for row in session.scalars(query)}


@pytest.mark.timeout(300)
def test_a_shop_that_fails_lets_the_other_go_on_and_a_transient_error_is_retried(
        orders_env: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = _combo_orders(orders_env, monkeypatch)
    original = StageCalls.post
    seen_at_failure: list[dict[str, int]] = []

    def flaky(self: StageCalls, rt: Any, params: Any, ctx: Any, batch: dict[str, Any]) -> dict[str, Any]:
        if batch["shop"] == "nordic" and not seen_at_failure:
            seen_at_failure.append(_documents_per_key(orders_env))
            raise TransientError("Fortnox answered 503 (injected)")
        return original(self, rt, params, ctx, batch)

    monkeypatch.setattr(StageCalls, "post", flaky)
    _whole_runs_for_dag_test(monkeypatch)
    run = run_orders(COMBO)
    assert str(run.state) == "success", task_states(run)
    assert _tries(run)["preflight"] == 2  # Airflow's retry ran the whole run again
    # the first try had posted the Swedish shop's orders before the Nordic one stopped
    (at_failure,) = seen_at_failure
    assert {k for k in at_failure if k.startswith("jetfort:")} == {f"jetfort:se:{oid}" for oid in ids["se"]}
    wanted = {f"jetfort:{shop}:{oid}" for shop, oids in ids.items() for oid in oids}
    per_key = _documents_per_key(orders_env)
    assert {key: per_key.get(key) for key in wanted} == dict.fromkeys(wanted, 1)  # nothing twice
    rows = summary_of(run, "preflight")
    assert [(r["shop"], r["status"]) for r in rows] == [("se", "ok"), ("nordic", "ok"), ("TOTAL", "ok")]
    assert rows[1]["posted"] == 2


@pytest.mark.timeout(300)
def test_a_permanent_error_fails_the_run_at_once_and_names_the_shop_and_stage(
        orders_env: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = _combo_orders(orders_env, monkeypatch)
    original = StageCalls.post

    def broken(self: StageCalls, rt: Any, params: Any, ctx: Any, batch: dict[str, Any]) -> dict[str, Any]:
        if batch["shop"] == "nordic":
            raise PermanentError("the rules name no sales account for EUR (injected)")
        return original(self, rt, params, ctx, batch)

    monkeypatch.setattr(StageCalls, "post", broken)
    _whole_runs_for_dag_test(monkeypatch)
    nordic_before = shop_view(orders_env, "nordicshop")
    run = run_orders(COMBO)
    assert str(run.state) == "failed", task_states(run)
    assert task_states(run)["preflight"] == "failed" and _tries(run)["preflight"] == 1  # not retried
    rows = summary_of(run, "preflight")  # written before the task failed
    assert [(r["shop"], r["status"]) for r in rows] == [("se", "ok"), ("nordic", "failed at post"),
                                                        ("TOTAL", "failed")]
    per_key = _documents_per_key(orders_env)
    assert {k for k in per_key if k.startswith("jetfort:")} == {f"jetfort:se:{oid}" for oid in ids["se"]}
    assert shop_view(orders_env, "nordicshop") == nordic_before  # nothing acknowledged there
    assert all(orders_env.jetshop.order("demoshop", oid)["OrderStatusId"] == TRANSFERRED for oid in ids["se"])


@pytest.mark.timeout(300)
def test_a_whole_run_names_what_it_linked_for_the_status_dag_and_an_empty_one_emits_nothing(
        orders_env: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    from jetfort.assets import orders_posted_name

    def events(dag_run: Any) -> list[dict[str, Any]]:
        """The orders_posted events this run emitted (the metadata DB may hold other tests' events)."""
        with create_session() as session:
            return list(session.scalars(sa.select(AssetEvent.extra).join(
                AssetModel, AssetModel.id == AssetEvent.asset_id).where(
                AssetModel.name == orders_posted_name(EVENTS_TENANT), AssetEvent.source_dag_id == dag_run.dag_id,
                AssetEvent.source_run_id == dag_run.run_id)).all())

    env = orders_env
    _events_on(env)
    kinds = env.jetshop.awkward_orders(SHOP)
    picked = [kinds["plain_single_row"], kinds["company_buyer_se"]]
    env.orders.touch(SHOP, order_ids=picked)
    _whole_runs_for_dag_test(monkeypatch)
    first = run_orders(EVENTS_TENANT)
    assert str(first.state) == "success", task_states(first)
    assert task_states(first)["shop.post[0]"] == "skipped"  # the post task did not run: preflight did it
    (extra,) = events(first)  # the same asset the post task's outlet names, through the alias
    assert extra["shop"] == "se" and set(extra["linked"]) == {f"se:{oid}" for oid in picked}

    again = run_orders(EVENTS_TENANT)  # nothing new: no shop linked anything, no event
    assert str(again.state) == "success", task_states(again)
    assert events(again) == []
