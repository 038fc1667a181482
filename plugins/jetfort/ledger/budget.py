"""Sliding-window request budget shared by every process that uses one ledger database.

Fortnox allows 25 requests in any 5 s per company. Each request first takes a slot here: under
an exclusive lock (advisory lock per company on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite) the
slots of the last window are counted; a free slot is recorded, otherwise the caller learns how
long until the oldest one leaves the window.

This runs before every Fortnox call, so it is kept cheap: counting and recording are one
``INSERT ... SELECT ... WHERE count < limit`` built once, and rows older than the window are purged
only every :data:`PURGE_EVERY` calls or when the window is full. Old rows never count (the count
only looks at the window), so purging less often changes nothing but the table's size.
"""

from __future__ import annotations

import time

import sqlalchemy as sa

from jetfort.ledger.schema import request_log
from jetfort.ledger.store import Ledger

#: Purge rows that left the window every this many calls of one budget object (and when full).
PURGE_EVERY = 64

_COMPANY = sa.bindparam("company", type_=request_log.c.company.type)
_NOW = sa.bindparam("now", type_=request_log.c.at.type)
_START = sa.bindparam("start", type_=request_log.c.at.type)
_IN_WINDOW = (request_log.c.company == _COMPANY, request_log.c.at > _START)
#: Record a slot at ``now`` unless ``limit`` slots are in the window already (rowcount 1 or 0).
_TAKE = sa.insert(request_log).from_select(
    ["company", "at"],
    sa.select(_COMPANY, _NOW).where(
        sa.select(sa.func.count()).select_from(request_log).where(*_IN_WINDOW).scalar_subquery()
        < sa.bindparam("limit", type_=sa.Integer)))
_OLDEST = sa.select(sa.func.min(request_log.c.at)).where(*_IN_WINDOW)
_PURGE = sa.delete(request_log).where(request_log.c.company == _COMPANY, request_log.c.at <= _START)
_LOCK = sa.text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))")


class SqlRequestBudget:
    def __init__(self, ledger: Ledger, *, limit: int = 25, window: float = 5.0, purge: bool = True) -> None:
        self._ledger = ledger
        self.limit = limit
        self.window = window
        self._purge = purge  # tests keep the log to audit every window afterwards
        self._calls = 0

    def _now(self, conn: sa.Connection) -> float:
        if self._ledger.dialect == "postgresql":  # one clock for all hosts
            return float(conn.execute(sa.text("SELECT extract(epoch FROM clock_timestamp())")).scalar_one())
        return time.time()

    def try_acquire(self, company: str) -> float:
        """Take a slot and return 0.0, or take nothing and return the seconds to wait."""
        with self._ledger.engine.begin() as conn:
            if self._ledger.dialect == "postgresql":
                conn.execute(_LOCK, {"k": f"jetfort-budget:{company}"})
            now = self._now(conn)
            params = {"company": company, "now": now, "start": now - self.window, "limit": self.limit}
            self._calls += 1
            if self._purge and self._calls % PURGE_EVERY == 0:
                conn.execute(_PURGE, params)
            if conn.execute(_TAKE, params).rowcount == 1:
                return 0.0
            if self._purge:  # full: we wait anyway, a good moment to tidy up
                conn.execute(_PURGE, params)
            oldest = conn.execute(_OLDEST, params).scalar_one()
            return max(0.001, float(oldest) + self.window - now)

    def acquire(self, company: str, *, timeout: float | None = None) -> float:
        """Block until a slot is taken; returns the seconds spent waiting."""
        waited = 0.0
        while True:
            wait = self.try_acquire(company)
            if wait == 0.0:
                return waited
            if timeout is not None and waited + wait > timeout:
                raise TimeoutError(f"no Fortnox request slot for {company!r} within {timeout}s")
            time.sleep(wait)
            waited += wait
