"""The failure notifier names tenant, task and error, and sends them where the rules say."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi import FastAPI, Request

from jetfort.tasks.notify import FailureNotifier
from sandbox.server import serve_in_thread


class _TI(SimpleNamespace):
    def xcom_pull(self, task_ids: str, key: str) -> Any:
        return {"posted": 3, "quarantined": 1}


def _context() -> dict[str, Any]:
    ti = _TI(dag_id="jetfort__acme__orders", task_id="summary", map_index=-1, try_number=2, run_id="manual__1")
    return {"ti": ti, "exception": RuntimeError("Fortnox said 2000588: Ogiltigt organisationsnummer")}


@pytest.fixture
def webhook(monkeypatch: pytest.MonkeyPatch) -> Any:
    received: list[dict[str, Any]] = []
    app = FastAPI()

    @app.post("/")
    async def hook(request: Request) -> dict[str, bool]:
        received.append(await request.json())
        return {"ok": True}

    with serve_in_thread(app) as url:
        monkeypatch.setenv("AIRFLOW_CONN_ACME_WEBHOOK", json.dumps({"conn_type": "http", "host": url}))
        yield received


def test_http_notification_carries_tenant_task_error_and_counts(webhook: list[dict[str, Any]]) -> None:
    FailureNotifier("acme", kind="http", conn_id="acme_webhook").notify(_context())
    (body,) = webhook
    assert body["tenant"] == "acme" and body["task_id"] == "summary" and body["try_number"] == 2
    assert "2000588" in body["error"] and body["counts"] == {"posted": 3, "quarantined": 1}


def test_slack_style_webhook_gets_one_line(webhook: list[dict[str, Any]]) -> None:
    FailureNotifier("acme", kind="slack_webhook", conn_id="acme_webhook").notify(_context())
    (body,) = webhook
    assert body == {"text": "jetfort: tenant acme: jetfort__acme__orders.summary failed: "
                            "RuntimeError: Fortnox said 2000588: Ogiltigt organisationsnummer"}


def test_without_a_channel_it_only_logs(webhook: list[dict[str, Any]], caplog: pytest.LogCaptureFixture) -> None:
    FailureNotifier("acme").notify(_context())
    assert webhook == []
    assert "tenant=acme dag=jetfort__acme__orders task=summary" in caplog.text


def test_a_broken_channel_never_hides_the_failure(caplog: pytest.LogCaptureFixture,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_DEAD_WEBHOOK", json.dumps({"conn_type": "http", "host": "http://127.0.0.1:9"}))
    FailureNotifier("acme", kind="http", conn_id="dead_webhook").notify(_context())
    assert "could not send the http notification through 'dead_webhook'" in caplog.text



def test_a_failing_task_of_a_tenant_dag_notifies_its_channel(webhook: list[dict[str, Any]], airflow_db: Any,
                                                             tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Through a real run of the orders DAG (dags/, dag.test()): a tenant whose Fortnox connection does not
    exist fails its pre-flight, and then its summary (which fails a run with a failed stage); the tenant's
    channel hears of each once, naming the DAG and the task.
    Every task of the DAG, the mapped shop tasks too, carries the tenant's notifier."""
    from tests.harness import load_dag
    from tests.jetfort.test_factory import EXAMPLES

    rules = json.loads((EXAMPLES / "demo_ecom.json").read_text())
    rules.update(fortnox_conn_id="acme_fortnox_missing", retries={"count": 0, "delay_seconds": 1},
                 notifications={"kind": "http", "conn_id": "acme_webhook"})
    (tmp_path / "acme.json").write_text(json.dumps(rules))
    monkeypatch.setenv("JETFORT_TENANTS_DIR", str(tmp_path))
    monkeypatch.setenv("JETFORT_LEDGER_URL", f"sqlite:///{tmp_path / 'ledger.db'}")

    dag = load_dag("jetfort__acme__orders")
    notifiers = {task.task_id: task.on_failure_callback for task in dag.tasks}
    assert "shop.post" in notifiers and all(
        [type(n).__name__ for n in callbacks] == ["FailureNotifier"] and callbacks[0].tenant == "acme"
        for callbacks in notifiers.values()), notifiers
    from airflow.serialization.serialized_objects import DagSerialization

    # what the DAG processor stores and the DAG's details page shows: no notifier (Airflow would store the
    # source code of its __call__) in the DAG's default_args
    assert "on_failure_callback" not in json.dumps(DagSerialization.to_dict(dag)["dag"]["default_args"])
    assert dag.test().state == "failed"
    assert [(body["dag_id"], body["task_id"], body["tenant"]) for body in webhook] == [
        ("jetfort__acme__orders", "preflight", "acme"), ("jetfort__acme__orders", "summary", "acme")]
    assert "acme_fortnox_missing" in webhook[0]["error"]
