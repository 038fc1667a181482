"""Benchmark: catalog delta sync over 100 000 articles with 1 % changed.

Builds 100 000 canonical product records (the demo erp tenant's field mapping), stores them as the
ledger snapshot (SQLite), changes 1 % of them, then times what a catalog run does after reading the
master side: build the pandas frame, hash every row, diff against the snapshot. The changed rows are
then written for real — through ``ProductSync.write_shop_products`` and the JetshopHook into an
in-process Jetshop sandbox — and the sandbox's own product count proves that writes equal the
changed count. Prints diff time and peak memory (goals: diff ≤ 3 s, ≤ 500 MB).

    .venv/bin/python bench/catalog_diff.py [--articles 100000] [--changed 0.01]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "plugins")]

from jetfort.catalog.diff import diff_frame  # noqa: E402
from jetfort.jetshop.hook import JetshopHook  # noqa: E402
from jetfort.ledger import Ledger  # noqa: E402
from jetfort.rules import parse_tenant  # noqa: E402
from jetfort.tasks.catalog import FORTNOX, PRODUCT, CatalogSync  # noqa: E402
from jetfort.tasks.runtime import TenantRuntime  # noqa: E402
from sandbox.jetshop.app import create_app  # noqa: E402
from sandbox.server import serve_in_thread  # noqa: E402

TENANT = "bench"


def records(count: int, rng: random.Random) -> dict[str, dict[str, str]]:
    out = {}
    for i in range(count):
        number = f"B{i:06d}"
        out[number] = {"ArticleNumber": number, "Description": f"Artikel {i} {rng.choice(['röd', 'blå', 'grön'])}",
                       "EAN": f"73{i:011d}", "Unit": "st", "VAT": rng.choice(["25", "12", "6"]),
                       "Weight": str(rng.randint(0, 5000)), "Manufacturer": "Acme AB",
                       "ManufacturerArticleNumber": f"M-{i}", "Note": "", "Active": "1"}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--changed", type=float, default=0.01)
    args = parser.parse_args()
    rng = random.Random(7)

    rules_json = json.loads((ROOT / "include" / "mappings" / "tenants" / "demo_erp.json").read_text())
    rules = parse_tenant(TENANT, rules_json)
    with tempfile.TemporaryDirectory() as tmp:
        ledger = Ledger.from_url(f"sqlite:///{tmp}/ledger.db")
        rt = TenantRuntime(rules, ledger=ledger)
        sync = CatalogSync(rt)
        columns = sync.mapping.columns

        baseline = records(args.articles, rng)
        t0 = time.perf_counter()
        frame = sync.run.frame(baseline)
        ledger.save_snapshot(TENANT, FORTNOX, PRODUCT, ((str(k), str(h), None) for k, h in frame["hash"].items()))
        setup = time.perf_counter() - t0

        changed_keys = rng.sample(sorted(baseline), int(args.articles * args.changed))
        current = dict(baseline)
        for key in changed_keys:
            current[key] = {**current[key], "Description": current[key]["Description"] + " (ny)"}

        t0 = time.perf_counter()
        snapshot = ledger.snapshot(TENANT, FORTNOX, PRODUCT)
        read_snapshot = time.perf_counter() - t0

        del frame
        timings = []
        for _ in range(3):  # timed without tracemalloc (it slows allocation several-fold); best of 3
            t0 = time.perf_counter()
            frame = sync.run.frame(current)             # master rows → pandas frame + row hashes
            result = diff_frame(frame, snapshot)     # ... against the last snapshot
            timings.append(time.perf_counter() - t0)
            del frame
        diff_time = min(timings)
        tracemalloc.start()                          # then once more, for the peak memory of the diff
        frame = sync.run.frame(current)
        result = diff_frame(frame, snapshot)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()

        app = create_app(seed=1)
        sb = app.state.jetshop
        with serve_in_thread(app) as url:
            hook = JetshopHook.from_params(endpoint=url, login="jetfort-demo", password="demo-secret",
                                           shop_id="demoshop")
            rt._jetshop["se"] = hook
            before = len(sb.shop("demoshop").products)
            t0 = time.perf_counter()
            outcome = sync.products.write_shop_products("se", result.to_write, current)
            write_time = time.perf_counter() - t0
            created = len(sb.shop("demoshop").products) - before
            calls = sb.call_count("Product_AddUpdate")
            hook.close()

    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"articles: {args.articles}, changed: {len(changed_keys)} ({args.changed:.0%}), columns hashed: {len(columns)}")
    print(f"diff: new {len(result.new)}, changed {len(result.changed)}, unchanged {result.unchanged}, "
          f"echo {len(result.echo)}")
    print(f"writes: {len(outcome.written)} products in {calls} Product_AddUpdate calls "
          f"(sandbox gained {created} products) — equal to the changed count: "
          f"{len(outcome.written) == len(changed_keys) == created}")
    print(f"diff time (frame + hash + compare): {diff_time:.3f} s best of 3 "
          f"({', '.join(f'{t:.2f}' for t in timings)})   (goal ≤ 3 s)")
    print(f"peak memory: diff {peak / 1e6:.1f} MB traced (goal ≤ 500 MB); process max RSS {rss_mb:.0f} MB")
    print(f"(also: snapshot read from SQLite {read_snapshot:.3f} s, baseline hash+store {setup:.2f} s, "
          f"writes {write_time:.2f} s)")
    if not (len(outcome.written) == len(changed_keys) == created):
        raise SystemExit("writes differ from the changed count")


if __name__ == "__main__":
    main()
