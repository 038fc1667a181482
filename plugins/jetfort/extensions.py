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

Tasks call :func:`load_plugins` in pre-flight; :func:`jetfort.mapping.orders.map_document` and
:func:`jetfort.mapping.customers.plan_customer` apply the plugins themselves, and
:func:`apply_document_plugins` is safe to call again on their result (it does nothing twice).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ValidationError

from jetfort.errors import PermanentError
from jetfort.fortnox.models import DocumentRow, FortnoxCustomer, FortnoxInvoice, FortnoxModel, FortnoxOrder
from jetfort.jetshop.models import OrderRow, ShopOrder
from jetfort.mapping.problems import MappingProblem

if TYPE_CHECKING:
    from jetfort.mapping.customers import CustomerPlan
    from jetfort.mapping.orders import MappedDocument
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
    "revalidate",
]

#: catalog flows (jetfort.tasks.catalog): ``after_map_article(article, record, rules, config)`` gets the
#: FortnoxArticle about to be written from a shop product, ``after_map_product(product, record, rules,
#: config)`` the Jetshop ProductUpsert about to be written from a Fortnox article; ``record`` is the
#: canonical product (Fortnox field name → text). Return the changed model or None.
CATALOG_EXTENSION_POINTS = ("after_map_article", "after_map_product")
EXTENSION_POINTS = ("after_map_customer", "map_row", "after_map_document", *CATALOG_EXTENSION_POINTS)
M = TypeVar("M", bound=FortnoxModel)


class PluginError(PermanentError):
    """A tenant plugin cannot be used (import failed, no extension point, not in the plan)."""

    def __init__(self, tenant_id: str | None, path: str, message: str) -> None:
        self.tenant_id = tenant_id
        self.path = path
        super().__init__(f"tenant '{tenant_id or '?'}': plugin '{path}': {message}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_plugin_error, (self.tenant_id, self.path, str(self)))


def _rebuild_plugin_error(tenant_id: str | None, path: str, text: str) -> PluginError:
    error = PluginError.__new__(PluginError)
    error.tenant_id, error.path = tenant_id, path
    PermanentError.__init__(error, text)
    return error


@dataclass(frozen=True)
class LoadedPlugin:
    """One enabled plugin of a tenant: where it came from (``index`` in ``rules.plugins``), its hooks."""

    index: int
    path: str
    config: dict[str, Any]
    hooks: dict[str, Callable[..., Any]]

    def hook(self, name: str) -> Callable[..., Any] | None:
        return self.hooks.get(name)


@lru_cache(maxsize=128)
def _import_target(path: str) -> Any:
    module_path, _, attr = path.partition(":")
    module = importlib.import_module(module_path)
    return getattr(module, attr) if attr else module


def load_plugin(path: str, *, tenant_id: str | None = None) -> dict[str, Callable[..., Any]]:
    """The extension-point functions of the plugin at ``path`` (imported once per process)."""
    try:
        target = _import_target(path)
    except Exception as exc:  # any import-time error is the plugin's, reported with its name
        raise PluginError(tenant_id, path, f"cannot be loaded: {type(exc).__name__}: {exc}") from exc
    hooks = {name: fn for name in EXTENSION_POINTS if callable(fn := getattr(target, name, None))}
    if not hooks:
        raise PluginError(tenant_id, path, f"defines none of the extension points {', '.join(EXTENSION_POINTS)}")
    return hooks


def load_plugins(rules: TenantRules) -> list[LoadedPlugin]:
    """The tenant's enabled plugins, loaded; PluginError names the first that cannot be used."""
    enabled = [(i, spec) for i, spec in enumerate(rules.plugins) if spec.enabled]
    if not enabled:
        return []
    if not rules.feature_allowed("plugins"):  # the rules' plan gate normally stops this earlier
        raise PluginError(rules.tenant_id, enabled[0][1].path,
                          f"plugins are not part of plan '{rules.plan}' (800 or higher, or plan_overrides)")
    return [LoadedPlugin(i, spec.path, dict(spec.config), load_plugin(spec.path, tenant_id=rules.tenant_id))
            for i, spec in enabled]


def _with_hook(rules: TenantRules, name: str) -> Iterator[tuple[LoadedPlugin, Callable[..., Any]]]:
    for plugin in load_plugins(rules):
        fn = plugin.hook(name)
        if fn is not None:
            yield plugin, fn


def _failed(plugin: LoadedPlugin, order: ShopOrder, point: str, what: str) -> MappingProblem:
    return MappingProblem(
        "plugin_failed", f"plugins[{plugin.index}]",
        f"Order {order.order_number}: plugin {plugin.path!r} ({point}) {what}; fix the plugin or its config.")


def _plain(value: Any) -> Any:
    """Models → dicts of the fields that are set (by attribute name), recursively, for re-validation."""
    if isinstance(value, BaseModel):
        return {name: _plain(getattr(value, name)) for name in value.model_fields_set}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def revalidate(model: M, cls: type[M]) -> M:
    """``model`` validated again from scratch as ``cls`` (catches ``model_copy(update=...)`` and
    in-place changes that skipped validation); ValidationError if it breaks a limit or type."""
    if not isinstance(model, cls):
        raise TypeError(f"expected {cls.__name__}, got {type(model).__name__}")
    return cls.model_validate(_plain(model))


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


def apply_customer_plugins(plan: CustomerPlan, order: ShopOrder, rules: TenantRules) -> CustomerPlan:
    """``after_map_customer`` of every plugin, in order, on the customer to create."""
    customer = plan.customer
    for plugin, fn in _with_hook(rules, "after_map_customer"):
        result = _call(plugin, fn, "after_map_customer", order, customer, order, rules)
        if result is not None:
            customer = _checked(plugin, order, "after_map_customer", result, FortnoxCustomer)
    return plan if customer is plan.customer else replace(plan, customer=customer)


def apply_row_plugins(row: DocumentRow, shop_row: OrderRow, order: ShopOrder, rules: TenantRules,
                      index: int) -> list[DocumentRow]:
    """``map_row`` of every plugin, in order; each may replace the row by one or several rows."""
    rows = [row]
    for plugin, fn in _with_hook(rules, "map_row"):
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
    from jetfort.mapping.orders import check_total, used_articles

    if mapped.plugins_applied:
        return mapped
    document: FortnoxOrder | FortnoxInvoice = mapped.document
    cls = type(document)
    for plugin, fn in _with_hook(rules, "after_map_document"):
        result = _call(plugin, fn, "after_map_document", order, document, order, rules)
        if result is not None:
            document = _checked(plugin, order, "after_map_document", result, cls)
    articles = used_articles(document, mapped.articles_to_create)
    return check_total(replace(mapped, document=document, articles_to_create=articles, plugins_applied=True),
                       order, rules)


C = TypeVar("C", bound=BaseModel)


def apply_catalog_plugins(point: str, model: C, record: Any, rules: TenantRules) -> C:
    """A catalog extension point of every plugin, in order; the result is validated again.

    A plugin that raises or returns something invalid raises ValueError naming it: the catalog task
    quarantines that article and goes on.
    """
    if point not in CATALOG_EXTENSION_POINTS:
        raise ValueError(f"unknown catalog extension point {point!r}")
    cls = type(model)
    for plugin, fn in _with_hook(rules, point):
        try:
            result = fn(model, record, rules, plugin.config)
            if result is not None:
                if not isinstance(result, cls):
                    raise TypeError(f"expected {cls.__name__}, got {type(result).__name__}")
                model = cls.model_validate(_plain(result))
        except Exception as exc:
            raise ValueError(f"plugin {plugin.path!r} ({point}) failed: {type(exc).__name__}: {exc}") from exc
    return model
