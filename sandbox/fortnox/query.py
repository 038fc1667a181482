"""List endpoints the Fortnox way: substring search, one ``filter``, sort, ``lastmodified``, paging.

- Search fields are case-insensitive *substring* matches (``ILIKE '%v%'``), and several of them
  combine with AND (recorded: ``?articlenumber=101&description=Hammer``).
- ``filter`` takes exactly one predefined value; anything else is 400 code 2000587 (recorded).
- ``limit`` defaults to 100, at most 500 (above → 400); ``page`` is 1-based; ``offset`` skips
  records before paging, and ``@TotalResources`` counts what is left after the offset (recorded:
  ``?offset=10000`` → 0 resources, 0 pages, current page 1).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from . import errors
from .errors import bad_request

Entity = dict[str, Any]
Predicate = Callable[[Entity], bool]


@dataclass
class ListSpec:
    """How one resource is searched, filtered and sorted."""

    plural: str
    search: Mapping[str, str | Callable[[Entity], Any]] = field(default_factory=dict)
    filters: Mapping[str, Predicate] = field(default_factory=dict)
    sort: Mapping[str, str] = field(default_factory=dict)
    default_sort: str = ""
    date_field: str | None = None  # what fromdate/todate apply to (documents only)
    bool_params: tuple[str, ...] = ()
    # code registers sort as text ("15" < "19DAYS" < "20"), numbered records numerically (recorded)
    text_sort: bool = False


def natural_key(value: Any) -> tuple[int, float, str]:
    """Numbers sort numerically, then text: "2" < "10" < "A"."""
    text = "" if value is None else str(value)
    try:
        return (0, float(text), "")
    except ValueError:
        return (1, 0.0, text.lower())


def parse_lastmodified(raw: str) -> datetime:
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d"):
        try:
            return datetime.strptime(raw.strip(), fmt)
        except ValueError:
            continue
    raise bad_request(errors.INVALID_PARAMETER)


def _int_param(params: Mapping[str, str], name: str, default: int, minimum: int) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise bad_request(errors.INVALID_PARAMETER) from exc
    if value < minimum:
        raise bad_request(errors.INVALID_PARAMETER)
    return value


def select(
    items: list[tuple[Entity, datetime]],
    params: Mapping[str, str],
    multi: Mapping[str, list[str]],
    spec: ListSpec,
) -> list[Entity]:
    """Apply search, filter, lastmodified, date range and sort; paging is done by :func:`page`."""
    filters = multi.get("filter", [])
    if filters and (len(filters) > 1 or filters[0] not in spec.filters):
        raise bad_request(errors.INVALID_FILTER)
    lastmodified = parse_lastmodified(params["lastmodified"]) if params.get("lastmodified") else None
    chosen: list[Entity] = []
    for entity, modified in items:
        if lastmodified is not None and modified < lastmodified:
            continue
        if filters and not spec.filters[filters[0]](entity):
            continue
        if not _matches(entity, params, spec):
            continue
        chosen.append(entity)
    sortby = params.get("sortby") or spec.default_sort
    if sortby not in spec.sort:
        raise bad_request(errors.INVALID_PARAMETER)
    order = params.get("sortorder", "ascending")
    if order not in ("ascending", "descending"):
        raise bad_request(errors.INVALID_PARAMETER)
    field_name = spec.sort[sortby]
    if spec.text_sort:
        chosen.sort(key=lambda e: str(e.get(field_name) or "").lower(), reverse=order == "descending")
    else:
        chosen.sort(key=lambda e: natural_key(e.get(field_name)), reverse=order == "descending")
    return chosen


def _matches(entity: Entity, params: Mapping[str, str], spec: ListSpec) -> bool:
    for name, getter in spec.search.items():
        wanted = params.get(name)
        if wanted is None or wanted == "":
            continue
        value = getter(entity) if callable(getter) else entity.get(getter)
        if name in spec.bool_params:
            if str(value).lower() != wanted.lower():
                return False
            continue
        values = value if isinstance(value, list) else [value]
        if not any(wanted.lower() in ("" if v is None else str(v)).lower() for v in values):
            return False
    if spec.date_field:
        day = str(entity.get(spec.date_field) or "")
        if params.get("fromdate") and day < params["fromdate"]:
            return False
        if params.get("todate") and day > params["todate"]:
            return False
    return True


def page(chosen: list[Entity], params: Mapping[str, str]) -> tuple[list[Entity], dict[str, int]]:
    """Slice one page and build ``MetaInformation``."""
    limit = _int_param(params, "limit", 100, 1)
    if limit > 500:
        raise bad_request(errors.LIMIT_TOO_HIGH)
    current = _int_param(params, "page", 1, 1)
    offset = _int_param(params, "offset", 0, 0)
    rest = chosen[offset:]
    total = len(rest)
    pages = math.ceil(total / limit) if total else 0
    start = (current - 1) * limit
    meta = {"@TotalResources": total, "@TotalPages": pages, "@CurrentPage": current}
    return rest[start:start + limit], meta
