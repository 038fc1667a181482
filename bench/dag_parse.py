"""What Airflow's DAG processor pays for jetfort's DAG files at operator scale (issue 18).

For each DAG file and tenant count, a fresh process does what the processor's parse child does:
Airflow's modules already imported (``[dag_processor] parsing_pre_import_modules``), then
``DagBag`` on the one file (jetfort's own modules are imported there, as in the processor), then
``DagSerialization.to_dict`` of every DAG. The tenants are ``AIRFLOW_VAR_JETFORT_TENANT_<ID>``
environment variables, copies of the demo tenants in ``include/mappings/tenants`` taken in turn.
Prints per file and count: DAGs, parse and serialize seconds (median of ``--repeat`` processes),
ms per tenant (total / tenants, the goal's figure: ≤ 5 ms at 1 000 tenants), peak RSS, and how many
times the parse read the tenant list (goal: once). The processes' temporary ``AIRFLOW_HOME`` is
removed afterwards.

``--other PATH`` names another checkout (e.g. a worktree of an older commit); its figures are
measured in the same rounds, alternating with this one, and the ratio other / this is printed::

    .venv/bin/python bench/dag_parse.py [--tenants 100 500 1000] [--files orders catalog order_status]
                                        [--repeat 3] [--other /tmp/old-checkout]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FILES = {"orders": "jetfort_orders.py", "catalog": "jetfort_catalog.py", "order_status": "jetfort_order_status.py"}


def tenant_env(root: Path, count: int) -> dict[str, str]:
    """``count`` tenants as Airflow Variable environment variables, the demo tenants in turn."""
    demos = sorted((root / "include" / "mappings" / "tenants").glob("*.json"))
    texts = [path.read_text(encoding="utf-8") for path in demos]
    return {f"AIRFLOW_VAR_JETFORT_TENANT_BENCH{i:05d}": texts[i % len(texts)] for i in range(count)}


def child(path: str) -> None:
    """Runs in the measured process: parse one file, serialize its DAGs, print the figures as JSON."""
    import airflow.sdk  # noqa: F401  (pre-imported by the DAG processor before it parses a file)
    from airflow.dag_processing.dagbag import DagBag
    from airflow.serialization.serialized_objects import DagSerialization

    import jetfort.factory as factory

    reads = 0
    real_read = factory.load_tenants_from_airflow

    def counted_read():  # type: ignore[no-untyped-def]
        nonlocal reads
        reads += 1
        return real_read()

    factory.load_tenants_from_airflow = counted_read  # the one name the DAG files' tenant list comes through
    started = time.perf_counter()
    bag = DagBag(dag_folder=path, safe_mode=False, load_op_links=False)
    parsed = time.perf_counter()
    for dag in bag.dags.values():
        DagSerialization.to_dict(dag)
    done = time.perf_counter()
    print(json.dumps({"dags": len(bag.dags), "errors": len(bag.import_errors), "parse": parsed - started,
                      "serialize": done - parsed, "reads": reads,
                      "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def measure(root: Path, file: str, tenants: int) -> dict:
    home = Path(tempfile.mkdtemp(prefix="jetfort-dag-parse-"))
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW_VAR_JETFORT_TENANT_")}
        env.update(tenant_env(root, tenants))
        env.update({"AIRFLOW_HOME": str(home), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                    "AIRFLOW__CORE__DAGS_FOLDER": str(root / "dags"),
                    "JETFORT_MAPPINGS_DIR": str(root / "include" / "mappings"),
                    "PYTHONPATH": os.pathsep.join([str(root / "plugins"), str(root)])})
        out = subprocess.run([sys.executable, __file__, "--child", str(root / "dags" / FILES[file])],
                             env=env, capture_output=True, text=True, check=False, timeout=1800)
        if out.returncode != 0:
            raise SystemExit(f"{root} {file} x {tenants}: exit {out.returncode}\n{out.stderr[-3000:]}")
        figures = json.loads(out.stdout.strip().splitlines()[-1])
        if figures["errors"]:
            raise SystemExit(f"{root} {file} x {tenants}: {figures['errors']} import errors\n{out.stderr[-3000:]}")
        return figures
    finally:
        shutil.rmtree(home, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tenants", type=int, nargs="+", default=[100, 500, 1000])
    parser.add_argument("--files", nargs="+", choices=sorted(FILES), default=["orders", "catalog", "order_status"])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--other", type=Path, help="another checkout, measured alternately (ratio other / this)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    roots = [ROOT] + ([args.other.resolve()] if args.other else [])
    print(f"{'file':<13} {'tenants':>7} {'code':<6} {'DAGs':>5} {'parse s':>8} {'serialize s':>11} "
          f"{'ms/tenant':>9} {'RSS MB':>7} {'reads':>5}")
    for file in args.files:
        for tenants in args.tenants:
            runs: dict[Path, list[dict]] = {root: [] for root in roots}
            for _ in range(args.repeat):
                for root in roots:  # alternate the checkouts round by round
                    runs[root].append(measure(root, file, tenants))
            totals = {}
            for root in roots:
                got = runs[root]
                parse = statistics.median(r["parse"] for r in got)
                serialize = statistics.median(r["serialize"] for r in got)
                totals[root] = statistics.median(r["parse"] + r["serialize"] for r in got)
                label = "this" if root == ROOT else "other"
                print(f"{file:<13} {tenants:>7} {label:<6} {got[0]['dags']:>5} {parse:>8.2f} {serialize:>11.2f} "
                      f"{totals[root] / tenants * 1000:>9.2f} {max(r['rss_mb'] for r in got):>7.0f} "
                      f"{max(r['reads'] for r in got):>5}")
            if args.other:
                print(f"{'':<13} {'':>7} ratio other / this: {totals[roots[1]] / totals[ROOT]:.2f}")


if __name__ == "__main__":
    main()
