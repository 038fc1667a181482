"""Request budgets: the in-process one, the Redis one (atomic across clients) and the factory."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import pytest
import tenacity

from jetfort.fortnox.budget import (
    CappedRequestBudget,
    LocalRequestBudget,
    RedisRequestBudget,
    RequestBudget,
    capped,
    make_budget,
    padded_window,
    rate_use,
)
from jetfort.fortnox.errors import FortnoxRateLimited, FortnoxServerError
from jetfort.fortnox.hook import FortnoxHook
from jetfort.ledger import Ledger
from jetfort.ledger.budget import SqlRequestBudget
from tests.manual_clock import ManualClock


def _burst(budget: RequestBudget, company: str, threads: int = 16, attempts: int = 4) -> int:
    """Everyone tries at once; returns how many slots were granted."""
    granted = 0
    lock = threading.Lock()
    start = threading.Barrier(threads)

    def go() -> None:
        nonlocal granted
        start.wait()
        for _ in range(attempts):
            if budget.try_acquire(company) == 0.0:
                with lock:
                    granted += 1

    workers = [threading.Thread(target=go) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return granted


def test_local_budget_grants_the_limit_then_says_how_long_to_wait() -> None:
    clock = ManualClock()
    budget = LocalRequestBudget(limit=25, window=30.0, clock=clock)
    assert _burst(budget, "acme") == 25
    clock.advance(4.0)
    assert budget.try_acquire("acme") == pytest.approx(26.0)  # the burst leaves the window 30 s after it
    assert budget.try_acquire("other-company") == 0.0  # one budget per company


def test_local_budget_frees_slots_as_the_window_slides() -> None:
    clock = ManualClock()
    budget = LocalRequestBudget(limit=2, window=0.2, clock=clock, sleep=clock.sleep)
    assert budget.acquire("acme") == 0.0
    clock.advance(0.05)
    assert budget.acquire("acme") == 0.0
    with pytest.raises(TimeoutError, match=r"'acme' within 0\.0s"):
        budget.acquire("acme", timeout=0.0)
    assert clock.slept == []
    assert budget.acquire("acme") == pytest.approx(0.15)  # until the oldest slot leaves the window
    assert budget.acquire("acme") == pytest.approx(0.05)  # then the second one
    assert budget.try_acquire("acme") == pytest.approx(0.15)  # two in the window again: full


def test_redis_budget_is_atomic_across_clients(redis_url: str) -> None:
    company = f"test-{uuid.uuid4().hex}"
    first = RedisRequestBudget.from_url(redis_url, limit=25, window=30.0)
    second = RedisRequestBudget.from_url(redis_url, limit=25, window=30.0)  # another "worker"
    assert _burst(first, company, threads=8) + _burst(second, company, threads=8) == 25
    assert 0 < second.try_acquire(company) <= 30.0
    first._client.delete(first.key(company))


def test_factory_pads_the_window_and_picks_the_backend(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert padded_window(5.0) == pytest.approx(5.2)  # 4 % of 5 s
    assert padded_window(1.0) == pytest.approx(1.05)  # at least 50 ms
    local = make_budget("local", window=5.0)
    assert isinstance(local, LocalRequestBudget) and local.window == pytest.approx(5.2) and local.limit == 25
    assert rate_use(5.0, local.window) == pytest.approx(5 / 5.2)  # 96 % of Fortnox's rate at most
    ledger = Ledger.from_url(sqlite_url)
    assert isinstance(make_budget(ledger=ledger), SqlRequestBudget)  # default with a ledger
    assert isinstance(make_budget(), LocalRequestBudget)  # default without one
    monkeypatch.setenv("JETFORT_FORTNOX_BUDGET", "redis://127.0.0.1:1/0")
    assert isinstance(make_budget(ledger=ledger), RedisRequestBudget)  # configured, not connected yet
    with pytest.raises(ValueError, match="unknown Fortnox budget backend 'memcached'"):
        make_budget("memcached")
    with pytest.raises(ValueError, match="unknown Fortnox budget backend") as mistyped:
        make_budget("redis:/jetfort:s3cr3t-pw@cache:6379/0")  # one slash short
    assert "s3cr3t-pw" not in str(mistyped.value)


def test_backoff_honours_retry_after_and_stays_bounded() -> None:
    hook = FortnoxHook.from_params(base_url="http://127.0.0.1:9", client_id="c", client_secret="s",
                                   refresh_token="r", max_backoff=2.0)

    def state(exc: BaseException, attempt: int) -> tenacity.RetryCallState:
        retry_state = tenacity.RetryCallState(tenacity.Retrying(), None, (), {})
        retry_state.attempt_number = attempt
        retry_state.set_exception((type(exc), exc, None))
        return retry_state

    assert hook._wait(state(FortnoxRateLimited("slow down", retry_after=1.5, status=429), 1)) == 1.5
    assert hook._wait(state(FortnoxRateLimited("slow down", retry_after=60, status=429), 1)) == 2.0
    waits = [hook._wait(state(FortnoxServerError("boom", status=502), n)) for n in range(1, 10)]
    assert all(0 < w <= 2.0 for w in waits) and waits[-1] > waits[0]  # exponential, capped


def test_a_capped_caller_leaves_the_rest_of_the_company_budget_to_the_others(tmp_path: Any) -> None:
    """A safety-net read capped at 0.6 takes 15 of Fortnox's 25 per window however much it asks; the
    company's other callers still get the other 10; alone in later windows it keeps getting 15."""
    clock = ManualClock()

    def build(limit: int) -> RequestBudget:
        return LocalRequestBudget(limit=limit, window=5.0, clock=clock, sleep=clock.sleep)

    company = build(25)
    background = capped(company, 0.6, build)
    assert isinstance(background, CappedRequestBudget) and background.cap.limit == 15
    assert sum(background.try_acquire("acme") == 0.0 for _ in range(40)) == 15
    assert sum(company.try_acquire("acme") == 0.0 for _ in range(40)) == 10  # the event runs' share
    clock.advance(5.0)
    assert [background.acquire("acme") for _ in range(15)] == [0.0] * 15
    assert background.acquire("acme") == pytest.approx(5.0)  # the 16th waits for the next window
    with pytest.raises(ValueError, match="between 0 and 1"):
        capped(company, 1.0, build)

    hook = FortnoxHook.from_params(base_url="http://127.0.0.1:9", client_id="c", client_secret="s",
                                   refresh_token="r", ledger=Ledger.from_url(f"sqlite:///{tmp_path}/l.db"),
                                   budget_share=0.6)
    assert isinstance(hook.budget, CappedRequestBudget)  # the ledger's budget, capped on its own key
    assert isinstance(hook.budget.cap, SqlRequestBudget) and (hook.budget.cap.limit, hook.budget.limit) == (15, 25)


@pytest.mark.parametrize("backend", ["local", "ledger"])
def test_a_capped_caller_delayed_by_the_others_still_sends_at_most_its_cap_per_window(
        backend: str, tmp_path: Any) -> None:
    """The others filled the company's 25 just before the capped caller asks for 40 slots: however
    its requests were delayed, no window of Fortnox's holds more than 15 of its sends (the moments
    its slots were granted), and the others find 10 free slots in the window where it resumes."""
    clock = ManualClock(start=1_000.0)
    ledger = Ledger.from_url(f"sqlite:///{tmp_path}/l.db") if backend == "ledger" else None

    def build(limit: int) -> RequestBudget:
        if ledger is not None:
            return SqlRequestBudget(ledger, limit=limit, window=5.0, clock=clock, sleep=clock.sleep)
        return LocalRequestBudget(limit=limit, window=5.0, clock=clock, sleep=clock.sleep)

    company = build(25)
    background = capped(company, 0.6, build, sleep=clock.sleep)
    assert [company.try_acquire("acme") for _ in range(25)] == [0.0] * 25  # the others, at 1000.0
    clock.advance(0.5)
    sends: list[float] = []

    def send(n: int) -> None:
        for _ in range(n):
            background.acquire("acme")
            sends.append(clock())

    send(15)
    assert sends[0] >= 1_005.0  # nothing sent while the others held the whole budget
    assert sum(company.try_acquire("acme") == 0.0 for _ in range(25)) == 10  # left to the event runs
    send(25)
    most = max(sum(1 for t in sends if start <= t < start + 5.0) for start in sends)
    assert most == 15, sends


def test_a_hook_in_use_takes_a_share_of_the_company_budget_from_its_next_request(tmp_path: Any) -> None:
    """A task that turns from its event work to a bulk read caps the hook it already used: the company's
    budget keeps its slots (the ledger's rows), the hook's next requests take a cap of 10 of the 25
    first. A hook given its budget by the caller refuses, rather than ignore the share."""
    ledger = Ledger.from_url(f"sqlite:///{tmp_path}/l.db")
    hook = FortnoxHook.from_params(base_url="http://127.0.0.1:9", client_id="c", client_secret="s",
                                   refresh_token="r", ledger=ledger, company="acme")
    whole = hook.budget
    assert isinstance(whole, SqlRequestBudget) and whole.limit == 25
    assert [whole.try_acquire("acme") for _ in range(10)] == [0.0] * 10  # the event work's requests

    hook.limit_budget_share(0.4)
    capped_budget = hook.budget
    assert isinstance(capped_budget, CappedRequestBudget) and capped_budget.cap.limit == 10
    granted = sum(capped_budget.try_acquire("acme") == 0.0 for _ in range(25))
    assert granted == 10  # its cap, though 15 company slots were free
    assert sum(whole.try_acquire("acme") == 0.0 for _ in range(25)) == 5  # 25 - 10 - 10: the others'

    hook.limit_budget_share(None)
    assert hook.budget.limit == 25 and not isinstance(hook.budget, CappedRequestBudget)

    given = FortnoxHook.from_params(base_url="http://127.0.0.1:9", client_id="c", client_secret="s",
                                    refresh_token="r", budget=LocalRequestBudget(limit=25, window=5.0))
    with pytest.raises(ValueError, match="given its request budget"):
        given.limit_budget_share(0.4)
