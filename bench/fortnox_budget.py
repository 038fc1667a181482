"""How much of Fortnox's request budget does the FortnoxHook use, and does it ever get a 429?

A backlog of API calls against the Fortnox sandbox, spread over several worker processes that share
one company's budget (as Airflow workers do). Measured from the sandbox's own request log:

* achieved fraction of the allowed rate - after the first ``limit`` requests (the free burst),
  requests per second divided by ``limit / window``; goal >= 0.90;
* calls that failed because of 429 (after the hook's retries); goal 0. Also shown: how many 429s
  the sandbox answered at all, and the most requests it accepted in any window.

The sandbox runs 25 requests per 2 s instead of per 5 s by default (same limit, faster run).

    .venv/bin/python bench/fortnox_budget.py [--calls 300] [--workers 4] [--window 2.0]
                                             [--backends local,ledger,redis]
"""

from __future__ import annotations

import argparse
import atexit
import multiprocessing as mp
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
for extra in (str(REPO), str(REPO / "plugins")):
    if extra not in sys.path:
        sys.path.insert(0, extra)

DEFAULT_REDIS = "redis://127.0.0.1:6379/15"


def _worker(params: dict[str, Any], ledger_url: str | None, backend: str, calls: int, results: Any) -> None:
    from jetfort.fortnox.errors import FortnoxError, FortnoxRateLimited
    from jetfort.fortnox.hook import FortnoxHook
    from jetfort.ledger import Ledger

    ledger = Ledger.from_url(ledger_url, migrate_schema=False) if ledger_url else None
    failed_429 = failed_other = 0
    with FortnoxHook.from_params(**params, ledger=ledger, budget=backend) as hook:
        for _ in range(calls):
            try:
                hook.company_information()
            except FortnoxRateLimited:
                failed_429 += 1
            except FortnoxError:
                failed_other += 1
        results.put({"sent": hook.request_count, "failed_429": failed_429, "failed_other": failed_other})


def run(backend: str, *, calls: int, workers: int, limit: int, window: float) -> dict[str, Any]:
    from jetfort.ledger import Ledger
    from sandbox.fortnox import create_app
    from sandbox.fortnox.ratelimit import max_in_window
    from sandbox.server import serve_in_thread

    app = create_app(seed=5, rate_limit=limit, rate_window=window)
    sandbox = app.sandbox
    creds = sandbox.default
    tmp = tempfile.mkdtemp(prefix="jetfort-bench-")
    atexit.register(shutil.rmtree, tmp, True)  # the bench leaves no temporary directory
    ledger_url = f"sqlite:///{tmp}/ledger.db"
    Ledger.from_url(ledger_url)
    name = "ledger" if backend == "ledger" else backend
    if backend == "redis":
        import redis

        url = os.environ.get("JETFORT_TEST_REDIS_URL", DEFAULT_REDIS)
        redis.Redis.from_url(url).delete(f"jetfort:fortnox:budget:{creds.tenant_id}")
        name = url
    n_workers = 1 if backend == "local" else workers  # an in-process budget is only right for one worker
    with serve_in_thread(app) as base:
        params = dict(base_url=base, auth_url=f"{base}/oauth-v1/token", client_id=creds.client_id,
                      client_secret=creds.client_secret, refresh_token=creds.refresh_token,
                      company=str(creds.tenant_id), rate_limit=limit, rate_window=window)
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(["jetfort.fortnox.hook"])
        results = ctx.Queue()
        share = [calls // n_workers + (1 if i < calls % n_workers else 0) for i in range(n_workers)]
        procs = [ctx.Process(target=_worker, args=(params, ledger_url, name, n, results)) for n in share]
        for p in procs:
            p.start()
        reports = [results.get(timeout=600) for _ in procs]
        for p in procs:
            p.join(30)
    log = [e for e in sandbox.request_log if e.get("tenant") == creds.tenant_id]
    stamps = sorted(e["t"] for e in log if e.get("status") not in (401, 429))
    span = stamps[-1] - stamps[0] if len(stamps) > 1 else 0.0
    achieved = (len(stamps) - limit) / span if span > 0 and len(stamps) > limit else 0.0
    allowed = limit / window
    return {
        "backend": backend,
        "workers": n_workers,
        "calls": calls,
        "accepted": len(stamps),
        "seconds": round(span, 2),
        "fraction_of_allowed_rate": round(achieved / allowed, 3),
        "calls_failed_429": sum(r["failed_429"] for r in reports),
        "calls_failed_other": sum(r["failed_other"] for r in reports),
        "server_429_answers": sum(1 for e in log if e.get("status") == 429),
        "max_accepted_in_any_window": max_in_window(stamps, window),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=300, help="backlog size per backend")
    parser.add_argument("--workers", type=int, default=4, help="worker processes sharing the budget")
    parser.add_argument("--limit", type=int, default=25)
    parser.add_argument("--window", type=float, default=2.0, help="seconds (Fortnox: 5.0)")
    parser.add_argument("--backends", default="local,ledger,redis")
    args = parser.parse_args(argv)
    os.environ.setdefault("JETFORT_LEDGER_SECRET_KEY", _throwaway_key())
    ok = True
    print(f"Fortnox budget bench: {args.calls} calls, limit {args.limit} per {args.window}s")
    for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
        if backend == "redis" and not _redis_up():
            print("  redis: skipped (no Redis at JETFORT_TEST_REDIS_URL or 127.0.0.1:6379)")
            continue
        result = run(backend, calls=args.calls, workers=args.workers, limit=args.limit, window=args.window)
        good = (result["fraction_of_allowed_rate"] >= 0.90 and result["calls_failed_429"] == 0
                and result["max_accepted_in_any_window"] <= args.limit)
        ok = ok and good
        print(f"  {backend:6s} workers={result['workers']} accepted={result['accepted']} in {result['seconds']}s"
              f"  fraction_of_allowed_rate={result['fraction_of_allowed_rate']:.3f} (goal >= 0.90)"
              f"  calls_failed_429={result['calls_failed_429']} (goal 0)"
              f"  server_429_answers={result['server_429_answers']}"
              f"  max_in_window={result['max_accepted_in_any_window']}/{args.limit}"
              f"  other_failures={result['calls_failed_other']}  {'OK' if good else 'MISSED'}")
    return 0 if ok else 1


def _throwaway_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


def _redis_up() -> bool:
    try:
        import redis

        return bool(redis.Redis.from_url(os.environ.get("JETFORT_TEST_REDIS_URL", DEFAULT_REDIS),
                                         socket_timeout=1).ping())
    except Exception:
        return False


if __name__ == "__main__":
    raise SystemExit(main())
