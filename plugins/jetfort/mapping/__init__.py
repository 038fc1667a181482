"""Pure mapping: Jetshop models and tenant rules in, Fortnox models out (no I/O, no Airflow, no HTTP).

* :mod:`jetfort.mapping.orders` — shop order → Fortnox order/invoice (:func:`map_document`) and the
  idempotency key;
* :mod:`jetfort.mapping.document` — :class:`MappedDocument` and the total check;
* :mod:`jetfort.mapping.customers` — shop buyer → Fortnox customer plan (match keys, VAT type);
* :mod:`jetfort.mapping.plugins` — the tenant plugins' order-mapping extension points (it uses
  :mod:`jetfort.extensions` to load them; the extensions never import the mapping);
* :mod:`jetfort.mapping.totals` — document totals computed the way Fortnox computes them;
* :mod:`jetfort.mapping.problems` — :class:`MappingProblem`, the reason an order is quarantined;
* the catalog side: :mod:`~jetfort.mapping.products`, :mod:`~jetfort.mapping.prices`,
  :mod:`~jetfort.mapping.stock`, and :mod:`~jetfort.mapping.status` for order status back.
"""

from jetfort.mapping.customers import CustomerPlan, plan_customer
from jetfort.mapping.document import MappedDocument, check_total
from jetfort.mapping.orders import FortnoxFacts, idempotency_key, map_document
from jetfort.mapping.plugins import apply_document_plugins
from jetfort.mapping.problems import MappingProblem
from jetfort.mapping.totals import DocumentTotals, fortnox_total, fortnox_totals

__all__ = [
    "CustomerPlan",
    "DocumentTotals",
    "FortnoxFacts",
    "MappedDocument",
    "MappingProblem",
    "apply_document_plugins",
    "check_total",
    "fortnox_total",
    "fortnox_totals",
    "idempotency_key",
    "map_document",
    "plan_customer",
]
