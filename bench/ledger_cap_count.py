"""The plan's monthly cap on a large ledger: the count the orders flow makes before every batch (issue 18).

``Ledger.count(tenant, "order", posted states, since=month start)`` filters ``updated_at``. This
bench fills one tenant's ledger with ``--records`` posted orders spread over the last two years (a
month's share in the current month) and times that count with the records index of migration 0006
(tenant, kind, state) and of 0007 (…, updated_at), alternating the two indexes round by round in the
same database (the index is dropped and built between rounds; nothing else changes). Prints, per
backend, the median wall ms per count of each index and their ratio, and checks both give the same
count. SQLite always; PostgreSQL with ``--postgres URL`` or ``$JETFORT_TEST_POSTGRES_URL`` (a scratch
database is created and dropped)::

    .venv/bin/python bench/ledger_cap_count.py [--records 1000000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench"), str(ROOT / "plugins")]

from ledger_batch import on_each_backend, postgres_option  # noqa: E402

TENANT, KIND = "bench", "order"
STATES = ["posting", "posted", "acknowledged"]
INDEXES = {  # what migrations 0006 and 0007 leave on records
    "0006 (tenant, kind, state)": ("ix_records_tenant_kind_state", "tenant, kind, state"),
    "0007 (…, updated_at)": ("ix_records_tenant_kind_state_updated_at", "tenant, kind, state, updated_at"),
}


def fill(ledger: Any, n: int, now: dt.datetime) -> int:
    """``n`` acknowledged orders, one every ``730 days / n`` back from now; returns how many fall in
    this month (the oracle for the count)."""
    import sqlalchemy as sa

    from jetfort.ledger.schema import records

    step = dt.timedelta(days=730) / n
    month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    this_month = 0
    chunk = 20_000
    with ledger.engine.begin() as conn:
        for start in range(0, n, chunk):
            rows = []
            for i in range(start, min(n, start + chunk)):
                at = now - step * i
                this_month += at >= month_start
                rows.append({"tenant": TENANT, "kind": KIND, "source_key": f"se:{i}", "state": "acknowledged",
                             "attempts": 1, "target_type": "invoice", "target_key": str(i),
                             "created_at": at, "updated_at": at})
            conn.execute(sa.insert(records), rows)
        conn.exec_driver_sql("ANALYZE")
    return this_month


def use_index(ledger: Any, name: str) -> None:
    with ledger.engine.begin() as conn:
        for other, _ in INDEXES.values():
            conn.exec_driver_sql(f"DROP INDEX IF EXISTS {other}")
        index, columns = INDEXES[name]
        conn.exec_driver_sql(f"CREATE INDEX {index} ON records ({columns})")
        conn.exec_driver_sql("ANALYZE")


def report(label: str, url: str, n: int, rounds: int) -> None:
    from jetfort.ledger import Ledger

    ledger = Ledger.from_url(url)
    now = dt.datetime.now(dt.UTC)
    started = time.perf_counter()
    expected = fill(ledger, n, now)
    print(f"{label}: {n} records ({expected} this month), filled in {time.perf_counter() - started:.0f} s")
    month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    times: dict[str, list[float]] = {name: [] for name in INDEXES}
    for _ in range(rounds):
        for name in INDEXES:  # alternate: 0006, 0007, 0006, 0007, ...
            use_index(ledger, name)
            ledger.count(TENANT, KIND, STATES, since=month_start)  # warm the cache once
            for _ in range(5):
                start = time.perf_counter()
                got = ledger.count(TENANT, KIND, STATES, since=month_start)
                times[name].append(time.perf_counter() - start)
                if got != expected:
                    raise SystemExit(f"{label} {name}: counted {got}, expected {expected}")
    ledger.engine.dispose()
    medians = {name: statistics.median(values) * 1000 for name, values in times.items()}
    for name, ms in medians.items():
        print(f"  monthly cap count, index {name:30s} {ms:10.2f} ms (median of {len(times[name])})")
    old, new = medians.values()
    print(f"  ratio 0006 / 0007: {old / new:.0f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3, help="alternations of the two indexes")
    postgres_option(parser)
    args = parser.parse_args()
    on_each_backend(args.postgres, lambda label, url: report(label, url, args.records, args.rounds))

if __name__ == "__main__":
    main()
