"""Ledger retention: one Airflow DAG ``jetfort_ledger_retention`` for the whole ledger, daily. Old audit
payloads are dropped; links and idempotency facts are kept forever. Wiring only; the task and the
policy live in :mod:`jetfort.tasks.retention` and :mod:`jetfort.ledger.retention`."""

from __future__ import annotations

from jetfort.tasks.retention import build_retention_dag

dag = build_retention_dag()
