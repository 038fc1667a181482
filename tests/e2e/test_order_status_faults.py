"""Order status back under repeats, dropped responses, retries and concurrency.

Acceptance: running the DAG three times, with dropped responses and retries, yields exactly one
status change per state and one capture per order — counted from the Jetshop sandbox's own
records, never from jetfort's view of them.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from typing import Any

import pytest

from jetfort.jetshop.backend import JetshopShop
from jetfort.jetshop.hook import JetshopHook
from jetfort.tasks import order_status
from jetfort.tasks.order_status import push as status_push
from jetfort.tasks.runtime import TenantRuntime
from tests.e2e.test_order_status import (
    INVOICED,
    PAID,
    SHOP,
    TENANT,
    advance,
    changes,
    full_status_map,
    link_order,
    run,
)

EXPECTED = {"delivered": [3], "invoiced": [3, INVOICED], "paid": [3, INVOICED, PAID], "cancelled": [4]}


def _scenario(env: Any) -> dict[str, int]:
    full_status_map(env)
    orders = {}
    for target in EXPECTED:
        order_id, _ = link_order(env)
        advance(env, order_id, target)
        orders[target] = order_id
    return orders


def _assert_exactly_once(env: Any, orders: dict[str, int]) -> None:
    sb = env.jetshop
    for target, order_id in orders.items():
        assert [c["to_status_id"] for c in changes(env, order_id)] == EXPECTED[target], target
        per_status = Counter(m["status_id"] for m in sb.emails(SHOP, order_id))
        assert all(n == 1 for n in per_status.values()), (target, per_status)
        assert len(sb.captures(SHOP, order_id)) == (0 if target == "cancelled" else 1), target
    per_order = Counter(c["order_id"] for c in sb.captures(SHOP))
    assert all(n == 1 for n in per_order.values())


@pytest.mark.timeout(300)
def test_three_runs_with_dropped_responses_and_retries_change_each_state_once(
        sync_env: Any, fast: None, monkeypatch: pytest.MonkeyPatch) -> None:
    orders = _scenario(sync_env)
    # one hook-level retry only, so lost answers also reach the ledger's in-doubt path and
    # Airflow's task retries (the factory's retries, with the short delay of the `fast` fixture)
    original = TenantRuntime.shop

    def few_retries(self: TenantRuntime, shop_key: str) -> JetshopShop:
        shop = original(self, shop_key)
        assert isinstance(shop, JetshopShop)
        shop.hook.retries, shop.hook.retry_wait = 1, 0.05
        return shop

    monkeypatch.setattr(TenantRuntime, "shop", few_retries)
    # every Jetshop write may be applied and its answer lost; resets and 503s too; Fortnox reads fail
    sync_env.jetshop.faults.update(drop_after_commit=0.3, reset=0.1, server_error=0.1, seed=11)
    sync_env.fortnox.set_faults(server_error=0.15, reset=0.1, seed=5)
    first, out1 = run()
    second, out2 = run()
    fired = dict(sync_env.jetshop.faults.counts)
    tries = [ti.try_number for dag_run in (first, second) for ti in dag_run.get_task_instances()]
    sync_env.jetshop.clear_faults()
    sync_env.fortnox.clear_faults()
    # claims a failed run left in doubt are checked by other runs once their lease is over
    monkeypatch.setattr(status_push, "LEASE", dt.timedelta(0))
    third, out3 = run()
    print("FAULTS", fired, tries, out1["tasks"], out2["tasks"])
    assert fired["drop_after_commit"] > 0 and fired["reset"] > 0
    assert str(third.state) == "success", out3["tasks"]
    _assert_exactly_once(sync_env, orders)
    # a backfill of an old window repeats the reading and changes nothing in the shop
    before = len(sync_env.jetshop.status_changes(SHOP))
    past = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    backfill, out4 = run(logical_date=past)
    assert str(backfill.state) == "success", out4["tasks"]
    assert len(sync_env.jetshop.status_changes(SHOP)) == before
    _assert_exactly_once(sync_env, orders)
    assert out4["summary"]["states"]["delivered"]["pushed"] == 0


def _runtime_without_hook_retries() -> TenantRuntime:
    rt = TenantRuntime.for_tenant(TENANT)
    shop = next(s for s in rt.rules.shops if s.key == "se")
    rt._shops["se"] = JetshopShop(shop.conn_id, hook=JetshopHook(shop.conn_id, retries=0))
    return rt


@pytest.mark.timeout(120)
def test_lost_answers_on_capture_and_status_are_checked_in_the_shop_before_sending_again(sync_env: Any) -> None:
    order_id, _ = link_order(sync_env)
    advance(sync_env, order_id, "delivered", tracking="PN999SE")
    sb = sync_env.jetshop
    context = {"run_id": "manual__lost"}
    with _runtime_without_hook_retries() as rt:
        order_status.read_changes(TENANT, context, runtime=rt)
        hook = rt.shop("se")
        real_capture, real_status = hook.capture_payment, hook.set_order_status

        def drop_then(call: Any) -> Any:
            def wrapped(*args: Any, **kwargs: Any) -> Any:
                sb.faults.update(forced={"drop_after_commit": 1})  # applied, then the answer is lost
                return call(*args, **kwargs)
            return wrapped

        hook.capture_payment = drop_then(real_capture)  # type: ignore[method-assign]
        with pytest.raises(order_status.StatusPushIncomplete, match="not finished"):
            order_status.push_status(TENANT, "se", context, runtime=rt)
        assert len(sb.captures(SHOP, order_id)) == 1  # the capture happened, its answer was lost
        assert changes(sync_env, order_id) == []  # and the capturing status was not set blindly
        assert rt.ledger.get(TENANT, "capture", f"se:{order_id}").state == "capturing"

        hook.capture_payment = real_capture  # type: ignore[method-assign]
        hook.set_order_status = drop_then(real_status)  # type: ignore[method-assign]
        with pytest.raises(order_status.StatusPushIncomplete):
            order_status.push_status(TENANT, "se", context, runtime=rt)
        capture = rt.ledger.get(TENANT, "capture", f"se:{order_id}")
        assert capture.state == "captured" and capture.detail["adopted"] is True
        assert len(changes(sync_env, order_id)) == 1
        assert rt.ledger.get(TENANT, "status", f"se:{order_id}:delivered").state == "pushing"

        calls_before = sb.call_count("Order_UpdateStatus")
        hook.set_order_status = real_status  # type: ignore[method-assign]
        result = order_status.push_status(TENANT, "se", context, runtime=rt)
        assert sb.call_count("Order_UpdateStatus") == calls_before  # the shop showed it: nothing re-sent
        assert result["states"]["delivered"]["pushed"] == 1
        record = rt.ledger.get(TENANT, "status", f"se:{order_id}:delivered")
        assert record.state == "pushed" and record.detail["adopted"] is True
    assert len(sb.captures(SHOP, order_id)) == 1
    (change,) = changes(sync_env, order_id)
    assert change["tracking_number"] == "PN999SE"


@pytest.mark.timeout(120)
def test_concurrent_pushes_of_the_same_shop_push_and_capture_once(sync_env: Any) -> None:
    orders = _scenario(sync_env)
    with TenantRuntime.for_tenant(TENANT) as rt:
        order_status.read_changes(TENANT, {"run_id": "r0"}, runtime=rt)
    errors: list[BaseException] = []

    def push(run_id: str) -> None:
        try:
            with TenantRuntime.for_tenant(TENANT) as rt:
                order_status.push_status(TENANT, "se", {"run_id": run_id}, runtime=rt)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=push, args=(f"r{i}",)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    _assert_exactly_once(sync_env, orders)


@pytest.mark.timeout(180)
def test_a_shop_whose_push_never_finishes_fails_the_run_and_the_summary_names_it(
        sync_env: Any, fast: None, monkeypatch: pytest.MonkeyPatch) -> None:
    order_id, _ = link_order(sync_env)
    advance(sync_env, order_id, "delivered", tracking="PN404SE")
    monkeypatch.setattr(status_push._ShopPush, "order", _always_down)
    dag_run, out = run()
    assert str(dag_run.state) == "failed"
    assert out["tasks"]["summary"] == "failed"  # after writing the summary: it names the shop
    assert out["summary"]["shops_not_finished"] == ["se"]
    assert changes(sync_env, order_id) == []


def _always_down(self: Any, order_id: int) -> None:
    raise status_push.TransientError(f"order {order_id}: the shop is down")
