"""Error families shared by every part of jetfort.

Airflow's retry policy (see :mod:`jetfort.factory`) fails a task at once on a
:class:`PermanentError` (bad input that a retry cannot fix) and retries a :class:`TransientError`.
Hook-specific errors subclass one of these.
"""

from __future__ import annotations


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
