"""Named extension points for tenant plugins (``rules.plugins``: dotted paths plus config).

A plugin is a module (``"acme.jetfort_plugin"``) or an object in one (``"acme.plugins:Mapper"``)
that defines any of these functions; each gets the plugin's ``config`` dict from the rules and
returns the (changed) model, or ``None`` to keep it as it is:

``after_map_customer(customer, order, rules, config) -> FortnoxCustomer | None``
    the Fortnox customer jetfort would create for the buyer (matching keys are not plugin business);
``map_row(row, shop_row, order, rules, config) -> DocumentRow | list[DocumentRow] | None``
    each document row made from a shop row (a list replaces it by several rows);
``after_map_document(document, order, rules, config) -> FortnoxOrder | FortnoxInvoice | None``
    the whole document.

They run after jetfort's own mapping and **before the total check**, in the order the rules list
them; whatever they return is validated again by the Fortnox models (limits, types), so a plugin
cannot post something jetfort would not. A plugin that raises, or returns something invalid, makes
that order a :class:`~jetfort.mapping.problems.MappingProblem` (``plugin_failed``, quarantined); a
plugin that cannot be *loaded* is a :class:`PluginError` naming the plugin and the tenant (the run
fails: every order would be wrong). Plugins are a plan feature (800 and up, see the rules' plan gate).

The mapping applies the order-mapping extension points itself (:mod:`jetfort.mapping.plugins`, called
by :func:`jetfort.mapping.orders.map_document` and :func:`jetfort.mapping.customers.plan_customer`;
:func:`apply_document_plugins` is safe to call again on their result, it does nothing twice) and loads
plugins through :mod:`jetfort.mapping.plugin_loader`. This module is the public face that tasks and
plugin authors use: those names, plus the catalog extension points (:func:`apply_catalog_plugins`,
applied by the catalog tasks). It depends on the mapping, never the other way round. Tasks call
:func:`load_plugins` in pre-flight.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel

from jetfort.mapping.plugin_loader import (
    CATALOG_EXTENSION_POINTS,
    EXTENSION_POINTS,
    LoadedPlugin,
    PluginError,
    load_plugin,
    load_plugins,
    plugins_with_hook,
    revalidate,
)
from jetfort.mapping.plugins import apply_customer_plugins, apply_document_plugins, apply_row_plugins
from jetfort.rules import TenantRules

__all__ = [
    "CATALOG_EXTENSION_POINTS",
    "EXTENSION_POINTS",
    "LoadedPlugin",
    "PluginError",
    "apply_catalog_plugins",
    "apply_customer_plugins",
    "apply_document_plugins",
    "apply_row_plugins",
    "load_plugin",
    "load_plugins",
    "plugins_with_hook",
    "revalidate",
]

C = TypeVar("C", bound=BaseModel)


def apply_catalog_plugins(point: str, model: C, record: Any, rules: TenantRules) -> C:
    """A catalog extension point of every plugin, in order; the result is validated again.

    A plugin that raises or returns something invalid raises ValueError naming it: the catalog task
    quarantines that article and goes on.
    """
    if point not in CATALOG_EXTENSION_POINTS:
        raise ValueError(f"unknown catalog extension point {point!r}")
    cls = type(model)
    for plugin, fn in plugins_with_hook(rules, point):
        try:
            result = fn(model, record, rules, plugin.config)
            if result is not None:
                model = revalidate(result, cls)
        except Exception as exc:
            raise ValueError(f"plugin {plugin.path!r} ({point}) failed: {type(exc).__name__}: {exc}") from exc
    return model
