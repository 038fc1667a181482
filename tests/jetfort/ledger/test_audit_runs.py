"""The audit's Airflow runs (stored once each in ``audit_runs`` since revision 0009): migrating a ledger
that already holds an audit keeps every row's run, and the downgrade writes them back; a run first named
in a write that rolled back is still named by the next. Oracles: what the rows held before, written with
plain SQL at the old revision, and the run ids the writes were given."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from jetfort.ledger import Ledger
from jetfort.ledger.engine import make_engine
from jetfort.ledger.migrate import current_revision, downgrade, upgrade

#: (source key, step, run id) as an older jetfort wrote them; None: a step no run did (the jetfort page)
OLD_AUDIT = [("se:1", "extract", "scheduled__2026-03-01T10:00:00+00:00"),
             ("se:2", "extract", "scheduled__2026-03-01T10:00:00+00:00"),
             ("se:1", "post", "manual__2026-03-01T10:20:00.123456+00:00"),
             ("se:1", "dismiss", None),
             ("se:2", "post", "scheduled__2026-03-01T10:00:00+00:00")]


def _old_ledger(url: str) -> sa.Engine:
    engine = make_engine(url)
    upgrade(engine, "0008")
    now = dt.datetime(2026, 3, 1, 10, 30, tzinfo=dt.UTC)
    with engine.begin() as conn:
        for key in ("se:1", "se:2"):
            conn.execute(sa.text("INSERT INTO records (tenant, kind, source_key, state, attempts, created_at, "
                                 "updated_at) VALUES ('acme', 'order', :k, 'posted', 0, :now, :now)"),
                         {"k": key, "now": now})
        for key, step, run_id in OLD_AUDIT:
            conn.execute(sa.text("INSERT INTO record_audit (record_id, at, step, state, run_id) SELECT id, :now, "
                                 ":step, 'posted', :run FROM records WHERE source_key = :k"),
                         {"k": key, "step": step, "run": run_id, "now": now})
    return engine


def test_an_existing_audit_keeps_its_runs_through_the_upgrade_and_back(ledger_url: str) -> None:
    engine = _old_ledger(ledger_url)
    upgrade(engine)
    assert current_revision(engine) == "0010"
    ledger = Ledger(engine)
    for key in ("se:1", "se:2"):
        assert [(a["step"], a["run_id"]) for a in ledger.audit("acme", "order", key)] == [
            (step, run_id) for k, step, run_id in OLD_AUDIT if k == key]
    assert set(ledger.audit_of_run("acme", "order", "scheduled__2026-03-01T10:00:00+00:00")) == {"se:1", "se:2"}
    with engine.connect() as conn:  # each run once
        assert conn.execute(sa.text("SELECT count(*) FROM audit_runs")).scalar() == 2

    # a run after the upgrade: an old run id again, and a new one
    ledger.transition("acme", "order", "se:2", "acknowledged", step="acknowledge",
                      run_id="scheduled__2026-03-01T10:00:00+00:00")
    ledger.transition("acme", "order", "se:1", "acknowledged", step="acknowledge", run_id="scheduled__later")
    downgrade(engine, "0008")
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT r.source_key, a.step, a.run_id FROM record_audit a "
                                    "JOIN records r ON r.id = a.record_id ORDER BY a.id")).tuples().all()
        tables = set(sa.inspect(conn).get_table_names())
    assert rows == [*OLD_AUDIT, ("se:2", "acknowledge", "scheduled__2026-03-01T10:00:00+00:00"),
                    ("se:1", "acknowledge", "scheduled__later")]
    assert "audit_runs" not in tables
    engine.dispose()


def test_a_run_first_named_in_a_rolled_back_transaction_is_still_named_by_the_next(ledger_url: str) -> None:
    """The run's ``audit_runs`` row went with the rollback; the next step of that run must write it again
    (a ledger that remembered it as written would leave the step without its run)."""
    ledger = Ledger.from_url(ledger_url)
    ledger.ensure_records("acme", "order", [("se:1", None), ("se:2", None)])
    unserialisable = {"x": object()}
    with pytest.raises(sa.exc.StatementError, match="type object is unsupported"):
        ledger.transition("acme", "order", "se:1", "mapped", step="map", detail=unserialisable, run_id="manual__first")
    with pytest.raises(TypeError, match="type object is unsupported"):  # the batch path serialises before it sends
        ledger.transition_many("acme", "order", [{"source_key": "se:2", "state": "mapped", "step": "map",
                                                  "detail": unserialisable, "run_id": "manual__second"}])
    assert ledger.audit("acme", "order", "se:1") == ledger.audit("acme", "order", "se:2") == []
    ledger.transition("acme", "order", "se:1", "mapped", step="map", run_id="manual__first")
    ledger.transition_many("acme", "order", [{"source_key": "se:2", "state": "mapped", "step": "map",
                                              "run_id": "manual__second"}])
    assert [a["run_id"] for a in ledger.audit("acme", "order", "se:1")] == ["manual__first"]
    assert [a["run_id"] for a in ledger.audit("acme", "order", "se:2")] == ["manual__second"]
    assert set(ledger.audit_of_run("acme", "order", "manual__second")) == {"se:2"}
