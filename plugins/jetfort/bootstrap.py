"""One-off setup a deployment runs before the scheduler: the ledger schema.

Run it as ``python -m jetfort.bootstrap`` (``make demo``/``make up`` and the docker-compose init
job do) after ``airflow db migrate``; it is idempotent. It also lists tenants whose rules do not
validate. Nothing here is per tenant: a tenant Variable added to a running stack is all a new
tenant needs (its DAGs use no pool of their own; each run caps its concurrent tasks instead).
"""

from __future__ import annotations

import argparse

from jetfort.factory import rules_errors_message
from jetfort.ledger import Ledger
from jetfort.rules import RulesError, TenantRules
from jetfort.tenants import load_tenants_from_airflow


def bootstrap_tenants() -> tuple[dict[str, TenantRules], dict[str, RulesError]]:
    """Every tenant the DAG files see: files < metastore < ``AIRFLOW_VAR_*`` env (Airflow's order).

    Bootstrap runs with metadata-DB access and no supervisor, like an ``airflow`` CLI command, so
    the metastore's Variables are read straight from the database (see :mod:`jetfort.tenants`)."""
    return load_tenants_from_airflow()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jetfort.bootstrap", description=__doc__)
    parser.parse_args(argv)
    ledger = Ledger.from_conn_id()
    print(f"ledger ready ({ledger.dialect})")
    tenants, errors = bootstrap_tenants()
    print(f"tenants with valid rules: {', '.join(sorted(tenants)) or 'none'}")
    if errors:
        print(rules_errors_message(errors))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
