"""Typed errors of the Shop hook.

The split matters for retries: a :class:`ShopRejected` is a deterministic input error and is
never retried; :class:`ShopTransientError` subclasses are what the hook retries (and what an
Airflow task may retry); a :class:`ShopItemError` means the call went through but the service
refused some items, which the per-item results say.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class ShopError(Exception):
    """Base class for everything a shop backend raises.

    ``retryable`` tells a task's retry policy whether running again later can help.
    """

    retryable: bool = False

    def __init__(self, message: str, *, operation: str | None = None) -> None:
        super().__init__(f"{operation}: {message}" if operation else message)
        self.operation = operation
        self.message = message

    def during(self, operation: str) -> ShopError:
        """This error, named after the operation it happened in (when it does not name one yet)."""
        if self.operation is None:
            self.operation = operation
            self.args = (f"{operation}: {self.message}",)
        return self


class ShopConfigError(ShopError):
    """The connection is incomplete (missing endpoint, credentials or shop id)."""


class ShopAuthError(ShopError):
    """HTTP 401/403: wrong credentials, or credentials that may not use this shop."""


class ShopTransientError(ShopError):
    """Worth retrying later: a 5xx, a 429, a timeout or a dropped connection."""

    retryable = True


class ShopServerError(ShopTransientError):
    """HTTP 5xx (or 408/429) that carried no answer the backend could read as a refusal."""

    def __init__(self, message: str, *, status_code: int, operation: str | None = None) -> None:
        super().__init__(message, operation=operation)
        self.status_code = status_code


class ShopConnectionError(ShopTransientError):
    """The connection was reset or timed out before a response arrived (the call may have been applied)."""


class ShopRejected(ShopError):
    """The shop refused the request itself (a SOAP ``Sender`` fault, an HTTP 400): retrying cannot help."""


class ShopNotFound(ShopError):
    """The shop answered with an empty result for the requested order or product."""


class ShopUnreadableOrder(ShopError):
    """An order whose reply holds a value jetfort cannot read (or lacks a required one); never retried.

    ``order_id`` is None when the order's own id is what cannot be read; ``field_path`` names the
    element (``rows[3].Quantity``, ``Returns[501].Items.RowId``, ``OrderDate``).
    """

    def __init__(self, order_id: int | None, order_number: str, field: str, text: str | None, problem: str,
                 row_id: int | None = None) -> None:
        where = f"order {order_number or order_id or '?'}" + (f" row {row_id}" if row_id is not None else "")
        shown = "is missing" if text is None else f"{text!r} {problem}"
        super().__init__(f"{where}: {field} {shown}; the shop's value is not read as anything else")
        self.order_id, self.order_number, self.row_id = order_id, order_number, row_id
        self.field, self.text, self.problem = field, text, problem

    @property
    def field_path(self) -> str:
        return f"rows[{self.row_id}].{self.field}" if self.row_id is not None else self.field


class ShopItemError(ShopError):
    """Some items of a call were refused; ``results`` holds every per-item result, ``failures`` the bad ones."""

    def __init__(self, operation: str, failures: Sequence[Any], results: Sequence[Any]) -> None:
        details = "; ".join(_describe(item) for item in failures[:5])
        more = f" (+{len(failures) - 5} more)" if len(failures) > 5 else ""
        super().__init__(f"{len(failures)} of {len(results)} item(s) failed: {details}{more}",
                         operation=operation)
        self.failures = list(failures)
        self.results = list(results)


class ShopCaptureRefused(ShopItemError):
    """The payment capture was refused (cancelled order, amount above the authorisation, no PSP)."""


def _describe(item: Any) -> str:
    key = getattr(item, "key", None) or getattr(item, "article_number", None) or getattr(item, "order_id", "?")
    msg = getattr(item, "message", None) or getattr(item, "status", None) or "failed"
    return f"{key}: {msg}"
