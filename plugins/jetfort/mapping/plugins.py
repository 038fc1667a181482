"""The tenant plugins' order-mapping extension points, applied inside the mapping.

:func:`jetfort.mapping.customers.plan_customer` runs ``after_map_customer`` on the customer it would
create, :func:`jetfort.mapping.orders.map_document` runs ``map_row`` on each row made from a shop row
and ``after_map_document`` (then the total check again) on the document. Whatever a plugin returns
is validated again by the Fortnox models, so a plugin cannot post something jetfort would not.

A plugin that raises, or returns something invalid, makes that order a :class:`MappingProblem`
(``plugin_failed``, quarantined); a plugin may also raise a MappingProblem itself on purpose. Loading
the plugins (and :class:`~jetfort.mapping.plugin_loader.PluginError` when one cannot be used) is
:mod:`jetfort.mapping.plugin_loader`; :mod:`jetfort.extensions` re-exports these functions for tasks
and plugin authors and is never imported from here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any, TypeVar

from pydantic import ValidationError

from jetfort.fortnox.models import DocumentRow, FortnoxCustomer, FortnoxInvoice, FortnoxModel, FortnoxOrder
from jetfort.mapping.document import MappedDocument, check_total, used_articles
from jetfort.mapping.plugin_loader import LoadedPlugin, plugins_with_hook, revalidate
from jetfort.mapping.problems import MappingProblem
from jetfort.rules import TenantRules
from jetfort.shop.models import OrderRow, ShopOrder

__all__ = ["apply_customer_plugins", "apply_document_plugins", "apply_row_plugins"]

M = TypeVar("M", bound=FortnoxModel)


def _failed(plugin: LoadedPlugin, order: ShopOrder, point: str, what: str) -> MappingProblem:
    return MappingProblem(
        "plugin_failed", f"plugins[{plugin.index}]",
        f"Order {order.order_number}: plugin {plugin.path!r} ({point}) {what}; fix the plugin or its config.")


def _call(plugin: LoadedPlugin, fn: Callable[..., Any], point: str, order: ShopOrder, *args: Any) -> Any:
    try:
        return fn(*args, plugin.config)
    except MappingProblem:
        raise  # a plugin may quarantine an order on purpose
    except Exception as exc:
        raise _failed(plugin, order, point, f"raised {type(exc).__name__}: {exc}") from exc


def _checked(plugin: LoadedPlugin, order: ShopOrder, point: str, result: Any, cls: type[M]) -> M:
    try:
        return revalidate(result, cls)
    except TypeError as exc:
        raise _failed(plugin, order, point, f"returned an invalid value ({exc})") from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise _failed(plugin, order, point, f"returned an invalid {cls.__name__}: {where}: {first['msg']}") from exc


def apply_customer_plugins(customer: FortnoxCustomer, order: ShopOrder, rules: TenantRules) -> FortnoxCustomer:
    """``after_map_customer`` of every plugin, in order, on the customer to create."""
    for plugin, fn in plugins_with_hook(rules, "after_map_customer"):
        result = _call(plugin, fn, "after_map_customer", order, customer, order, rules)
        if result is not None:
            customer = _checked(plugin, order, "after_map_customer", result, FortnoxCustomer)
    return customer


def apply_row_plugins(row: DocumentRow, shop_row: OrderRow, order: ShopOrder, rules: TenantRules,
                      index: int) -> list[DocumentRow]:
    """``map_row`` of every plugin, in order; each may replace the row by one or several rows."""
    rows = [row]
    for plugin, fn in plugins_with_hook(rules, "map_row"):
        out: list[DocumentRow] = []
        for current in rows:
            result = _call(plugin, fn, f"map_row rows[{index}]", order, current, shop_row, order, rules)
            if result is None:
                out.append(current)
                continue
            items = result if isinstance(result, list) else [result]
            out.extend(_checked(plugin, order, f"map_row rows[{index}]", item, DocumentRow) for item in items)
        rows = out
    return rows


def apply_document_plugins(mapped: MappedDocument, order: ShopOrder, rules: TenantRules) -> MappedDocument:
    """``after_map_document`` of every plugin, then the total check again; a no-op the second time."""
    if mapped.plugins_applied:
        return mapped
    document: FortnoxOrder | FortnoxInvoice = mapped.document
    cls = type(document)
    for plugin, fn in plugins_with_hook(rules, "after_map_document"):
        result = _call(plugin, fn, "after_map_document", order, document, order, rules)
        if result is not None:
            document = _checked(plugin, order, "after_map_document", result, cls)
    articles = used_articles(document, mapped.articles_to_create)
    return check_total(replace(mapped, document=document, articles_to_create=articles, plugins_applied=True),
                       order, rules)
