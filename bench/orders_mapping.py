"""Micro-benchmark: jetfort CPU time per order for plan_customer + map_document (steady state).

Seeds the Jetshop sandbox in-process, converts its orders as the hook does, reads the facts from the
Fortnox sandbox's seeded company, warms up, then maps every order many times and prints mean and
p95 CPU microseconds per order (issue 5's goal: at most 2 ms of jetfort CPU per order).

    .venv/bin/python bench/orders_mapping.py [--orders 500] [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "plugins")]

from jetfort.jetshop.convert import order_from_wire  # noqa: E402
from jetfort.mapping.customers import plan_customer  # noqa: E402
from jetfort.mapping.orders import FortnoxFacts, map_document  # noqa: E402
from jetfort.mapping.problems import MappingProblem  # noqa: E402
from jetfort.rules import parse_tenant  # noqa: E402
from sandbox.fortnox.emulator import FortnoxSandbox  # noqa: E402
from sandbox.fortnox.seed import VAT_RATES  # noqa: E402
from sandbox.jetshop import seed as jseed  # noqa: E402
from sandbox.jetshop.state import JetshopSandbox  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=500, help="ordinary orders generated besides the awkward ones")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    jetshop = JetshopSandbox(seed=1)
    jetshop.generate_orders("demoshop", args.orders, seed=7)
    tz = ZoneInfo("Europe/Stockholm")
    orders = [order_from_wire(o, "demoshop", tz) for o in jetshop.orders("demoshop")]
    fortnox = FortnoxSandbox(seed=1)
    company = fortnox.companies[fortnox.default.tenant_id]
    facts = FortnoxFacts(
        articles={n: Decimal(str(a["VAT"])) for n, a in company.data["articles"].items()},
        vat_rates=frozenset(Decimal(r) for r in VAT_RATES), currencies=frozenset(company.data["currencies"]),
        currency_rates={c: Decimal(str(v["SellRate"])) for c, v in company.data["currencies"].items()})
    channels = [{"key": f"c{c['ChannelId']}", "jetshop_channel_id": c["ChannelId"], "culture": c["Culture"],
                 "currency": c["CurrencyCode"], "price_list_guid": c["PriceListId"], "project": "WEB"}
                for c in jseed.shop_specs()[0].channels]
    rules = parse_tenant("bench", {"flow": "ecom", "fortnox_conn_id": "f",
                                   "shops": [{"key": "se", "jetshop_conn_id": "j", "channels": channels}],
                                   "orders": {"missing_article": "create"}})

    def one(order):  # type: ignore[no-untyped-def]
        try:
            plan_customer(order, rules, "se")
            return map_document(order, rules, "se", customer_number="1", facts=facts)
        except MappingProblem:
            return None

    for order in orders:  # warm-up: imports, caches, pydantic validators
        one(order)
    per_order: list[float] = []
    mapped = problems = 0
    for _ in range(args.rounds):
        for order in orders:
            start = time.process_time_ns()
            result = one(order)
            per_order.append((time.process_time_ns() - start) / 1000)
            mapped += result is not None
            problems += result is None
    per_order.sort()
    mean = statistics.fmean(per_order)
    p95 = per_order[int(len(per_order) * 0.95)]
    rows = statistics.fmean(len(o.rows) for o in orders)
    print(f"orders: {len(orders)} x {args.rounds} rounds ({mapped} mapped, {problems} quarantined), "
          f"{rows:.1f} rows per order on average")
    print(f"plan_customer + map_document CPU per order: mean {mean:.0f} µs, p95 {p95:.0f} µs, "
          f"max {per_order[-1]:.0f} µs (goal ≤ 2000 µs)")


if __name__ == "__main__":
    main()
