"""Code that runs in the worker processes of the shared-budget tests (importable under spawn)."""

from __future__ import annotations

from typing import Any

import requests


def call_fortnox(params: dict[str, Any], ledger_url: str, budget: str, min_calls: int, max_calls: int,
                 target_rotations: int, results: Any) -> None:
    """One "Airflow worker": its own hook, the shared ledger and budget; calls until the goal is met."""
    from jetfort.fortnox.errors import FortnoxError
    from jetfort.fortnox.hook import FortnoxHook
    from jetfort.ledger import Ledger

    ledger = Ledger.from_url(ledger_url, migrate_schema=False)
    hook = FortnoxHook.from_params(**params, ledger=ledger, budget=budget)
    stats_url = f"{params['base_url']}/_sandbox/companies/{params['company']}/stats"
    calls, errors = 0, []
    auth = hook.auth
    try:
        while calls < max_calls:
            try:
                hook.company_information()
            except FortnoxError as exc:  # a lost refresh token would end up here
                errors.append(f"{type(exc).__name__}: {exc}")
                break
            calls += 1
            if calls >= min_calls and calls % 4 == 0:
                rotations = requests.get(stats_url, timeout=10).json()["refresh_rotations"]
                if rotations >= target_rotations:
                    break
    finally:
        hook.close()
    results.put({"calls": calls, "requests": hook.request_count, "errors": errors,
                 "refreshes": auth.refreshes})

