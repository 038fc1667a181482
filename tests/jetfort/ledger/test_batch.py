"""Ledger.transition_many on SQLite and PostgreSQL: the batch path keeps the semantics of that many
Ledger.transition calls (compare-and-set per record, in order, target fields only when given,
count_attempt, one audit row per change that applied) - and so does its record-by-record fallback."""

from __future__ import annotations

import logging
import multiprocessing as mp
import random
from typing import Any

import pytest
import sqlalchemy as sa

from jetfort.ledger import Ledger
from jetfort.ledger import store as store_mod

T, K = "acme", "order"


def _audit(ledger: Ledger, key: str, tenant: str = T) -> list[tuple[Any, ...]]:
    return [(a["step"], a["state"], a["message"], a["payload"], a["run_id"])
            for a in ledger.audit(tenant, K, key)]


def _state(ledger: Ledger, key: str, tenant: str = T) -> tuple[Any, ...]:
    record = ledger.get(tenant, K, key)
    assert record is not None
    return (record.state, record.target_type, record.target_key, record.payload_hash, record.attempts,
            record.detail)


def test_mixed_batch_changes_only_the_records_whose_compare_and_set_holds(ledger_url: str) -> None:
    ledger = Ledger.from_url(ledger_url)
    ledger.ensure_records(T, K, [("se:1", None), ("se:2", None), ("se:3", None), ("se:4", None)])
    ledger.transition(T, K, "se:2", "mapped", step="map")
    before = ledger.get(T, K, "se:2")
    changed = ledger.transition_many(T, K, [
        {"source_key": "se:1", "state": "mapped", "step": "map", "expect": ["seen"], "message": "one"},
        {"source_key": "se:2", "state": "mapped", "step": "map", "expect": ["seen"], "message": "two"},
        {"source_key": "se:3", "state": "held", "step": "map", "message": "no expect: always"},
        {"source_key": "se:4", "state": "mapped", "step": "map", "expect": [], "message": "nothing expected"},
        {"source_key": "se:404", "state": "mapped", "step": "map", "message": "no such record"},
    ])
    assert changed == {"se:1", "se:3"}
    assert [_state(ledger, k)[0] for k in ("se:1", "se:2", "se:3", "se:4")] == ["mapped", "mapped", "held", "seen"]
    assert ledger.get(T, K, "se:2") == before  # the loser is untouched, updated_at included
    assert ledger.get(T, K, "se:404") is None
    assert _audit(ledger, "se:1") == [("map", "mapped", "one", None, None)]
    assert _audit(ledger, "se:2") == [("map", "mapped", None, None, None)]  # only the earlier transition
    assert _audit(ledger, "se:3") == [("map", "held", "no expect: always", None, None)]
    assert _audit(ledger, "se:4") == []


def test_a_key_given_twice_sees_what_its_first_change_left(ledger_url: str) -> None:
    ledger = Ledger.from_url(ledger_url)
    ledger.ensure_records(T, K, [("se:1", None), ("se:2", None)])
    ledger.transition(T, K, "se:2", "posting", step="post")
    changed = ledger.transition_many(T, K, [
        {"source_key": "se:1", "state": "posting", "step": "post", "expect": ["mapped", "seen"],
         "count_attempt": True, "message": "claim"},
        {"source_key": "se:2", "state": "posting", "step": "post", "expect": ["seen"], "message": "lost claim"},
        {"source_key": "se:1", "state": "posted", "step": "post", "expect": ["posting"], "target_type": "invoice",
         "target_key": "7", "payload": {"Invoice": {"n": 1}}, "message": "link"},
        {"source_key": "se:1", "state": "posting", "step": "post", "expect": ["mapped"], "message": "too late"},
        {"source_key": "se:2", "state": "posted", "step": "post", "expect": ["posting"], "target_key": "8",
         "message": "link 2"},
    ])
    assert changed == {"se:1", "se:2"}
    assert _state(ledger, "se:1") == ("posted", "invoice", "7", None, 1, None)
    assert _audit(ledger, "se:1") == [("post", "posting", "claim", None, None),
                                      ("post", "posted", "link", {"Invoice": {"n": 1}}, None)]
    assert _state(ledger, "se:2")[:3] == ("posted", None, "8")
    assert [a[2] for a in _audit(ledger, "se:2")] == [None, "link 2"]


def test_target_fields_are_only_overwritten_when_given(ledger_url: str) -> None:
    ledger = Ledger.from_url(ledger_url)
    ledger.ensure_records(T, K, [("se:1", {"a": 1}), ("se:2", {"a": 2})])
    for key in ("se:1", "se:2"):
        ledger.transition(T, K, key, "posted", step="post", target_type="invoice", target_key=f"T{key}",
                          payload_hash="h0", detail={"kept": key})
    assert ledger.transition_many(T, K, [
        {"source_key": "se:1", "state": "acknowledged", "step": "acknowledge"},
        {"source_key": "se:2", "state": "acknowledged", "step": "acknowledge", "target_key": "N2",
         "detail": {"new": True}},
    ]) == {"se:1", "se:2"}
    assert _state(ledger, "se:1") == ("acknowledged", "invoice", "Tse:1", "h0", 0, {"kept": "se:1"})
    assert _state(ledger, "se:2") == ("acknowledged", "invoice", "N2", "h0", 0, {"new": True})


def test_count_attempt_counts_each_change_that_applied(ledger_url: str) -> None:
    ledger = Ledger.from_url(ledger_url)
    ledger.ensure_records(T, K, [("se:1", None), ("se:2", None), ("se:3", None)])
    changed = ledger.transition_many(T, K, [
        {"source_key": "se:1", "state": "posting", "step": "post", "count_attempt": True},
        {"source_key": "se:1", "state": "posting", "step": "post", "expect": ["posting"], "count_attempt": True},
        {"source_key": "se:2", "state": "posting", "step": "post", "expect": ["mapped"], "count_attempt": True},
        {"source_key": "se:3", "state": "posting", "step": "post"},
    ])
    assert changed == {"se:1", "se:3"}
    assert [_state(ledger, k)[4] for k in ("se:1", "se:2", "se:3")] == [2, 0, 0]
    ledger.transition_many(T, K, [{"source_key": "se:1", "state": "posting", "step": "post", "count_attempt": True}])
    assert _state(ledger, "se:1")[4] == 3


def test_audit_rows_carry_each_changes_own_message_payload_and_run(ledger_url: str) -> None:
    ledger = Ledger.from_url(ledger_url)
    keys = [f"se:{n}" for n in range(30)]
    ledger.ensure_records(T, K, [(k, None) for k in keys])
    changes = [{"source_key": k, "state": "mapped", "step": "map", "expect": ["seen"], "message": f"m{n}",
                "payload": {"n": n, "rows": [n] * (n % 3)} if n % 2 else None, "run_id": f"run-{n % 4}"}
               for n, k in enumerate(keys)]
    assert ledger.transition_many(T, K, changes) == set(keys)
    for n, k in enumerate(keys):
        assert _audit(ledger, k) == [("map", "mapped", f"m{n}", changes[n]["payload"], f"run-{n % 4}")]
    with ledger.engine.connect() as conn:
        ats = conn.execute(sa.text("SELECT DISTINCT at FROM record_audit")).all()
        updated = conn.execute(sa.text("SELECT DISTINCT updated_at FROM records")).all()
    assert len(ats) == 1 and len(updated) == 1  # one moment for the batch


def test_an_empty_batch_or_a_bad_change_writes_nothing(ledger_url: str) -> None:
    ledger = Ledger.from_url(ledger_url)
    ledger.ensure_records(T, K, [("se:1", None)])
    assert ledger.transition_many(T, K, []) == set()
    with pytest.raises(TypeError):
        ledger.transition_many(T, K, [{"source_key": "se:1", "state": "mapped", "step": "map"},
                                      {"source_key": "se:1", "state": "x", "step": "map", "colour": "blue"}])
    with pytest.raises(TypeError):
        ledger.transition_many(T, K, [{"source_key": "se:1", "state": "mapped"}])  # no step
    assert _state(ledger, "se:1")[0] == "seen" and _audit(ledger, "se:1") == []


def _random_batch(rng: random.Random, keys: list[str]) -> list[dict[str, Any]]:
    states = ["seen", "mapped", "posting", "posted", "held"]
    changes = []
    for _ in range(len(keys) * 2):
        change: dict[str, Any] = {"source_key": rng.choice([*keys, "se:missing"]), "state": rng.choice(states),
                                  "step": rng.choice(["map", "post", "adopt"])}
        if rng.random() < 0.7:
            change["expect"] = rng.sample(states, rng.randint(0, 2))
        for name in ("target_type", "target_key", "payload_hash"):
            if rng.random() < 0.3:
                change[name] = f"{name[:3]}{rng.randint(0, 9)}"
        if rng.random() < 0.3:
            change["detail"] = {"v": rng.randint(0, 9), "nested": {"x": [1, "two", None]}}
        if rng.random() < 0.5:
            change["payload"] = {"p": rng.randint(0, 9)} if rng.random() < 0.8 else [1, 2]
        if rng.random() < 0.5:
            change["message"] = f"msg {rng.randint(0, 99)}"
        if rng.random() < 0.5:
            change["run_id"] = f"run {rng.randint(0, 3)}"
        if rng.random() < 0.3:
            change["count_attempt"] = True
        changes.append(change)
    return changes


def _everything(ledger: Ledger, tenant: str) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """What a tenant's records and audit rows hold, as stored (JSON as text), except ids and times."""
    with ledger.engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT source_key, state, target_type, target_key, payload_hash, attempts, CAST(detail AS TEXT)"
            " FROM records WHERE tenant = :t ORDER BY source_key"), {"t": tenant}).all()
        audit = conn.execute(sa.text(
            "SELECT r.source_key, a.step, a.state, a.message, CAST(a.payload AS TEXT), u.run_id,"
            " a.payload IS NULL FROM record_audit a JOIN records r ON r.id = a.record_id"
            " LEFT JOIN audit_runs u ON u.id = a.run WHERE r.tenant = :t ORDER BY a.id"), {"t": tenant}).all()
    return [tuple(r) for r in rows], [tuple(a) for a in audit]


def test_batches_store_exactly_what_record_by_record_transitions_store(ledger_url: str) -> None:
    """Random batches (keys given several times, compare-and-set losers, every optional field) on two
    tenants: once through the batch path, once record by record - the stored rows must be the same."""
    ledger = Ledger.from_url(ledger_url)
    rng = random.Random(20261129)
    keys = [f"se:{n}" for n in range(12)]
    for tenant in ("batch", "each"):
        ledger.ensure_records(tenant, K, [(k, {"n": k}) for k in keys])
    for _ in range(6):
        changes = _random_batch(rng, keys)
        by_batch = ledger.transition_many("batch", K, changes)
        by_each = ledger._transition_each("each", K, [store_mod._change(**c) for c in changes])
        assert by_batch == by_each
    assert _everything(ledger, "batch") == _everything(ledger, "each")
    assert len(_everything(ledger, "batch")[1]) > 20  # the batches did change things


def test_a_batch_that_does_not_update_what_it_decided_runs_again_record_by_record(
        ledger_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    ledger = Ledger.from_url(ledger_url)
    ledger.ensure_records(T, K, [("se:1", None), ("se:2", None)])
    sqlite_update, pg_update = store_mod._sqlite_batch_update, store_mod._postgresql_batch_update
    # the guarded UPDATEs match no row, as if the rows had changed after they were read
    monkeypatch.setattr(store_mod, "_sqlite_batch_update", lambda fields: sqlite_update(fields) + " AND 1 = 0")
    monkeypatch.setattr(store_mod, "_postgresql_batch_update", lambda fields: sa.text(
        pg_update(fields).text.replace(" RETURNING", " AND 1 = 0 RETURNING")))
    with caplog.at_level(logging.WARNING, logger="jetfort.ledger.store"):
        changed = ledger.transition_many(T, K, [
            {"source_key": "se:1", "state": "mapped", "step": "map", "expect": ["seen"], "message": "a"},
            {"source_key": "se:2", "state": "mapped", "step": "map", "expect": ["posted"], "message": "b"},
        ])
    assert "record by record" in caplog.text
    assert changed == {"se:1"}
    assert _state(ledger, "se:1")[0] == "mapped" and _state(ledger, "se:2")[0] == "seen"
    assert _audit(ledger, "se:1") == [("map", "mapped", "a", None, None)]  # once: the batch rolled back


def _claim(url: str, worker: int, rounds: int, size: int, barrier: Any, queue: Any) -> None:
    ledger = Ledger.from_url(url, migrate_schema=False)
    rng = random.Random(worker)
    claimed: list[str] = []
    fallbacks: list[logging.LogRecord] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = fallbacks.append  # type: ignore[method-assign]
    logging.getLogger("jetfort.ledger.store").addHandler(handler)
    for r in range(rounds):
        keys = [f"r{r}:{n}" for n in range(size)]
        rng.shuffle(keys)  # every worker locks in its own order: no deadlock, no double claim
        barrier.wait(60)
        claimed += ledger.transition_many(T, K, [
            {"source_key": k, "state": "posting", "step": "post", "expect": ["mapped"], "count_attempt": True,
             "run_id": f"w{worker}", "message": f"claimed by {worker}"} for k in keys])
    queue.put((worker, claimed, len(fallbacks)))


def test_processes_claiming_the_same_keys_in_batches_claim_each_once(ledger_url: str) -> None:
    ledger = Ledger.from_url(ledger_url)
    rounds, size, workers = 4, 60, 4
    for r in range(rounds):
        keys = [f"r{r}:{n}" for n in range(size)]
        ledger.ensure_records(T, K, [(k, None) for k in keys], state="mapped")
    ctx = mp.get_context("spawn")
    queue: Any = ctx.Queue()
    barrier = ctx.Barrier(workers)
    procs = [ctx.Process(target=_claim, args=(ledger_url, w, rounds, size, barrier, queue)) for w in range(workers)]
    for p in procs:
        p.start()
    reports = [queue.get(timeout=180) for _ in procs]
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    # the rows were locked before deciding: no batch found them changed and had to start over
    assert [fallbacks for _, _, fallbacks in reports] == [0] * workers
    claims = {worker: claimed for worker, claimed, _ in reports}
    everyone = [k for c in claims.values() for k in c]
    assert len(everyone) == len(set(everyone)) == rounds * size
    for worker, keys in claims.items():
        for key in keys[::5]:  # the audit names the worker that claimed it, once
            assert [(a["run_id"], a["message"]) for a in ledger.audit(T, K, key)] == \
                [(f"w{worker}", f"claimed by {worker}")]
    assert ledger.count(T, K, ["posting"]) == rounds * size
    assert {r.attempts for r in ledger.records(T, K)} == {1}
