"""The DAG factory: ids, timetables with real data intervals, defaults, one DAG per tenant."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

import jsonschema
import pendulum
import pytest
from airflow.sdk import task
from jsonschema import FormatChecker

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


# -- a task process parses for one DAG ---------------------------------------------------------------

def _parse_for(monkeypatch: Any, wanted: str | None, **tenants: dict[str, Any]) -> None:
    """The tenants as Airflow Variables from the environment, and Airflow's parsing context as the
    task runner sets it while it parses a DAG file to run one task of ``wanted``."""
    from airflow.sdk.definitions.context import AirflowParsingContext

    from jetfort import factory

    for name in [k for k in os.environ if k.startswith("AIRFLOW_VAR_JETFORT_TENANT_")]:
        monkeypatch.delenv(name)
    monkeypatch.delenv("JETFORT_TENANTS_DIR", raising=False)
    for tenant, rules in tenants.items():
        monkeypatch.setenv(f"AIRFLOW_VAR_JETFORT_TENANT_{tenant.upper()}", json.dumps(rules))
    monkeypatch.setattr(factory, "_cache", None)
    monkeypatch.setattr(factory, "get_parsing_context", lambda: AirflowParsingContext(dag_id=wanted, task_id="t"))


def _serialized(dag: Any) -> dict[str, Any]:
    from airflow.serialization.serialized_objects import DagSerialization

    return dict(DagSerialization.to_dict(dag))


def test_a_task_process_builds_only_the_dag_it_runs_and_the_same_dag(monkeypatch: Any) -> None:
    """Airflow parses the whole DAG file before each task; with the parsing context naming the DAG,
    the file builds that tenant's DAG of that part only, identical to what the DAG processor built."""
    erp = json.loads((EXAMPLES / "demo_erp.json").read_text())
    tenants = {"north": erp, "south": erp, "broken": {**erp, "flow": "webshop"}}

    _parse_for(monkeypatch, None, **tenants)  # the DAG processor: every tenant
    full = tenant_dags("orders", _build, description="orders")
    assert sorted(full) == ["jetfort__north__orders", "jetfort__south__orders"]

    _parse_for(monkeypatch, "jetfort__south__orders", **tenants)
    assert list(tenant_dags("orders", _build, description="orders")) == ["jetfort__south__orders"]
    assert (_serialized(tenant_dags("orders", _build, description="orders")["jetfort__south__orders"])
            == _serialized(full["jetfort__south__orders"]))
    assert tenant_dags("catalog", _build, description="catalog") == {}  # another part of the same file

    for wanted in ("jetfort__broken__orders", "jetfort__gone__orders"):  # as in the full parse: no DAG
        _parse_for(monkeypatch, wanted, **tenants)
        assert tenant_dags("orders", _build, description="orders") == {}

    _parse_for(monkeypatch, "someone_elses_dag", **tenants)  # not a jetfort DAG: the file parses in full
    assert sorted(tenant_dags("orders", _build, description="orders")) == sorted(full)


def test_a_manual_run_s_params_reach_every_task_and_the_trigger_form_checks_them() -> None:
    """The params are the DAG's: the serialized DAG (what the trigger form and the REST API read)
    has each with its description and check, and every task gets the run's values, as the task
    runner merges them (``process_params``), whether the task was built before or after the others."""
    from airflow.sdk.definitions.param import process_params
    from airflow.serialization.serialized_objects import DagSerialization

    from jetfort.tasks.params import order_params

    def build(rules: TenantRules) -> None:
        @task
        def first() -> None: ...

        @task
        def second() -> None: ...

        first() >> second()

    dag = tenant_dags("orders", build, description="orders", params=order_params(),
                      tenants={"demo_ecom": _examples()["demo_ecom"]})["jetfort__demo_ecom__orders"]
    assert len(dag.tasks) == 2
    for each in dag.tasks:  # a run without conf: the defaults (Airflow keeps a run's values in the Params
        # it merged, so the run with a conf comes after: a task process runs one task of one run)
        assert process_params(dag, each, None, suppress_exception=False) == {
            "order_numbers": [], "since": None, "until": None, "dry_run": False, "preflight_only": False}
    for each in dag.tasks:
        given = process_params(dag, each, {"dry_run": True, "order_numbers": ["10041"]}, suppress_exception=False)
        assert given == {"order_numbers": ["10041"], "since": None, "until": None, "dry_run": True,
                         "preflight_only": False}, each.task_id

    served = DagSerialization.from_dict(DagSerialization.to_dict(dag))
    assert sorted(served.params) == ["dry_run", "order_numbers", "preflight_only", "since", "until"]
    since = served.params.get_param("since")
    assert since.description and since.value is None and since.schema["format"] == "date-time"
    # the API server checks a trigger's conf with each param's JSON schema
    checks = FormatChecker()
    with pytest.raises(jsonschema.ValidationError, match="date-time"):
        jsonschema.validate("2026-13-45", since.schema, format_checker=checks)  # a date that is none
    with pytest.raises(jsonschema.ValidationError, match="boolean"):
        jsonschema.validate("yes", served.params.get_param("dry_run").schema, format_checker=checks)
    jsonschema.validate("2026-11-01T00:00:00Z", since.schema, format_checker=checks)
    jsonschema.validate(["10041", 10042], served.params.get_param("order_numbers").schema, format_checker=checks)
