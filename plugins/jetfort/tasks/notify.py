"""Failure notifier: says which tenant, DAG, task and try failed, and why, in one place.

It always logs. When the tenant rules configure ``notifications`` (kind ``http``,
``slack_webhook`` or ``smtp`` with an Airflow connection) it also sends the same facts there.
No payloads and no secrets are included, only ids, counts and the error text.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseNotifier

log = logging.getLogger(__name__)


class FailureNotifier(BaseNotifier):
    template_fields = ("tenant",)

    def __init__(self, tenant: str, *, kind: str | None = None, conn_id: str | None = None,
                 to: Sequence[str] = ()) -> None:
        super().__init__()
        self.tenant = tenant
        self.kind = kind
        self.conn_id = conn_id
        self.to = list(to)

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
        if not (self.kind and self.conn_id):
            return
        try:
            self._send(body)
        except Exception as exc:  # a broken notifier must not hide the task's own failure
            log.warning("jetfort: could not send the %s notification through %r: %s", self.kind, self.conn_id, exc)

    def _send(self, body: dict[str, Any]) -> None:
        assert self.conn_id is not None
        headline = f"jetfort: tenant {body['tenant']}: {body['dag_id']}.{body['task_id']} failed"
        if self.kind == "smtp":
            from airflow.providers.smtp.hooks.smtp import SmtpHook

            with SmtpHook(smtp_conn_id=self.conn_id) as smtp:
                smtp.send_email_smtp(to=self.to, subject=headline,
                                     html_content=f"<pre>{json.dumps(body, indent=2, default=str)}</pre>")
            return
        from airflow.providers.http.hooks.http import HttpHook

        payload = {"text": f"{headline}: {body['error']}"} if self.kind == "slack_webhook" else body
        HttpHook(method="POST", http_conn_id=self.conn_id).run(endpoint="", json=payload)
