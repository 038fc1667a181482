"""Failure notifier: says which tenant, DAG, task and try failed, and why, in one line.

It always logs; when the tenant rules name an HTTP connection (``notifications.http_conn_id``)
it also posts the same facts as JSON there (a chat webhook, an incident tool). No payloads and
no secrets are included, only ids, counts and the error text.
"""

from __future__ import annotations

import logging
from typing import Any

from airflow.sdk import BaseNotifier

log = logging.getLogger(__name__)


class FailureNotifier(BaseNotifier):
    template_fields = ("tenant",)

    def __init__(self, tenant: str, http_conn_id: str | None = None) -> None:
        super().__init__()
        self.tenant = tenant
        self.http_conn_id = http_conn_id

    def message(self, context: Any) -> dict[str, Any]:
        ti = context.get("ti") or context.get("task_instance")
        exception = context.get("exception")
        summary = None
        if ti is not None:
            try:
                summary = ti.xcom_pull(task_ids=ti.task_id, key="summary")
            except Exception:  # a failed task may have pushed nothing
                summary = None
        return {
            "tenant": self.tenant,
            "dag_id": getattr(ti, "dag_id", None),
            "task_id": getattr(ti, "task_id", None),
            "map_index": getattr(ti, "map_index", None),
            "try_number": getattr(ti, "try_number", None),
            "run_id": getattr(ti, "run_id", None),
            "error": f"{type(exception).__name__}: {exception}" if exception else None,
            "counts": summary,
        }

    def notify(self, context: Any) -> None:
        body = self.message(context)
        log.error("jetfort failure: tenant=%(tenant)s dag=%(dag_id)s task=%(task_id)s "
                  "try=%(try_number)s error=%(error)s counts=%(counts)s", body)
        if self.http_conn_id:
            from airflow.providers.http.hooks.http import HttpHook

            HttpHook(method="POST", http_conn_id=self.http_conn_id).run(endpoint="", json=body)
