"""Where the rules' data lives: the mappings directory (``include/mappings`` or ``$JETFORT_MAPPINGS_DIR``),
its JSON files without their ``_doc`` keys, and pydantic fields whose defaults come from ``defaults.json``.

Also the names the rest of jetfort shares with the rules: the Variable prefix, the environment names
and the tenant id pattern.
"""

from __future__ import annotations

import copy
import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import Field

VARIABLE_PREFIX = "jetfort_tenant_"
ENV_PREFIX = "AIRFLOW_VAR_" + VARIABLE_PREFIX.upper()
TENANTS_DIR_ENV = "JETFORT_TENANTS_DIR"
MAPPINGS_DIR_ENV = "JETFORT_MAPPINGS_DIR"
TENANT_ID_PATTERN = r"^[a-z0-9_]{1,40}$"
SCHEMA_FILE = "tenant_rules.schema.json"


def mappings_dir() -> Path:
    """``include/mappings`` next to ``plugins/`` in the repo, or ``$JETFORT_MAPPINGS_DIR``."""
    override = os.environ.get(MAPPINGS_DIR_ENV)
    if override:
        return Path(override)
    return _repo_mappings()


@lru_cache(maxsize=1)
def _repo_mappings() -> Path:
    """Resolved once: the rules of one tenant ask for the directory ~35 times (``lstat`` of every
    path component each time was three quarters of a parse's rules validation)."""
    return Path(__file__).resolve().parents[3] / "include" / "mappings"


def _strip_doc(value: Any) -> Any:
    """Drop ``_doc``-style keys: the data files document themselves with keys starting with ``_``."""
    if isinstance(value, dict):
        return {k: _strip_doc(v) for k, v in value.items() if not str(k).startswith("_")}
    if isinstance(value, list):
        return [_strip_doc(v) for v in value]
    return value


@lru_cache(maxsize=64)
def _mapping_path(override: str | None, name: str) -> str:
    """The file ``name`` in :func:`mappings_dir` (given its override), built once: rules validation asks
    for a file ~20 times per tenant."""
    return str((Path(override) if override else _repo_mappings()) / name)


@lru_cache(maxsize=32)
def _read_mapping(path: str) -> Any:
    with open(path, encoding="utf-8") as fh:
        return _strip_doc(json.load(fh))


def mapping_value(name: str, *path: str) -> Any:
    """One value of a data file from the mappings directory by key path (the whole file without its
    ``_doc`` keys when no path is given): a fresh copy of that value alone each call, the file read once."""
    value: Any = _read_mapping(_mapping_path(os.environ.get(MAPPINGS_DIR_ENV), name))
    for key in path:
        value = value[key]
    return copy.deepcopy(value)


def load_mapping(name: str) -> Any:
    """A data file from the mappings directory (without its ``_doc`` keys); a fresh copy each call."""
    return mapping_value(name)


def default_value(*path: str) -> Any:
    """One value from ``defaults.json`` by key path, e.g. ``default_value("orders", "document")``."""
    return mapping_value("defaults.json", *path)


def from_defaults(*path: str, description: str | None = None) -> Any:
    """A pydantic Field whose default comes from ``defaults.json`` when the rules leave it out."""
    where = ".".join(path)
    text = f"Default: defaults.json {where}."
    return Field(
        default_factory=lambda: default_value(*path),
        description=f"{description} {text}" if description else text,
    )
