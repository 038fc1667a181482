"""Catalog DAGs per tenant for Airflow (wiring only; the work is in jetfort.tasks.catalog):

* ``jetfort__<tenant>__catalog`` — scheduled by ``rules.schedules.catalog``: the flow's directions;
* ``jetfort__<tenant>__catalog_initial`` — manual: the whole assortment across (Params);
* ``jetfort__<tenant>__drift`` — scheduled by ``rules.schedules.drift``: drift report and corrections.
"""

from jetfort.factory import parse_tenants, tenant_dags
from jetfort.tasks.catalog.dag import build_catalog, build_drift, build_initial, initial_params

_tenants = parse_tenants()  # read once for the three parts
for _dag_id, _dag in {
    **tenant_dags("catalog", build_catalog, tenants=_tenants,
                  description="Catalog delta sync: products, prices, price lists, stock and stock status"),
    **tenant_dags("catalog_initial", build_initial, schedule=lambda rules: None, params=initial_params(),
                  tenants=_tenants,
                  description="Initial catalog sync (manual): the whole assortment with the same article numbers"),
    **tenant_dags("drift", build_drift, tenants=_tenants,
                  description="Catalog drift report: both sides compared in full, table + plot, corrections per rule"),
}.items():
    globals()[_dag_id] = _dag
