"""Order status back (Fortnox → Jetshop): one Airflow DAG ``jetfort__<tenant>__order_status`` per tenant whose rules
enable ``status_map``. Wiring only; the tasks live in :mod:`jetfort.tasks.order_status`.

read_changes (Fortnox documents changed in the window, linked shop orders only, states recorded in
the ledger) → push_status[<shop>] (status, tracking, e-mail flag, capture; each exactly once) →
summary (per state: pushed, captured, e-mails, skipped, quarantined).
Params for manual runs: ``orders`` (re-check given shop orders), ``since``/``until`` (re-read documents
changed since a moment, in one run) and ``dry_run`` (writes nothing anywhere).
"""

from __future__ import annotations

from jetfort.factory import tenant_dags
from jetfort.tasks.order_status import build_order_status
from jetfort.tasks.params import status_params

DESCRIPTION = ("Order status back: Fortnox delivered/invoiced/paid/cancelled → Jetshop status, "
               "tracking, e-mail and payment capture")

globals().update(tenant_dags("order_status", build_order_status, description=DESCRIPTION,
                             applies=lambda rules: rules.status_map.enabled, params=status_params()))
