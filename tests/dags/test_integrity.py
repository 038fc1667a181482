"""DAG integrity: every file in dags/ imports, every DAG follows jetfort's conventions.

Runs the real dags/ folder through Airflow's DagBag with the example tenants from
include/mappings/tenants (plus one broken tenant) fed the way a deployment feeds them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jetfort.factory import MAX_ACTIVE_TASKS

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "include" / "mappings" / "tenants"


@pytest.fixture
def dagbag(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):  # type: ignore[no-untyped-def]
    tenants = tmp_path / "tenants"
    tenants.mkdir()
    for example in EXAMPLES.glob("*.json"):
        (tenants / example.name).write_text(example.read_text())
    broken = json.loads((EXAMPLES / "demo_ecom.json").read_text())
    broken["orders"] = {**broken.get("orders", {}), "document": "receipt"}
    (tenants / "broken_shop.json").write_text(json.dumps(broken))
    monkeypatch.setenv("JETFORT_TENANTS_DIR", str(tenants))
    import jetfort.factory

    monkeypatch.setattr(jetfort.factory, "_cache", None)
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(REPO / "dags"))


def test_only_the_broken_tenant_is_reported_and_its_field_is_named(dagbag) -> None:  # type: ignore[no-untyped-def]
    errors = dict(dagbag.import_errors)
    assert list(errors) == [str(REPO / "dags" / "jetfort_rules_check.py")]
    (message,) = errors.values()
    assert "tenant 'broken_shop': orders.document" in message
    assert "demo_ecom" not in message


#: the DAGs that are the ledger's, not a tenant's (one each, whatever the tenants)
LEDGER_DAGS = {"jetfort_ledger_retention"}


def test_dags_follow_the_conventions(dagbag) -> None:  # type: ignore[no-untyped-def]
    for dag_id, dag in dagbag.dags.items():
        if dag_id in LEDGER_DAGS:
            continue
        prefix, tenant, part = dag_id.split("__")
        assert prefix == "jetfort" and tenant != "broken_shop"
        assert {"jetfort", f"tenant:{tenant}", part} <= set(dag.tags)
        assert any(tag.startswith("flow:") for tag in dag.tags)
        assert dag.doc_md and tenant in dag.doc_md
        assert type(dag.timetable).__name__ in {"CronDataIntervalTimetable", "NullTimetable"}, dag_id
        for task in dag.tasks:
            assert task.retries >= 1, f"{dag_id}.{task.task_id} has no retries"
            # no pool of the tenant's own: a pool nobody created would hold its tasks forever
            assert task.pool == "default_pool", f"{dag_id}.{task.task_id}"
        assert dag.max_active_tasks == MAX_ACTIVE_TASKS, dag_id


#: what a user of each example tenant sees in the DAG list (a missing tenant or part fails here)
EXPECTED_DAG_IDS = {
    "demo_combo": {"catalog", "catalog_initial", "drift", "order_status", "orders"},
    "demo_ecom": {"catalog", "catalog_initial", "drift", "orders"},
    "demo_erp": {"catalog", "catalog_initial", "drift", "order_status", "orders"},
    "demo_norce": {"catalog", "catalog_initial", "drift", "order_status", "orders"},
    "demo_mixed": {"catalog", "catalog_initial", "drift", "order_status", "orders"},
}


def test_every_example_tenant_gets_its_dags(dagbag) -> None:  # type: ignore[no-untyped-def]
    expected = {f"jetfort__{tenant}__{part}" for tenant, parts in EXPECTED_DAG_IDS.items() for part in parts}
    assert set(dagbag.dags) == expected | LEDGER_DAGS


def test_the_ledger_retention_dag_runs_daily_with_retries_and_says_where_its_policy_is(dagbag) -> None:  # type: ignore[no-untyped-def]
    dag = dagbag.dags["jetfort_ledger_retention"]
    assert [t.task_id for t in dag.tasks] == ["compact"]
    assert dag.tasks[0].retries >= 1 and dag.tasks[0].pool == "default_pool"
    assert dag.timetable.expression == "40 2 * * *"  # daily, away from the tenants' :00 crons
    assert {"jetfort", "ledger"} <= set(dag.tags)
    assert dag.doc_md and "jetfort_ledger_retention" in dag.doc_md and "audit_payload_days" in dag.doc_md


def test_a_parse_reads_the_tenant_list_once_however_long_it_takes(monkeypatch: pytest.MonkeyPatch) -> None:
    """The catalog file wires three parts; at operator scale its parse outlasts any cache age, and
    each read of the list costs a round trip per tenant Variable. A parse of a task process builds
    that task's DAG alone."""
    import itertools
    import types

    from airflow.dag_processing.dagbag import DagBag
    from airflow.sdk.definitions.context import AirflowParsingContext

    import jetfort.factory as factory

    monkeypatch.setenv("JETFORT_TENANTS_DIR", str(EXAMPLES))
    monkeypatch.setattr(factory, "_cache", None)
    clock = itertools.count(step=60.0)  # every look at the clock: another minute has gone by
    monkeypatch.setattr(factory, "time", types.SimpleNamespace(monotonic=lambda: next(clock)))
    reads = []
    real_read = factory.load_tenants_from_airflow
    monkeypatch.setattr(factory, "load_tenants_from_airflow", lambda: reads.append(1) or real_read())

    full = DagBag(dag_folder=str(REPO / "dags" / "jetfort_catalog.py"))
    tenants = {path.stem for path in EXAMPLES.glob("*.json")}
    assert {dag_id.split("__")[2] for dag_id in full.dags} == {"catalog", "catalog_initial", "drift"}
    assert {dag_id.split("__")[1] for dag_id in full.dags} == tenants
    assert len(reads) == 1

    wanted = "jetfort__demo_erp__drift"
    monkeypatch.setattr(factory, "get_parsing_context", lambda: AirflowParsingContext(dag_id=wanted, task_id="t"))
    assert list(DagBag(dag_folder=str(REPO / "dags" / "jetfort_catalog.py")).dags) == [wanted]
    assert len(reads) == 1  # a task process reads its own tenant's Variable only


def test_each_dag_has_its_own_params_with_valid_defaults_and_its_tenants_cron(dagbag) -> None:  # type: ignore[no-untyped-def]
    """The factory checks a part's Params once per parse (not once per DAG, as assigning them to each
    DAG would) and shares one timetable per cron and time zone; every DAG must still trigger with
    its own form, and run on its own tenant's cron."""
    from airflow.serialization.serialized_objects import DagSerialization

    from jetfort.rules import parse_tenant

    orders = {dag_id: dag for dag_id, dag in dagbag.dags.items() if dag_id.endswith("__orders")}
    assert len(orders) >= 3
    forms = {dag_id: dag.params for dag_id, dag in orders.items()}
    assert len({id(form) for form in forms.values()}) == len(forms)  # a ParamsDict per DAG
    for dag_id, dag in orders.items():
        defaults = dag.params.validate()  # what Airflow checks for a scheduled DAG
        assert {"since", "until", "order_numbers", "dry_run", "preflight_only"} <= set(defaults), dag_id
        assert defaults["dry_run"] is False and defaults["order_numbers"] in ([], None, ""), (dag_id, defaults)
        serialized = DagSerialization.to_dict(dag)["dag"]
        assert {name for name, _ in serialized["params"]} == set(defaults), dag_id  # the trigger form
        tenant = dag_id.split("__")[1]
        schedules = parse_tenant(tenant, (EXAMPLES / f"{tenant}.json").read_text()).schedules
        timetable = getattr(dag.timetable, "timetable", dag.timetable)  # an asset-or-time schedule's cron
        assert (timetable.expression, str(timetable.timezone)) == (schedules.orders, schedules.timezone), dag_id
    crons = {getattr(dag.timetable, "timetable", dag.timetable).expression for dag in orders.values()}
    assert len(crons) > 1  # the example tenants do not all share one cron


def test_a_part_whose_param_defaults_are_invalid_fails_the_parse() -> None:
    from airflow.sdk import Param
    from airflow.sdk.definitions.param import ParamValidationError

    from jetfort.factory import tenant_dags
    from jetfort.rules import parse_tenant

    rules = parse_tenant("demo_ecom", (EXAMPLES / "demo_ecom.json").read_text())
    with pytest.raises(ParamValidationError, match="limit"):
        tenant_dags("orders", lambda rules: None, description="d", tenants={"demo_ecom": rules},
                    params={"limit": Param("ten", type="integer")})
