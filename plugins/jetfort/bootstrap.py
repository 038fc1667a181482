"""One-off setup a deployment runs before the scheduler: ledger schema and per-tenant pools.

Airflow 3 tasks cannot write pools (no metadata-DB access from workers), and a task pointing at
a missing pool is never scheduled, so pools are created here, from the same tenant rules the DAG
factory reads. Run it as ``python -m jetfort.bootstrap`` (``make demo``/``make up`` and the
docker-compose init job do) after ``airflow db migrate``; it is idempotent.
"""

from __future__ import annotations

import argparse

from airflow.models.pool import Pool

from jetfort.factory import pools_for, rules_errors_message
from jetfort.ledger import Ledger
from jetfort.rules import RulesError, TenantRules
from jetfort.tenants import load_tenants_from_airflow


def ensure_pools(pools: dict[str, int]) -> list[str]:
    for name, slots in sorted(pools.items()):
        Pool.create_or_update_pool(name=name, slots=slots, include_deferred=False,
                                   description="jetfort: concurrent Fortnox-heavy tasks of one tenant")
    return sorted(pools)


def bootstrap_tenants() -> tuple[dict[str, TenantRules], dict[str, RulesError]]:
    """Every tenant the DAG files see: files < metastore < ``AIRFLOW_VAR_*`` env (Airflow's order).

    Bootstrap runs with metadata-DB access and no supervisor, like an ``airflow`` CLI command, so
    the metastore's Variables are read straight from the database (see :mod:`jetfort.tenants`)."""
    return load_tenants_from_airflow()


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
