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

``--floor`` also measures Airflow's own share: the same DAG ids, each with the same cron timetable (one
per DAG) and as many ``@task`` tasks (a chain of no-op functions), written as a plain Airflow user
would, parsed and serialized in a fresh process of its own. jetfort's share is the rest.

``--other PATH`` names another checkout (e.g. a worktree of an older commit); its figures are
measured in the same rounds, alternating with this one, and the ratio other / this is printed::

    .venv/bin/python bench/dag_parse.py [--tenants 100 500 1000] [--files orders catalog order_status]
                                        [--repeat 3] [--floor] [--other /tmp/old-checkout]
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


#: The floor's DAG file: the shapes jetfort's parse built (``JETFORT_BENCH_SHAPES``, a JSON file), each
#: as a plain Airflow DAG.
FLOOR_FILE = '''
import datetime as dt
import json
import os

from airflow.sdk import DAG, CronDataIntervalTimetable, task


def _noop():
    return None


with open(os.environ["JETFORT_BENCH_SHAPES"], encoding="utf-8") as fh:
    SHAPES = json.load(fh)
for dag_id, tasks, cron, timezone in SHAPES:
    with DAG(dag_id=dag_id, schedule=CronDataIntervalTimetable(cron, timezone=timezone) if cron else None,
             start_date=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc), catchup=False) as dag:
        previous = None
        for number in range(tasks):
            current = task(task_id=f"task_{number}")(_noop)()
            if previous is not None:
                previous >> current
            previous = current
    globals()[dag_id] = dag
'''


def shape(dag) -> list:  # type: ignore[no-untyped-def]
    """A DAG's id, task count, cron and time zone (both None without a cron)."""
    timetable = getattr(dag.timetable, "timetable", dag.timetable)  # an AssetOrTimeSchedule's cron
    cron = getattr(timetable, "expression", None)
    return [dag.dag_id, len(dag.tasks), cron, str(timetable.timezone) if cron else None]


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
    if os.environ.get("JETFORT_BENCH_SHAPES_OUT"):
        Path(os.environ["JETFORT_BENCH_SHAPES_OUT"]).write_text(
            json.dumps([shape(dag) for dag in bag.dags.values()]), encoding="utf-8")
    print(json.dumps({"dags": len(bag.dags), "errors": len(bag.import_errors), "parse": parsed - started,
                      "serialize": done - parsed, "reads": reads,
                      "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def _run_child(dag_file: Path, env: dict[str, str], what: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", str(dag_file)],
                         env=env, capture_output=True, text=True, check=False, timeout=1800)
    if out.returncode != 0:
        raise SystemExit(f"{what}: exit {out.returncode}\n{out.stderr[-3000:]}")
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    if figures["errors"]:
        raise SystemExit(f"{what}: {figures['errors']} import errors\n{out.stderr[-3000:]}")
    return figures


def measure(root: Path, file: str, tenants: int, floor: bool = False) -> dict:
    """One parse of ``file`` at ``tenants``; with ``floor``, then the floor file on the same DAG shapes
    (its figures under ``"floor"``)."""
    home = Path(tempfile.mkdtemp(prefix="jetfort-dag-parse-"))
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW_VAR_JETFORT_TENANT_")}
        env.update(tenant_env(root, tenants))
        env.update({"AIRFLOW_HOME": str(home), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                    "AIRFLOW__CORE__DAGS_FOLDER": str(root / "dags"),
                    "JETFORT_MAPPINGS_DIR": str(root / "include" / "mappings"),
                    "PYTHONPATH": os.pathsep.join([str(root / "plugins"), str(root)])})
        shapes = home / "shapes.json"
        if floor:
            env["JETFORT_BENCH_SHAPES_OUT"] = str(shapes)
        figures = _run_child(root / "dags" / FILES[file], env, f"{root} {file} x {tenants}")
        if floor:
            floor_file = home / "floor_dags.py"
            floor_file.write_text(FLOOR_FILE, encoding="utf-8")
            env.pop("JETFORT_BENCH_SHAPES_OUT")
            env["JETFORT_BENCH_SHAPES"] = str(shapes)
            figures["floor"] = _run_child(floor_file, env, f"floor of {file} x {tenants}")
            if figures["floor"]["dags"] != figures["dags"]:
                raise SystemExit(f"floor of {file} x {tenants}: {figures['floor']['dags']} DAGs, "
                                 f"not {figures['dags']}")
        return figures
    finally:
        shutil.rmtree(home, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tenants", type=int, nargs="+", default=[100, 500, 1000])
    parser.add_argument("--files", nargs="+", choices=sorted(FILES), default=["orders", "catalog", "order_status"])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--other", type=Path, help="another checkout, measured alternately (ratio other / this)")
    parser.add_argument("--floor", action="store_true",
                        help="also measure plain Airflow DAGs of the same shapes (Airflow's own share)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    roots = [ROOT] + ([args.other.resolve()] if args.other else [])
    print(f"{'file':<13} {'tenants':>7} {'code':<6} {'DAGs':>5} {'parse s':>8} {'serialize s':>11} "
          f"{'ms/tenant':>9} {'RSS MB':>7} {'reads':>5}" + (f" {'floor ms/tenant':>15} {'jetfort ms/tenant':>17}"
                                                            if args.floor else ""))
    for file in args.files:
        for tenants in args.tenants:
            runs: dict[Path, list[dict]] = {root: [] for root in roots}
            for _ in range(args.repeat):
                for root in roots:  # alternate the checkouts round by round
                    runs[root].append(measure(root, file, tenants, floor=args.floor))
            totals = {}
            for root in roots:
                got = runs[root]
                parse = statistics.median(r["parse"] for r in got)
                serialize = statistics.median(r["serialize"] for r in got)
                totals[root] = statistics.median(r["parse"] + r["serialize"] for r in got)
                label = "this" if root == ROOT else "other"
                line = (f"{file:<13} {tenants:>7} {label:<6} {got[0]['dags']:>5} {parse:>8.2f} {serialize:>11.2f} "
                        f"{totals[root] / tenants * 1000:>9.2f} {max(r['rss_mb'] for r in got):>7.0f} "
                        f"{max(r['reads'] for r in got):>5}")
                if args.floor:
                    floor = statistics.median(r["floor"]["parse"] + r["floor"]["serialize"] for r in got)
                    line += f" {floor / tenants * 1000:>15.2f} {(totals[root] - floor) / tenants * 1000:>17.2f}"
                print(line)
            if args.other:
                print(f"{'':<13} {'':>7} ratio other / this: {totals[roots[1]] / totals[ROOT]:.2f}")


if __name__ == "__main__":
    main()
