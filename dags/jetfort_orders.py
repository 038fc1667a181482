"""Orders flow: one Airflow DAG per tenant (``jetfort__<tenant>__orders``), Jetshop orders → one
Fortnox order or invoice each.

Wiring only; the tasks live in :mod:`jetfort.tasks.orders`.
"""

from __future__ import annotations

from jetfort.factory import tenant_dags
from jetfort.tasks.orders_dag import build_orders
from jetfort.tasks.params import order_params

DESCRIPTION = (
    "Shop orders the rules release → exactly one Fortnox order/invoice each (customer, rows, VAT, "
    "freight, currency, totals checked), then the shop order is set to the transferred status. "
    "Per shop: extract → map → post → acknowledge; quarantine and held orders are listed in the summary. "
    "A scheduled run does all of it in preflight (the other tasks show skipped); manual runs and backfills "
    "run each stage as its own task. "
    "Params: order_numbers (re-sync), since/until (re-examine a date range in one run), dry_run (writes "
    "nothing anywhere), preflight_only."
)

globals().update(tenant_dags("orders", build_orders, description=DESCRIPTION, params=order_params()))
