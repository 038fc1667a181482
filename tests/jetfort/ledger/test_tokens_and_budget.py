"""Cross-process guarantees: no refresh token lost, no budget window over its limit."""

from __future__ import annotations

import datetime as dt
import multiprocessing as mp
import time
from typing import Any

import pytest
import sqlalchemy as sa

from jetfort.ledger import Ledger
from jetfort.ledger.budget import SqlRequestBudget
from jetfort.ledger.schema import oauth_tokens, request_log
from jetfort.ledger.tokens import TokenStore
from tests.manual_clock import ManualClock


def _rotate(url: str, server: Any, lock: Any, rounds: int, errors: Any) -> None:
    store = TokenStore(Ledger.from_url(url, migrate_schema=False))
    for _ in range(rounds):
        with store.locked("fortnox_demo") as slot:
            assert slot.current is not None
            with lock:  # the "authorization server": a refresh token works exactly once
                if slot.current.refresh_token != server["refresh"]:
                    errors.append(f"spent token presented: v{slot.current.version}")
                    continue
                server["n"] += 1
                server["refresh"] = f"refresh-{server['n']}"
                new = server["refresh"]
            slot.save(access_token=f"access-{new}", refresh_token=new,
                      expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1))


def test_eight_processes_rotating_single_use_tokens_lose_none(ledger_url: str) -> None:
    ledger = Ledger.from_url(ledger_url)
    TokenStore(ledger).seed("fortnox_demo", refresh_token="refresh-0")
    ctx = mp.get_context("spawn")
    with ctx.Manager() as manager:
        server = manager.dict(refresh="refresh-0", n=0)
        lock, errors = manager.Lock(), manager.list()
        procs = [ctx.Process(target=_rotate, args=(ledger_url, server, lock, 7, errors)) for _ in range(8)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(120)
        assert [p.exitcode for p in procs] == [0] * 8
        assert list(errors) == []
        assert server["n"] == 56
        stored = TokenStore(ledger).get("fortnox_demo")
        assert stored is not None and stored.refresh_token == server["refresh"]
        assert stored.version == 57  # the seed plus 56 rotations


def test_tokens_are_encrypted_at_rest_and_hidden_from_repr(sqlite_url: str) -> None:
    ledger = Ledger.from_url(sqlite_url)
    token = TokenStore(ledger).seed("c", refresh_token="very-secret-refresh", access_token="very-secret-access")
    with ledger.engine.connect() as conn:
        raw = conn.execute(sa.select(oauth_tokens.c.refresh_token, oauth_tokens.c.access_token)).one()
    assert b"very-secret" not in bytes(raw[0]) and b"very-secret" not in bytes(raw[1])
    assert "very-secret" not in repr(token)


def test_failed_refresh_leaves_the_previous_token_in_place(sqlite_url: str) -> None:
    store = TokenStore(Ledger.from_url(sqlite_url))
    store.seed("c", refresh_token="r1")
    try:
        with store.locked("c"):
            raise ConnectionError("token endpoint unreachable")
    except ConnectionError:
        pass
    token = store.get("c")
    assert token is not None and token.refresh_token == "r1"


def _spend(url: str, count: int, polling: bool) -> None:
    budget = SqlRequestBudget(Ledger.from_url(url, migrate_schema=False), limit=10, window=0.5, purge=False)
    for _ in range(count):
        if polling:  # take a slot only now, sleep as told otherwise (as the other budgets' callers do)
            while (wait := budget.try_acquire("company-1")) > 0:
                time.sleep(wait)
        else:  # take a slot now or reserve the next free one and sleep until then
            budget.acquire("company-1")


def _stamps(ledger: Ledger) -> list[float]:
    with ledger.engine.connect() as conn:
        return sorted(conn.execute(sa.select(request_log.c.at)).scalars())


def _most_in_any_window(stamps: list[float], window: float) -> int:
    return max(sum(1 for t in stamps[i:] if t < start + window) for i, start in enumerate(stamps))


def test_processes_sharing_a_budget_never_exceed_it_in_any_window(ledger_url: str) -> None:
    """Eight processes, half reserving slots (acquire), half polling (try_acquire): both kinds of
    stamps together never put more than the limit in any window."""
    ledger = Ledger.from_url(ledger_url)
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_spend, args=(ledger_url, 10, n % 2 == 1)) for n in range(8)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0] * 8
    stamps = _stamps(ledger)
    assert len(stamps) == 80
    assert _most_in_any_window(stamps, 0.5) <= 10


def test_acquire_takes_one_trip_per_slot_and_returns_at_its_slot(ledger_url: str,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Ten callers in a row, 3 slots per 0.3 s, on a clock that moves only when a caller sleeps."""
    ledger = Ledger.from_url(ledger_url)
    clock = ManualClock()
    t0 = clock()
    budget = SqlRequestBudget(ledger, limit=3, window=0.3, purge=False, clock=clock, sleep=clock.sleep)
    trips: list[str] = []  # database transactions of the budget
    take = budget._take

    def counted(company: str, **kwargs: Any) -> float:
        trips.append(company)
        return take(company, **kwargs)

    monkeypatch.setattr(budget, "_take", counted)
    returned = []
    for _ in range(10):
        budget.acquire("c")
        returned.append(clock())
    assert len(trips) == 10  # a slot reserved ahead is slept for, not asked for again
    # three at once, then three each time the oldest three leave the window (0.3 s later)
    expected = [t0] * 3 + [t0 + 0.3] * 3 + [t0 + 0.6] * 3 + [t0 + 0.9]
    assert _stamps(ledger) == pytest.approx(expected, abs=1e-6)
    assert returned == pytest.approx(expected, abs=1e-6)  # each caller went on exactly at its slot
    assert clock.slept == pytest.approx([0.3, 0.3, 0.3], abs=1e-6)  # the 4th, 7th and 10th waited


def test_acquire_gives_up_past_its_timeout_without_taking_a_slot(ledger_url: str) -> None:
    ledger = Ledger.from_url(ledger_url)
    clock = ManualClock()
    budget = SqlRequestBudget(ledger, limit=1, window=60.0, clock=clock, sleep=clock.sleep)
    assert budget.acquire("c") == 0.0
    clock.advance(10.0)
    with pytest.raises(TimeoutError, match=r"'c' within 5\.0s"):
        budget.acquire("c", timeout=5.0)  # the slot is 50 s away
    assert clock.slept == []  # known at once: no sleeping towards a slot it cannot have
    assert len(_stamps(ledger)) == 1
    assert budget.acquire("c", timeout=50.0) == pytest.approx(50.0)  # within the timeout: reserved
    assert clock.slept == pytest.approx([50.0])


def test_sleeping_the_wait_try_acquire_returns_finds_the_slot_free(ledger_url: str) -> None:
    clock = ManualClock()
    budget = SqlRequestBudget(Ledger.from_url(ledger_url), limit=2, window=0.15, clock=clock)
    outcomes = []
    for _ in range(9):
        wait = budget.try_acquire("c")
        outcomes.append("ok" if wait == 0.0 else "full")
        if wait > 0:
            assert wait == pytest.approx(0.15, abs=0.001)  # until the older of the two leaves the window
            clock.advance(wait)
            assert budget.try_acquire("c") == 0.0  # one caller: nobody else could take it meanwhile
    # two slots, then full; the slot taken after the wait and the next one fill the window again
    assert outcomes == ["ok", "ok", "full", "ok", "full", "ok", "full", "ok", "full"]


def test_the_budget_leaves_sqlite_connections_as_durable_as_it_found_them(sqlite_url: str) -> None:
    ledger = Ledger.from_url(sqlite_url)
    with ledger.engine.connect() as conn:
        setting = conn.exec_driver_sql("PRAGMA synchronous").scalar()
    budget = SqlRequestBudget(ledger, limit=1, window=60.0)
    budget.try_acquire("c")
    budget.try_acquire("c")  # full: rolled back
    with pytest.raises(TimeoutError):
        budget.acquire("c", timeout=0)
    with ledger.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == setting
    # the budget's stamps go through its own connection, without the fsync of each commit
    assert budget._connection().cursor().execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    budget.close()


def test_other_companies_have_their_own_budget(sqlite_url: str) -> None:
    clock = ManualClock()
    budget = SqlRequestBudget(Ledger.from_url(sqlite_url), limit=2, window=60, clock=clock)
    assert [budget.try_acquire("a") for _ in range(2)] == [0.0, 0.0]
    assert budget.try_acquire("a") == pytest.approx(60.0, abs=0.001)
    assert budget.try_acquire("b") == 0.0
