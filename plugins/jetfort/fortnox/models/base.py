"""Pydantic models of the Fortnox resources jetfort reads and writes: the shared base.

Two jobs, one model per resource:

* **parse** what the real API returns: numbers that arrive as strings (``"OrderedQuantity": "1"``),
  ``"0"`` meaning "no reference", ``""`` or ``null`` for unset dates, ``"true"``/``"false"`` strings;
* **write** documents with the exact field names and JSON types of Fortnox's official OpenAPI file
  (``to_payload()``): read-only fields are left out, money is ``Decimal`` in Python and a JSON number
  on the wire, fields the spec types as strings (row quantities) go as strings, integers as integers.

Python attributes are snake_case; the Fortnox name is the alias (``FortnoxOrder(customer_number="1")``
or ``FortnoxOrder.model_validate({"CustomerNumber": "1"})`` both work). Text limits from the spec
are enforced (a too long value is a ``ValidationError`` naming the field) and published through
:func:`max_length` / :func:`fit` so mapping code can truncate on purpose instead of failing.

This module holds what every model shares: the value types (money, quantities, references, dates),
:class:`FortnoxModel` with ``to_payload()``, the spec limits helpers and the enums. The models
themselves live per entity family: :mod:`.customers`, :mod:`.articles` (articles, prices, stock),
:mod:`.registers` (currencies, terms, ways of delivery, company, accounts, paging) and
:mod:`.documents` (orders, invoices, rows, payments). ``jetfort.fortnox.models`` exports them all.
"""

from __future__ import annotations

import datetime as dt
import functools
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, ClassVar, get_args, get_origin

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    model_validator,
)

# --------------------------------------------------------------------------------------------------
# value types


def _blank_to_none(value: Any) -> Any:
    """``""`` and ``null`` both mean "not set" in Fortnox responses."""
    if value is None or (isinstance(value, str) and value.strip() == ""):
        return None
    return value


def _reference(value: Any) -> Any:
    """Document references use the string ``"0"`` (sometimes ``0``) for "none"."""
    value = _blank_to_none(value)
    if value is None or str(value).strip() in {"0", "0.0"}:
        return None
    return str(value)


def _number_out(value: Decimal | None) -> int | float | None:
    """JSON number for a money/amount field (integral values as ints, e.g. ``VAT: 25``)."""
    if value is None:
        return None
    if value == value.to_integral_value():
        return int(value)
    return float(value)


def _string_number_out(value: Decimal | None) -> str | None:
    """Fields the spec types as ``string`` although they hold numbers (row quantities)."""
    if value is None:
        return None
    text = format(value.normalize(), "f") if value != 0 else "0"
    return text


def _date_out(value: dt.date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _int_in(value: Any) -> Any:
    value = _blank_to_none(value)
    if isinstance(value, str):
        return int(Decimal(value))
    return value


Money = Annotated[Decimal, BeforeValidator(_blank_to_none), PlainSerializer(_number_out)]
"""Amount as a JSON number (Fortnox rounds to 2 decimals, half up)."""
Quantity = Annotated[Decimal, BeforeValidator(_blank_to_none), PlainSerializer(_string_number_out)]
"""Number that the spec types as a string (``OrderedQuantity``, ``DeliveredQuantity``)."""
Reference = Annotated[str | None, BeforeValidator(_reference)]
"""Document number reference; ``None`` where Fortnox says ``"0"``."""
Date = Annotated[dt.date, BeforeValidator(_blank_to_none), PlainSerializer(_date_out)]
Int = Annotated[int, BeforeValidator(_int_in)]
Text = Annotated[str, BeforeValidator(lambda v: str(v) if isinstance(v, int | float | Decimal) else v)]
"""Identifiers are strings but sometimes arrive as numbers (DocumentNumber wobble)."""


def api_field(alias: str, max_length: int | None = None, *, read_only: bool = False, **kwargs: Any) -> Any:
    """A model field with its Fortnox name, spec limit and read-only flag (kept in metadata)."""
    extra: dict[str, Any] = {"read_only": True} if read_only else {}
    return Field(default=None, alias=alias, max_length=max_length,
                 json_schema_extra=extra or None, **kwargs)


class FortnoxModel(BaseModel):
    """Base: Fortnox names as aliases, unknown response fields ignored, ``to_payload`` for writing."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore", validate_assignment=True,
                              str_strip_whitespace=False, use_enum_values=True)

    #: fields never sent even if set (besides those flagged read_only)
    _exclude_on_write: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="before")
    @classmethod
    def _empty_strings_are_unset(cls, data: Any) -> Any:
        """Fortnox sends ``""`` for unset enums, dates and numbers (e.g. ``"PaymentWay": ""``)."""
        if not isinstance(data, dict):
            return data
        text_keys = _text_aliases(cls)
        return {k: (None if v == "" and k not in text_keys else v) for k, v in data.items()}

    @classmethod
    def read_only_fields(cls) -> frozenset[str]:
        return _read_only_fields(cls)

    def to_payload(self) -> dict[str, Any]:
        """The JSON object Fortnox expects inside the envelope: set, writable, non-null fields only,
        nested models likewise. One pydantic dump with a per-class exclude of the read-only fields
        (:func:`_write_exclude`), not one dump per nested model."""
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True, exclude_none=True,
                               exclude=_write_exclude(type(self)))


def _nested_model(annotation: Any) -> tuple[type[FortnoxModel] | None, bool]:
    """The FortnoxModel inside a field's annotation (``X``, ``X | None``, ``list[X]``) and whether it is
    a list of them."""
    if isinstance(annotation, type) and issubclass(annotation, FortnoxModel):
        return annotation, False
    origin = get_origin(annotation)
    for arg in get_args(annotation):
        if arg is type(None):
            continue
        found, is_list = _nested_model(arg)
        if found is not None:
            return found, is_list or origin is list
    return None, False


@functools.cache
def _write_exclude(model: type[FortnoxModel]) -> dict[str, Any]:
    """pydantic ``exclude`` of what is never written: ``model``'s read-only fields and, recursively,
    those of the FortnoxModels it holds (``{"rows": {"__all__": {...}}}`` for lists). Fixed per class."""
    exclude: dict[str, Any] = {name: True for name in _read_only_fields(model)}
    for name, info in model.model_fields.items():
        if name in exclude:
            continue
        nested, is_list = _nested_model(info.annotation)
        if nested is not None and nested is not model:
            inner = _write_exclude(nested)
            if inner:
                exclude[name] = {"__all__": inner} if is_list else inner
    return exclude


def _is_text(annotation: Any) -> bool:
    args = [a for a in get_args(annotation) if a is not type(None)] or [annotation]
    return all(a is str or (get_origin(a) is Annotated and get_args(a)[0] is str) for a in args)


@functools.cache
def _read_only_fields(model: type[FortnoxModel]) -> frozenset[str]:
    """Fields never written back: marked ``read_only`` or in ``_exclude_on_write``. Fixed per class,
    so computed once (``to_payload`` asks for every row of every document it serialises)."""
    names = {name for name, info in model.model_fields.items()
             if isinstance(info.json_schema_extra, dict) and info.json_schema_extra.get("read_only")}
    return frozenset(names) | model._exclude_on_write


@functools.cache
def _text_aliases(model: type[BaseModel]) -> frozenset[str]:
    """Names (aliases and attribute names) of plain text fields, where ``""`` is a real value."""
    keys: set[str] = set()
    for name, info in model.model_fields.items():
        if _is_text(info.annotation):
            keys.update({name, info.alias or name})
    return frozenset(keys)


def max_length(model: type[BaseModel], field: str) -> int | None:
    """Spec ``maxLength`` of ``model.field`` (snake_case name), or None when unlimited."""
    info = model.model_fields[field]
    for meta in info.metadata:
        limit = getattr(meta, "max_length", None)
        if limit is not None:
            return int(limit)
    return None


def fit(model: type[BaseModel], field: str, value: str | None) -> str | None:
    """Truncate ``value`` to the spec limit of ``model.field`` (for free text like Remarks)."""
    if value is None:
        return None
    limit = max_length(model, field)
    return value if limit is None else value[:limit]


def field_limits(model: type[BaseModel]) -> dict[str, int]:
    """All text limits of a model, keyed by snake_case field name."""
    return {name: limit for name in model.model_fields if (limit := max_length(model, name)) is not None}


# --------------------------------------------------------------------------------------------------
# enums


class CustomerType(StrEnum):
    PRIVATE = "PRIVATE"
    COMPANY = "COMPANY"


class VatType(StrEnum):
    SEVAT = "SEVAT"
    SEREVERSEDVAT = "SEREVERSEDVAT"
    EUREVERSEDVAT = "EUREVERSEDVAT"
    EUVAT = "EUVAT"
    EXPORT = "EXPORT"


class DiscountType(StrEnum):
    AMOUNT = "AMOUNT"
    PERCENT = "PERCENT"


class ArticleType(StrEnum):
    STOCK = "STOCK"
    SERVICE = "SERVICE"


class InvoiceType(StrEnum):
    INVOICE = "INVOICE"
    AGREEMENTINVOICE = "AGREEMENTINVOICE"
    INTRESTINVOICE = "INTRESTINVOICE"
    SUMMARYINVOICE = "SUMMARYINVOICE"
    CASHINVOICE = "CASHINVOICE"


API_BLANK = "API_BLANK"
"""Send this literal to blank a field on update (Fortnox convention)."""
