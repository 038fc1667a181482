"""Every query the ledger API runs has an index to use, on SQLite and on PostgreSQL (issue #18).

A workload calls the ledger's API as the flows do; every statement it sends with a WHERE clause (reads,
updates, deletes) is captured from the driver and explained by the database itself. SQLite must not plan a
``SCAN <table>`` (a full read of the table or of one of its indexes); PostgreSQL, with sequential scans priced out (``enable_seqscan``
off), must not keep a ``Seq Scan`` (a query with no usable index still gets one) nor read an index without an
index condition.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
import sqlalchemy as sa

from jetfort.ledger import Ledger, budget
from jetfort.ledger.tokens import TokenStore
from jetfort.onboard.consent import ConsentRefused, FortnoxConsent
from jetfort.ui import data

#: tables read whole on purpose, each with its size: the jetfort page's token health lists a company's tokens by
#: key prefix (LIKE, which no btree index serves under PostgreSQL's default collation)
SMALL_TABLES = {"oauth_tokens": "one row per Fortnox or Norce connection"}


def workload(ledger: Ledger) -> None:
    """The ledger API the orders, status and catalog flows use, on a few records."""
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


def captured(ledger: Ledger) -> list[tuple[str, Any]]:
    seen: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if not executemany and re.match(r"\s*(SELECT|UPDATE|DELETE)\b", statement, re.I) \
                and re.search(r"\bWHERE\b", statement, re.I):
            seen.append((statement, parameters))

    sa.event.listen(ledger.engine, "before_cursor_execute", record)
    try:
        workload(ledger)
    finally:
        sa.event.remove(ledger.engine, "before_cursor_execute", record)
    return seen


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
    with ledger.engine.connect() as conn:
        if ledger.dialect == "sqlite":
            plan = [str(row[-1]) for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)]
            return [line for line in plan if line.startswith("SCAN ") and _table(line) not in SMALL_TABLES]
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


def test_every_query_of_the_ledger_api_uses_an_index(ledger_url: str) -> None:
    ledger = Ledger.from_url(ledger_url)
    # the check itself sees a full read where there is one (no index has attempts)
    assert full_reads(ledger, "SELECT id FROM records WHERE attempts > 5", ())
    statements = captured(ledger)
    tables = {t for s, _ in statements for t in re.findall(r"\b(?:FROM|UPDATE|JOIN)\s+(\w+)", s, re.I)}
    # the workload reached the tables the flows read on every run
    assert {"records", "record_audit", "quarantine", "cursors", "catalog_snapshots", "shop_inbox", "oauth_tokens",
            "oauth_consents", "request_log", "quarantine_notes"} <= tables, tables
    unindexed = {}
    for statement, parameters in statements + budget_statements(ledger):
        found = full_reads(ledger, statement, parameters)
        if found:
            unindexed[" ".join(statement.split())[:300]] = found
    assert not unindexed, "queries without an index:\n" + "\n".join(f"{s}\n  -> {p}" for s, p in unindexed.items())
