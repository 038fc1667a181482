"""Pure mapping: Jetshop models and tenant rules in, Fortnox models out (no I/O, no Airflow, no HTTP).

* :mod:`jetfort.mapping.orders` — shop order → Fortnox order/invoice (:func:`map_document`), the
  idempotency key and the total check;
* :mod:`jetfort.mapping.customers` — shop buyer → Fortnox customer plan (match keys, VAT type);
* :mod:`jetfort.mapping.totals` — document totals computed the way Fortnox computes them;
* :mod:`jetfort.mapping.problems` — :class:`MappingProblem`, the reason an order is quarantined.

The names below are re-exported lazily so that importing one submodule stays cheap and no import
cycle with :mod:`jetfort.extensions` can form.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "MappingProblem": "problems",
    "CustomerPlan": "customers",
    "plan_customer": "customers",
    "DocumentTotals": "totals",
    "fortnox_total": "totals",
    "fortnox_totals": "totals",
    "FortnoxFacts": "orders",
    "MappedDocument": "orders",
    "idempotency_key": "orders",
    "map_document": "orders",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'jetfort.mapping' has no attribute {name!r}")
    return getattr(importlib.import_module(f"jetfort.mapping.{module}"), name)
