"""Typed errors of the Jetshop hook: the shop errors (:mod:`jetfort.shop.errors`) under Jetshop's names.

Flows catch the shop classes; each Jetshop class is also the matching shop class, so code and tests
written against the Jetshop names keep working. A :class:`JetshopSenderFault` is a deterministic
input error and is never retried; :class:`JetshopTransientError` subclasses are what the hook retries.
"""

from __future__ import annotations

from jetfort.shop.errors import (
    ShopAuthError,
    ShopCaptureRefused,
    ShopConfigError,
    ShopConnectionError,
    ShopError,
    ShopItemError,
    ShopNotFound,
    ShopRejected,
    ShopServerError,
    ShopTransientError,
    ShopUnreadableOrder,
)


class JetshopError(ShopError):
    """Base class for everything the Jetshop hook raises."""


class JetshopConfigError(JetshopError, ShopConfigError):
    """The connection is incomplete (missing endpoint, login or ShopId)."""


class JetshopAuthError(JetshopError, ShopAuthError):
    """HTTP 401/403: wrong integration login or a login that may not use this ShopId."""


class JetshopTransientError(JetshopError, ShopTransientError):
    """Worth retrying later: a 5xx without a SOAP fault, a timeout or a dropped connection."""


class JetshopServerError(JetshopTransientError, ShopServerError):
    """HTTP 5xx (or 408/429) that carried no SOAP fault."""


class JetshopConnectionError(JetshopTransientError, ShopConnectionError):
    """The connection was reset or timed out before a response arrived (the call may have been applied)."""


class JetshopFault(JetshopError):
    """A SOAP fault returned by the service."""

    def __init__(self, message: str, *, code: str, operation: str | None = None) -> None:
        super().__init__(message, operation=operation)
        self.code = code


class JetshopSenderFault(JetshopFault, ShopRejected):
    """``soap:Sender`` (SOAP 1.1 ``Client``): the request was malformed; retrying cannot help."""


class JetshopReceiverFault(JetshopFault, JetshopTransientError):
    """``soap:Receiver`` (SOAP 1.1 ``Server``): the service failed while handling a valid request."""


class JetshopNotFound(JetshopError, ShopNotFound):
    """The service answered with an empty result for the requested order or product."""


class JetshopUnreadableOrder(ShopUnreadableOrder, JetshopError):
    """A Jetshop order whose reply holds a value jetfort cannot read (see :class:`ShopUnreadableOrder`)."""


class JetshopItemError(ShopItemError, JetshopError):
    """Some items of a Jetshop call were refused (see :class:`ShopItemError`)."""


class JetshopCaptureRefused(JetshopItemError, ShopCaptureRefused):
    """The payment capture was refused (cancelled order, amount above the authorisation, no PSP)."""
