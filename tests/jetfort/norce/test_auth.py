"""Norce client-credentials tokens: one request per token lifetime, shared through the ledger, 429 waited out."""

from __future__ import annotations

import datetime as dt
import multiprocessing as mp
from typing import Any
from urllib.parse import parse_qs

import pytest
import requests
import sqlalchemy as sa

from jetfort.fortnox.auth import MemoryTokenStore
from jetfort.ledger import Ledger
from jetfort.ledger.schema import oauth_tokens
from jetfort.ledger.tokens import TokenStore
from jetfort.norce.auth import NorceTokenProvider
from jetfort.norce.errors import NorceAuthError, NorceServerError, NorceTransientError
from tests.jetfort.norce.conftest import SECRET, Scripted, TokenServer, make_settings


def provider(session: requests.Session, store: Any = None, **kwargs: Any) -> tuple[NorceTokenProvider, list[float]]:
    waits: list[float] = []
    p = NorceTokenProvider(make_settings(), store if store is not None else MemoryTokenStore(), "norce:norce_demo",
                           session=session, sleep=waits.append, **kwargs)
    return p, waits


def test_token_request_is_a_client_credentials_form_with_the_environment_as_scope(
        scripted: Scripted, session: requests.Session) -> None:
    p, _ = provider(session)
    assert p.access_token() == "token-1"
    (sent,) = scripted.token_sent
    assert sent.method == "POST"
    assert sent.url == "https://demoshop.api-se.stage.norce.tech/identity/1.0/connect/token"
    assert sent.headers["Content-Type"] == "application/x-www-form-urlencoded"
    form = parse_qs(str(sent.body))
    assert form == {"grant_type": ["client_credentials"], "client_id": ["jetfort-demo"],
                    "client_secret": [SECRET], "scope": ["stage"]}


def test_token_is_reused_by_later_calls_and_by_other_providers_on_the_store(
        scripted: Scripted, session: requests.Session) -> None:
    store = MemoryTokenStore()
    first, _ = provider(session, store)
    second, _ = provider(session, store)  # another task in the same worker
    assert [first.access_token(), first.access_token(), second.access_token()] == ["token-1"] * 3
    assert len(scripted.token_sent) == 1


def test_expires_in_is_honoured_and_renewal_starts_60_seconds_early(
        scripted: Scripted, session: requests.Session) -> None:
    store = MemoryTokenStore()
    scripted.token(body={"access_token": "short", "expires_in": 90})
    p, _ = provider(session, store)
    before = dt.datetime.now(dt.UTC)
    assert p.access_token() == "short"
    stored = store.get("norce:norce_demo")
    assert stored is not None and stored.expires_at is not None
    assert dt.timedelta(seconds=89) <= stored.expires_at - before <= dt.timedelta(seconds=92)
    # 90 s token: usable now (more than 60 s left); once under 60 s left, the next call renews it
    with store.locked("norce:norce_demo") as slot:
        slot.save(access_token="short", refresh_token=None,
                  expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=59))
    fresh, _ = provider(session, store)
    assert fresh.access_token() == "token-1"
    assert len(scripted.token_sent) == 2


def test_429_from_the_token_endpoint_waits_as_told_and_then_succeeds(
        scripted: Scripted, session: requests.Session) -> None:
    scripted.token(429, {"error": "rate"}, {"Retry-After": "7"})
    scripted.token(429, "slow down")
    p, waits = provider(session, backoff=2.0)
    assert p.access_token() == "token-1"
    assert waits == [7.0, 4.0]  # Retry-After, then the second step of the backoff (2 s, 4 s, ...)
    assert len(scripted.token_sent) == 3


def test_429_that_persists_is_a_bounded_transient_error_naming_the_limit(
        scripted: Scripted, session: requests.Session) -> None:
    for _ in range(10):
        scripted.token(429, "", {"Retry-After": "1"})
    p, waits = provider(session, max_attempts=3)
    with pytest.raises(NorceTransientError) as err:
        p.access_token()
    assert isinstance(err.value, NorceServerError) and err.value.status_code == 429
    assert "3 requests a minute" in str(err.value)
    assert len(scripted.token_sent) == 3 and waits == [1.0, 1.0]
    assert err.value.retryable


def test_invalid_client_is_an_auth_error_without_the_secret_and_not_retried(
        scripted: Scripted, session: requests.Session) -> None:
    scripted.token(400, {"error": "invalid_client", "error_description": f"bad secret {SECRET}"})
    p, waits = provider(session)
    with pytest.raises(NorceAuthError) as err:
        p.access_token()
    assert "invalid_client" in str(err.value) and "norce_demo" in str(err.value)
    assert SECRET not in str(err.value) and SECRET not in repr(err.value)
    assert len(scripted.token_sent) == 1 and waits == []
    assert not err.value.retryable


def test_invalidate_fetches_a_new_token_unless_another_worker_already_did(
        scripted: Scripted, session: requests.Session) -> None:
    store = MemoryTokenStore()
    p, _ = provider(session, store)
    assert p.access_token() == "token-1"
    p.invalidate("token-1")
    assert p.access_token() == "token-2"
    assert len(scripted.token_sent) == 2
    # another worker renewed meanwhile: a 401 on the old token picks up theirs, no token request
    with store.locked("norce:norce_demo") as slot:
        slot.save(access_token="theirs", refresh_token=None,
                  expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1))
    p.invalidate("token-2")
    assert p.access_token() == "theirs"
    assert len(scripted.token_sent) == 2


class StaleReads(MemoryTokenStore):
    """A store whose unlocked read came just before another process saved its token."""

    def get(self, key: str) -> Any:
        return None


def test_the_store_is_read_again_inside_the_lock(scripted: Scripted, session: requests.Session) -> None:
    store = StaleReads()
    with store.locked("norce:norce_demo") as slot:  # another process renewed a moment ago
        slot.save(access_token="renewed-elsewhere", refresh_token=None,
                  expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1))
    p, _ = provider(session, store)
    assert p.access_token() == "renewed-elsewhere"
    assert scripted.token_sent == []


def test_the_token_is_encrypted_in_the_ledger_and_read_by_a_new_process_store(
        sqlite_url: str, scripted: Scripted, session: requests.Session) -> None:
    scripted.token(body={"access_token": "plain-token-abcdef-123456", "expires_in": 3600})
    ledger = Ledger.from_url(sqlite_url)
    p, _ = provider(session, TokenStore(ledger))
    assert p.access_token() == "plain-token-abcdef-123456"
    with ledger.engine.connect() as conn:
        raw = conn.execute(sa.select(oauth_tokens.c.access_token).where(
            oauth_tokens.c.key == "norce:norce_demo")).scalar_one()
    assert b"plain-token" not in bytes(raw)
    other, _ = provider(session, TokenStore(Ledger.from_url(sqlite_url, migrate_schema=False)))
    assert other.access_token() == "plain-token-abcdef-123456"
    assert len(scripted.token_sent) == 1


def _need_token(base: str, ledger_url: str, barrier: Any, results: Any) -> None:
    """One worker process: its own ledger handle and provider, asking at the same moment as the others."""
    store = TokenStore(Ledger.from_url(ledger_url, migrate_schema=False))
    p = NorceTokenProvider(make_settings(base_url=base), store, "norce:norce_demo")
    barrier.wait(60)
    results.put(p.access_token())


def test_eight_processes_needing_a_token_at_once_make_one_token_request(
        ledger_url: str, token_server: tuple[str, TokenServer]) -> None:
    """On SQLite even the unlocked read waits for the writer; on PostgreSQL only the re-read inside the
    row lock stops the waiting processes (test_the_store_is_read_again_inside_the_lock pins that)."""
    base, server = token_server
    Ledger.from_url(ledger_url)  # migrated once, before the workers start
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["jetfort.norce.auth", "jetfort.ledger.tokens", "tests.jetfort.norce.test_auth"])
    barrier, results = ctx.Barrier(8), ctx.Queue()
    procs = [ctx.Process(target=_need_token, args=(base, ledger_url, barrier, results)) for _ in range(8)]
    for proc in procs:
        proc.start()
    tokens = [results.get(timeout=60) for _ in procs]
    for proc in procs:
        proc.join(30)
    assert [proc.exitcode for proc in procs] == [0] * 8
    assert server.requests == 1, (server.requests, tokens)
    assert tokens == ["shared-1"] * 8
    assert server.forms[0]["scope"] == "stage"
