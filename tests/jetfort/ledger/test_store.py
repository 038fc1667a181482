"""Ledger behaviour on SQLite and PostgreSQL: links, compare-and-set, audit, quarantine, cursors."""

from __future__ import annotations

import multiprocessing as mp

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from jetfort.ledger import Ledger
from jetfort.ledger.migrate import current_revision
from jetfort.ledger.schema import metadata


def test_migrated_schema_matches_the_tables_the_code_uses(ledger_url: str) -> None:
    ledger = Ledger.from_url(ledger_url)
    assert current_revision(ledger.engine) == "0010"
    with ledger.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"version_table": "jetfort_alembic_version"})
        diff = compare_metadata(ctx, metadata)
    assert diff == []


def test_cursor_keeps_a_long_json_value(ledger_url: str) -> None:
    """PostgreSQL enforces column lengths (SQLite does not): the orders flow keeps JSON in cursors."""
    ledger = Ledger.from_url(ledger_url)
    value = "{" + '"1001": null, ' * 300 + '"x": 1}'
    name = "customer:email:" + "a" * 200 + "@example.se"
    ledger.set_cursor("acme", name, value)
    assert ledger.get_cursor("acme", name) == value


def test_cursors_are_read_many_at_once(ledger_url: str) -> None:
    ledger = Ledger.from_url(ledger_url)
    for i in range(7):
        ledger.set_cursor("acme", f"customer:email:b{i}@example.se:SEVAT", str(100 + i))
    ledger.set_cursor("other", "customer:email:b1@example.se:SEVAT", "999")  # another tenant's
    ledger.set_cursor("acme", "customer:email:gone@example.se:SEVAT", "")  # forgotten: empty value
    names = [f"customer:email:b{i}@example.se:SEVAT" for i in (1, 3, 5, 9)] + ["customer:email:gone@example.se:SEVAT"]
    found = ledger.get_cursors("acme", names + names[:2], chunk=2)  # duplicates and several chunks
    assert found == {"customer:email:b1@example.se:SEVAT": "101", "customer:email:b3@example.se:SEVAT": "103",
                     "customer:email:b5@example.se:SEVAT": "105", "customer:email:gone@example.se:SEVAT": ""}
    assert ledger.get_cursors("acme", []) == {}


def test_migrate_twice_is_harmless(ledger_url: str) -> None:
    ledger = Ledger.from_url(ledger_url)
    ledger.ensure_record("acme", "order", "se:1")
    ledger.migrate()
    assert ledger.get("acme", "order", "se:1") is not None


def test_link_is_kept_and_compare_and_set_refuses_a_second_post(ledger_url: str) -> None:
    ledger = Ledger.from_url(ledger_url)
    first = ledger.ensure_record("acme", "order", "se:1001")
    again = ledger.ensure_record("acme", "order", "se:1001", state="mapped")
    assert first.id == again.id and again.state == "seen"

    assert ledger.transition("acme", "order", "se:1001", "posted", step="post", expect=["seen"],
                             target_type="invoice", target_key="42", payload={"Invoice": {"x": 1}})
    assert not ledger.transition("acme", "order", "se:1001", "posted", step="post", expect=["seen"],
                                 target_key="43")
    ledger.transition("acme", "order", "se:1001", "acknowledged", step="acknowledge")
    record = ledger.get("acme", "order", "se:1001")
    assert record is not None
    assert (record.state, record.target_type, record.target_key) == ("acknowledged", "invoice", "42")
    steps = [(a["step"], a["state"]) for a in ledger.audit("acme", "order", "se:1001")]
    assert steps == [("post", "posted"), ("acknowledge", "acknowledged")]
    assert ledger.audit("acme", "order", "se:1001")[0]["payload"] == {"Invoice": {"x": 1}}


def test_tenants_do_not_see_each_other(ledger_url: str) -> None:
    ledger = Ledger.from_url(ledger_url)
    ledger.ensure_record("acme", "order", "se:1")
    ledger.ensure_record("globex", "order", "se:1", state="posted")
    assert [r.tenant for r in ledger.records("acme", "order")] == ["acme"]
    assert ledger.count("globex", "order", ["posted"]) == 1
    assert ledger.count("acme", "order", ["posted"]) == 0


def test_quarantine_counts_attempts_and_reopens_after_resolve(ledger_url: str) -> None:
    ledger = Ledger.from_url(ledger_url)
    ledger.quarantine("acme", "order", "se:7", reason="unknown_article", field="rows[2].article_number",
                      message="article 'X-1' does not exist in Fortnox", code="2001302")
    ledger.quarantine("acme", "order", "se:7", reason="unknown_article", field="rows[2].article_number",
                      message="article 'X-1' does not exist in Fortnox", code="2001302")
    (entry,) = ledger.open_quarantine("acme")
    assert (entry.attempts, entry.field, entry.code) == (2, "rows[2].article_number", "2001302")
    record = ledger.get("acme", "order", "se:7")
    assert record is not None and record.state == "quarantined"

    assert ledger.resolve_quarantine("acme", "order", "se:7")
    assert ledger.open_quarantine("acme") == []
    assert not ledger.resolve_quarantine("acme", "order", "se:7")
    ledger.quarantine("acme", "order", "se:7", reason="total_mismatch", message="shop 100.00, Fortnox 99.00")
    (entry,) = ledger.open_quarantine("acme", kind="order")
    assert entry.reason == "total_mismatch" and entry.attempts == 3


def test_cursor_round_trip(ledger_url: str) -> None:
    ledger = Ledger.from_url(ledger_url)
    assert ledger.get_cursor("acme", "fortnox_orders") is None
    ledger.set_cursor("acme", "fortnox_orders", "2026-11-01 10:00")
    ledger.set_cursor("acme", "fortnox_orders", "2026-11-02 10:00")
    assert ledger.get_cursor("acme", "fortnox_orders") == "2026-11-02 10:00"


def test_snapshot_keeps_what_jetfort_wrote_apart_from_what_it_saw(ledger_url: str) -> None:
    ledger = Ledger.from_url(ledger_url)
    ledger.save_snapshot("acme", "jetshop", "stock", [("A-1", "h1", {"stock": 5})], written=True)
    ledger.save_snapshot("acme", "jetshop", "stock", [("A-1", "h2", {"stock": 4}), ("A-2", "h3", None)])
    assert ledger.snapshot("acme", "jetshop", "stock") == {"A-1": ("h2", "h1"), "A-2": ("h3", None)}
    assert ledger.snapshot("acme", "fortnox", "stock") == {}


def _race(url: str, worker: int, queue: mp.Queue) -> None:  # type: ignore[type-arg]
    ledger = Ledger.from_url(url, migrate_schema=False)
    wins = 0
    for n in range(20):
        ledger.ensure_record("acme", "order", f"se:{n}")
        if ledger.transition("acme", "order", f"se:{n}", "posted", step="post", expect=["seen"],
                             target_key=f"w{worker}"):
            wins += 1
    queue.put(wins)


def test_only_one_of_many_processes_wins_each_transition(ledger_url: str) -> None:
    Ledger.from_url(ledger_url)
    ctx = mp.get_context("spawn")
    queue: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
    procs = [ctx.Process(target=_race, args=(ledger_url, w, queue)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    assert sum(queue.get() for _ in procs) == 20
    ledger = Ledger.from_url(ledger_url, migrate_schema=False)
    audits = [len(ledger.audit("acme", "order", f"se:{n}")) for n in range(20)]
    assert audits == [1] * 20


def test_sqlite_ledger_uses_wal_so_readers_do_not_block(sqlite_url: str) -> None:
    ledger = Ledger.from_url(sqlite_url)
    with ledger.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


@pytest.mark.parametrize("bad", ["", "not-a-url"])
def test_bad_url_fails_with_a_clear_error(bad: str) -> None:
    with pytest.raises(sa.exc.ArgumentError):
        Ledger.from_url(bad)


def test_audit_of_run_lists_what_one_run_did_per_record_in_order(ledger_url: str) -> None:
    ledger = Ledger.from_url(ledger_url)
    for key in ("se:1", "se:2", "se:3"):
        ledger.ensure_record("acme", "order", key)
    ledger.ensure_record("other", "order", "se:1")
    ledger.transition("acme", "order", "se:1", "mapped", step="map", run_id="run-a")
    ledger.transition("acme", "order", "se:1", "posted", step="post", target_type="invoice", target_key="17",
                      detail={"order_number": "1"}, run_id="run-b")  # a later run posts it
    ledger.transition("acme", "order", "se:2", "mapped", step="map", run_id="run-b")
    ledger.transition("acme", "order", "se:2", "quarantined", step="quarantine", message="vat: 7 %", run_id="run-b")
    ledger.transition("acme", "order", "se:3", "mapped", step="map", run_id="run-a")
    ledger.transition("other", "order", "se:1", "posted", step="post", run_id="run-b")  # another tenant
    did = ledger.audit_of_run("acme", "order", "run-b")
    assert set(did) == {"se:1", "se:2"}
    assert did["se:1"]["steps"] == [("post", "posted", "")]
    assert (did["se:1"]["target_type"], did["se:1"]["target_key"]) == ("invoice", "17")
    assert did["se:2"]["steps"] == [("map", "mapped", ""), ("quarantine", "quarantined", "vat: 7 %")]
    assert ledger.audit_of_run("acme", "order", "run-c") == {}
