"""Sliding-window request budget shared by every process that uses one ledger database.

Fortnox allows 25 requests in any 5 s per company. Each request first takes a slot here: under
an exclusive lock (advisory lock per company on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite) the
stamps of the company's slots since one window ago are read, at most ``limit`` of them, newest
first, and a slot is recorded only where it keeps every window at ``limit`` or fewer.

* :meth:`SqlRequestBudget.try_acquire` takes a slot *now* if fewer than ``limit`` stamps are that
  recent, else takes nothing and says how long until one leaves the window;
* :meth:`SqlRequestBudget.acquire` (what the Fortnox hook calls) takes the slot now, or *reserves*
  the earliest one that keeps every window within the limit - stamped at that future moment - and
  sleeps until then: one trip to the database per request, and waiting callers are served in turn
  instead of all waking for the same freed slot.

Why a reservation is safe: let ``s`` be the stamps later than ``now - window`` (future reservations
included) and ``t`` the new stamp. If fewer than ``limit`` exist, ``t = now``: every window holding
``now`` lies within ``(now - window, now + window)``, so it holds fewer than ``limit`` others. Else
``t = max(newest, limit-th newest + window)``: no stamp is later than ``t``, so a window holding
``t`` holds only stamps of ``(t - window, t]``, and fewer than ``limit`` of ``s`` are that recent.

This runs before every Fortnox call, so it is kept cheap: the SQL text is compiled once per dialect
and run straight on a pooled DBAPI connection (no SQLAlchemy statement execution per call), and rows
older than the window are purged only every :data:`PURGE_EVERY` calls. Old rows never count (only
stamps later than ``now - window`` are read), so purging less often changes nothing but the table's
size.

``clock`` (epoch seconds) and ``sleep`` default to the machine's (PostgreSQL: the server's clock);
a test passes a clock it advances and a sleep that advances it, on either database.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from jetfort.ledger.store import Ledger

#: Purge rows that left the window every this many calls of one budget object.
PURGE_EVERY = 64
#: Added to the wait :meth:`SqlRequestBudget.try_acquire` returns, so that a caller sleeping that
#: long finds the slot free even if its clock and the stamps' differ by a little (e.g. time.sleep runs
#: on the monotonic clock, stamps come from the wall clock, which NTP may slew).
WAIT_MARGIN = 0.0005

_LOCK = "SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"
#: The newest ``limit`` stamps later than ``now - window``. On PostgreSQL ``now`` is the server's clock
#: (one clock for all hosts), read after the lock by the same statement that reads the stamps; with
#: a clock of the caller's (tests) the "given" statement, on either database.
_RECENT = {
    "given": "SELECT at FROM request_log WHERE company = :company AND at > :start ORDER BY at DESC LIMIT :limit",
    "postgresql": "SELECT n.now, r.at FROM (SELECT CAST(extract(epoch FROM clock_timestamp()) AS DOUBLE PRECISION)"
                  " AS now) AS n LEFT JOIN LATERAL (SELECT at FROM request_log WHERE company = :company"
                  " AND at > n.now - :window ORDER BY at DESC LIMIT :limit) AS r ON true",
}
_INSERT = "INSERT INTO request_log (company, at) VALUES (:company, :at)"
_PURGE = "DELETE FROM request_log WHERE company = :company AND at <= :start"


@dataclass(frozen=True)
class _Sql:
    """SQL text compiled for one dialect: the driver's paramstyle and parameter order."""

    text: str
    order: tuple[str, ...] | None  # positional paramstyles: the order of the named values

    @classmethod
    def compile(cls, text: str, dialect: sa.Dialect) -> _Sql:
        compiled = sa.text(text).compile(dialect=dialect)
        return cls(compiled.string, tuple(compiled.positiontup or ()) if compiled.positional else None)

    def run(self, cursor: Any, values: Mapping[str, Any]) -> Any:
        cursor.execute(self.text, tuple(values[n] for n in self.order) if self.order is not None else values)
        return cursor


class SqlRequestBudget:
    def __init__(self, ledger: Ledger, *, limit: int = 25, window: float = 5.0, purge: bool = True,
                 clock: Callable[[], float] | None = None, sleep: Callable[[float], None] = time.sleep) -> None:
        self._ledger = ledger
        self.limit = limit
        self.window = window
        self._purge = purge  # tests keep the log to audit every window afterwards
        self._calls = 0
        self._local = threading.local()  # SQLite: each thread's own connection (see _connection)
        dialect = ledger.engine.dialect
        self._postgresql = dialect.name == "postgresql"
        self._server_clock = self._postgresql and clock is None
        self._clock = clock or time.time
        self._sleep = sleep
        self._lock = _Sql.compile(_LOCK, dialect) if self._postgresql else None
        self._recent = _Sql.compile(_RECENT["postgresql" if self._server_clock else "given"], dialect)
        self._insert = _Sql.compile(_INSERT, dialect)
        self._purge_sql = _Sql.compile(_PURGE, dialect)

    def try_acquire(self, company: str) -> float:
        """Take a slot and return 0.0, or take nothing and return the seconds to wait."""
        return self._take(company, reserve=False)

    def acquire(self, company: str, *, timeout: float | None = None) -> float:
        """Take a slot now or reserve the earliest free one and sleep until then; returns the seconds
        waited. ``TimeoutError`` (and nothing taken) when that is more than ``timeout`` seconds away."""
        wait = self._take(company, reserve=True, timeout=timeout)
        if wait > 0:
            self._sleep(wait)
        return wait

    def _take(self, company: str, *, reserve: bool, timeout: float | None = None) -> float:
        """Record a slot and return the seconds until it (0.0: now). Without ``reserve`` only a slot now
        is taken: when none is free, nothing is recorded and the seconds until one is are returned."""
        raw = self._connection()
        try:
            cursor = raw.cursor()
            values: dict[str, Any] = {"company": company, "window": self.window, "limit": self.limit}
            if self._lock is not None:  # PostgreSQL: the driver opens the transaction
                self._lock.run(cursor, {"key": f"jetfort-budget:{company}"})
            else:
                cursor.execute("BEGIN IMMEDIATE")  # isolation_level None: we begin ourselves (engine.py)
            if self._server_clock:
                rows = self._recent.run(cursor, values).fetchall()
                now = float(rows[0][0])
                stamps = [float(r[1]) for r in rows if r[1] is not None]
            else:
                now = self._clock()
                stamps = [float(r[0]) for r in self._recent.run(cursor, {**values, "start": now - self.window})]
            at = now
            if len(stamps) >= self.limit:
                stamps.sort()
                free_at = stamps[-self.limit] + self.window  # the limit-th newest leaves the window
                if not reserve:
                    raw.rollback()
                    return max(0.001, free_at - now + WAIT_MARGIN)
                at = max(now, stamps[-1], free_at)
                if timeout is not None and at - now > timeout:
                    raw.rollback()
                    raise TimeoutError(f"no Fortnox request slot for {company!r} within {timeout}s")
            self._insert.run(cursor, {"company": company, "at": at})
            self._calls += 1
            if self._purge and self._calls % PURGE_EVERY == 0:
                self._purge_sql.run(cursor, {"company": company, "start": now - self.window})
            raw.commit()
            return at - now
        except BaseException:
            raw.rollback()
            raise
        finally:
            if self._postgresql:
                raw.close()  # back to the pool

    def _connection(self) -> Any:
        """PostgreSQL: a pooled DBAPI connection (without Core's execution machinery). SQLite: this
        thread's own connection, taken out of the pool once and set to ``synchronous = NORMAL`` — a
        stamp lost to a power cut is long out of the window when the machine is back, so its commits
        need no fsync (WAL + NORMAL still never corrupts the database), while the ledger's pooled
        connections keep full durability."""
        if self._postgresql:
            return self._ledger.engine.raw_connection()
        raw = getattr(self._local, "raw", None)
        if raw is None or self._local.pid != os.getpid():  # never a connection inherited through fork
            raw = self._ledger.engine.raw_connection()
            raw.detach()  # never returned to the pool: its settings stay ours
            raw.cursor().execute("PRAGMA synchronous = NORMAL")
            self._local.raw, self._local.pid = raw, os.getpid()
        return raw

    def close(self) -> None:
        """Close this thread's own SQLite connection, if any (it is closed with the process anyway)."""
        raw = getattr(self._local, "raw", None)
        if raw is not None:
            self._local.raw = None
            raw.close()
