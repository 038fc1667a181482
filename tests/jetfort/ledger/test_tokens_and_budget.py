"""Cross-process guarantees: no refresh token lost, no budget window over its limit."""

from __future__ import annotations

import datetime as dt
import multiprocessing as mp
from typing import Any

import sqlalchemy as sa

from jetfort.ledger import Ledger
from jetfort.ledger.budget import SqlRequestBudget
from jetfort.ledger.schema import oauth_tokens, request_log
from jetfort.ledger.tokens import TokenStore


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


def _spend(url: str, count: int) -> None:
    budget = SqlRequestBudget(Ledger.from_url(url, migrate_schema=False), limit=10, window=0.5, purge=False)
    for _ in range(count):
        budget.acquire("company-1")


def test_processes_sharing_a_budget_never_exceed_it_in_any_window(ledger_url: str) -> None:
    ledger = Ledger.from_url(ledger_url)
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_spend, args=(ledger_url, 15)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0] * 4
    with ledger.engine.connect() as conn:
        stamps = sorted(conn.execute(sa.select(request_log.c.at)).scalars())
    assert len(stamps) == 60
    worst = max(sum(1 for t in stamps[i:] if t < start + 0.5) for i, start in enumerate(stamps))
    assert worst <= 10


def test_other_companies_have_their_own_budget(sqlite_url: str) -> None:
    budget = SqlRequestBudget(Ledger.from_url(sqlite_url), limit=2, window=60)
    assert [budget.try_acquire("a") for _ in range(2)] == [0.0, 0.0]
    assert budget.try_acquire("a") > 0
    assert budget.try_acquire("b") == 0.0
