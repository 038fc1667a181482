"""One Fortnox request budget per company, shared by every thread, process and host that calls it.

Fortnox allows 25 requests in any 5 s sliding window per (client, company) and answers 429 beyond
it. Every request first takes a slot from a :class:`RequestBudget`:

* :class:`LocalRequestBudget` - in-process; right only when a single worker talks to the company;
* :class:`RedisRequestBudget` - a sorted set per company, trimmed and counted by one Lua script so
  take-or-wait is atomic across hosts, using the Redis server clock;
* :class:`jetfort.ledger.budget.SqlRequestBudget` - the same in the ledger database (SQLite or
  PostgreSQL) for deployments without Redis.

Slots are taken at send time but Fortnox counts at arrival, and arrival delays vary (scheduling,
queueing). If no request waits more than ``J`` seconds longer than another between its slot and its
arrival, a client window of ``window + J`` keeps every server window at ``limit`` or fewer: arrivals
within ``window`` of each other had slots within ``window + J``. :func:`make_budget` therefore pads
the window by an absolute jitter allowance (and at least a fraction of the window), so the server
never sees more than ``limit`` in its window while the client still uses ~96 % of Fortnox's rate.

The in-process budget and the SQL one take a ``clock`` (and ``sleep``), so tests drive them by a
clock they advance instead of by the machine's speed.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from jetfort.ledger import Ledger
from jetfort.ledger.budget import SqlRequestBudget

FORTNOX_LIMIT = 25
FORTNOX_WINDOW = 5.0
#: window padding: at least this fraction of the window, and at least this many seconds (the
#: arrival-jitter allowance: how much longer one request may take than another from slot to arrival)
SAFETY_FRACTION = 0.04
SAFETY_MIN_SECONDS = 0.05
BUDGET_ENV = "JETFORT_FORTNOX_BUDGET"

Clock = Callable[[], float]
Sleep = Callable[[float], None]


@runtime_checkable
class RequestBudget(Protocol):
    """Sliding-window budget keyed by company."""

    limit: int
    window: float

    def try_acquire(self, company: str) -> float:
        """Take a slot and return 0.0, or take nothing and return the seconds to wait."""
        ...

    def acquire(self, company: str, *, timeout: float | None = None) -> float:
        """Block until a slot is taken; return the seconds waited (``TimeoutError`` past timeout)."""
        ...


def _acquire_loop(budget: RequestBudget, company: str, timeout: float | None,
                  sleep: Sleep = time.sleep) -> float:
    waited = 0.0
    while True:
        wait = budget.try_acquire(company)
        if wait <= 0.0:
            return waited
        if timeout is not None and waited + wait > timeout:
            raise TimeoutError(f"no Fortnox request slot for {company!r} within {timeout}s")
        sleep(wait)
        waited += wait


class LocalRequestBudget:
    """Thread-safe in-process budget (one worker process per company only).

    ``clock`` (seconds, monotonic) and ``sleep`` default to the machine's; a test passes a clock it
    advances and a sleep that advances it."""

    def __init__(self, *, limit: int = FORTNOX_LIMIT, window: float = FORTNOX_WINDOW,
                 clock: Clock = time.monotonic, sleep: Sleep = time.sleep) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._sent: dict[str, deque[float]] = {}

    def try_acquire(self, company: str) -> float:
        now = self._clock()
        with self._lock:
            sent = self._sent.setdefault(company, deque())
            while sent and sent[0] <= now - self.window:
                sent.popleft()
            if len(sent) < self.limit:
                sent.append(now)
                return 0.0
            return max(0.001, sent[0] + self.window - now)

    def acquire(self, company: str, *, timeout: float | None = None) -> float:
        return _acquire_loop(self, company, timeout, self._sleep)


# KEYS[1] = zset; ARGV = limit, window (µs), unique member. Returns 0 or µs to wait.
_REDIS_SCRIPT = """
local key = KEYS[1]
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
if redis.call('ZCARD', key) < limit then
  redis.call('ZADD', key, now, ARGV[3])
  redis.call('PEXPIRE', key, math.ceil(window / 1000) + 1000)
  return 0
end
local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
return math.max(1000, math.floor(tonumber(oldest[2]) + window - now))
"""


class RedisRequestBudget:
    """Budget in Redis: ``ZSET`` of send times per company, one atomic Lua script per attempt."""

    def __init__(self, client: Any, *, limit: int = FORTNOX_LIMIT, window: float = FORTNOX_WINDOW,
                 prefix: str = "jetfort:fortnox:budget:") -> None:
        self.limit = limit
        self.window = window
        self._client = client
        self._prefix = prefix
        self._script = client.register_script(_REDIS_SCRIPT)

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> RedisRequestBudget:
        import redis

        return cls(redis.Redis.from_url(url), **kwargs)

    def key(self, company: str) -> str:
        return f"{self._prefix}{company}"

    def try_acquire(self, company: str) -> float:
        member = uuid.uuid4().hex
        wait_us = int(self._script(keys=[self.key(company)],
                                   args=[self.limit, int(self.window * 1_000_000), member]))
        return wait_us / 1_000_000

    def acquire(self, company: str, *, timeout: float | None = None) -> float:
        return _acquire_loop(self, company, timeout)


class CappedRequestBudget:
    """A caller's cap inside a company's budget: each request takes a slot under the cap (its own
    key ``<company><suffix>``, a lower limit in the same window), then one of the company's.

    A run that may be slow (a scheduled safety-net read while Fortnox events drive the fast path)
    thus leaves ``company limit - cap`` requests per window to the latency-sensitive runs of the
    same company, and still uses the whole cap when nobody else calls.

    The cap counts sends, like Fortnox: a request is sent as soon as it holds both slots, so both
    must be taken at (nearly) the same moment. The cap slot is taken first (waiting for it holds no
    company slot); then the company slot only if one is free at once. If the company's budget is
    full (the others are using it), the cap slot is given up: the caller sleeps until a company slot
    frees and takes a new cap slot. Waiting with a cap slot in hand would stamp it before the send,
    and a cap slot stamped early lets more than the cap be sent in one window (all the delayed
    requests at once, then the next cap's worth). A given-up slot slows this caller only."""

    def __init__(self, company_budget: RequestBudget, cap: RequestBudget, *, suffix: str = ":capped",
                 sleep: Sleep = time.sleep) -> None:
        if cap.limit >= company_budget.limit:
            raise ValueError(f"a cap of {cap.limit} leaves nothing of the company's {company_budget.limit}")
        self.company_budget, self.cap, self.suffix, self._sleep = company_budget, cap, suffix, sleep
        self.limit, self.window = company_budget.limit, company_budget.window

    def try_acquire(self, company: str) -> float:
        """As :meth:`RequestBudget.try_acquire`; a cap slot taken while the company's budget is full
        is given up (it slows this caller only, never the others)."""
        wait = self.cap.try_acquire(company + self.suffix)
        return wait if wait > 0.0 else self.company_budget.try_acquire(company)

    def acquire(self, company: str, *, timeout: float | None = None) -> float:
        waited = 0.0
        while True:
            left = None if timeout is None else max(0.0, timeout - waited)
            waited += self.cap.acquire(company + self.suffix, timeout=left)
            wait = self.company_budget.try_acquire(company)
            if wait <= 0.0:
                return waited
            if timeout is not None and waited + wait > timeout:
                raise TimeoutError(f"no Fortnox request slot for {company!r} within {timeout}s")
            self._sleep(wait)
            waited += wait


def capped(budget: RequestBudget, share: float, make: Callable[[int], RequestBudget], *,
           sleep: Sleep = time.sleep) -> CappedRequestBudget:
    """``budget`` with a cap of ``share`` of its limit (at least 1); ``make(limit)`` builds the cap's
    budget on the same backend and window."""
    if not 0.0 < share < 1.0:
        raise ValueError(f"a budget share is a fraction between 0 and 1, not {share!r}")
    return CappedRequestBudget(budget, make(max(1, int(budget.limit * share))), suffix=f":share{share:g}",
                               sleep=sleep)


def padded_window(window: float, *, fraction: float = SAFETY_FRACTION,
                  minimum: float = SAFETY_MIN_SECONDS) -> float:
    """The window the client enforces: Fortnox's plus a margin for arrival jitter, the larger of
    ``fraction`` of the window and ``minimum`` seconds (the absolute jitter allowance)."""
    return window + max(window * fraction, minimum)


def rate_use(window: float, enforced: float) -> float:
    """The share of the server's allowed rate a budget enforcing ``enforced`` can use at most."""
    return window / enforced


def make_budget(backend: str | None = None, *, ledger: Ledger | None = None, limit: int = FORTNOX_LIMIT,
                window: float = FORTNOX_WINDOW, safety_fraction: float = SAFETY_FRACTION,
                safety_min: float = SAFETY_MIN_SECONDS) -> RequestBudget:
    """Build the budget named by ``backend`` (or ``$JETFORT_FORTNOX_BUDGET``).

    ``backend``: ``"redis://..."``/``"rediss://..."`` (Redis), ``"ledger"`` (the ledger database;
    needs ``ledger``), ``"local"`` (this process only). Unset: the ledger when one is given, else
    local. ``limit``/``window`` are Fortnox's; the enforced window is padded (see :func:`padded_window`).
    """
    choice = (backend or os.environ.get(BUDGET_ENV) or ("ledger" if ledger is not None else "local")).strip()
    effective = padded_window(window, fraction=safety_fraction, minimum=safety_min)
    if choice.startswith(("redis://", "rediss://", "unix://")):
        return RedisRequestBudget.from_url(choice, limit=limit, window=effective)
    if choice == "ledger":
        if ledger is None:
            ledger = Ledger.from_conn_id()
        return SqlRequestBudget(ledger, limit=limit, window=effective)
    if choice == "local":
        return LocalRequestBudget(limit=limit, window=effective)
    shown = choice.split(":", 1)[0] + (":…" if ":" in choice else "")  # a mistyped URL may hold a password
    raise ValueError(f"unknown Fortnox budget backend {shown!r}: use redis://..., 'ledger' or 'local'")


__all__ = [
    "FORTNOX_LIMIT",
    "FORTNOX_WINDOW",
    "CappedRequestBudget",
    "LocalRequestBudget",
    "RedisRequestBudget",
    "RequestBudget",
    "capped",
    "make_budget",
    "padded_window",
    "rate_use",
]
