"""One-off setup a deployment runs before the scheduler: ledger schema and per-tenant pools.

Airflow 3 tasks cannot write pools (no metadata-DB access from workers), and a task pointing at
a missing pool is never scheduled, so pools are created here, from the same tenant rules the DAG
factory reads. Run it as ``python -m jetfort.bootstrap`` (``make demo``/``make up`` and the
docker-compose init job do) after ``airflow db migrate``; it is idempotent.
"""

from __future__ import annotations

import argparse
from typing import Any

from jetfort.factory import pools_for, rules_errors_message
from jetfort.ledger import Ledger


def ensure_pools(pools: dict[str, int]) -> list[str]:
    from airflow.models.pool import Pool

    for name, slots in sorted(pools.items()):
        Pool.create_or_update_pool(name=name, slots=slots, include_deferred=False,
                                   description="jetfort: concurrent Fortnox-heavy tasks of one tenant")
    return sorted(pools)


def _metastore_variables() -> dict[str, str]:
    """Tenant Variables read straight from the metadata DB.

    Bootstrap is a deployment step with metadata-DB access, not a supervised task, so the Task
    SDK's ``Variable.keys`` (used at parse time) sees nothing here; without this, Variables written
    by ``airflow variables set`` or the REST API got no pools and their tasks were never scheduled.
    """
    import sqlalchemy as sa
    from airflow.models.variable import Variable
    from airflow.utils.session import create_session

    from jetfort.rules import VARIABLE_PREFIX

    with create_session() as session:
        rows = session.scalars(sa.select(Variable).where(Variable.key.startswith(VARIABLE_PREFIX))).all()
        return {row.key: row.val for row in rows if row.val is not None}


def bootstrap_tenants() -> tuple[dict[str, Any], dict[str, Any]]:
    """Tenants from files < metastore < ``AIRFLOW_VAR_*`` env (Airflow's own lookup order)."""
    import os

    from jetfort.rules import TENANTS_DIR_ENV, collect_tenant_variables, load_tenants

    files, unreadable = collect_tenant_variables(
        {k: v for k, v in os.environ.items() if k == TENANTS_DIR_ENV}, metastore=False)
    env, _ = collect_tenant_variables(
        {k: v for k, v in os.environ.items() if k != TENANTS_DIR_ENV}, metastore=False)
    tenants, errors = load_tenants({**files, **_metastore_variables(), **env})
    for tenant_id, exc in unreadable.items():
        if tenant_id not in tenants:
            errors.setdefault(tenant_id, exc)
    return tenants, errors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jetfort.bootstrap", description=__doc__)
    parser.add_argument("--skip-pools", action="store_true", help="only migrate the ledger")
    args = parser.parse_args(argv)
    ledger = Ledger.from_conn_id()
    print(f"ledger ready ({ledger.dialect})")
    tenants, errors = bootstrap_tenants()
    if errors:
        print(rules_errors_message(errors))
    if not args.skip_pools:
        for name in ensure_pools(pools_for(tenants.values())):
            print(f"pool ready: {name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
