"""Ledger retention through the real ``jetfort_ledger_retention`` DAG (``dag.test()``), after real orders.

Oracles: the Fortnox sandbox's own documents (nothing created twice after the audit detail is gone)
and the ledger's rows read with plain SQL.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from tests.e2e.conftest import run_orders, summary_of
from tests.harness import run_dag, task_states


def _payloads(env: Any) -> tuple[int, int]:
    """(audit rows of the tenant's orders, of which holding a payload)."""
    with env.ledger().engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT a.payload FROM record_audit a JOIN records r ON r.id = a.record_id "
            "WHERE r.tenant = 'demo_ecom' AND r.kind = 'order'")).scalars().all()
    return len(rows), sum(1 for p in rows if p not in (None, "null", b"null"))  # as stored: text, bytes or SQL NULL


def test_past_the_policy_s_days_the_audit_payloads_are_gone_and_a_backfill_still_creates_nothing_twice(
        orders_env: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    env = orders_env
    rules = env.tenant_rules("demo_ecom")
    rules["schedules"]["orders"] = "0 0 * * *"
    env.set_tenant("demo_ecom", rules)
    tz = ZoneInfo("Europe/Stockholm")
    today = dt.datetime.now(tz).replace(hour=0, minute=0, second=0, microsecond=0)
    ids = [o["OrderId"] for o in env.orders.shop_orders("demoshop") if o["_kind"] == "ordinary"]
    env.orders.touch("demoshop", when=today - dt.timedelta(hours=12), order_ids=ids)
    first = run_orders("demo_ecom", logical_date=today, manual=False)
    assert summary_of(first)[0]["posted"] == len(ids) > 0
    documents = len(env.orders.documents())
    steps, with_payload = _payloads(env)
    assert with_payload >= 2 * len(ids)  # the mapped document and the invoice as sent, per order
    links = {(r.source_key, r.target_type, r.target_key, r.payload_hash)
             for r in env.ledger().records("demo_ecom", "order")}

    # a retention run due next month, with a 30-day policy: a month is not 30 days after "now" for every order
    monkeypatch.setenv("AIRFLOW_VAR_JETFORT_LEDGER_RETENTION", json.dumps({"audit_payload_days": 30}))
    early = run_dag("jetfort_ledger_retention", logical_date=dt.datetime.now(dt.UTC) + dt.timedelta(days=29))
    assert task_states(early) == {"compact": "success"}
    assert _payloads(env) == (steps, with_payload)

    later = run_dag("jetfort_ledger_retention", logical_date=dt.datetime.now(dt.UTC) + dt.timedelta(days=31))
    assert task_states(later) == {"compact": "success"}
    assert _payloads(env) == (steps, 0)  # every step still there, none with its payload
    assert {(r.source_key, r.target_type, r.target_key, r.payload_hash)
            for r in env.ledger().records("demo_ecom", "order")} == links

    # the shop releases the orders again and the day is backfilled: the links and idempotency facts hold
    env.orders.set_status("demoshop", 1, ids)
    env.orders.touch("demoshop", when=today - dt.timedelta(hours=12), order_ids=ids)
    again = run_orders("demo_ecom", logical_date=today, manual=False)
    assert summary_of(again)[0]["posted"] == 0
    assert len(env.orders.documents()) == documents


def test_an_unreadable_policy_fails_the_run_at_once_and_compacts_nothing(
        orders_env: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    env = orders_env
    ids = [o["OrderId"] for o in env.orders.shop_orders("demoshop") if o["_kind"] == "ordinary"]
    env.orders.touch("demoshop", order_ids=ids)
    run_orders("demo_ecom")
    before = _payloads(env)
    assert before[1] > 0
    monkeypatch.setenv("AIRFLOW_VAR_JETFORT_LEDGER_RETENTION", '{"audit_payload_day": 30}')
    run = run_dag("jetfort_ledger_retention", logical_date=dt.datetime.now(dt.UTC) + dt.timedelta(days=900))
    assert task_states(run) == {"compact": "failed"}
    assert _payloads(env) == before
