"""The Fortnox sandbox as the container-less Celery stack runs it (``sandbox/celery_stack.py``): the
ordinary emulator plus read-only audit counters at ``/_sandbox/dist/audit`` (every request arrival
per company, accepted or not, and the most arriving / accepted in any window; the shortest span
holding ``limit + 1`` arrivals; refresh rotations and ``invalid_grant`` answers per company), so a
test proves budget and token sharing from the sandbox's own view. It changes no behaviour.

``python -m sandbox.fortnox.audited --port P [--rate-limit 25 --rate-window 5 --access-ttl 3600]``
"""

from __future__ import annotations

import argparse
import threading
import time
from collections import defaultdict
from typing import Any

from sandbox.fortnox.ratelimit import max_in_window


def shortest_span(stamps: list[float], count: int) -> float | None:
    """The shortest time holding ``count`` of the sorted ``stamps`` (None: fewer stamps than that).
    A sandbox window holds more than the limit exactly when this, for ``limit + 1``, is < the window."""
    if count < 1 or len(stamps) < count:
        return None
    return min(stamps[i + count - 1] - stamps[i] for i in range(len(stamps) - count + 1))


def audited_fortnox_app(rate_limit: int, rate_window: float, access_ttl: float) -> Any:
    """The Fortnox sandbox plus counters of what it saw; it changes no behaviour."""
    from sandbox.fortnox.app import create_app
    from sandbox.fortnox.oauth import OAuthError

    app = create_app(rate_limit=rate_limit, rate_window=rate_window, access_ttl=access_ttl)
    sandbox = app.state.sandbox
    lock = threading.Lock()
    arrivals: dict[int, list[float]] = defaultdict(list)
    rejected: dict[int, int] = defaultdict(int)
    rotations: dict[int, int] = defaultdict(int)
    invalid_grant: dict[str, int] = defaultdict(int)
    limiter, oauth = sandbox.limiter, sandbox.oauth
    limiter_acquire, oauth_token = limiter.try_acquire, oauth.token

    def try_acquire(key: tuple[int, str], now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        ok = bool(limiter_acquire(key, now))
        with lock:
            arrivals[key[0]].append(now)
            if not ok:
                rejected[key[0]] += 1
        return ok

    def token(authorization: str | None, form: dict[str, str], tenant_header: str | None) -> dict[str, Any]:
        grant = oauth.refresh_tokens.get(form.get("refresh_token", "")) if form.get("grant_type") == "refresh_token" else None
        try:
            body = oauth_token(authorization, form, tenant_header)
        except OAuthError as exc:
            if exc.error == "invalid_grant":
                with lock:
                    invalid_grant[str(grant.tenant_id) if grant else "unknown"] += 1
            raise
        if grant is not None:
            with lock:
                rotations[grant.tenant_id] += 1
        return body

    limiter.try_acquire = try_acquire
    oauth.token = token

    @app.get("/_sandbox/dist/audit")
    def audit() -> dict[str, Any]:
        with lock:
            stamps = {t: sorted(v) for t, v in arrivals.items()}
            out_rejected, out_rot, out_bad = dict(rejected), dict(rotations), dict(invalid_grant)
        companies = {}
        for tenant in set(stamps) | set(out_rot):
            times = stamps.get(tenant, [])
            accepted = sorted(t for stamps_ in limiter.timestamps(tenant).values() for t in stamps_)
            companies[str(tenant)] = {"requests": len(times), "rejected_429": out_rejected.get(tenant, 0),
                                      "max_in_window": max_in_window(times, limiter.window),
                                      "max_accepted_in_window": max_in_window(accepted, limiter.window),
                                      "shortest_span_over_limit": shortest_span(times, limiter.limit + 1),
                                      "refresh_rotations": out_rot.get(tenant, 0)}
        return {"limit": limiter.limit, "window": limiter.window, "companies": companies,
                "invalid_grant": out_bad}

    return app


def _serve_fortnox(args: argparse.Namespace) -> None:
    import uvicorn

    app = audited_fortnox_app(args.rate_limit, args.rate_window, args.access_ttl)
    print(f"fortnox sandbox (audited) on http://127.0.0.1:{args.port}: {args.rate_limit} per {args.rate_window}s, "
          f"access tokens {args.access_ttl}s", flush=True)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox.fortnox.audited", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--rate-limit", type=int, default=25)
    parser.add_argument("--rate-window", type=float, default=5.0)
    parser.add_argument("--access-ttl", type=float, default=3600.0)
    _serve_fortnox(parser.parse_args(argv))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
