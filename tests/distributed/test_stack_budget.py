"""The distributed test's budget margin and its jitter figure (runs in every ``make test``)."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from jetfort.fortnox.budget import rate_use
from sandbox.celery_stack import CeleryStack
from sandbox.fortnox.audited import audited_fortnox_app, shortest_span

with warnings.catch_warnings():  # starlette's note about httpx2, raised at import time
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient


def test_shortest_span_is_the_tightest_run_of_count_stamps() -> None:
    assert shortest_span([0.0, 0.1, 0.5], 4) is None  # fewer stamps than asked for
    assert shortest_span([0.0, 0.1, 0.5], 1) == 0.0
    assert shortest_span([0.0, 0.3, 0.4, 0.9, 1.0], 3) == pytest.approx(0.4)  # 0.0..0.4 (0.3..0.9: 0.6)
    assert shortest_span([0.0, 0.5, 0.6, 0.65, 2.0], 3) == pytest.approx(0.15)  # 0.5..0.65


def test_the_workers_budget_window_is_the_sandboxs_plus_the_jitter_allowance(tmp_path: Path) -> None:
    stack = CeleryStack(postgres_url="postgresql+psycopg2://postgres@127.0.0.1:1/postgres",
                        redis_url="redis://127.0.0.1:1/15", workdir=tmp_path, tenants=[],
                        rate_window=0.35, client_jitter=0.25)
    assert stack.client_rate_window == pytest.approx(0.6)  # the Fortnox connection's extra rate_window
    assert stack.client_window == pytest.approx(0.65)  # make_budget's own 0.05 s on top
    assert rate_use(0.35, stack.client_window) == pytest.approx(0.35 / 0.65)
    legacy = CeleryStack(postgres_url="postgresql+psycopg2://postgres@127.0.0.1:1/postgres",
                         redis_url="redis://127.0.0.1:1/15", workdir=tmp_path, tenants=[],
                         rate_window=0.35, client_window_factor=1.1)  # the older knob still works
    assert legacy.client_rate_window == pytest.approx(0.385)


def test_the_audit_reports_the_shortest_span_over_the_limit() -> None:
    client = TestClient(audited_fortnox_app(rate_limit=3, rate_window=60.0, access_ttl=900.0))
    company = client.post("/_sandbox/companies", json={"name": "Span AB"}).json()
    token = client.post("/_sandbox/tokens", json={"tenant_id": company["tenant_id"], "client_id": company["client_id"],
                                                  "kind": "access"}).json()["token"]

    def seen() -> dict[str, object]:
        return dict(client.get("/_sandbox/dist/audit").json()["companies"][str(company["tenant_id"])])

    for _ in range(3):
        client.get("/3/companyinformation", headers={"Authorization": f"Bearer {token}"})
    assert seen()["shortest_span_over_limit"] is None  # never more than the limit: nothing to report
    client.get("/3/companyinformation", headers={"Authorization": f"Bearer {token}"})
    span = seen()["shortest_span_over_limit"]
    assert isinstance(span, float) and 0 <= span < 60.0  # four arrivals within one 60 s window
