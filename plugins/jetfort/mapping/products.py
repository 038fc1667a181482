"""Products both ways: Fortnox article ⇄ Jetshop product, through one canonical form.

Both sides are turned into the same *canonical record* — article number plus one string per mapped
Fortnox field, in the shape Fortnox would hold it (descriptions cut to the tenant's limit, VAT as a
percent, weight in grams, active as ``"1"``/``"0"``). Hashing that record gives the catalog diff a
value that is equal on both sides exactly when nothing needs writing, which is also what makes the
echo guard work: what jetfort writes to one side reads back with the same hash.

Which field maps to which comes from the tenant (``rules.catalog.effective_field_map()`` over
``include/mappings/product_fields.json``); how each value converts comes from
``include/mappings/catalog_fields.json``. The caller loads that data and hands it in: this module
does no I/O.

Variants are flat: a variant article (``parent_article_number`` set) is its own Fortnox article,
named ``<parent name><separator><variant value>``.
"""

from __future__ import annotations

import fnmatch
import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from jetfort.fortnox.models import FortnoxArticle, max_length
from jetfort.shop.models import Product, ProductUpsert

__all__ = [
    "ArticleScope",
    "FieldSpec",
    "ProductMapping",
    "canonical_hash",
    "decimal_text",
]

KEY = "ArticleNumber"
_TEXT_KINDS = ("text", "unit")
_TRUE, _FALSE = "1", "0"


def decimal_text(value: Any) -> str:
    """A number as plain text without exponent or trailing zeros (``Decimal('25.00')`` → ``'25'``)."""
    if value is None or value == "":
        return "0"
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    if number == 0:
        return "0"
    return format(number.normalize(), "f")


def canonical_hash(record: Mapping[str, str], columns: Sequence[str]) -> str:
    """Stable digest of a canonical record over ``columns`` — the same as the catalog diff's row hash
    (:func:`jetfort.catalog.diff.hash_values`): BLAKE2b-128 of the values joined by U+001F."""
    text = "\x1f".join(str(record.get(c, "")) for c in columns)
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


@dataclass(frozen=True)
class FieldSpec:
    """One mapped field: Fortnox name/attribute, Jetshop name/attribute, value kind, Fortnox limit."""

    fortnox: str
    fortnox_attr: str
    jetshop: str
    jetshop_attr: str
    kind: str
    limit: int | None = None


@dataclass(frozen=True)
class ArticleScope:
    """Which article numbers the catalog flows touch (tenant article filter, plus a run's own globs)."""

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    webshop_only: bool = True
    active_only: bool = True

    @classmethod
    def from_rules(cls, article_filter: Any, extra_include: Iterable[str] = ()) -> ArticleScope:
        extra = tuple(g for g in extra_include if g)
        return cls(include=extra or tuple(article_filter.include), exclude=tuple(article_filter.exclude),
                   webshop_only=bool(article_filter.webshop_only), active_only=bool(article_filter.active_only))

    def matches(self, article_number: str) -> bool:
        """Include globs (if any) match and no exclude glob does."""
        if self.include and not any(fnmatch.fnmatchcase(article_number, g) for g in self.include):
            return False
        return not any(fnmatch.fnmatchcase(article_number, g) for g in self.exclude)

    def admits(self, article_number: str, *, webshop: bool | None = None, active: bool | None = None,
               known: bool = False) -> bool:
        """In scope: globs match; Fortnox side: web-shop flag when asked; inactive only when already synced
        (so deactivating an article hides it in the shop instead of leaving it stale)."""
        if not self.matches(article_number):
            return False
        if self.webshop_only and webshop is False and not known:
            return False
        return not (self.active_only and active is False and not known)


@dataclass(frozen=True)
class ProductMapping:
    """The tenant's product field mapping, ready to convert records either way."""

    fields: tuple[FieldSpec, ...]
    variant_separator: str = " - "
    description_max_length: int = 50
    weight_grams_per_unit: Decimal = Decimal(1000)
    sales_accounts: Mapping[str, int] = field(default_factory=dict)
    new_article: Mapping[str, Any] = field(default_factory=dict)
    article_number_pattern: str = r"^[A-Za-z0-9_\-+/.]{1,50}$"

    # ------------------------------------------------------------------------ construction
    @classmethod
    def build(cls, field_map: Mapping[str, str], data: Mapping[str, Any], *, variant_separator: str = " - ",
              description_max_length: int = 50, sales_accounts: Mapping[str, int] | None = None
              ) -> ProductMapping:
        """From a Fortnox→Jetshop field map and the ``catalog_fields.json`` data (both plain data)."""
        fortnox_specs: Mapping[str, Any] = data["fortnox"]
        jetshop_specs: Mapping[str, Any] = data["jetshop"]
        specs = []
        for fortnox_name, jetshop_name in sorted(field_map.items()):
            if fortnox_name == KEY:
                continue
            fx, js = fortnox_specs.get(fortnox_name), jetshop_specs.get(jetshop_name)
            if fx is None or js is None:
                continue  # not writable on one side: left out of the comparison too
            limit = description_max_length if fortnox_name == "Description" else max_length(
                FortnoxArticle, fx["attr"])
            specs.append(FieldSpec(fortnox_name, fx["attr"], jetshop_name, js["attr"], fx["kind"], limit))
        return cls(
            fields=tuple(specs), variant_separator=variant_separator,
            description_max_length=description_max_length,
            weight_grams_per_unit=Decimal(str(data.get("jetshop_weight_grams_per_unit", 1000))),
            sales_accounts=dict(sales_accounts or {}),
            new_article=dict(data.get("new_fortnox_article") or {}),
            article_number_pattern=str(data.get("fortnox_article_number_pattern") or cls.article_number_pattern),
        )

    @classmethod
    def from_rules(cls, rules: Any, data: Mapping[str, Any]) -> ProductMapping:
        """From tenant rules (field map, limits, separator, sales accounts per VAT rate) and the data file."""
        return cls.build(rules.catalog.effective_field_map(), data,
                         variant_separator=rules.catalog.variant_name_separator,
                         description_max_length=rules.catalog.description_max_length,
                         sales_accounts={decimal_text(k): v for k, v in rules.orders.accounts.sales.items()})

    @property
    def columns(self) -> list[str]:
        """Canonical columns hashed and compared (article number excluded: it is the key)."""
        return [f.fortnox for f in self.fields]

    # ------------------------------------------------------------------------ checks
    def article_number_problem(self, article_number: str) -> str | None:
        """Why Fortnox would refuse this article number, or None."""
        if not article_number:
            return "empty article number"
        if len(article_number) > 50:
            return f"article number {article_number!r} is longer than Fortnox's 50 characters"
        if not re.fullmatch(self.article_number_pattern, article_number):
            return (f"article number {article_number!r} has characters Fortnox does not accept "
                    "(letters a-z, digits and - + / . _ only)")
        return None

    # ------------------------------------------------------------------------ to canonical
    def _fit(self, spec: FieldSpec, text: str) -> str:
        return text[: spec.limit] if spec.limit is not None else text

    def canonical_from_fortnox(self, article: FortnoxArticle | Mapping[str, Any]) -> dict[str, str]:
        """Canonical record of a Fortnox article (full GET; list items lack most fields)."""
        get = (lambda attr: article.get(attr)) if isinstance(article, Mapping) else (
            lambda attr: getattr(article, attr, None))
        record = {KEY: str(get("article_number") or "")}
        for spec in self.fields:
            value = get(spec.fortnox_attr)
            record[spec.fortnox] = self._canonical(spec, value, side="fortnox")
        return record

    def canonical_from_shop(self, product: Product) -> dict[str, str]:
        """Canonical record of a Jetshop product, in Fortnox's shape (variant name flattened, cut to limits)."""
        record = {KEY: product.article_number}
        for spec in self.fields:
            value = getattr(product, spec.jetshop_attr, None)
            if spec.jetshop == "Name":
                value = self.flat_name(product)
            record[spec.fortnox] = self._canonical(spec, value, side="shop")
        return record

    def flat_name(self, product: Product) -> str:
        """A variant's flat name ``<parent name><sep><value>``; other products keep their name."""
        name = (product.name or "").strip()
        att = (product.att_value or "").strip()
        if product.parent_article_number and att and not name.endswith(f"{self.variant_separator}{att}"):
            return f"{name}{self.variant_separator}{att}"
        return name

    def _canonical(self, spec: FieldSpec, value: Any, *, side: str) -> str:
        kind = spec.kind
        if kind == "vat":
            number = Decimal(str(value or 0))
            return decimal_text(number * 100 if side == "shop" else number)
        if kind == "weight":
            number = Decimal(str(value or 0))
            grams = number * self.weight_grams_per_unit if side == "shop" else number
            return str(int(grams.quantize(Decimal(1), rounding=ROUND_HALF_UP)))
        if kind == "int":
            return str(int(Decimal(str(value or 0))))
        if kind == "active":
            active = (not bool(value)) if side == "shop" else (value is None or bool(value))
            return _TRUE if active else _FALSE
        if kind == "bool":
            return _TRUE if bool(value) else _FALSE
        text = "" if value is None else str(value).strip()
        if kind == "unit" and text == "0":
            text = ""  # a new Jetshop product reports QuantitySuffix "0"
        return self._fit(spec, text)

    def same(self, source: Mapping[str, str], target: Mapping[str, str]) -> bool:
        """Whether ``target`` already holds what ``source`` would write (initial sync, drift).

        Text the source leaves empty is not written (see :meth:`to_fortnox`), so the target's own value
        counts as equal.
        """
        for spec in self.fields:
            wanted, have = source.get(spec.fortnox, ""), target.get(spec.fortnox, "")
            if wanted != have and not (spec.kind in _TEXT_KINDS and wanted == ""):
                return False
        return True

    def shop_holds(self, product: Product, record: Mapping[str, str]) -> bool:
        """Whether a shop product already holds ``record`` — a variant's own name counts as well as its
        flat name (a Fortnox description written to a variant reads back with the variant value added)."""
        if self.same(record, self.canonical_from_shop(product)):
            return True
        if product.parent_article_number:
            raw = product.model_copy(update={"parent_article_number": None})
            return self.same(record, self.canonical_from_shop(raw))
        return False

    def frame_columns(self) -> list[str]:
        return [KEY, *self.columns]

    # ------------------------------------------------------------------------ from canonical
    def to_fortnox(self, record: Mapping[str, str], *, create: bool) -> FortnoxArticle:
        """The article to POST (``create``) or PUT; VAT travels as the sales account of its rate.

        Empty text is left out: an emptied field in the master side does not clear the other side
        (conservative: Fortnox needs ``API_BLANK`` to clear, and never loses data to a blank shop field).

        Raises ValueError naming the field when a value cannot be written (no account for the VAT rate).
        """
        values: dict[str, Any] = {}
        if create:
            values["article_number"] = record[KEY]
            for name, value in self.new_article.items():
                spec_attr = _fortnox_attr(name)
                if spec_attr:
                    values[spec_attr] = value
        for spec in self.fields:
            text = record.get(spec.fortnox, "")
            kind = spec.kind
            if kind == "vat":
                account = self.sales_accounts.get(decimal_text(text))
                if account is None:
                    raise ValueError(f"VAT: no sales account for {text} % in orders.accounts.sales")
                values["sales_account"] = account
            elif kind in ("weight", "int"):
                values[spec.fortnox_attr] = int(text or 0)
            elif kind in ("active", "bool"):
                values[spec.fortnox_attr] = text == _TRUE
            elif text:  # empty text is not sent: Fortnox ignores "" (clearing needs API_BLANK) and
                values[spec.fortnox_attr] = text  # a unit must exist in its register
        if create and not values.get("description"):
            values["description"] = record[KEY]  # Description is required on create
        return FortnoxArticle(**values)

    def to_shop(self, record: Mapping[str, str], *, culture: str) -> ProductUpsert:
        """The product upsert for Jetshop (one culture; only mapped fields travel)."""
        values: dict[str, Any] = {"article_number": record[KEY], "culture": culture}
        for spec in self.fields:
            text = record.get(spec.fortnox, "")
            kind = spec.kind
            if kind == "vat":
                values[spec.jetshop_attr] = Decimal(text or 0) / 100
            elif kind == "weight":
                values[spec.jetshop_attr] = Decimal(text or 0) / self.weight_grams_per_unit
            elif kind == "active":
                values[spec.jetshop_attr] = text != _TRUE
            elif kind in ("int", "bool"):
                values[spec.jetshop_attr] = Decimal(text or 0) if spec.jetshop_attr == "weight" else text
            elif text:  # empty text is not sent either way (the shop keeps its own value)
                values[spec.jetshop_attr] = text
        return ProductUpsert(**values)

    def vat_percent(self, record: Mapping[str, str]) -> Decimal | None:
        """The record's VAT rate in percent, when VAT is mapped."""
        for spec in self.fields:
            if spec.kind == "vat":
                return Decimal(record.get(spec.fortnox) or 0)
        return None


_FORTNOX_ATTRS = {name: attr for attr, info in FortnoxArticle.model_fields.items()
                  if (name := info.alias or attr)}


def _fortnox_attr(fortnox_name: str) -> str | None:
    return _FORTNOX_ATTRS.get(fortnox_name)
