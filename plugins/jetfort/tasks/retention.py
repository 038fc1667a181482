"""The ledger's retention DAG ``jetfort_ledger_retention``: one for the whole ledger, every tenant's records.

One task, ``compact``, daily: it reads the policy from the Airflow Variable ``jetfort_ledger_retention``
(see :mod:`jetfort.ledger.retention`; absent means the defaults) and compacts. An unreadable policy
fails the task with the key named and compacts nothing. What it did (cutoff, records looked at,
payloads dropped per tenant and kind, consents deleted) is its return value, in XCom: counts only.
The cutoff is taken from the run's logical end, so a run re-run or backfilled later compacts what
was due at its own date and nothing younger.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from airflow.sdk import DAG, Variable, task

from jetfort.factory import RETRY_POLICY, START_DATE
from jetfort.ledger import Ledger
from jetfort.ledger.retention import VARIABLE, compact, parse_policy

DAG_ID = "jetfort_ledger_retention"
SCHEDULE = "40 2 * * *"  # daily, away from the top of the hour most tenants' crons use

DOC = f"""### jetfort · ledger retention

Drops the audit payloads (what was sent at each step) of records unchanged for `audit_payload_days`
(default 365) and deletes Fortnox consents older than `consent_days` (default 90). The records, their
links to Fortnox documents, idempotency facts, audit steps and messages, the quarantine and the cursors
are kept forever.

Policy: Airflow Variable `{VARIABLE}`, JSON, e.g. `{{"audit_payload_days": 180}}`.
"""


def policy_text() -> str | None:
    value = Variable.get(VARIABLE, default=None)
    return value if value is None or isinstance(value, str) else str(value)


def build_retention_dag() -> DAG:
    with DAG(
        dag_id=DAG_ID,
        schedule=SCHEDULE,
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        tags=["jetfort", "ledger"],
        doc_md=DOC,
        description="jetfort ledger retention: old audit payloads dropped, links and idempotency facts kept",
        default_args={"owner": "jetfort", "retries": 2, "retry_delay": dt.timedelta(minutes=5),
                      "retry_policy": RETRY_POLICY},
    ) as dag:

        @task(task_id="compact", multiple_outputs=False)
        def run_compact(data_interval_end: dt.datetime | None = None, logical_date: dt.datetime | None = None) -> Any:
            policy = parse_policy(policy_text())
            now = data_interval_end or logical_date
            return compact(Ledger.from_conn_id(), policy, now=now).as_dict()

        run_compact()
    return dag
