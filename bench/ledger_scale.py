"""The ledger at operator scale (issue 18): bytes per synced order, and CPU per order on a large ledger.

Real orders go through the orders flow's stages (extract → map → post → acknowledge, as
``bench/orders_flow.py`` runs them) against the Fortnox and Jetshop sandboxes in their own
processes. Per backend (SQLite always; PostgreSQL with ``--postgres URL`` or
``$JETFORT_TEST_POSTGRES_URL``, in a scratch database dropped afterwards) it prints:

* **bytes per synced order at rest**: the ledger's size (tables and indexes) after the warm-up and
  measured batches, less the size of the empty ledger, divided by the orders in it; measured after
  the database compacted itself (SQLite ``VACUUM``; PostgreSQL ``VACUUM FULL``), per table; then the
  same after the retention (:func:`jetfort.ledger.retention.compact`) dropped the audit payloads.
  Goal ≤ 1.5 KB.
* **CPU per order on a large ledger**: a second ledger is filled to ``--records`` order records by
  copying the real ones in SQL (``updated_at`` spread over two years, audit payloads of those older
  than a year already dropped, as the default retention leaves a ledger). Batches of new orders
  then alternate between the small ledger and the large one; per batch it prints this process's
  CPU per order (jetfort's own work; the sandboxes are other processes) and the wall time spent
  inside ledger SQL per order (which includes the database server's work). Goal: the large
  ledger within 10 % of the small one.
* how long the daily retention run takes on the large ledger.

    .venv/bin/python bench/ledger_scale.py [--orders 200] [--records 1000000] [--rounds 3] [--postgres URL]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench"), str(ROOT / "plugins")]

from ledger_batch import postgres_database, postgres_option  # noqa: E402
from orders_flow import add_orders, start  # noqa: E402

TENANT = "bench"
STOCKHOLM = ZoneInfo("Europe/Stockholm")

# Copies of the real order records (``#<n>`` appended to their keys), their audit with them.
_FILL = {
    "sqlite": [
        """WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :copies)
           INSERT INTO records (tenant, kind, source_key, state, target_type, target_key, payload_hash, attempts,
                                detail, created_at, updated_at)
           SELECT o.tenant, o.kind, o.source_key || '#' || n.i, o.state, o.target_type, o.target_key || '#' || n.i,
                  o.payload_hash, o.attempts, o.detail, datetime(o.created_at, '-' || (n.i % 730) || ' days'),
                  datetime(o.updated_at, '-' || (n.i % 730) || ' days')
           FROM n CROSS JOIN records o WHERE o.tenant = :tenant AND o.kind = 'order' AND o.source_key NOT LIKE '%#%'""",
        """INSERT INTO record_audit (record_id, at, step, state, message, payload, run)
           SELECT c.id, c.updated_at, a.step, a.state, a.message,
                  CASE WHEN c.updated_at < :cutoff THEN NULL ELSE a.payload END, a.run
           FROM records c
           JOIN records o ON o.tenant = c.tenant AND o.kind = c.kind
                         AND o.source_key = substr(c.source_key, 1, instr(c.source_key, '#') - 1)
           JOIN record_audit a ON a.record_id = o.id
           WHERE c.tenant = :tenant AND c.kind = 'order' AND c.source_key LIKE '%#%'""",
    ],
    "postgresql": [
        """INSERT INTO records (tenant, kind, source_key, state, target_type, target_key, payload_hash, attempts,
                                detail, created_at, updated_at)
           SELECT o.tenant, o.kind, o.source_key || '#' || n.i, o.state, o.target_type, o.target_key || '#' || n.i,
                  o.payload_hash, o.attempts, o.detail, o.created_at - (n.i % 730) * interval '1 day',
                  o.updated_at - (n.i % 730) * interval '1 day'
           FROM generate_series(1, :copies) AS n(i) CROSS JOIN records o
           WHERE o.tenant = :tenant AND o.kind = 'order' AND o.source_key NOT LIKE '%#%'""",
        """INSERT INTO record_audit (record_id, at, step, state, message, payload, run)
           SELECT c.id, c.updated_at, a.step, a.state, a.message,
                  CASE WHEN c.updated_at < :cutoff THEN NULL ELSE a.payload END, a.run
           FROM records c
           JOIN records o ON o.tenant = c.tenant AND o.kind = c.kind AND o.source_key = split_part(c.source_key, '#', 1)
           JOIN record_audit a ON a.record_id = o.id
           WHERE c.tenant = :tenant AND c.kind = 'order' AND c.source_key LIKE '%#%'""",
    ],
}


class Shop:
    """The two sandboxes and a provisioned company, shared by every ledger of the run."""

    def __init__(self) -> None:
        from sandbox import demo_setup
        from sandbox.server import free_port

        fport, jport = free_port(), free_port()
        self.procs = [start("fortnox", fport), start("jetshop", jport)]
        self.fortnox, self.jetshop = f"http://127.0.0.1:{fport}", f"http://127.0.0.1:{jport}"
        # a generous window: this bench measures the ledger, not the pacing (bench/fortnox_budget.py does)
        httpx.put(f"{self.fortnox}/_sandbox/ratelimit", json={"limit": 1000, "window": 0.5}).raise_for_status()
        env = demo_setup.provision(self.fortnox, self.jetshop, rate_window=0.5)
        self.home = Path(tempfile.mkdtemp(prefix="jetfort-bench-"))
        tenants = self.home / "tenants"
        tenants.mkdir()
        rules = json.loads((demo_setup.EXAMPLE_TENANTS / "demo_ecom.json").read_text())
        rules["orders"].pop("collective_customer_number")  # every buyer is a customer of their own
        (tenants / f"{TENANT}.json").write_text(json.dumps(rules))
        os.environ.update(env.env())
        os.environ.update({"JETFORT_TENANTS_DIR": str(tenants), "AIRFLOW_HOME": str(self.home)})
        from cryptography.fernet import Fernet

        os.environ["JETFORT_LEDGER_SECRET_KEY"] = Fernet.generate_key().decode()  # the bench's tokens
        self.emails = [f"returning{i}@example.se" for i in range(50)]
        self.batches = 0
        self.last_url: str | None = None
        self.held: list[dict[str, Any]] = []

    def tokens(self, url: str, rows: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
        """Fortnox rotates the refresh token at each renewal, and each ledger keeps its own: the tokens
        the ledger used last are read after each batch (``rows`` None) and written into the next ledger
        before its first (as one ledger moved to another database would carry them)."""
        import sqlalchemy as sa

        from jetfort.ledger.schema import oauth_tokens

        engine = sa.create_engine(url)
        try:
            with engine.begin() as conn:
                if rows is None:
                    return [dict(r._mapping) for r in conn.execute(sa.select(oauth_tokens))]
                conn.execute(sa.delete(oauth_tokens))
                if rows:
                    conn.execute(sa.insert(oauth_tokens), rows)
                return rows
        finally:
            engine.dispose()

    def close(self) -> None:
        import shutil

        for proc in self.procs:
            proc.terminate()
            proc.wait(timeout=10)
        shutil.rmtree(self.home, ignore_errors=True)

    def batch(self, ledger_url: str, count: int) -> dict[str, float]:
        """``count`` new shop orders through the flow into ``ledger_url``: figures per order."""
        import sqlalchemy as sa

        from jetfort.tasks import orders as flow

        self.batches += 1
        now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=20 * self.batches)  # each batch its own window
        add_orders(self.jetshop, self.emails, count, now.astimezone(STOCKHOLM))
        from jetfort.ledger import Ledger

        Ledger.from_url(ledger_url).engine.dispose()  # migrated before the tokens come in
        if self.last_url != ledger_url and self.held:
            self.tokens(ledger_url, self.held)
        os.environ["JETFORT_LEDGER_URL"] = ledger_url
        runtime = flow.open_runtime(TENANT)
        sql = [0.0]
        started: list[float] = []
        self.statements: dict[str, list[float]] = {}

        def before(*_: Any) -> None:
            started.append(time.perf_counter())

        def after(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
            took = time.perf_counter() - started.pop()
            sql[0] += took
            entry = self.statements.setdefault(" ".join(statement.split())[-220:], [0, 0.0])
            entry[0] += 1
            entry[1] += took

        with runtime:
            engine = runtime.ledger.engine
            sa.event.listen(engine, "before_cursor_execute", before)
            sa.event.listen(engine, "after_cursor_execute", after)
            context = {"data_interval_start": now - dt.timedelta(minutes=1),
                       "data_interval_end": now + dt.timedelta(minutes=1)}
            cpu0, wall0 = time.process_time(), time.perf_counter()
            run_id = f"scheduled__{now.replace(microsecond=0).isoformat()}"  # as long as Airflow's run ids
            found = flow.extract_shop(runtime, "se", context=context, run_id=run_id)
            mapped = flow.map_shop(runtime, "se", found, run_id=run_id)
            posted = flow.post_shop(runtime, "se", mapped, run_id=run_id)
            acked = flow.acknowledge_shop(runtime, "se", posted, run_id=run_id)
            cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
            sa.event.remove(engine, "before_cursor_execute", before)
            sa.event.remove(engine, "after_cursor_execute", after)
            engine.dispose()
        self.held, self.last_url = self.tokens(ledger_url), ledger_url
        if acked["acknowledged"] != count or acked["quarantined"]:
            raise SystemExit(f"batch {self.batches}: {acked['acknowledged']} of {count} orders acknowledged, "
                             f"{acked['quarantined']} quarantined: the figures would not be of synced orders")
        return {"cpu_ms": cpu / count * 1e3, "sql_ms": sql[0] / count * 1e3, "wall_ms": wall / count * 1e3}


def compacted_size(url: str) -> dict[str, int]:
    """Bytes per table (its indexes included) once the database compacted itself."""
    import sqlalchemy as sa

    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                conn.exec_driver_sql("VACUUM")
                rows = conn.exec_driver_sql(
                    "SELECT coalesce(m.tbl_name, d.name), sum(d.pgsize) FROM dbstat d "
                    "LEFT JOIN sqlite_schema m ON m.name = d.name GROUP BY 1").all()
            else:
                conn.exec_driver_sql("VACUUM FULL")
                rows = conn.exec_driver_sql(
                    "SELECT relname, pg_total_relation_size(oid) FROM pg_class "
                    "WHERE relnamespace = 'public'::regnamespace AND relkind = 'r'").all()
    finally:
        engine.dispose()
    return {str(name): int(size) for name, size in rows}


def size_per_order(label: str, shop: Shop, url: str, orders: int) -> None:
    from jetfort.ledger import Ledger
    from jetfort.ledger.retention import RetentionPolicy, compact

    Ledger.from_url(url).engine.dispose()  # migrated, empty
    empty = compacted_size(url)
    synced = 0
    for count in (100, orders):  # the warm-up (new customers) and a batch of returning buyers
        shop.batch(url, count)
        synced += count
    fresh = compacted_size(url)
    ledger = Ledger.from_url(url)
    compact(ledger, RetentionPolicy(audit_payload_days=1), now=dt.datetime.now(dt.UTC) + dt.timedelta(days=2))
    ledger.engine.dispose()
    kept = compacted_size(url)

    def per_order(sizes: dict[str, int]) -> dict[str, float]:
        return {t: (sizes.get(t, 0) - empty.get(t, 0)) / synced for t in sizes}

    a, b = per_order(fresh), per_order(kept)
    print(f"\n{label}: ledger bytes per synced order at rest ({synced} orders; tables with their indexes)")
    print(f"  {'table':<20} {'after sync':>11} {'after retention':>16}")
    for table in sorted(a, key=lambda t: -a[t]):
        if abs(a[table]) >= 1 or abs(b.get(table, 0)) >= 1:
            print(f"  {table:<20} {a[table]:>11.0f} {b.get(table, 0):>16.0f}")
    print(f"  {'total':<20} {sum(a.values()):>11.0f} {sum(b.values()):>16.0f}   (goal <= 1536 at rest)")


def fill(url: str, records: int) -> tuple[int, float]:
    """Copies of the ledger's order records until it holds about ``records`` of them."""
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    started = time.perf_counter()
    try:
        with engine.begin() as conn:
            real = conn.execute(sa.text("SELECT count(*) FROM records WHERE tenant = :t AND kind = 'order'"),
                                {"t": TENANT}).scalar_one()
            copies = max(0, records // max(1, real) - 1)
            cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(days=365)
            params = {"tenant": TENANT, "copies": copies,
                      "cutoff": cutoff.strftime("%Y-%m-%d %H:%M:%S") if engine.dialect.name == "sqlite" else cutoff}
            copy_records, copy_audit = _FILL[engine.dialect.name]
            conn.execute(sa.text(copy_records), params)
            if engine.dialect.name == "postgresql":
                conn.exec_driver_sql("ANALYZE records")  # the copy's join needs to know the new rows
            conn.execute(sa.text(copy_audit), params)
            total = conn.execute(sa.text("SELECT count(*) FROM records")).scalar_one()
        if engine.dialect.name == "postgresql":  # as autovacuum would; jetfort never runs ANALYZE on SQLite
            with engine.connect() as conn:
                conn.exec_driver_sql("ANALYZE")
                conn.commit()
    finally:
        engine.dispose()
    return int(total), time.perf_counter() - started


def scale(label: str, shop: Shop, small: str, large: str, orders: int, records: int, rounds: int,
          top: int = 0) -> None:
    from jetfort.ledger import Ledger
    from jetfort.ledger.retention import RetentionPolicy, compact

    for url in (small, large):
        shop.batch(url, 100)  # warm-up: customers and facts, in both
    shop.batch(large, orders)
    total, took = fill(large, records)
    print(f"\n{label}: large ledger filled to {total:,} records in {took:.0f} s; "
          f"batches of {orders} new orders, alternating")
    figures: dict[str, list[dict[str, float]]] = {"small": [], "large": []}
    for i in range(rounds):
        for name, url in (("small", small), ("large", large)) if i % 2 else (("large", large), ("small", small)):
            got = shop.batch(url, orders)
            figures[name].append(got)
            print(f"  round {i + 1} {name:<5}: {got['cpu_ms']:.2f} ms CPU/order, {got['sql_ms']:.2f} ms in ledger SQL/order, "
                  f"{got['wall_ms']:.1f} ms wall/order")

    if top:
        print(f"  the last large batch's {top} costliest statements (calls, ms in all):")
        for text, (calls, took) in sorted(shop.statements.items(), key=lambda kv: -kv[1][1])[:top]:
            print(f"    {calls:>5} {took * 1e3:>8.1f}  {text}")

    def med(name: str, key: str) -> float:
        return statistics.median(f[key] for f in figures[name])

    for key, what in (("cpu_ms", "CPU per order"), ("sql_ms", "ledger SQL per order")):
        ratio = med("large", key) / med("small", key)
        print(f"  {what}: small {med('small', key):.2f} ms, {total:,} records {med('large', key):.2f} ms: "
              f"ratio {ratio:.3f}  (goal <= 1.10)")
    ledger = Ledger.from_url(large)
    started = time.perf_counter()
    done = compact(ledger, RetentionPolicy(audit_payload_days=180))
    ledger.engine.dispose()
    print(f"  retention run (180 days) on the large ledger: {time.perf_counter() - started:.1f} s, "
          f"{done.records:,} records looked at, {done.payloads:,} payloads dropped")


def on_backends(postgres: str | None, run: Callable[[str, Callable[[], Any]], None]) -> None:
    """``run(label, new_url)`` per backend, ``new_url()`` giving a new scratch ledger each call."""
    from contextlib import ExitStack

    with tempfile.TemporaryDirectory(prefix="jetfort-bench-") as tmp:
        count = iter(range(100))
        run("SQLite", lambda: f"sqlite:///{tmp}/ledger{next(count)}.db")
    if postgres:
        with ExitStack() as stack:
            run("PostgreSQL", lambda: stack.enter_context(postgres_database(postgres)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=200, help="orders per measured batch")
    parser.add_argument("--records", type=int, default=1_000_000, help="order records in the large ledger")
    parser.add_argument("--rounds", type=int, default=3, help="measured batches per ledger (the median counts)")
    parser.add_argument("--only", choices=("size", "scale"), help="one of the two measurements")
    parser.add_argument("--top", type=int, default=0, help="print the costliest statements of a large batch")
    postgres_option(parser)
    args = parser.parse_args()
    shop = Shop()
    try:
        def run(label: str, new_url: Callable[[], Any]) -> None:
            if args.only != "scale":
                size_per_order(label, shop, new_url(), args.orders)
            if args.only != "size":
                scale(label, shop, new_url(), new_url(), args.orders, args.records, args.rounds, args.top)

        on_backends(args.postgres, run)
    finally:
        shop.close()


if __name__ == "__main__":
    main()
