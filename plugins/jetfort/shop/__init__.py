"""The shop side of jetfort, whatever the platform: models, errors, the interface, and opening a backend.

:func:`open_shop` builds the backend a tenant's shop rules name. The backend modules are imported on
first use, not at the top: they pull in heavy third-party libraries (zeep and lxml for Jetshop; the
HTTP stack for Norce) that DAG files would otherwise load at parse time. No import cycle is involved.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Protocol, cast

if TYPE_CHECKING:
    from jetfort.ledger import Ledger
    from jetfort.shop.interface import ShopBackend

#: backend name (rules ``shops[].backend``) → "module:class" of its :class:`ShopBackend`.
BACKENDS: dict[str, str] = {
    "jetshop": "jetfort.jetshop.backend:JetshopShop",
    "norce": "jetfort.norce.backend:NorceShop",
}


class ShopRules(Protocol):
    """What :func:`open_shop` reads of a shop's rules (``jetfort.rules.shop.Shop``)."""

    @property
    def backend(self) -> str: ...

    @property
    def conn_id(self) -> str: ...


def backend_class(name: str) -> type[ShopBackend]:
    """The class of backend ``name``; a clear error for a name jetfort does not know."""
    if name not in BACKENDS:
        raise ValueError(f"unknown shop backend {name!r} (known: {', '.join(sorted(BACKENDS))})")
    module, _, attr = BACKENDS[name].partition(":")
    return cast("type[ShopBackend]", getattr(importlib.import_module(module), attr))


def open_shop(shop: ShopRules, *, ledger: Ledger) -> ShopBackend:
    """The backend of one shop, on its connection (the ledger holds shared tokens and inboxes)."""
    cls = backend_class(shop.backend)
    return cls(shop.conn_id, ledger=ledger)  # type: ignore[call-arg]
