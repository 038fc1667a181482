"""The event batches a DAG run was triggered with, and ``commit_events``: the last task of every
event-capable DAG (status, catalog), which tells the event stream that the run handled its batches.

The stream persists a topic's offset only past events whose batches were marked applied here
(:func:`jetfort.events.offsets.mark_applied`), so a run that failed or was killed before this task
leaves its events to be replayed: a crash replays, never skips. ``commit_events`` is downstream of
every other task of the DAG with trigger rule ``all_success``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from airflow.sdk import DAG, task

from jetfort.events.offsets import mark_applied
from jetfort.events.runs import batch_ids, batches_of
from jetfort.tasks.runtime import TenantRuntime

log = logging.getLogger(__name__)

COMMIT_TASK_ID = "commit_events"


def run_batches(context: Mapping[str, Any], tenant: str, purpose: str) -> list[dict[str, Any]]:
    """The Fortnox event batches of this tenant and purpose that triggered the run (none for a
    scheduled, manual or backfill run)."""
    return batches_of(context, tenant=tenant, purpose=purpose)


def commit_events(tenant: str, purpose: str, context: Mapping[str, Any], *,
                  runtime: TenantRuntime | None = None) -> dict[str, Any]:
    """Mark the run's batches applied (idempotent: a cleared task marks them again harmlessly)."""
    ids = batch_ids(run_batches(context, tenant, purpose))
    if not ids:
        log.info("commit_events: run %s was not triggered by Fortnox events; nothing to commit",
                 context.get("run_id"))
        return {"batches": 0, "marked": 0}
    rt = runtime if runtime is not None else TenantRuntime.for_tenant(tenant)
    try:
        marked = mark_applied(rt.ledger, tenant, purpose, ids)
    finally:
        if runtime is None:
            rt.close()
    log.info("commit_events: %d batch(es) of tenant %s (%s) applied, %d newly marked", len(ids), tenant,
             purpose, marked)
    return {"batches": len(ids), "marked": marked}


def add_commit_events(dag: DAG, tenant: str, purpose: str) -> Any:
    """Add ``commit_events`` to ``dag`` (being built), downstream of every task already in it."""
    others = list(dag.tasks)

    @task(task_id=COMMIT_TASK_ID, trigger_rule="all_success", multiple_outputs=False)
    def commit(**context: Any) -> dict[str, Any]:
        return commit_events(tenant, purpose, context)

    last = commit()
    for other in others:
        other >> last
    return last
