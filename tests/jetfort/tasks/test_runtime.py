"""Run windows and tenant loading as tasks see them."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pendulum
import pytest

from jetfort.ledger import Ledger
from jetfort.rules import RulesError
from jetfort.tasks.runtime import DEFAULT_LOOKBACK, TenantRuntime, format_table, load_rules, run_window

EXAMPLES = Path(__file__).resolve().parents[3] / "include" / "mappings" / "tenants"
NOW = dt.datetime(2026, 11, 29, 12, 0, tzinfo=dt.UTC)


def test_scheduled_run_uses_its_interval_widened_by_the_overlap(sqlite_url: str) -> None:
    ledger = Ledger.from_url(sqlite_url)
    ledger.set_cursor("acme", "orders", "2026-11-29T11:00:00+00:00")  # ignored: the interval wins
    context = {"data_interval_start": pendulum.datetime(2026, 11, 28), "data_interval_end": pendulum.datetime(2026, 11, 29)}
    window = run_window(context, ledger=ledger, tenant="acme", cursor="orders", overlap_minutes=15, now=NOW)
    assert window.start == dt.datetime(2026, 11, 27, 23, 45, tzinfo=dt.UTC)
    assert window.end == dt.datetime(2026, 11, 29, tzinfo=dt.UTC)
    assert window.source == "data_interval"


def test_manual_run_without_interval_continues_from_the_cursor(sqlite_url: str) -> None:
    ledger = Ledger.from_url(sqlite_url)
    first = run_window({}, ledger=ledger, tenant="acme", cursor="orders", overlap_minutes=10, now=NOW)
    assert (first.start, first.end, first.source) == (NOW - DEFAULT_LOOKBACK, NOW, "first_run")
    ledger.set_cursor("acme", "orders", "2026-11-29T11:00:00+00:00")
    later = run_window({"data_interval_start": None}, ledger=ledger, tenant="acme", cursor="orders",
                       overlap_minutes=10, now=NOW)
    assert (later.start, later.source) == (dt.datetime(2026, 11, 29, 10, 50, tzinfo=dt.UTC), "cursor")


def test_rules_are_loaded_by_tenant_id(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JETFORT_TENANTS_DIR", str(EXAMPLES))
    runtime = TenantRuntime.for_tenant("demo_erp")
    assert runtime.tenant == "demo_erp" and runtime.rules.flow == "erp"
    with pytest.raises(KeyError, match="no shop 'nope'"):
        runtime.shop("nope")
    with pytest.raises(RulesError, match=r"tenant 'ghost'.*no Variable jetfort_tenant_ghost"):
        load_rules("ghost")


def test_summary_table_lines_up() -> None:
    text = format_table([{"shop": "se", "posted": 12}, {"shop": "norway", "posted": 3}])
    assert text.splitlines() == ["shop    posted", "------  ------", "se      12    ", "norway  3     "]
