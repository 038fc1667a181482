"""Chaos: 1 000+ orders through the orders DAG while both sandboxes misbehave and tasks crash.

Faults on Fortnox: 429, 5xx, connection resets, commits whose answers are dropped, expired access
tokens. Faults on Jetshop: 429, 5xx, resets, dropped answers. On top, jetfort's own tasks "die" at
the worst moments (after a POST, before the ledger learns of it; after the shop status was set,
before the ledger records it; after an order was recorded) and Airflow retries them.

The verdict comes from the sandboxes' state: every released order has exactly one Fortnox invoice
carrying its key (0 duplicates) and is set to the transferred status in the shop (0 lost).
"""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from typing import Any

import pytest

from tests.e2e.conftest import run_orders, summary_of
from tests.harness import crash_ledger_writes, task_states

ORDERS = 1000
FORTNOX_FAULTS = {"rate_limit": 0.015, "server_error": 0.015, "reset": 0.01, "drop_after_commit": 0.02,
                  "expire_token": 0.01, "seed": 7, "drop_methods": ["POST", "PUT"]}
JETSHOP_FAULTS = {"rate_limit": 0.08, "server_error": 0.08, "reset": 0.05, "drop_after_commit": 0.08, "seed": 11}
#: Fortnox's 25 requests per this many seconds (real: 5 s) for the sandbox and jetfort's budget
WINDOW = 0.25
#: task crashes: (ledger step that is about to be recorded, how many times it "kills the worker")
CRASHES = {("posted", "post"): 2, ("acknowledged", "acknowledge"): 1, ("mapped", "map"): 1, ("seen", "extract"): 1}


class Crasher:
    """Raises inside the ledger's transition right before chosen writes (the whole transaction rolls
    back): the external effect (a Fortnox document, a shop status) has happened, jetfort's record of
    it has not."""

    def __init__(self, budget: dict[tuple[str, str], int], seed: int = 3) -> None:
        self.left = dict(budget)
        self.rng = random.Random(seed)
        self.fired: Counter[str] = Counter()

    def __call__(self, key: str, state: str, step: str | None) -> bool:
        """Whether to crash now (for :func:`tests.harness.crash_ledger_writes`)."""
        point = (state, step)
        if self.left.get(point, 0) > 0 and self.rng.random() < 0.02:  # type: ignore[arg-type]
            self.left[point] -= 1  # type: ignore[index]
            self.fired[f"{state}/{step}"] += 1
            return True
        return False


@pytest.mark.slow
def test_a_thousand_orders_under_faults_end_once_each(orders_env: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    env = orders_env
    import jetfort.factory

    quick = jetfort.factory.default_args

    def patient(rules: Any) -> dict[str, Any]:
        return {**quick(rules), "retries": 8}

    monkeypatch.setattr(jetfort.factory, "default_args", patient)
    env.set_rate_window(monkeypatch, WINDOW)
    env.fortnox.limiter.configure(25, WINDOW)

    shop = env.jetshop.shops["demoshop"]
    now_local = dt.datetime.now(dt.UTC).astimezone(shop.timezone).replace(tzinfo=None, microsecond=0)
    ids = env.jetshop.generate_orders("demoshop", ORDERS, seed=5, status_id=1)
    with env.jetshop.lock:  # placed today, changed just now
        for i, oid in enumerate(ids):
            shop.orders[oid]["OrderDate"] = now_local - dt.timedelta(seconds=i)
            shop.orders[oid]["ModifiedDate"] = now_local

    crasher = Crasher(CRASHES)
    crash_ledger_writes(monkeypatch, crasher)
    env.fortnox.set_faults(**FORTNOX_FAULTS)
    env.jetshop.faults.update(**JETSHOP_FAULTS)

    run = run_orders("demo_ecom")
    fired_fortnox = dict(env.fortnox.faults.counts)
    fired_jetshop = dict(env.jetshop.faults.counts)
    env.fortnox.clear_faults()
    env.jetshop.clear_faults()
    states = task_states(run)
    tries = {ti.task_id: ti.try_number for ti in run.get_task_instances()}
    print(f"\nchaos: {ORDERS} orders; Fortnox faults {fired_fortnox}; Jetshop faults {fired_jetshop}; "
          f"task crashes {dict(crasher.fired)}; tries {tries}")
    assert str(run.state) == "success", states

    docs = env.orders.by_key()
    keys = {f"jetfort:se:{oid}" for oid in ids}
    duplicates = {k: len(v) for k, v in docs.items() if len(v) > 1}
    lost = sorted(k for k in keys if k not in docs)
    not_transferred = [oid for oid in ids if env.jetshop.order("demoshop", oid)["OrderStatusId"] != 6]
    print(f"chaos verdict: documents {sum(len(v) for v in docs.values())}, duplicates {len(duplicates)}, "
          f"lost {len(lost)}, not transferred {len(not_transferred)}; summary {summary_of(run)}")
    assert duplicates == {}
    assert lost == []
    assert not_transferred == []
    ledger = env.ledger()
    assert ledger.count("demo_ecom", "order", ["acknowledged"]) >= ORDERS
    assert sum(fired_fortnox.values()) > 50 and fired_fortnox["drop_after_commit"] > 0
    assert sum(fired_jetshop.values()) > 5
    assert sum(crasher.fired.values()) >= 3
    assert max(tries.values()) >= 2  # Airflow retried crashed tasks
