"""Typed errors of the Norce Commerce backend: the shop errors (:mod:`jetfort.shop.errors`) under Norce's names.

Flows catch the shop classes; each Norce class is also the matching shop class. A
:class:`NorceRejected` (HTTP 400 and other refusals) is never retried; :class:`NorceTransientError`
subclasses are what the client retries. Messages carry the server's own message (or status) and
the operation, never a token, the client secret or a request body.
"""

from __future__ import annotations

from jetfort.shop.errors import (
    ShopAuthError,
    ShopConfigError,
    ShopConnectionError,
    ShopError,
    ShopNotFound,
    ShopRejected,
    ShopServerError,
    ShopTransientError,
    ShopUnreadableOrder,
)


class NorceError(ShopError):
    """Base class for everything the Norce backend raises."""


class NorceConfigError(NorceError, ShopConfigError):
    """The ``norce`` connection is incomplete or holds a value jetfort cannot use (the message names both)."""


class NorceAuthError(NorceError, ShopAuthError):
    """The token endpoint refused the client credentials, or the API answered 401/403 with a fresh token."""


class NorceTransientError(NorceError, ShopTransientError):
    """Worth retrying later: a 429, a 5xx, a timeout or a dropped connection."""


class NorceServerError(NorceTransientError, ShopServerError):
    """HTTP 429 or 5xx; ``status_code`` says which, ``retry_after`` (seconds) what the server asked for."""

    def __init__(self, message: str, *, status_code: int, retry_after: float | None = None,
                 operation: str | None = None) -> None:
        super().__init__(message, status_code=status_code, operation=operation)
        self.retry_after = retry_after


class NorceConnectionError(NorceTransientError, ShopConnectionError):
    """The connection failed or was lost; for a POST the call may have been applied (the caller decides)."""


class NorceRejected(NorceError, ShopRejected):
    """HTTP 400 (or another 4xx refusal): the request itself is wrong; ``status_code`` and the server's text kept."""

    def __init__(self, message: str, *, status_code: int = 400, body: str = "",
                 operation: str | None = None) -> None:
        super().__init__(message, operation=operation)
        self.status_code = status_code
        self.body = body


class NorceNotFound(NorceError, ShopNotFound):
    """HTTP 404, or an empty answer for the order or product asked for."""


class NorceUnreadableOrder(ShopUnreadableOrder, NorceError):
    """A Norce order holding a value jetfort cannot read (or lacking a required one).

    ``field`` is the JSON path in Norce's own names (``Items[3].UnitPrice``, ``ClientOrderRef``), so
    ``field_path`` is that path; ``row_id`` is not used.
    """


__all__ = ["NorceAuthError", "NorceConfigError", "NorceConnectionError", "NorceError", "NorceNotFound",
           "NorceRejected", "NorceServerError", "NorceTransientError", "NorceUnreadableOrder"]
