"""The order-status DAG's tasks (called by :func:`jetfort.factory.tenant_dags` from ``dags/jetfort_order_status.py``)."""

from __future__ import annotations

from typing import Any

from airflow.sdk import task

from jetfort.factory import tenant_of
from jetfort.rules import TenantRules
from jetfort.tasks.order_status.common import StatusRunFailed
from jetfort.tasks.order_status.event_run import apply_events, is_event_run
from jetfort.tasks.order_status.push import push_status
from jetfort.tasks.order_status.read import read_changes
from jetfort.tasks.order_status.summary import summarize

#: the status run's first task goes before other jetfort tasks waiting for an executor slot: for an
#: event run it is the whole run, and a customer waits on its e-mail and capture (the default weights
#: of jetfort's tasks are the counts of their downstream tasks, below 20)
STATUS_PRIORITY = 100
#: the status DAG's first task: the window read, or all of a run started by events
READ_TASK_ID = "read_changes"


def build_order_status(rules: TenantRules) -> None:
    """Add the status tasks to the DAG being built (called by :func:`jetfort.factory.tenant_dags`):
    read_changes → push_status[<shop>] → summary; a run started by events does all of it in
    read_changes and skips the rest (:mod:`jetfort.tasks.order_status.event_run`)."""
    tenant = tenant_of(rules)
    shops = [shop.key for shop in rules.shops]

    @task.short_circuit(task_id=READ_TASK_ID, priority_weight=STATUS_PRIORITY, weight_rule="absolute",
                        multiple_outputs=False)  # one XCom per result (see jetfort.tasks.orders_dag)
    def read(**context: Any) -> dict[str, Any] | None:
        if is_event_run(context, tenant):  # all in this task, the rest skipped (see event_run)
            context["ti"].xcom_push(key="summary", value=apply_events(tenant, shops, context))
            return None
        return read_changes(tenant, context)  # never empty: the run goes on

    @task(task_id="push_status", map_index_template="{{ shop_key }}", multiple_outputs=False)
    def push(shop_key: str, **context: Any) -> dict[str, Any]:
        context["shop_key"] = shop_key
        read_result = context["ti"].xcom_pull(task_ids=READ_TASK_ID) if (
            context.get("params") or {}).get("dry_run") else None
        return push_status(tenant, shop_key, context, read=read_result)

    @task(task_id="summary", trigger_rule="all_done", multiple_outputs=False)
    def summary(read_result: Any, pushes: Any, **context: Any) -> dict[str, Any]:
        # one slice request for every shop's result: iterating the lazy sequence would ask for the
        # item after the last one, which the API answers with a logged "XCom not found"
        result = summarize(tenant, read_result, list(pushes[:]), shops=shops)
        context["ti"].xcom_push(key="summary", value=result)
        if result["shops_not_finished"]:  # the run shows failed, as the orders DAG's does
            raise StatusRunFailed(f"tenant {tenant}: status push of shop(s) {', '.join(result['shops_not_finished'])} "
                                  "did not finish — see push_status's log; a cleared task resumes where it stopped")
        return result

    changes = read()
    pushed = push.expand(shop_key=shops)
    changes >> pushed
    summary(changes, pushed)
