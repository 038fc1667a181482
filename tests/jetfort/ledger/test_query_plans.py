"""The ledger's periodic queries are answered from an index, on SQLite and on PostgreSQL: judged from
the databases' own query plans of the statements the ledger sends (captured as they are executed),
so a query that would read every record of a tenant as the ledger grows fails here, not at 1 M rows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa

from jetfort.ledger import Ledger
from jetfort.ledger.schema import cursors, quarantine, record_audit

ROWS = 2000


def _sent(ledger: Ledger, call: Callable[[], Any]) -> list[tuple[str, Any]]:
    """The SELECT statements (with their parameters) the ledger sent while ``call`` ran."""
    seen: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, parameters))

    sa.event.listen(ledger.engine, "before_cursor_execute", capture)
    try:
        call()
    finally:
        sa.event.remove(ledger.engine, "before_cursor_execute", capture)
    return seen


def _plan(ledger: Ledger, statement: str, parameters: Any) -> list[str]:
    """The database's plan of one statement, one line per step. On PostgreSQL sequential scans are
    priced out, as the planner would at scale (a small table is cheaper to read whole): the plan
    shows which conditions an index can answer."""
    with ledger.engine.connect() as conn:
        if ledger.dialect == "sqlite":
            rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
            return [str(row[-1]) for row in rows]
        conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
        return [str(row[0]) for row in conn.exec_driver_sql(f"EXPLAIN {statement}", parameters).all()]


def _filled(ledger_url: str) -> Ledger:
    """A ledger with two tenants' orders, its statistics up to date (as autovacuum keeps them)."""
    ledger = Ledger.from_url(ledger_url)
    now = dt.datetime.now(dt.UTC)
    for tenant in ("acme", "other"):
        ledger.ensure_records(tenant, "order", [(f"{n}", None) for n in range(ROWS)], state="posted")
    ids = [r.id for r in ledger.records("acme", "order")]
    with ledger.engine.begin() as conn:  # a past of runs, cursors and mostly resolved quarantine entries
        conn.execute(sa.insert(record_audit), [
            {"record_id": ids[n], "at": now, "step": "post", "state": "posted", "run_id": f"scheduled__{n % 100}"}
            for n in range(ROWS)])
        conn.execute(sa.insert(cursors), [
            {"tenant": f"t{n % 50}", "name": f"cursor{n}", "value": "x", "updated_at": now} for n in range(ROWS)])
        conn.execute(sa.insert(quarantine), [
            {"tenant": f"t{n % 50}" if n % 3 else "acme", "kind": "order", "source_key": f"{n}", "reason": "r",
             "message": "m", "first_at": now, "last_at": now, "resolved_at": now if n % 100 else None}
            for n in range(ROWS)])
        conn.exec_driver_sql("ANALYZE")
    return ledger


def test_the_monthly_cap_count_reads_only_the_months_records_from_its_index(ledger_url: str) -> None:
    ledger = _filled(ledger_url)
    month_start = dt.datetime.now(dt.UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    counted: list[int] = []
    sent = _sent(ledger, lambda: counted.append(
        ledger.count("acme", "order", ["posting", "posted", "acknowledged"], since=month_start)))
    assert counted == [ROWS]  # all were were written this month
    assert len(sent) == 1, sent
    plan = _plan(ledger, *sent[0])
    if ledger.dialect == "sqlite":  # e.g. SEARCH records USING COVERING INDEX ix_… (tenant=? AND … updated_at>?)
        assert any(line.startswith("SEARCH records USING") and "updated_at>" in line for line in plan), plan
        assert not any(line.startswith("SCAN records") for line in plan), plan
    else:  # the month's bound is an index condition, not a filter applied to every posted record
        assert any("Index Cond" in line and "updated_at" in line for line in plan), plan
        assert not any("Filter" in line and "updated_at" in line for line in plan), plan



def _index_conditions(ledger: Ledger, plan: list[str]) -> str:
    """What the plan's index look-ups are keyed on (SQLite: the SEARCH steps' terms; PostgreSQL: the
    Index Cond lines)."""
    if ledger.dialect == "sqlite":
        return " ".join(line[line.find("("):] for line in plan if line.startswith("SEARCH ") and "(" in line)
    return " ".join(line for line in plan if "Index Cond" in line)


#: what the orders, status and catalog runs and the jetfort page ask the ledger on every run, and the
#: column that makes each selective (an index must be keyed on it, not filter by it afterwards)
HOT: dict[str, tuple[Callable[[Ledger], Any], str]] = {
    "records of a batch": (lambda ledger: ledger.get_many("acme", "order", ["1", "2", "3"]), "source_key"),
    "one record": (lambda ledger: ledger.get("acme", "order", "7"), "source_key"),
    "what one run did": (lambda ledger: ledger.audit_of_run("acme", "order", "scheduled__x"), "run_id"),
    "open quarantine": (lambda ledger: ledger.open_quarantine("acme", "order"), "resolved_at"),
    "the audit of one order": (lambda ledger: ledger.audit("acme", "order", "7"), "source_key"),
    "cursors": (lambda ledger: ledger.get_cursors("t1", ["cursor1", "cursor51"]), "name"),
}


@pytest.mark.parametrize("name", sorted(HOT))
def test_the_runs_ledger_queries_are_keyed_on_their_selective_column(ledger_url: str, name: str) -> None:
    ledger = _filled(ledger_url)
    call, column = HOT[name]
    sent = _sent(ledger, lambda: call(ledger))
    assert len(sent) == 1, sent
    plan = _plan(ledger, *sent[0])
    assert column in _index_conditions(ledger, plan), plan
