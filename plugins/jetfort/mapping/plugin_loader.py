"""Loading a tenant's plugins: each ``rules.plugins`` entry (a dotted path) imported once per
process and reduced to the extension-point functions it defines, behind the rules' plan gate; and
:func:`revalidate`, which checks what a plugin returns as strictly as jetfort's own models.

The mapping applies the order-mapping extension points (:mod:`jetfort.mapping.plugins`) and the
catalog tasks the catalog ones, both through this module; :mod:`jetfort.extensions` is the public
face plugin authors read. This module imports nothing of the mapping, so the mapping can use it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeVar

from pydantic import BaseModel

from jetfort.errors import PermanentError
from jetfort.rules import TenantRules

__all__ = [
    "CATALOG_EXTENSION_POINTS",
    "EXTENSION_POINTS",
    "LoadedPlugin",
    "PluginError",
    "load_plugin",
    "load_plugins",
    "plugins_with_hook",
    "revalidate",
]

#: catalog flows (jetfort.tasks.catalog): ``after_map_article(article, record, rules, config)`` gets the
#: FortnoxArticle about to be written from a shop product, ``after_map_product(product, record, rules,
#: config)`` the Jetshop ProductUpsert about to be written from a Fortnox article; ``record`` is the
#: canonical product (Fortnox field name → text). Return the changed model or None.
CATALOG_EXTENSION_POINTS = ("after_map_article", "after_map_product")
EXTENSION_POINTS = ("after_map_customer", "map_row", "after_map_document", *CATALOG_EXTENSION_POINTS)
M = TypeVar("M", bound=BaseModel)


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


def plugins_with_hook(rules: TenantRules, name: str) -> Iterator[tuple[LoadedPlugin, Callable[..., Any]]]:
    """(plugin, function) for every enabled plugin of the tenant that defines extension point ``name``."""
    for plugin in load_plugins(rules):
        fn = plugin.hook(name)
        if fn is not None:
            yield plugin, fn


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
