"""Error families shared by every part of jetfort.

Airflow's retry policy (see :mod:`jetfort.factory`) fails a task at once on a
:class:`PermanentError` (bad input that a retry cannot fix) and retries a :class:`TransientError`.
Hook-specific errors subclass one of these.
"""

from __future__ import annotations

import datetime as dt
from email.utils import parsedate_to_datetime


class JetfortError(Exception):
    """Base of all jetfort errors."""


class PermanentError(JetfortError):
    """Deterministic failure: retrying with the same input gives the same answer."""

    retryable = False


class TransientError(JetfortError):
    """Failure that may pass on its own (rate limit, outage, lost connection)."""

    retryable = True


class PreflightFailed(PermanentError):
    """A tenant's rules do not match what Fortnox or the shop offers; the message lists every gap."""


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds a ``Retry-After`` header asks for (delta-seconds or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())
