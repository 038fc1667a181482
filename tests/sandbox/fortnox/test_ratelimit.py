"""The request budget: N requests in any sliding window per company, 429 beyond it.

The HTTP tests use 5 requests per 0.5 s (Fortnox's 25/5 s ratio scaled down) so they finish fast;
they only assert on counts, never on how long something took.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import requests

from sandbox.fortnox import create_app
from sandbox.fortnox.ratelimit import SlidingWindowLimiter
from sandbox.server import serve_in_thread


def test_sliding_window_counts_exactly_with_explicit_clock() -> None:
    limiter = SlidingWindowLimiter(limit=25, window=5.0)
    key = (1, "c")
    accepted = [limiter.try_acquire(key, now=t * 0.1) for t in range(30)]  # 30 requests in 3 s
    assert accepted.count(True) == 25 and accepted[25:] == [False] * 5
    assert limiter.try_acquire(key, now=4.99) is False
    assert limiter.try_acquire(key, now=5.0) is True  # the first request (t=0) left the window
    assert limiter.try_acquire(key, now=5.05) is False
    assert limiter.try_acquire(key, now=5.11) is True
    assert limiter.max_in_window(key) == 25
    assert limiter.try_acquire((2, "c"), now=3.0) is True  # another company has its own budget


@pytest.fixture
def fast() -> Iterator[tuple[str, object]]:
    app = create_app(seed=3, rate_limit=5, rate_window=0.5)
    with serve_in_thread(app) as base:
        yield base, app.sandbox


def test_http_burst_gets_429_with_body_and_counters_never_exceed_the_limit(fast: tuple[str, object]) -> None:
    base, sandbox = fast
    token = sandbox.mint_access_token()  # type: ignore[attr-defined]
    other = sandbox.create_company()  # type: ignore[attr-defined]
    other_token = sandbox.mint_access_token(other.tenant_id)  # type: ignore[attr-defined]
    session = requests.Session()
    statuses = [session.get(f"{base}/3/articles?limit=1", headers={"Authorization": f"Bearer {token}"}).status_code
                for _ in range(12)]
    assert statuses.count(200) >= 5 and 429 in statuses
    limited = session.get(f"{base}/3/articles", headers={"Authorization": f"Bearer {token}"})
    if limited.status_code == 429:
        assert limited.json() == {"message": "API rate limit exceeded"}
    # a second company is not affected by the first one's exhaustion
    assert session.get(f"{base}/3/articles", headers={"Authorization": f"Bearer {other_token}"}).status_code == 200
    time.sleep(0.6)  # longer than the window: the budget is back
    assert session.get(f"{base}/3/articles", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert sandbox.max_in_window() <= 5  # type: ignore[attr-defined]
    stats = session.get(f"{base}/_sandbox/companies/{sandbox.default.tenant_id}/stats").json()  # type: ignore[attr-defined]
    client = stats["clients"]["jetfort-sandbox"]
    assert client["max_in_window"] <= 5 and client["rejected_429"] >= 1
    assert client["accepted"] + client["rejected_429"] == 14


def test_limit_and_window_are_configurable_at_runtime(fast: tuple[str, object]) -> None:
    base, sandbox = fast
    session = requests.Session()
    assert session.put(f"{base}/_sandbox/ratelimit", json={"limit": 2, "window": 30}).json() == {"limit": 2, "window": 30}
    token = sandbox.mint_access_token()  # type: ignore[attr-defined]
    statuses = [session.get(f"{base}/3/currencies", headers={"Authorization": f"Bearer {token}"}).status_code
                for _ in range(4)]
    assert statuses == [200, 200, 429, 429]


def test_concurrent_clients_never_get_more_than_the_budget(fast: tuple[str, object]) -> None:
    from concurrent.futures import ThreadPoolExecutor

    base, sandbox = fast
    token = sandbox.mint_access_token()  # type: ignore[attr-defined]

    def worker(_: int) -> list[int]:
        session = requests.Session()
        return [session.get(f"{base}/3/units", headers={"Authorization": f"Bearer {token}"}).status_code
                for _ in range(25)]

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = [s for chunk in pool.map(worker, range(8)) for s in chunk]
    assert set(statuses) <= {200, 429} and statuses.count(200) >= 5
    assert sandbox.max_in_window() <= 5  # type: ignore[attr-defined]
    stats = sandbox.stats()["clients"]["jetfort-sandbox"]  # type: ignore[attr-defined]
    assert stats["accepted"] == statuses.count(200) and stats["rejected_429"] == statuses.count(429)


def test_two_integrations_on_one_company_have_separate_budgets(fast: tuple[str, object]) -> None:
    base, sandbox = fast
    second = requests.post(f"{base}/_sandbox/companies/{sandbox.default.tenant_id}/clients", json={}).json()  # type: ignore[attr-defined]
    first_token = sandbox.mint_access_token()  # type: ignore[attr-defined]
    second_token = sandbox.mint_access_token(second["tenant_id"], second["client_id"])  # type: ignore[attr-defined]
    session = requests.Session()
    first = [session.get(f"{base}/3/units", headers={"Authorization": f"Bearer {first_token}"}).status_code
             for _ in range(8)]
    assert 429 in first
    assert session.get(f"{base}/3/units", headers={"Authorization": f"Bearer {second_token}"}).status_code == 200
    stats = session.get(f"{base}/_sandbox/companies/{second['tenant_id']}/stats").json()["clients"]
    assert set(stats) == {"jetfort-sandbox", second["client_id"]}
