"""Where the trail's links lead for a status step: the task that did the step, by the kind of run."""

from __future__ import annotations

import datetime as dt
from urllib.parse import quote

import pytest

from jetfort.rules import parse_tenant
from jetfort.ui.data import TrailStep
from jetfort.ui.views import step_links
from sandbox.demo_setup import example_tenants

RULES = parse_tenant("demo_erp", example_tenants()["demo_erp"])
STATUS_DAG = "/dags/jetfort__demo_erp__order_status/runs"
# the run ids Airflow gives: an asset-triggered run's (the tenant's Fortnox events), a scheduled one's
EVENT_RUN = "asset_triggered__2026-12-07T01:00:46.998168+00:00_DV8KT0Fz"
SCHEDULED_RUN = "scheduled__2026-12-07T01:00:00+00:00"


def _step(kind: str, step: str, run_id: str) -> TrailStep:
    return TrailStep(at=dt.datetime(2026, 12, 7, tzinfo=dt.UTC), kind=kind, source_key=f"{RULES.shops[0].key}:1002",
                     step=step, state="pushed", message="", run_id=run_id)


@pytest.mark.parametrize(("kind", "step"), [("status", "push"), ("capture", "capture"), ("order_status", "read")])
def test_a_step_of_an_event_run_links_to_the_task_that_did_it(kind: str, step: str) -> None:
    """An event run reads, pushes and captures in its first task, read_changes; its other tasks are
    skipped, and a link to one of them would show an empty log."""
    run = f"{STATUS_DAG}/{quote(EVENT_RUN, safe='')}"
    assert step_links("demo_erp", RULES, _step(kind, step, EVENT_RUN)) == {
        "dag-run": run, "task-log": f"{run}/tasks/read_changes"}


def test_a_step_of_a_scheduled_run_links_to_its_own_task() -> None:
    run = f"{STATUS_DAG}/{quote(SCHEDULED_RUN, safe='')}"
    assert step_links("demo_erp", RULES, _step("status", "push", SCHEDULED_RUN)) == {
        "dag-run": run, "task-log": f"{run}/tasks/push_status/mapped/0"}
    assert step_links("demo_erp", RULES, _step("order_status", "read", SCHEDULED_RUN))["task-log"] == \
        f"{run}/tasks/read_changes"
    assert step_links("demo_erp", RULES, _step("status", "push", "")) == {}  # no run: nothing to link


ORDERS_DAG = "/dags/jetfort__demo_erp__orders/runs"
MANUAL_RUN = "manual__2026-12-07T01:05:00+00:00"
BACKFILL_RUN = "backfill__2026-12-06T01:00:00+00:00"


@pytest.mark.parametrize(("kind", "step"), [("order", "post"), ("order", "acknowledge"), ("credit", "credit")])
def test_a_step_of_a_scheduled_orders_run_links_to_preflight_which_did_the_whole_run(kind: str, step: str) -> None:
    run = f"{ORDERS_DAG}/{quote(SCHEDULED_RUN, safe='')}"
    assert step_links("demo_erp", RULES, _step(kind, step, SCHEDULED_RUN)) == {
        "dag-run": run, "task-log": f"{run}/tasks/preflight"}


@pytest.mark.parametrize("run_id", [MANUAL_RUN, BACKFILL_RUN])
def test_a_step_of_a_manual_or_backfill_orders_run_links_to_its_stage_task(run_id: str) -> None:
    run = f"{ORDERS_DAG}/{quote(run_id, safe='')}"
    assert step_links("demo_erp", RULES, _step("order", "post", run_id)) == {
        "dag-run": run, "task-log": f"{run}/tasks/shop.post/mapped/0"}
    assert step_links("demo_erp", RULES, _step("order", "extract", run_id))["task-log"] == \
        f"{run}/tasks/shop.extract/mapped/0"
