"""Benchmark: shop calls per order and per catalog change, Jetshop beside Norce Commerce (issue 14).

A Norce shop is reached over REST (Query pages to read, Connect calls to write, import jobs for the
catalog) where Jetshop takes one SOAP operation per call, so the same flow costs a different number of
requests. This prints them side by side, counted by the shop sandboxes themselves (the Jetshop sandbox
logs every SOAP operation, the Norce sandbox every route and every token request) and, for Norce, by
jetfort's own client (``NorceClient.calls``) as a cross-check; Fortnox calls come from the Fortnox hook.

Flows, run through the same stage functions the DAGs call (one runtime per task, as a worker has), against
the in-process sandboxes of the test harness (``tests.harness.sync_environment``), tenants ``demo_erp``
(Jetshop) and ``demo_norce`` (Norce):

* **orders**: a warm-up batch (returning buyers become Fortnox customers), then ``--orders`` new orders
  through extract → map → post → acknowledge and the credits stage's read; for Norce once by pull (Query
  API) and once by push (Norce posts each order to jetfort's receiver, which stores it in the ledger's
  inbox; the orders are dated outside the pull window, so the push alone brings them in);
* **status back**: the measured orders delivered in Fortnox with a parcel number (``sandbox.demo_status``),
  then the order-status stages (read changes, push status + capture);
* **catalog**: the first fill (every product, price and stock figure the shop lacks), then ``--changes``
  articles changed in Fortnox (name, price and stock each) and the next run: Jetshop writes are
  synchronous SOAP batches, Norce writes import jobs polled with Job/Get and Job/GetLog until they settle.

No timing goals: counts only (wall time is printed as information).

    PYTHONPATH=plugins:. .venv/bin/python bench/shop_calls.py [--orders 50] [--buyers 10] [--changes 10]
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench"), str(ROOT / "plugins")]

from orders_flow import add_orders  # noqa: E402  (bench/ is not a package)

JETSHOP, NORCE = "demo_erp", "demo_norce"
SHOP_KEYS = {JETSHOP: "se", NORCE: "norce"}
COLUMNS = ("Jetshop", "Norce (pull)", "Norce (push)")
FAST_WINDOW = 0.5  # the Fortnox sandbox allows 25 requests per this many seconds here (real: 5 s)
TOKEN_PATH = "POST /identity/1.0/connect/token"


# ------------------------------------------------------------------------------------------ counting
class Meter:
    """Shop and Fortnox requests seen since the last :meth:`take`, from the sandboxes' own counters."""

    def __init__(self, env: Any) -> None:
        self.env = env
        self.client_calls: Counter[str] = Counter()  # NorceClient.calls of the runtimes closed so far
        self.client_total: Counter[str] = Counter()
        self._mark = self._start = self._now()

    def cross_check(self) -> str:
        """jetfort's own count of its Norce requests beside the sandbox's, since the meter started."""
        sandbox = self._now()
        return (f"Norce requests counted by jetfort's NorceClient: {sum(self.client_total.values())}, by the Norce "
                f"sandbox: {sum((sandbox[1] - self._start[1]).values())} (token requests apart: "
                f"{sandbox[2] - self._start[2]})")

    def _now(self) -> tuple[Counter[str], Counter[str], int, int]:
        jetshop = Counter(c["operation"] for c in list(self.env.jetshop.calls))
        stats = self.env.norce.stats()
        norce = Counter({k: v for k, v in stats["calls"].items() if k != TOKEN_PATH})
        return jetshop, norce, int(stats["token_requests"]), len(self.env.fortnox.request_log)

    def take(self) -> Sample:
        """What was sent since the previous take (or the start), and a new mark."""
        now = self._now()
        (j0, n0, t0, f0), self._mark = self._mark, now
        sample = Sample(jetshop=now[0] - j0, norce=now[1] - n0, tokens=now[2] - t0, fortnox=now[3] - f0,
                        client=self.client_calls)
        self.client_total += self.client_calls
        self.client_calls = Counter()
        return sample


@dataclass
class Sample:
    """Requests of one stage: per Jetshop operation, per Norce route, token requests, Fortnox requests."""

    jetshop: Counter[str] = field(default_factory=Counter)
    norce: Counter[str] = field(default_factory=Counter)
    tokens: int = 0
    fortnox: int = 0
    client: Counter[str] = field(default_factory=Counter)
    wall: float = 0.0

    @property
    def shop(self) -> int:
        return sum(self.jetshop.values()) + sum(self.norce.values())

    def __add__(self, other: Sample) -> Sample:
        return Sample(self.jetshop + other.jetshop, self.norce + other.norce, self.tokens + other.tokens,
                      self.fortnox + other.fortnox, self.client + other.client, self.wall + other.wall)


def stage(tenant: str, meter: Meter, work: Callable[[Any], Any]) -> tuple[Any, Sample]:
    """Run one task's ``work(runtime)`` with its own runtime (hooks, token from the ledger's store, as a
    worker has); the requests it sent, with the Norce client's own count, and its wall time."""
    from jetfort.tasks.runtime import TenantRuntime

    meter.take()
    start = time.perf_counter()
    rt = TenantRuntime.for_tenant(tenant)
    try:
        result = work(rt)
    finally:
        for shop in rt.rules.shops:  # the Norce client's own count, read before close
            backend = rt.shop(shop.key)
            if shop.backend == "norce":
                meter.client_calls.update(backend.client.calls)  # type: ignore[attr-defined]
        rt.close()
    sample = meter.take()
    sample.wall = time.perf_counter() - start
    return result, sample


# ------------------------------------------------------------------------------------------ orders
def norce_spec(ref: int, email: str, when: dt.datetime, *, push: bool) -> dict[str, Any]:
    """A Norce checkout like the e2e tests' (article 1001 exists in Fortnox), from ``email``, placed ``when``.

    ``push``: its last change is dated a month back, so the pull window misses it and only the push brings
    it in (the order date stays ``when``, as the Fortnox idempotency lookup depends on it)."""
    updated = when - dt.timedelta(days=30) if push else when
    name = email.split("@")[0]
    spec: dict[str, Any] = {
        "client_order_ref": str(ref), "kind": "bench", "freight_inc_vat": "49.00",
        "rows": [{"part_no": "1001", "name": "T-shirt", "qty": 1 + ref % 3, "price_inc_vat": "249.00", "vat_rate": 25}],
        "buyer": {"first_name": "Bench", "last_name": name, "email": email, "line1": "Testgatan 1",
                  "zip_code": "41101", "city": "Göteborg", "country": "SE"},
        "order_date": when.isoformat(), "updated": updated.isoformat()}
    return spec


def orders_batch(tenant: str, meter: Meter, now: dt.datetime) -> tuple[dict[str, Sample], dict[str, Any]]:
    """extract → map → post → acknowledge → credits for the tenant's shop, one runtime per stage."""
    from jetfort.tasks import orders as flow
    from jetfort.tasks.credits import credit_shop

    shop, run_id = SHOP_KEYS[tenant], f"bench-{now.timestamp():.0f}"
    context = {"data_interval_start": now - dt.timedelta(minutes=1), "data_interval_end": now + dt.timedelta(minutes=1)}
    samples: dict[str, Sample] = {}
    found, samples["extract"] = stage(tenant, meter, lambda rt: flow.extract_shop(rt, shop, context=context,
                                                                                  run_id=run_id))
    mapped, samples["map"] = stage(tenant, meter, lambda rt: flow.map_shop(rt, shop, found, run_id=run_id))
    posted, samples["post"] = stage(tenant, meter, lambda rt: flow.post_shop(rt, shop, mapped, run_id=run_id))
    acked, samples["acknowledge"] = stage(tenant, meter, lambda rt: flow.acknowledge_shop(rt, shop, posted,
                                                                                          run_id=run_id))
    credits, samples["credits read"] = stage(tenant, meter, lambda rt: credit_shop(rt, shop, context=context,
                                                                                   run_id=run_id))
    return samples, {"acknowledged": acked["acknowledged"], "posted": acked["posted"],
                     "quarantined": acked["quarantined"], "credited": credits.get("credited", 0),
                     "keys": list(found["keys"])}


def run_orders(env: Any, meter: Meter, column: str, count: int, buyers: int) -> dict[str, Any]:
    """Warm-up batch, then ``count`` new orders; the per-stage samples of the measured batch."""
    emails = [f"bench{i}@example.se" for i in range(buyers)]
    tenant = JETSHOP if column == "Jetshop" else NORCE
    push = column == "Norce (push)"
    first = {"Norce (pull)": 300_000, "Norce (push)": 400_000}.get(column, 0)
    results: dict[str, Any] = {}
    for phase, size, ago in (("warm-up", buyers, dt.timedelta(minutes=10)), ("measured", count, dt.timedelta(0))):
        now = dt.datetime.now(dt.UTC) - ago
        if tenant == JETSHOP:
            add_orders(env.jetshop_url, emails, size, now.astimezone(ZoneInfo("Europe/Stockholm")))
        else:
            for i in range(size):
                env.norce.add_order(norce_spec(first + i, emails[i % len(emails)], now, push=push), push=push)
            first += size
            if push:
                env.norce.push_pending()
        meter.take()
        samples, outcome = orders_batch(tenant, meter, now)
        results[phase] = {"samples": samples, **outcome}
    return results


# ------------------------------------------------------------------------------------------ status back
def run_status(env: Any, meter: Meter, tenant: str, keys: list[str]) -> tuple[Sample, dict[str, Any]]:
    """Deliver the orders ``keys`` in Fortnox with a parcel number (not counted), then read_changes and
    push_status (counted): the status, the delivery/tracking and the capture reach the shop."""
    from jetfort.tasks.order_status import push_status, read_changes
    from sandbox.demo_status import move

    start = dt.datetime.now(dt.UTC)

    def deliver(rt: Any) -> None:
        for n, key in enumerate(keys):
            move(rt, rt.ledger.get(tenant, "order", key), "delivered", tracking=f"PN{n:09d}SE")

    stage(tenant, meter, deliver)
    context = {"data_interval_start": start - dt.timedelta(seconds=5), "params": {},
               "data_interval_end": dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1),
               "run_id": f"bench-status-{start.timestamp():.0f}"}
    read, first = stage(tenant, meter, lambda rt: read_changes(tenant, context, runtime=rt))
    pushed, second = stage(tenant, meter, lambda rt: push_status(tenant, SHOP_KEYS[tenant], context, runtime=rt,
                                                                 read=read))
    delivered = dict(pushed["states"].get("delivered") or {})
    return first + second, {"read": first, "delivered": delivered}


# ------------------------------------------------------------------------------------------ catalog
CATALOG_STEPS = ("products", "prices", "stock")


def catalog_round(tenant: str, meter: Meter, run_id: str) -> dict[str, tuple[int, int, Sample]]:
    """One catalog run (products → settle → prices → settle → stock → settle), one runtime per task:
    per entity, the items that changed, those written, and the requests of its write and of settling its jobs."""
    from jetfort.tasks.catalog.sync import CatalogSync

    out: dict[str, tuple[int, int, Sample]] = {}
    for step in CATALOG_STEPS:
        counts, write = stage(tenant, meter, lambda rt, s=step: getattr(CatalogSync(rt, run_id=run_id),
                                                                        f"{s}_to_shop")())
        tally, settle = stage(tenant, meter, lambda rt: CatalogSync(rt, run_id=run_id).settle_jobs())
        if tally.still_open:  # the sandbox runs a job when it is read: one settling pass must close them all
            raise SystemExit(f"{tenant} {step}: jobs still open after settling: {tally.still_open}")
        out[step] = (int(counts.changed), int(counts.written) + int(tally.written), write + settle)
    return out


def known_in_shop(tenant: str) -> set[str]:
    from jetfort.tasks.catalog.sync import CatalogSync
    from jetfort.tasks.runtime import TenantRuntime

    with TenantRuntime.for_tenant(tenant) as rt:
        return set(CatalogSync(rt, run_id="bench-known").run.known_in_shop(SHOP_KEYS[tenant]))


def change_articles(env: Any, numbers: list[str]) -> None:
    """Each article's name, list-A price and stock changed in Fortnox, as a user would edit them."""
    from sandbox.fortnox.seed import price_key, refresh_article_stock

    company = env.fortnox.company(env.env.fortnox_tenant_id)
    with company.lock:
        for n, number in enumerate(numbers):
            article = dict(company.data["articles"][number])
            article["Description"] = f"{article['Description'][:30]} (bench {n})"
            company.put("articles", number, article)
            key = price_key("A", number, 0)
            row = dict(company.get("prices", key) or {})
            row["Price"] = float(row.get("Price") or 100) + 10 + n
            company.put("prices", key, row)
            company.stock[(number, "LAGER1")] = [float(500 + n), 0.0]
            refresh_article_stock(company, only=number)
            company.put("articles", number, company.data["articles"][number])


def stock_articles(env: Any, numbers: set[str]) -> list[str]:
    company = env.fortnox.company(env.env.fortnox_tenant_id)
    with company.lock:
        return sorted(n for n in numbers if company.data["articles"].get(n, {}).get("StockGoods"))


# ------------------------------------------------------------------------------------------ report
Row = tuple[str, str, dict[str, str]]


def per(calls: float, items: int) -> str:
    return f"{calls / items:.2f}" if items else "-"


def order_rows(orders: dict[str, dict[str, Any]]) -> list[Row]:
    rows: list[Row] = []
    measured = {col: orders[col]["measured"] for col in orders}
    count = {col: int(m["acknowledged"]) for col, m in measured.items()}
    rows.append(("orders", "orders acknowledged (quarantined)",
                 {c: f"{count[c]} ({measured[c]['quarantined']})" for c in measured}))
    for name in ("extract", "map", "post", "acknowledge", "credits read"):
        rows.append(("orders", f"{name}: shop calls/order", {c: per(m["samples"][name].shop, count[c])
                                                             for c, m in measured.items()}))
    totals = {c: sum(m["samples"].values(), Sample()) for c, m in measured.items()}
    rows.append(("orders", "ALL STAGES: shop calls/order", {c: per(t.shop, count[c]) for c, t in totals.items()}))
    rows.append(("orders", "token requests (warm-up / batch)",
                 {c: f"{sum(s.tokens for s in orders[c]['warm-up']['samples'].values())} / {t.tokens}"
                  for c, t in totals.items()}))
    rows.append(("orders", "Fortnox calls/order", {c: per(t.fortnox, count[c]) for c, t in totals.items()}))
    warm = {c: sum(orders[c]["warm-up"]["samples"].values(), Sample()) for c in orders}
    rows.append(("orders", "warm-up batch: shop calls/order",
                 {c: per(w.shop, int(orders[c]["warm-up"]["acknowledged"])) for c, w in warm.items()}))
    rows.append(("orders", "wall s (batch, info)", {c: f"{t.wall:.1f}" for c, t in totals.items()}))
    return rows


def status_rows(status: dict[str, tuple[Sample, dict[str, Any], int]]) -> list[Row]:
    changes = {c: n for c, (_, _, n) in status.items()}
    return [
        ("status back", "deliveries pushed / captured",
         {c: f"{d['delivered'].get('pushed', 0)} / {d['delivered'].get('captured', 0)}"
          for c, (_, d, _) in status.items()}),
        ("status back", "shop calls/status change", {c: per(s.shop, changes[c]) for c, (s, _, _) in status.items()}),
        ("status back", "token requests", {c: str(s.tokens) for c, (s, _, _) in status.items()}),
        ("status back", "Fortnox calls/status change",
         {c: per(s.fortnox, changes[c]) for c, (s, _, _) in status.items()}),
    ]


def catalog_rows(label: str, rounds: dict[str, dict[str, tuple[int, int, Sample]]]) -> list[Row]:
    rows: list[Row] = []
    for step in CATALOG_STEPS:
        rows.append((label, f"{step}: changed / written", {c: f"{r[step][0]} / {r[step][1]}" for c, r in rounds.items()}))
        rows.append((label, f"{step}: shop calls (per change)",
                     {c: f"{r[step][2].shop} ({per(r[step][2].shop, r[step][0])})" for c, r in rounds.items()}))
    rows.append((label, "token requests", {c: str(sum(r[s][2].tokens for s in CATALOG_STEPS)) for c, r in rounds.items()}))
    return rows


def print_table(rows: list[Row]) -> None:
    head = ("flow", "measure", *COLUMNS)
    cells = [head, *[(flow, measure, *(vals.get(c, "") for c in COLUMNS)) for flow, measure, vals in rows]]
    widths = [max(len(str(r[i])) for r in cells) for i in range(len(head))]
    line = "  ".join("-" * w for w in widths)
    print(line)
    last = None
    for n, row in enumerate(cells):
        flow = row[0] if row[0] != last else ""
        last = row[0]
        print("  ".join(str(v).ljust(w) if i < 2 else str(v).rjust(w)
                        for i, (v, w) in enumerate(zip((flow, *row[1:]), widths, strict=True))))
        if n == 0:
            print(line)
    print(line)


def breakdown(title: str, sample: Sample) -> str:
    ops = sample.jetshop + sample.norce
    return f"  {title}: " + (", ".join(f"{op} {n}" for op, n in sorted(ops.items())) or "none")


# ------------------------------------------------------------------------------------------ main
def age_seeded_norce_orders(env: Any) -> None:
    """The Norce sandbox's seeded orders (one changed at start-up time) moved two days back, so only the
    bench's own orders are in its windows (the Jetshop sandbox's seeded orders are older already)."""
    with env.norce.lock:
        for order in env.norce.orders.values():
            order.updated = (order.updated or order.created) - dt.timedelta(days=2)
            order.created -= dt.timedelta(days=2)
            order.order_date -= dt.timedelta(days=2)


def measure(env: Any, monkeypatch: Any, args: argparse.Namespace) -> list[Row]:
    from jetfort.norce.receiver import create_receiver_app
    from sandbox.server import serve_in_thread

    for name in ("", "jetfort", "airflow", "sandbox"):  # Airflow's logging setup re-enabled INFO on import
        logging.getLogger(name).setLevel(logging.ERROR)
    env.fortnox.limiter.configure(25, FAST_WINDOW)
    env.set_rate_window(monkeypatch, FAST_WINDOW)
    age_seeded_norce_orders(env)
    meter = Meter(env)
    login = env.env.connections["norce_receiver_demo"]
    with serve_in_thread(create_receiver_app(ledger_factory=env.ledger)) as url:
        env.norce.set_push_target(f"{url}/norce_demo/orders", login["login"], login["password"])
        orders = {col: run_orders(env, meter, col, args.orders, args.buyers) for col in COLUMNS}
    pushes = env.norce.stats()["pushes"]

    status: dict[str, tuple[Sample, dict[str, Any], int]] = {}
    for col, tenant in (("Jetshop", JETSHOP), ("Norce (pull)", NORCE)):
        # only orders of the measured batch that reached Fortnox and were acknowledged
        done = {r.source_key for r in env.ledger().records(tenant, "order", states=["acknowledged"])}
        keys = [k for k in orders[col]["measured"]["keys"] if k in done]
        sample, detail = run_status(env, meter, tenant, keys)
        status[col] = (sample, detail, len(keys))

    fill = {col: catalog_round(tenant, meter, "bench-fill") for col, tenant in (("Jetshop", JETSHOP),
                                                                               ("Norce (pull)", NORCE))}
    picks = stock_articles(env, known_in_shop(JETSHOP) & known_in_shop(NORCE))[:args.changes]
    change_articles(env, picks)
    change = {col: catalog_round(tenant, meter, "bench-change") for col, tenant in (("Jetshop", JETSHOP),
                                                                                   ("Norce (pull)", NORCE))}
    rows = [*order_rows(orders), *status_rows(status), *catalog_rows("catalog fill", fill),
            *catalog_rows(f"catalog change ({len(picks)} articles)", change)]
    print_table(rows)
    print("(Norce (push): status back and catalog are the same calls as Norce (pull); pushes received by jetfort's "
          f"receiver: {pushes})")
    print("per operation (measured orders batch):")
    for col in COLUMNS:
        print(breakdown(col, sum(orders[col]["measured"]["samples"].values(), Sample())))
    print("per operation (status back):")
    for col, (sample, _, _) in status.items():
        print(breakdown(col, sample))
    for label, rounds in (("catalog fill", fill), ("catalog change", change)):
        print(f"per operation ({label}):")
        for col, steps in rounds.items():
            print(breakdown(col, sum((steps[s][2] for s in CATALOG_STEPS), Sample())))
    print(meter.cross_check())
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=50, help="orders in the measured batch (per column)")
    parser.add_argument("--buyers", type=int, default=10, help="returning buyers (the warm-up batch has one order each)")
    parser.add_argument("--changes", type=int, default=10, help="articles changed in Fortnox for the catalog change")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)  # the stages log every order at INFO; the table is the output

    import pytest

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="jetfort-bench-") as tmp, pytest.MonkeyPatch.context() as mp:
        mp.setenv("AIRFLOW_HOME", tmp)
        from tests.harness import sync_environment

        with sync_environment(mp, Path(tmp), norce_kwargs={"push_auto": False}) as env:
            print(f"shop calls per order and per catalog change: {args.orders} orders per column, "
                  f"{args.buyers} returning buyers, {args.changes} articles changed")
            measure(env, mp, args)
    print(f"(wall {time.perf_counter() - started:.0f} s in all; sandboxes in-process)")


if __name__ == "__main__":
    main()
