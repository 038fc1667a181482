"""The distributed suite: ``test_compose.py`` runs in every ``make test``; the CeleryExecutor
topology test (minutes, starts ~10 processes), the worker whose ledger cannot be read and the newcomer's
``make up`` walk only in ``make test-distributed``, which sets
``JETFORT_DISTRIBUTED=1`` (``.ci/run`` calls both)."""

from __future__ import annotations

import os
from collections.abc import Generator

import pytest

from tests.conftest import POSTGRES_ENV

DISTRIBUTED_ENV = "JETFORT_DISTRIBUTED"

collect_ignore = [] if os.environ.get(DISTRIBUTED_ENV) == "1" else [
    "test_celery_topology.py", "test_ledger_failure.py", "test_newcomer.py"]


@pytest.fixture
def postgres_url_base() -> str:
    """The server URL itself (the stack creates and drops its own databases on it)."""
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        pytest.skip(f"distributed test: set {POSTGRES_ENV} (e.g. postgresql+psycopg2://postgres@127.0.0.1:5432/postgres)")
    return url


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Keep each phase's report on the item, so a fixture can print logs when the test failed."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report
