"""The request budget: N requests in any sliding window per company, 429 beyond it.

The HTTP tests use 5 requests per 0.5 s (Fortnox's 25/5 s ratio scaled down). The sandbox's limiter
there reads a clock the test moves (its ``clock`` argument), so a request counts in the window the
test puts it in however slow the machine is: the tests assert exact counts, never a duration.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from sandbox.fortnox import create_app
from sandbox.fortnox.ratelimit import SlidingWindowLimiter
from sandbox.server import serve_in_thread
from tests.manual_clock import ManualClock


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
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def fast(clock: ManualClock) -> Iterator[tuple[str, object]]:
    app = create_app(seed=3, rate_limit=5, rate_window=0.5)
    app.sandbox.limiter = SlidingWindowLimiter(5, 0.5, clock=clock)  # type: ignore[attr-defined]
    with serve_in_thread(app) as base:
        yield base, app.sandbox


def test_http_burst_gets_429_with_body_and_counters_never_exceed_the_limit(fast: tuple[str, object],
                                                                          clock: ManualClock) -> None:
    base, sandbox = fast
    token = sandbox.mint_access_token()  # type: ignore[attr-defined]
    other = sandbox.create_company()  # type: ignore[attr-defined]
    other_token = sandbox.mint_access_token(other.tenant_id)  # type: ignore[attr-defined]
    session = requests.Session()
    statuses = []
    for _ in range(12):  # 0.02 s apart: all twelve within one window
        statuses.append(session.get(f"{base}/3/articles?limit=1",
                                    headers={"Authorization": f"Bearer {token}"}).status_code)
        clock.advance(0.02)
    assert statuses == [200] * 5 + [429] * 7
    limited = session.get(f"{base}/3/articles", headers={"Authorization": f"Bearer {token}"})
    assert limited.status_code == 429 and limited.json() == {"message": "API rate limit exceeded"}
    # a second company is not affected by the first one's exhaustion
    assert session.get(f"{base}/3/articles", headers={"Authorization": f"Bearer {other_token}"}).status_code == 200
    clock.advance(0.49 - 0.24)  # t=0.49: the five accepted at t=0..0.08 are all in the window
    assert session.get(f"{base}/3/articles", headers={"Authorization": f"Bearer {token}"}).status_code == 429
    clock.advance(0.02)  # t=0.51: the first (t=0) has left the window, the second (t=0.02) not yet
    assert session.get(f"{base}/3/articles", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert session.get(f"{base}/3/articles", headers={"Authorization": f"Bearer {token}"}).status_code == 429
    assert sandbox.max_in_window() == 5  # type: ignore[attr-defined]
    stats = session.get(f"{base}/_sandbox/companies/{sandbox.default.tenant_id}/stats").json()  # type: ignore[attr-defined]
    client = stats["clients"]["jetfort-sandbox"]
    assert client == {"accepted": 6, "rejected_429": 10, "max_in_window": 5}


def test_limit_and_window_are_configurable_at_runtime(fast: tuple[str, object]) -> None:
    base, sandbox = fast
    session = requests.Session()
    assert session.put(f"{base}/_sandbox/ratelimit", json={"limit": 2, "window": 30}).json() == {"limit": 2, "window": 30}
    token = sandbox.mint_access_token()  # type: ignore[attr-defined]
    statuses = [session.get(f"{base}/3/currencies", headers={"Authorization": f"Bearer {token}"}).status_code
                for _ in range(4)]
    assert statuses == [200, 200, 429, 429]


def test_concurrent_clients_never_get_more_than_the_budget(fast: tuple[str, object]) -> None:
    """200 requests from 8 threads at one instant of the sandbox's clock: exactly 5 accepted."""
    from concurrent.futures import ThreadPoolExecutor

    base, sandbox = fast
    token = sandbox.mint_access_token()  # type: ignore[attr-defined]

    def worker(_: int) -> list[int]:
        session = requests.Session()
        return [session.get(f"{base}/3/units", headers={"Authorization": f"Bearer {token}"}).status_code
                for _ in range(25)]

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = [s for chunk in pool.map(worker, range(8)) for s in chunk]
    assert statuses.count(200) == 5 and statuses.count(429) == 195
    assert sandbox.max_in_window() == 5  # type: ignore[attr-defined]
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
    assert first == [200] * 5 + [429] * 3
    assert session.get(f"{base}/3/units", headers={"Authorization": f"Bearer {second_token}"}).status_code == 200
    stats = session.get(f"{base}/_sandbox/companies/{second['tenant_id']}/stats").json()["clients"]
    assert set(stats) == {"jetfort-sandbox", second["client_id"]}
