"""The ledger's periodic queries are answered from an index, on SQLite and on PostgreSQL: judged from
the databases' own query plans of the statements the ledger sends (captured as they are executed),
so a query that would read every record of a tenant as the ledger grows fails here, not at 1 M rows.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa

from jetfort.ledger import Ledger, budget
from jetfort.ledger.retention import RetentionPolicy, compact
from jetfort.ledger.schema import audit_runs, cursors, quarantine, record_audit
from jetfort.ledger.tokens import TokenStore
from jetfort.onboard.consent import ConsentRefused, FortnoxConsent
from jetfort.ui import data

ROWS = 2000


def _sent(ledger: Ledger, call: Callable[[], Any]) -> list[tuple[str, Any]]:
    """The SELECT statements, and the UPDATE and DELETE statements with a WHERE clause (with their
    parameters), the ledger sent while ``call`` ran."""
    seen: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT") or (
                not many and re.match(r"\s*(UPDATE|DELETE)\b", statement, re.I) and re.search(r"\bWHERE\b", statement, re.I)):
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
        conn.execute(sa.insert(audit_runs), [{"run_id": f"scheduled__{n}"} for n in range(100)])
        runs = dict(conn.execute(sa.select(audit_runs.c.run_id, audit_runs.c.id)).tuples().all())
        conn.execute(sa.insert(record_audit), [
            {"record_id": ids[n], "at": now, "step": "post", "state": "posted", "run": runs[f"scheduled__{n % 100}"]}
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


#: tables read whole on purpose, each with its size: the jetfort page's token health lists a company's tokens by
#: key prefix (LIKE, which no btree index serves under PostgreSQL's default collation)
SMALL_TABLES = {"oauth_tokens": "one row per Fortnox or Norce connection"}


def workload(ledger: Ledger) -> None:
    """The ledger API the orders, status and catalog flows use, on a few records, and the retention."""
    since = dt.datetime.now(dt.UTC) - dt.timedelta(days=30)
    ledger.ensure_records("t1", "order", [(f"se:{i}", {"order_number": str(i)}) for i in range(20)])
    ledger.ensure_record("t1", "order", "se:99")
    ledger.get("t1", "order", "se:1")
    ledger.get_many("t1", "order", ["se:1", "se:2"])
    ledger.transition("t1", "order", "se:1", "posted", step="post", expect=["seen"], target_type="invoice",
                      target_key="7", run_id="run-1")
    ledger.transition_many("t1", "order", [{"source_key": "se:2", "state": "posted", "step": "post",
                                            "run_id": "run-1"}])
    ledger.records("t1", "order", ["posted"])
    ledger.count("t1", "order", ["posted"], since=since)
    ledger.audit("t1", "order", "se:1")
    ledger.audit_of_run("t1", "order", "run-1")
    ledger.quarantine("t1", "order", "se:3", reason="invalid_value", message="bad", field="customer.email")
    ledger.open_quarantine("t1", "order")
    ledger.open_quarantine("t1")
    ledger.resolve_quarantine("t1", "order", "se:3")
    ledger.set_cursor("t1", "orders:since", "x")
    ledger.get_cursor("t1", "orders:since")
    ledger.get_cursors("t1", ["orders:since", "other"])
    ledger.save_snapshot("t1", "shop", "article", [("1001", "h1", {"n": 1})])
    ledger.snapshot("t1", "shop", "article")
    # the shop's order push inbox (Norce)
    ledger.inbox_put("norce", "r1", {"OrderNo": "1"})
    ledger.inbox_get("norce", "r1")
    ledger.inbox_pending("norce")
    ledger.inbox_count_pending("norce")
    ledger.inbox_note_error("norce", "r1", "bad")
    ledger.inbox_mark_consumed("norce", ["r1"])
    # OAuth tokens and consents
    tokens = TokenStore(ledger)
    tokens.seed("fortnox:co:client", refresh_token="r", access_token="a")
    tokens.get("fortnox:co:client")
    consent = FortnoxConsent(ledger)
    consent.recent("t1")
    with pytest.raises(ConsentRefused):
        consent.complete(user_id="u", state="unknown", code="c")
    # what the jetfort page reads on every load
    data.open_entries(ledger, ["t1"], tenant="t1")
    data.reasons(ledger, ["t1"])
    data.counts(ledger, "t1", "Europe/Stockholm")
    data.trail(ledger, "t1", "se:1")
    data.related_records(ledger, "t1", "se:1")
    data.token_health(ledger, "co")
    data.budget_use(ledger, "co", 5.0, 0.0)
    data.notes(ledger, "t1", ["order"], "se:3")
    # the daily retention (every record's audit, every tenant's consents)
    compact(ledger, RetentionPolicy(audit_payload_days=1), now=dt.datetime.now(dt.UTC) + dt.timedelta(days=2))
    compact(ledger, RetentionPolicy(audit_payload_days=1), now=dt.datetime.now(dt.UTC) + dt.timedelta(days=3))


def budget_statements(ledger: Ledger) -> list[tuple[str, Any]]:
    """The request budget's own SQL (it runs on a raw driver cursor, which the capture above does not see): the
    read of the window's stamps before every Fortnox request, and the purge."""
    values = {"company": "co", "start": 0.0, "limit": 25, "window": 5.0}
    out = []
    for text in (*budget._RECENT.values(), budget._PURGE):
        if "clock_timestamp" in text and ledger.dialect != "postgresql":
            continue
        sql = budget._Sql.compile(text, ledger.engine.dialect)
        out.append((sql.text, tuple(values[n] for n in sql.order) if sql.order is not None else values))
    return out


def full_reads(ledger: Ledger, statement: str, parameters: Any) -> list[str]:
    """The plan's full-table reads of ``statement`` (empty when every table is read through an index)."""
    if ledger.dialect == "sqlite":
        return [line for line in _plan(ledger, statement, parameters)
                if line.startswith("SCAN ") and _table(line) not in SMALL_TABLES]
    with ledger.engine.connect() as conn:
        with conn.begin():
            conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
            [[plan]] = conn.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {statement}", parameters).all()
        return [f"{node['Node Type']} on {node.get('Relation Name', '?')}" for node in _nodes(plan[0]["Plan"])
                if node.get("Relation Name") not in SMALL_TABLES
                and (node["Node Type"] == "Seq Scan"
                     or ("Index" in node["Node Type"] and "Index Cond" not in node))]  # an index read whole


def _nodes(node: dict[str, Any]) -> list[dict[str, Any]]:
    return [node, *(n for child in node.get("Plans", []) for n in _nodes(child))]


def _table(plan_line: str) -> str:
    found = re.search(r"SCAN (\w+)", plan_line)
    return found.group(1) if found else ""


def test_every_query_of_the_ledger_api_the_page_and_the_budget_uses_an_index(ledger_url: str) -> None:
    """Beyond the hot queries above: every statement with a WHERE clause that the ledger API (records, audit,
    quarantine, cursors, snapshots, the Norce inbox, tokens, consents), the jetfort page's reads and the request
    budget's own SQL send. SQLite may plan no ``SCAN`` of a table or of a whole index; PostgreSQL, sequential
    scans priced out, no ``Seq Scan`` and no index read without an index condition."""
    ledger = Ledger.from_url(ledger_url)
    # the check itself sees a full read where there is one (no index has attempts)
    assert full_reads(ledger, "SELECT id FROM records WHERE attempts > 5", ())
    statements = [s for s in _sent(ledger, lambda: workload(ledger)) if re.search(r"\bWHERE\b", s[0], re.I)]
    tables = {t for s, _ in statements for t in re.findall(r"\b(?:FROM|UPDATE|JOIN)\s+(\w+)", s, re.I)}
    # the workload reached the tables the flows read on every run
    assert {"records", "record_audit", "audit_runs", "quarantine", "cursors", "catalog_snapshots", "shop_inbox",
            "oauth_tokens", "oauth_consents", "request_log", "quarantine_notes"} <= tables, tables
    unindexed = {}
    for statement, parameters in statements + budget_statements(ledger):
        found = full_reads(ledger, statement, parameters)
        if found:
            unindexed[" ".join(statement.split())[:300]] = found
    assert not unindexed, "queries without an index:\n" + "\n".join(f"{s}\n  -> {p}" for s, p in unindexed.items())
