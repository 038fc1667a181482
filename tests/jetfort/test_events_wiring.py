"""Fortnox events wired into the DAGs: the ``events`` rules, the asset-or-time schedules with their
watchers, the orders → status asset link, ``commit_events`` as the last task, and what an
asset-triggered status run reads from its triggering asset events."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pendulum
import pytest

from jetfort.assets import events_asset_name, orders_posted, orders_posted_name
from jetfort.factory import dag_id, tenant_dags
from jetfort.rules import RulesError, TenantRules, load_tenants, parse_tenant
from jetfort.tasks.catalog.dag import build_catalog, build_drift, build_initial
from jetfort.tasks.events_commit import COMMIT_TASK_ID
from jetfort.tasks.order_status import build_order_status
from jetfort.tasks.order_status.events import event_work
from jetfort.tasks.orders_dag import build_orders

EXAMPLES = Path(__file__).resolve().parents[2] / "include" / "mappings" / "tenants"
SCHEMA = Path(__file__).resolve().parents[2] / "include" / "mappings" / "tenant_rules.schema.json"


def _rules(name: str = "demo_erp", **events: Any) -> dict[str, Any]:
    rules: dict[str, Any] = json.loads((EXAMPLES / f"{name}.json").read_text())
    if events:
        rules["events"] = events
    return rules


def _tenants(**variables: dict[str, Any]) -> dict[str, TenantRules]:
    tenants, errors = load_tenants({f"jetfort_tenant_{t}": json.dumps(r) for t, r in variables.items()})
    assert not errors, errors
    return tenants


# -- rules ---------------------------------------------------------------------------------------

def test_events_are_off_unless_a_tenant_turns_them_on() -> None:
    rules = parse_tenant("acme", json.dumps(_rules()))
    assert rules.events.enabled is False and rules.events.purposes() == ()
    assert rules.events_purpose("order_status") is None and rules.events_purpose("catalog") is None
    on = parse_tenant("acme", json.dumps(_rules(enabled=True)))
    assert on.events.purposes() == ("status", "catalog")
    assert on.events_purpose("order_status") == "status" and on.events_purpose("catalog") == "catalog"
    assert on.events_purpose("orders") is None and on.events_purpose("drift") is None
    only_catalog = parse_tenant("acme", json.dumps(_rules(enabled=True, status=False)))
    assert only_catalog.events_purpose("order_status") is None and only_catalog.events_purpose("catalog") == "catalog"


@pytest.mark.parametrize("events,path,fragment", [
    ({"enabled": True, "status": False, "catalog": False}, "events.enabled", "neither events.status"),
    ({"enabled": "maybe"}, "events.enabled", "boolean"),
    ({"enabled": True, "url": "wss://x"}, "events.url", "Extra inputs are not permitted"),
])
def test_invalid_events_rules_name_the_field(events: dict[str, Any], path: str, fragment: str) -> None:
    with pytest.raises(RulesError) as caught:
        parse_tenant("acme", json.dumps(_rules(**events)))
    lines = [line for line in str(caught.value).splitlines() if line.startswith(f"tenant 'acme': {path}: ")]
    assert lines and fragment in lines[0], str(caught.value)


def test_status_events_need_the_status_dag() -> None:
    ecom = _rules("demo_ecom", enabled=True)  # ecom: status_map off by default
    with pytest.raises(RulesError) as caught:
        parse_tenant("acme", json.dumps(ecom))
    assert caught.value.paths == ["events.status"]
    assert "status_map.enabled is false" in str(caught.value)
    assert parse_tenant("acme", json.dumps(_rules("demo_ecom", enabled=True, status=False))).events.enabled


def test_the_generated_schema_describes_the_events_section() -> None:
    schema = json.loads(SCHEMA.read_text())
    events = schema["$defs"]["EventRules"]
    assert set(events["properties"]) == {"enabled", "status", "catalog"}
    assert events["properties"]["enabled"]["default"] is False
    assert schema["properties"]["events"]


# -- DAG structure -------------------------------------------------------------------------------

def _watcher_triggers(asset: Any) -> list[Any]:
    return [w.trigger for w in asset.watchers]


def _assets(condition: Any) -> dict[str, Any]:
    """name → Asset of a schedule's asset condition (Asset, AssetAny)."""
    found = getattr(condition, "objects", None)
    return {a.name: a for a in found} if found is not None else {condition.name: condition}


def _weight(task: Any) -> int:
    """A task's effective priority as Airflow documents its weight rules (absolute, downstream, upstream)."""
    rule = str(getattr(task.weight_rule, "value", task.weight_rule))
    if rule == "absolute":
        return int(task.priority_weight)
    relatives = task.get_flat_relatives(upstream=rule == "upstream")
    return int(task.priority_weight) + sum(int(t.priority_weight) for t in relatives)


def test_status_dag_with_events_runs_on_its_asset_or_its_cron_and_commits_last() -> None:
    from airflow.sdk import AssetOrTimeSchedule, CronDataIntervalTimetable

    from jetfort.events.trigger import FortnoxEventTrigger

    tenants = _tenants(ev=_rules(enabled=True), plain=_rules())
    dags = tenant_dags("order_status", build_order_status, description="status", tenants=tenants)
    dag = dags[dag_id("ev", "order_status")]
    schedule = dag.timetable
    assert isinstance(schedule, AssetOrTimeSchedule)
    assert isinstance(schedule.timetable, CronDataIntervalTimetable)
    assert schedule.timetable.expression == tenants["ev"].schedules.order_status  # the cron is the safety net
    assets = _assets(schedule.asset_condition)
    assert set(assets) == {events_asset_name("ev", "status"), orders_posted_name("ev")}
    (trigger,) = _watcher_triggers(assets[events_asset_name("ev", "status")])
    assert isinstance(trigger, FortnoxEventTrigger)
    _, kwargs = trigger.serialize()
    assert kwargs["tenant"] == "ev" and kwargs["purpose"] == "status"
    assert kwargs["fortnox_conn_id"] == tenants["ev"].fortnox_conn_id
    assert _watcher_triggers(assets[orders_posted_name("ev")]) == []
    commit = dag.get_task(COMMIT_TASK_ID)
    others = {t.task_id for t in dag.tasks} - {COMMIT_TASK_ID}
    assert others == {"read_changes", "push_status", "summary"}
    assert commit.trigger_rule == "all_success"
    assert set(commit.upstream_task_ids) == others and not commit.downstream_task_ids

    # an event run does its work in read_changes, a short-circuit task that skips the rest, and it
    # neither waits for another run (up to 4 at once, and the scheduled run has a place of its own) nor
    # behind other jetfort tasks for a slot
    first = dag.get_task("read_changes")
    assert type(first).__name__ == "_ShortCircuitDecoratedOperator"
    assert first.ignore_downstream_trigger_rules is True
    assert set(first.get_flat_relative_ids(upstream=False)) == others - {"read_changes"} | {COMMIT_TASK_ID}
    assert dag.max_active_runs == 5
    every_other = [t for part, build in (("orders", build_orders), ("catalog", build_catalog),
                                         ("order_status", build_order_status))
                   for d in tenant_dags(part, build, description=part, tenants=tenants).values()
                   for t in d.tasks if t.task_id != "read_changes"]
    assert len(every_other) > 20
    assert _weight(first) > max(_weight(t) for t in every_other)

    plain = dags[dag_id("plain", "order_status")]  # a tenant without events: as before
    assert type(plain.timetable) is CronDataIntervalTimetable
    assert {t.task_id for t in plain.tasks} == {"read_changes", "push_status", "summary"}
    assert plain.max_active_runs == 1


def test_catalog_dag_with_events_watches_its_own_asset_and_the_other_catalog_dags_stay() -> None:
    from airflow.sdk import AssetOrTimeSchedule, CronDataIntervalTimetable

    tenants = _tenants(ev=_rules(enabled=True, status=False))
    catalog = tenant_dags("catalog", build_catalog, description="c", tenants=tenants)[dag_id("ev", "catalog")]
    assert isinstance(catalog.timetable, AssetOrTimeSchedule)
    (trigger,) = _watcher_triggers(catalog.timetable.asset_condition)
    assert trigger.serialize()[1]["purpose"] == "catalog"
    assert catalog.timetable.asset_condition.name == events_asset_name("ev", "catalog")
    commit = catalog.get_task(COMMIT_TASK_ID)
    assert set(commit.upstream_task_ids) == {t.task_id for t in catalog.tasks} - {COMMIT_TASK_ID}
    drift = tenant_dags("drift", build_drift, description="d", tenants=tenants)[dag_id("ev", "drift")]
    initial = tenant_dags("catalog_initial", build_initial, description="i", tenants=tenants,
                          schedule=lambda rules: None)[dag_id("ev", "catalog_initial")]
    assert type(drift.timetable) is CronDataIntervalTimetable
    assert type(initial.timetable).__name__ == "NullTimetable"
    assert COMMIT_TASK_ID not in drift.task_ids and COMMIT_TASK_ID not in initial.task_ids
    # status events off: the status DAG keeps its cron only
    status = tenant_dags("order_status", build_order_status, description="s", tenants=tenants)
    assert type(status[dag_id("ev", "order_status")].timetable) is CronDataIntervalTimetable


def test_a_part_without_cron_runs_on_its_events_only() -> None:
    rules = _rules(enabled=True)
    rules["schedules"] = {"catalog": None}
    dag = tenant_dags("catalog", build_catalog, description="c", tenants=_tenants(ev=rules))[dag_id("ev", "catalog")]
    assert type(dag.timetable).__name__ == "AssetTriggeredTimetable"


def test_the_orders_dag_links_to_the_status_dag_only_when_status_events_are_on() -> None:
    tenants = _tenants(ev=_rules(enabled=True), plain=_rules())
    dags = tenant_dags("orders", build_orders, description="o", tenants=tenants)
    post = dags[dag_id("ev", "orders")].get_task("shop.post")
    assert [a.name for a in post.outlets] == [orders_posted_name("ev")]
    assert post.outlets == [orders_posted("ev")]  # the same asset the status DAG is scheduled on
    assert dags[dag_id("plain", "orders")].get_task("shop.post").outlets == []
    assert all(COMMIT_TASK_ID not in d.task_ids for d in dags.values())


def test_serialized_schedule_keeps_cron_windows_so_backfills_work() -> None:
    """What the scheduler and a backfill see: the core AssetOrTimeSchedule, periodic (backfills refuse
    non-periodic schedules), delegating run windows to the cron data-interval timetable."""
    from airflow.serialization.serialized_objects import DagSerialization
    from airflow.timetables.assets import AssetOrTimeSchedule as CoreSchedule
    from airflow.timetables.base import DataInterval, TimeRestriction

    tenants = _tenants(ev=_rules(enabled=True))
    dag = tenant_dags("order_status", build_order_status, description="s", tenants=tenants)[dag_id("ev", "order_status")]
    core = DagSerialization.from_dict(DagSerialization.to_dict(dag)).timetable
    assert isinstance(core, CoreSchedule)
    assert core.periodic and core.can_be_scheduled
    core.validate()
    start = pendulum.datetime(2026, 3, 2, 10, 0, tz="UTC")
    info = core.next_dagrun_info(last_automated_data_interval=DataInterval(start.subtract(minutes=15), start),
                                 restriction=TimeRestriction(earliest=None, latest=None, catchup=True))
    assert info is not None and info.data_interval.start == start
    assert info.data_interval.end == start.add(minutes=15)  # demo_erp's order_status cron: */15
    manual = core.infer_manual_data_interval(run_after=start.add(minutes=7))
    assert manual.start < manual.end


# -- what an asset-triggered status run reads --------------------------------------------------------

def _event(topic: str, type_: str, entity: str, offset: str = "o") -> dict[str, Any]:
    return {"topic": topic, "offset": offset, "type": type_, "tenantId": 7, "entityId": entity,
            "timestamp": "2026-03-02T10:00:00+01:00"}


def _asset_event(payload: dict[str, Any]) -> Any:
    return SimpleNamespace(extra={"from_trigger": True, "payload": payload})


def test_event_work_collapses_duplicates_and_keeps_to_the_tenant() -> None:
    from airflow.sdk import Asset

    events_asset = Asset(name=events_asset_name("acme", "status"), uri="jetfort://acme/fortnox/events/status")
    other = Asset(name=events_asset_name("other", "status"), uri="jetfort://other/fortnox/events/status")
    twice = [_event("orders", "order-updated-v1", "5"), _event("orders", "order-updated-v1", "5"),
             _event("invoices", "invoice-bookkeep-v1", "9"), _event("invoices", "invoicepayment-bookkeep-v1", "3")]
    context = {"triggering_asset_events": {
        events_asset: [_asset_event({"tenant": "acme", "purpose": "status", "batch": "b1", "events": twice}),
                       _asset_event({"tenant": "acme", "purpose": "status", "batch": "b2", "events": twice[:1]})],
        other: [_asset_event({"tenant": "other", "purpose": "status", "batch": "b3",
                              "events": [_event("orders", "order-updated-v1", "77")]})],
        orders_posted("acme"): [SimpleNamespace(extra={"shop": "se", "linked": ["se:1", "se:2"]}),
                                SimpleNamespace(extra={"shop": "se", "linked": ["se:2"]})],
    }}
    work = event_work(context, "acme")
    assert work is not None and work.ours
    assert sorted(b["batch"] for b in work.batches) == ["b1", "b2"]
    assert list(work.documents) == [("order", "5"), ("invoice", "9"), ("payment", "3")]
    assert work.documents[("order", "5")] == {"order-updated-v1"}
    assert work.events == 5 and work.posted == ["se:1", "se:2"] and work.posted_events == 2
    assert event_work({"triggering_asset_events": {}}, "acme") is None  # scheduled/manual run: poll
    hand_made = event_work({"triggering_asset_events": {orders_posted("acme"): [SimpleNamespace(extra={})]}}, "acme")
    assert hand_made is not None and not hand_made.ours  # an asset event made by hand: a polling run


def test_event_work_reads_airflows_own_triggering_asset_events_accessor() -> None:
    """The mapping a task really gets (built from the run's consumed asset events by the task runner)."""
    import datetime as dt

    from airflow.sdk.execution_time.comms import AssetEventDagRunReferenceResult
    from airflow.sdk.execution_time.context import TriggeringAssetEventsAccessor

    def asset_event(name: str, uri: str, extra: dict[str, Any]) -> Any:
        return AssetEventDagRunReferenceResult(
            asset={"name": name, "uri": uri, "extra": {}}, extra=extra, source_task_id=None, source_dag_id=None,
            source_run_id=None, source_map_index=None, source_aliases=[], timestamp=dt.datetime.now(dt.UTC))

    batch = {"tenant": "acme", "purpose": "status", "batch": "b1",
             "events": [_event("orders", "order-updated-v1", "5"), _event("orders", "order-updated-v1", "5")]}
    accessor = TriggeringAssetEventsAccessor.build([
        asset_event(events_asset_name("acme", "status"), "jetfort://acme/fortnox/events/status",
                    {"from_trigger": True, "payload": batch}),
        asset_event(orders_posted_name("acme"), "jetfort://acme/orders/posted", {"shop": "se", "linked": ["se:1"]}),
    ])
    work = event_work({"triggering_asset_events": accessor}, "acme")
    assert work is not None and [b["batch"] for b in work.batches] == ["b1"]
    assert work.documents == {("order", "5"): {"order-updated-v1"}} and work.posted == ["se:1"]
