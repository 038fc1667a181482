"""The DAG factory: ids, timetables with real data intervals, defaults, one DAG per tenant."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pendulum
from airflow.sdk import task

from jetfort.factory import RETRY_POLICY, dag_id, rules_errors_message, tenant_dags
from jetfort.rules import TenantRules, load_tenants, parse_tenant

EXAMPLES = Path(__file__).resolve().parents[2] / "include" / "mappings" / "tenants"


def _examples() -> dict[str, TenantRules]:
    return {p.stem: parse_tenant(p.stem, p.read_text()) for p in EXAMPLES.glob("*.json")}


def _build(rules: TenantRules) -> None:
    @task
    def hello(tenant: str) -> str:
        return tenant

    hello(rules.tenant_id)


def test_one_dag_per_tenant_with_a_data_interval_timetable() -> None:
    dags = tenant_dags("orders", _build, description="orders", tenants=_examples())
    assert sorted(dags) == sorted(dag_id(t, "orders") for t in _examples())
    dag = dags["jetfort__demo_ecom__orders"]
    # the core timetable the scheduler builds from it gives windows of real length
    from airflow.timetables.interval import CronDataIntervalTimetable as CoreTimetable

    assert type(dag.timetable).__name__ == "CronDataIntervalTimetable"
    assert dag.timetable.expression == _examples()["demo_ecom"].schedules.orders
    core = CoreTimetable(dag.timetable.expression, dag.timetable.timezone)
    interval = core.infer_manual_data_interval(run_after=pendulum.datetime(2026, 3, 1, 12, 7, tz="UTC"))
    assert interval.start < interval.end, "windows must have a length, or backfills mean nothing"
    (only,) = dag.tasks
    assert only.retries == 3 and only.retry_exponential_backoff == 2.0
    assert only.retry_delay == dt.timedelta(seconds=30) and only.max_retry_delay == dt.timedelta(minutes=15)
    assert only.retry_policy is RETRY_POLICY
    assert only.pool == "default_pool"


def test_retries_follow_the_tenant_rules() -> None:
    rules = json.loads((EXAMPLES / "demo_ecom.json").read_text())
    rules["retries"] = {"count": 5, "delay_seconds": 2.5, "max_delay_minutes": 1}
    tenants, errors = load_tenants({"jetfort_tenant_quick": json.dumps(rules)})
    assert not errors
    (task_,) = tenant_dags("orders", _build, description="orders", tenants=tenants)["jetfort__quick__orders"].tasks
    assert task_.retries == 5
    assert task_.retry_delay == dt.timedelta(seconds=2.5)
    assert task_.max_retry_delay == dt.timedelta(minutes=1)


def test_the_part_can_be_left_out_per_tenant_and_manual_only() -> None:
    dags = tenant_dags("catalog_initial", _build, description="initial", tenants=_examples(),
                       applies=lambda rules: rules.flow != "ecom", schedule=lambda rules: None)
    assert "jetfort__demo_ecom__catalog_initial" not in dags
    assert dags and all(type(d.timetable).__name__ == "NullTimetable" for d in dags.values())


def test_invalid_tenant_is_reported_by_name_and_field_without_hiding_others() -> None:
    good = json.loads((EXAMPLES / "demo_erp.json").read_text())
    bad = {**good, "flow": "webshop"}
    tenants, errors = load_tenants({"jetfort_tenant_good": json.dumps(good), "jetfort_tenant_bad": json.dumps(bad)})
    dags = tenant_dags("orders", _build, description="orders", tenants=tenants)
    assert list(dags) == ["jetfort__good__orders"]
    message = rules_errors_message(errors)
    assert "tenant 'bad': flow:" in message and "good" not in message.split("\n", 1)[1]


def test_permanent_errors_fail_fast_and_transient_ones_retry() -> None:
    from jetfort.errors import PermanentError, TransientError

    fail = RETRY_POLICY.evaluate(PermanentError("VAT rate 18 % is not set up"), 1, 4)
    retry = RETRY_POLICY.evaluate(TransientError("429"), 1, 4)
    other = RETRY_POLICY.evaluate(KeyError("x"), 1, 4)
    assert (fail.action.value, retry.action.value, other.action.value) == ("fail", "retry", "default")
