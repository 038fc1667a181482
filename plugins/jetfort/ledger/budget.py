"""Sliding-window request budget shared by every process that uses one ledger database.

Fortnox allows 25 requests in any 5 s per company. Each request first takes a slot here: under
an exclusive lock (advisory lock per company on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite) the
slots of the last window are counted; a free slot is recorded, otherwise the caller learns how
long until the oldest one leaves the window.
"""

from __future__ import annotations

import time

import sqlalchemy as sa

from jetfort.ledger.schema import request_log
from jetfort.ledger.store import Ledger


class SqlRequestBudget:
    def __init__(self, ledger: Ledger, *, limit: int = 25, window: float = 5.0, purge: bool = True) -> None:
        self._ledger = ledger
        self.limit = limit
        self.window = window
        self._purge = purge  # tests keep the log to audit every window afterwards

    def _now(self, conn: sa.Connection) -> float:
        if self._ledger.dialect == "postgresql":  # one clock for all hosts
            return float(conn.execute(sa.text("SELECT extract(epoch FROM clock_timestamp())")).scalar_one())
        return time.time()

    def try_acquire(self, company: str) -> float:
        """Take a slot and return 0.0, or take nothing and return the seconds to wait."""
        with self._ledger.engine.begin() as conn:
            if self._ledger.dialect == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"),
                             {"k": f"jetfort-budget:{company}"})
            now = self._now(conn)
            start = now - self.window
            if self._purge:
                conn.execute(sa.delete(request_log).where(request_log.c.company == company,
                                                          request_log.c.at <= start))
            used, oldest = conn.execute(
                sa.select(sa.func.count(), sa.func.min(request_log.c.at)).where(
                    request_log.c.company == company, request_log.c.at > start)
            ).one()
            if used < self.limit:
                conn.execute(sa.insert(request_log).values(company=company, at=now))
                return 0.0
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
