"""Typed errors of the Jetshop hook.

The split matters for retries: a :class:`JetshopSenderFault` is a deterministic input error and is
never retried; :class:`JetshopTransientError` subclasses are what the hook retries (and what an
Airflow task may retry); a :class:`JetshopItemError` means the call went through but the service
refused some items, which the per-item results say.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class JetshopError(Exception):
    """Base class for everything the Jetshop hook raises.

    ``retryable`` tells a task's retry policy whether running again later can help.
    """

    retryable: bool = False

    def __init__(self, message: str, *, operation: str | None = None) -> None:
        super().__init__(f"{operation}: {message}" if operation else message)
        self.operation = operation
        self.message = message


class JetshopConfigError(JetshopError):
    """The connection is incomplete (missing endpoint, login or ShopId)."""


class JetshopAuthError(JetshopError):
    """HTTP 401/403: wrong integration login or a login that may not use this ShopId."""


class JetshopTransientError(JetshopError):
    """Worth retrying later: a 5xx without a SOAP fault, a timeout or a dropped connection."""

    retryable = True


class JetshopServerError(JetshopTransientError):
    """HTTP 5xx (or 408/429) that carried no SOAP fault."""

    def __init__(self, message: str, *, status_code: int, operation: str | None = None) -> None:
        super().__init__(message, operation=operation)
        self.status_code = status_code


class JetshopConnectionError(JetshopTransientError):
    """The connection was reset or timed out before a response arrived (the call may have been applied)."""


class JetshopFault(JetshopError):
    """A SOAP fault returned by the service."""

    def __init__(self, message: str, *, code: str, operation: str | None = None) -> None:
        super().__init__(message, operation=operation)
        self.code = code


class JetshopSenderFault(JetshopFault):
    """``soap:Sender`` (SOAP 1.1 ``Client``): the request was malformed; retrying cannot help."""


class JetshopReceiverFault(JetshopFault, JetshopTransientError):
    """``soap:Receiver`` (SOAP 1.1 ``Server``): the service failed while handling a valid request."""


class JetshopNotFound(JetshopError):
    """The service answered with an empty result for the requested order or product."""


class JetshopItemError(JetshopError):
    """Some items of a call were refused; ``results`` holds every per-item result, ``failures`` the bad ones."""

    def __init__(self, operation: str, failures: Sequence[Any], results: Sequence[Any]) -> None:
        details = "; ".join(_describe(item) for item in failures[:5])
        more = f" (+{len(failures) - 5} more)" if len(failures) > 5 else ""
        super().__init__(f"{len(failures)} of {len(results)} item(s) failed: {details}{more}",
                         operation=operation)
        self.failures = list(failures)
        self.results = list(results)


class JetshopCaptureRefused(JetshopItemError):
    """The payment capture was refused (cancelled order, amount above the authorisation, no PSP)."""


def _describe(item: Any) -> str:
    key = getattr(item, "key", None) or getattr(item, "article_number", None) or getattr(item, "order_id", "?")
    msg = getattr(item, "message", None) or getattr(item, "status", None) or "failed"
    return f"{key}: {msg}"
