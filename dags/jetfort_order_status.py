"""Order status back (Fortnox → Jetshop): ``jetfort__<tenant>__order_status`` per tenant whose rules
enable ``status_map``. Wiring only; the work is in :mod:`jetfort.tasks.order_status`.

read_changes (Fortnox documents changed in the window, linked shop orders only, states recorded in
the ledger) → push_status[<shop>] (status, tracking, e-mail flag, capture; each exactly once) →
summary (per state: pushed, captured, e-mails, skipped, quarantined).
Params for manual runs: ``orders`` (re-check given shop orders) and ``dry_run``.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import task

from jetfort.factory import fortnox_pool, tenant_dags
from jetfort.rules import TenantRules
from jetfort.tasks import order_status


def _build(rules: TenantRules) -> None:
    tenant = str(rules.tenant_id)
    shops = [shop.key for shop in rules.shops]

    @task(task_id="read_changes", pool=fortnox_pool(tenant))
    def read_changes(**context: Any) -> dict[str, Any]:
        return order_status.read_changes(tenant, context)

    @task(task_id="push_status", map_index_template="{{ shop_key }}")
    def push_status(shop_key: str, **context: Any) -> dict[str, Any]:
        context["shop_key"] = shop_key
        return order_status.push_status(tenant, shop_key, context)

    @task(task_id="summary", trigger_rule="all_done")
    def summary(read: Any, pushes: Any, **context: Any) -> dict[str, Any]:
        result = order_status.summarize(tenant, read, pushes, shops=shops)
        context["ti"].xcom_push(key="summary", value=result)
        return result

    read = read_changes()
    pushed = push_status.expand(shop_key=shops)
    read >> pushed
    summary(read, pushed)


DAGS = tenant_dags(
    "order_status",
    _build,
    description="Order status back: Fortnox delivered/invoiced/paid/cancelled → Jetshop status, "
                "tracking, e-mail and payment capture",
    applies=lambda rules: rules.status_map.enabled,
    params=order_status.status_params(),
)
globals().update(DAGS)
