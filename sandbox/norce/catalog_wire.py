"""What the Norce Connect Product Service reads at the door: the ``X-StormConnect-Header`` and the row bodies.

The header is refused (HTTP 400) when Norce cannot use it: not one JSON object, no ``AccountId``, no
``FullFile`` where the header type requires it, an enum value that does not exist. Rows are coerced the way
the .NET binder does (property names case-insensitive, enums as names or integers, numbers from numeric
text); a row that cannot be bound is a *validation failure* counted in the job's ``ValidationSummary``,
never a guess (norce-api.md §4.1-§4.6, §5).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("Europe/Stockholm")
OPERATIONS = ("ImportProducts", "ImportSkuPriceLists", "ImportPriceLists", "ImportOnhands")


class HeaderError(ValueError):
    """The X-StormConnect-Header cannot be used: the import is refused with 400."""


class BodyError(ValueError):
    """The request body is not JSON rows: the import is refused with 400."""


def _enum(*names: str, start: int = 0, skip: tuple[int, ...] = ()) -> dict[int, str]:
    out: dict[int, str] = {}
    value = start
    for name in names:
        while value in skip:
            value += 1
        out[value] = name
        value += 1
    return out


# --- field enums of the headers (§4.3-§4.6) -------------------------------------------------------------------
SKU_ONHAND_FIELDS = _enum("OnhandValue", "IncomingValue", "NextDeliveryDate", "LeadTimeDayCount", "OnOrderValue",
                          "MinimumValue", "MaximumValue", "IsActive", "Infos", start=3)
SKU_PRICE_LIST_FIELDS = _enum("PriceSale", "CostPurchase", "CostUnit", "PriceRecommended", "PricePrevious",
                              "PriceCatalog", "IsPriceDiscountable", "IsActive", "IsPriceDiscountableCreateOnly",
                              "PriceRule", "FullfileResetInheritance", start=3)
IGNORE_WHEN_EMPTY_ALLOWED = frozenset({3, 4, 5, 6, 7, 8, 10})
PRICE_LIST_FIELDS = _enum(
    "Name", "CurrencyCode", "StartDate", "EndDate", "IsPublic", "IsPrimary", "TypeCode", "Warehouses",
    "DefaultPriceRule", "Description", "IsErpIntegrated", "DoNotCreateApplicationPriceList", "SalesArea",
    "DefaultMinMarginPercent", "LimitToRecPrice", "ParentPriceListCode", "DefaultSupplementalChargeFixed",
    "DefaultSupplementalChargePercent", "PriceRules", "PriceRulesCleanup", "PriceRulesLimitedUpdate", "Population",
    "PopulationCleanup", "IsFavorite", "InheritStructureCalculationRule")
WAREHOUSE_FIELDS = _enum("Type", "Name", "LeadTimeDayCount")
WAREHOUSE_LOCATION_FIELDS = _enum("Name", "LeadTimeDayCount", "IsIncludedInStockCalculation")
PRODUCT_FIELDS = _enum(
    "ManufacturerCode", "ManufacturerName", "Alias", "Code", "Variants", "Cultures", "Categories", "MainImage",
    "AdditionalImages", "Family", "ProductParametrics", "ProductParametricsCreateOnly", "VariantDefinitionGroup",
    "VariantDefinitionGroupCreateOnly", "Assortment", "CategoriesCreateOnly", "CategoriesLimitedUpdate",
    "AdditionalImagesCleanup", "ParametricsCleanup", "ImagesAndFilesCleanup")
VARIANT_FIELDS = _enum(
    "ManufacturerPartNo", "SortOrderValue", "StockDisplayBreakPoint", "IsDangerousGoods", "Cultures", "Skus",
    "MainImage", "AdditionalImages", "VariantParametrics", "VariantParametricsCreateOnly",
    "NonParametricVariantDefinitions", "NonParametricVariantDefinitionsCreateOnly", "DeliveryMethods",
    "DeliveryMethodsCreateOnly", "AdditionalImagesCleanup", "ParametricsCleanup", "TranslationRequested",
    "ImagesAndFilesCleanup")
SKU_FIELDS = _enum(
    "Status", "Type", "IntegrationPartNo", "CommodityCode", "EanCode", "TrackingCode", "UnitOfMeasurementType",
    "UnitOfMeasurementCount", "IsDropShipOnly", "IsBuyable", "DiscountClass", "RecommendedSalesQty",
    "IsRecommendedSalesQtyFixed", "ActualWeight", "VolumeWeight", "LogisticWidth", "LogisticHeight", "LogisticDepth",
    "StandardPrice", "VatRate", "StatusCreateOnly", "StartDate", "StopDate", "StructureItems",
    "PartNoCreateWhenMissing", start=1, skip=(17,))
PRODUCT_CULTURE_FIELDS = _enum(
    "Name", "NameCreateOnly", "SubHeader", "SubDescription", "DescriptionHeader", "Description",
    "DescriptionCreateOnly", "Synonyms", "Title", "Tags", "MetaTags", "MetaDescription", "NameLimitedUpdate",
    "UniqueUrlName", "IsUniqueUrlNameManuallyMaintained", "UniqueUrlNameCreateOnly")
VARIANT_CULTURE_FIELDS = _enum(
    "CultureCode", "Name", "NameCreateOnly", "NameLimitedUpdate", "UniqueUrlName", "IsUniqueUrlNameManuallyMaintained",
    "UniqueUrlNameCreateOnly", "SubHeader", "SubDescription", "DescriptionHeader", "Description",
    "DescriptionCreateOnly", "Synonyms", "Title", "Tags", "MetaTags", "MetaDescription")
SKU_CULTURE_FIELDS = _enum("ErpName", "ErpNameCreateOnly", "Comment", "CommentCreateOnly")
OPEN_LIST = None  # value set not in the reference: any integer or name is accepted and kept as sent

# --- enums inside rows -------------------------------------------------------------------------------------------
SKU_STATUS = _enum("Active", "Coming", "Expiring", "Hidden", "Inactive", "NotActivated", start=1)
SKU_TYPE = {1: "ErpStandard", 3: "Freight", 11: "Service", 14: "Standard", 20: "EnvironmentalFee", 21: "PackingFee",
            44: "Compensation"}  # incomplete in the reference: other integers are accepted
UNIT_OF_MEASUREMENT = _enum("Pieces", "Hour", "Kilogram", "Litre", "Pair", "SquareMeter", "Meter", "Boxes", "Rolls",
                            start=1)
SALES_AREA = {1: "Sweden", 2: "Norway", 3: "Denmark", 4: "Finland", 29: "NoVAT"}  # incomplete: other ints accepted
PRICE_RULE = _enum("CostPlus_PurchaseCost", "FixedPrice", "Margin_PurchaseCost", "UseRecommendedPrice",
                   "CostPlus_UnitCost", "Margin_UnitCost", "UseStandardPrice_PctDiscount", "Competitive_PurchaseCost",
                   "Competitive_UnitCost", "UseStandardPrice_FixedDiscount", "StructureCalculation", "UseCatalogPrice",
                   start=1)
WAREHOUSE_TYPE = _enum("Warehouse", "Store", "Transport", "Other", start=1)

# header property → field enum (None: values accepted as sent), per operation
_PRODUCT_LISTS: dict[str, dict[int, str] | None] = {
    "ProductFieldsThatAreSet": PRODUCT_FIELDS, "ProductCultureFieldsThatAreSet": PRODUCT_CULTURE_FIELDS,
    "VariantFieldsThatAreSet": VARIANT_FIELDS, "VariantCultureFieldsThatAreSet": VARIANT_CULTURE_FIELDS,
    "SkuFieldsThatAreSet": SKU_FIELDS, "SkuCultureFieldsThatAreSet": SKU_CULTURE_FIELDS,
    "SkuPriceListFieldsThatAreSet": SKU_PRICE_LIST_FIELDS, "IgnoreSkuPriceListFieldsWhenEmpty": SKU_PRICE_LIST_FIELDS,
    "SkuStructureItemFieldsThatAreSet": OPEN_LIST, "ImageCultureFieldsThatAreSet": OPEN_LIST,
}
HEADER_LISTS: dict[str, dict[str, dict[int, str] | None]] = {
    "ImportOnhands": {"SkuOnhandFieldsThatAreSet": SKU_ONHAND_FIELDS},
    "ImportSkuPriceLists": {"SkuPriceListFieldsThatAreSet": SKU_PRICE_LIST_FIELDS,
                            "IgnoreSkuPriceListFieldsWhenEmpty": SKU_PRICE_LIST_FIELDS},
    "ImportPriceLists": {"PriceListFieldsThatAreSet": PRICE_LIST_FIELDS, "WarehouseFieldsThatAreSet": WAREHOUSE_FIELDS,
                         "WarehouseLocationFieldsThatAreSet": WAREHOUSE_LOCATION_FIELDS,
                         "PriceListPriceRuleFieldsThatAreSet": OPEN_LIST},
    "ImportProducts": _PRODUCT_LISTS,
}
# the doc's spec block spells one property differently from its own example and the contract (§4.5)
HEADER_ALIASES = {"pricelistrulefieldsthatareset": "PriceListPriceRuleFieldsThatAreSet"}
FULL_FILE_REQUIRED = frozenset({"ImportOnhands", "ImportSkuPriceLists", "ImportProducts"})


@dataclass(frozen=True)
class ImportHeader:
    """A parsed X-StormConnect-Header: the whitelists as sets of enum integers, absent lists as empty sets."""

    operation: str
    account_id: int
    full_file: bool
    fields: Mapping[str, frozenset[int]]
    raw: dict[str, Any] = field(default_factory=dict)
    supplier_id: int | None = None

    def has(self, prop: str, value: int) -> bool:
        return value in self.fields.get(prop, frozenset())

    def names(self, prop: str) -> list[str]:
        table = HEADER_LISTS[self.operation].get(prop) or {}
        return [table.get(v, str(v)) for v in sorted(self.fields.get(prop, frozenset()))]


def parse_header(operation: str, text: str | None, account_ids: frozenset[int]) -> ImportHeader:
    """The header of one import call; :class:`HeaderError` says why Norce would refuse it."""
    if text is None or not text.strip():
        raise HeaderError("The X-StormConnect-Header header is required.")
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise HeaderError(f"X-StormConnect-Header is not valid JSON: {exc.msg} at position {exc.pos}.") from None
    if not isinstance(raw, dict):
        raise HeaderError("X-StormConnect-Header must be one JSON object.")
    props = {str(k).lower(): v for k, v in raw.items()}
    for alias, name in HEADER_ALIASES.items():
        if alias in props and name.lower() not in props:
            props[name.lower()] = props[alias]
    account = _header_int(props.get("accountid"), "AccountId")
    if account is None:
        raise HeaderError("X-StormConnect-Header: AccountId is required.")
    if account not in account_ids:
        raise HeaderError(f"X-StormConnect-Header: AccountId {account} is not an account of this client.")
    full_file = _header_bool(props.get("fullfile"), "FullFile")
    if full_file is None and operation in FULL_FILE_REQUIRED:
        raise HeaderError("X-StormConnect-Header: FullFile is required.")
    serialization = props.get("serializationtype")
    if serialization not in (None, 0, "0") and str(serialization).lower() != "json":
        raise HeaderError(f"X-StormConnect-Header: SerializationType {serialization!r} is not supported; "
                          "this endpoint reads JSON (0).")
    fields = {name: _header_enum_list(props.get(name.lower()), name, table)
              for name, table in HEADER_LISTS[operation].items()}
    if operation in ("ImportSkuPriceLists", "ImportProducts"):
        _check_ignore_when_empty(fields)
    return ImportHeader(operation, account, bool(full_file), fields, raw,
                        _header_int(props.get("supplierid"), "SupplierId"))


def _check_ignore_when_empty(fields: dict[str, frozenset[int]]) -> None:
    ignore = fields.get("IgnoreSkuPriceListFieldsWhenEmpty", frozenset())
    for value in sorted(ignore):
        name = SKU_PRICE_LIST_FIELDS.get(value, str(value))
        if value not in IGNORE_WHEN_EMPTY_ALLOWED:
            raise HeaderError(f"X-StormConnect-Header: IgnoreSkuPriceListFieldsWhenEmpty cannot hold {name}; "
                              "allowed are PriceSale, CostPurchase, CostUnit, PriceRecommended, PricePrevious, "
                              "PriceCatalog, IsActive.")
        if value not in fields.get("SkuPriceListFieldsThatAreSet", frozenset()):
            raise HeaderError(f"X-StormConnect-Header: {name} is in IgnoreSkuPriceListFieldsWhenEmpty but not in "
                              "SkuPriceListFieldsThatAreSet.")


def _header_int(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise HeaderError(f"X-StormConnect-Header: {name} must be an integer, got {value!r}.")
    try:
        return int(value)
    except ValueError:
        raise HeaderError(f"X-StormConnect-Header: {name} must be an integer, got {value!r}.") from None


def _header_bool(value: Any, name: str) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise HeaderError(f"X-StormConnect-Header: {name} must be true or false, got {value!r}.")


def _header_enum_list(value: Any, name: str, table: dict[int, str] | None) -> frozenset[int]:
    if value is None:
        return frozenset()
    items = value if isinstance(value, list) else [value]
    out: set[int] = set()
    for item in items:
        if table is None:
            if isinstance(item, int) and not isinstance(item, bool):
                out.add(item)
                continue
            raise HeaderError(f"X-StormConnect-Header: {name} holds {item!r}; only integers are accepted here.")
        out.add(enum_value(item, table, name, header=True))
    return frozenset(out)


def enum_value(item: Any, table: dict[int, str], name: str, *, header: bool = False, open_set: bool = False) -> int:
    """An enum given as an integer or a (case-insensitive) name; unknown → error naming the field."""
    cls: type[ValueError] = HeaderError if header else RowError
    where = f"X-StormConnect-Header: {name}" if header else name
    if isinstance(item, int) and not isinstance(item, bool):
        if item in table or open_set:
            return item
        raise cls(f"{where}: {item} is not a valid value.")
    if isinstance(item, str):
        text = item.strip()
        if text.lstrip("-").isdigit():
            return enum_value(int(text), table, name, header=header, open_set=open_set)
        for number, label in table.items():
            if label.lower() == text.lower():
                return number
    raise cls(f"{where}: {item!r} is not a valid value.")


# --- bodies ------------------------------------------------------------------------------------------------------
def parse_body(raw: bytes) -> list[Any]:
    """Rows of an import: a JSON array, or objects written back to back (the legacy streaming helper)."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BodyError("The request body is not UTF-8 text.") from None
    if not text.strip():
        raise BodyError("The request body is empty; send a JSON array of rows.")
    decoder = json.JSONDecoder(parse_float=Decimal)
    items: list[Any] = []
    pos, end = 0, len(text)
    while True:
        while pos < end and text[pos].isspace():
            pos += 1
        if pos >= end:
            break
        try:
            value, pos = decoder.raw_decode(text, pos)
        except ValueError as exc:
            raise BodyError(f"The request body is not valid JSON: {exc}.") from None
        if isinstance(value, list):
            if items or text[pos:].strip():
                raise BodyError("The request body must be one JSON array or a sequence of JSON objects.")
            return value
        if not isinstance(value, dict):
            raise BodyError("The request body must be one JSON array or a sequence of JSON objects.")
        items.append(value)
    return items


class RowError(ValueError):
    """One field of one row cannot be bound."""


# type specs: "str" | "dec" | "int" | "bool" | "date" | "any" | ("enum", table, open) | ("obj", Schema) | ("list", spec)
Spec = Any


@dataclass(frozen=True)
class Schema:
    """Properties of one row type (canonical PascalCase names), the required ones, and the max text lengths."""

    props: dict[str, Spec]
    required: frozenset[str] = frozenset()
    non_nullable: frozenset[str] = frozenset()
    max_len: Mapping[str, int] = field(default_factory=dict)


def bind(value: Any, schema: Schema, path: str = "") -> dict[str, Any]:
    """Bind a JSON object to ``schema``: case-insensitive names, coerced values, unknown names dropped."""
    if not isinstance(value, dict):
        raise RowError(f"{path or 'row'}: expected a JSON object, got {_kind(value)}.")
    lookup = {name.lower(): name for name in schema.props}
    out: dict[str, Any] = {}
    for key, item in value.items():
        name = lookup.get(str(key).lower())
        if name is None:
            continue
        where = f"{path}.{name}" if path else name
        if item is None:
            if name in schema.non_nullable:
                raise RowError(f"{where}: null is not a valid value.")
            out[name] = None
            continue
        out[name] = _coerce(item, schema.props[name], where)
        limit = schema.max_len.get(name)
        if limit is not None and isinstance(out[name], str) and len(out[name]) > limit:
            raise RowError(f"{where}: longer than {limit} characters.")
    for name in sorted(schema.required):
        if out.get(name) in (None, ""):
            raise RowError(f"{f'{path}.{name}' if path else name}: is required.")
    return out


def _coerce(item: Any, spec: Spec, where: str) -> Any:
    if spec == "any":
        return item
    if spec == "str":
        if isinstance(item, str):
            return item
        if isinstance(item, (int, Decimal)) and not isinstance(item, bool):
            return str(item)
        raise RowError(f"{where}: expected text, got {_kind(item)}.")
    if spec == "dec":
        return _decimal(item, where)
    if spec == "int":
        number = _decimal(item, where)
        if number != number.to_integral_value():
            raise RowError(f"{where}: {item!r} is not a whole number.")
        return int(number)
    if spec == "bool":
        if isinstance(item, bool):
            return item
        if isinstance(item, str) and item.lower() in ("true", "false"):
            return item.lower() == "true"
        raise RowError(f"{where}: expected true or false, got {item!r}.")
    if spec == "date":
        return _datetime(item, where)
    kind = spec[0]
    if kind == "enum":
        return enum_value(item, spec[1], where, open_set=spec[2])
    if kind == "obj":
        return bind(item, spec[1], where)
    if kind == "list":
        if not isinstance(item, list):
            raise RowError(f"{where}: expected an array, got {_kind(item)}.")
        return [_coerce(x, spec[1], f"{where}[{i}]") for i, x in enumerate(item)]
    raise AssertionError(f"unknown spec {spec!r}")


def _decimal(item: Any, where: str) -> Decimal:
    if isinstance(item, bool) or not isinstance(item, (int, Decimal, float, str)):
        raise RowError(f"{where}: expected a number, got {_kind(item)}.")
    try:
        number = Decimal(str(item).strip())
    except InvalidOperation:
        raise RowError(f"{where}: {item!r} is not a number.") from None
    if not number.is_finite():
        raise RowError(f"{where}: {item!r} is not a number.")
    return number


def _datetime(item: Any, where: str) -> datetime:
    if not isinstance(item, str):
        raise RowError(f"{where}: expected a date-time text, got {_kind(item)}.")
    text = item.strip()
    try:
        value = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
    except ValueError:
        raise RowError(f"{where}: {item!r} is not an ISO-8601 date-time.") from None
    return value if value.tzinfo else value.replace(tzinfo=LOCAL_TZ)  # offset-less = shop-local (choice)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return f"text {value!r}"
    return f"{type(value).__name__} {value!r}"


# --- row schemas (§4.3-§4.6) -------------------------------------------------------------------------------------
_D = "dec"
INFO = Schema({"Code": "str", "Value": "str"}, frozenset({"Code", "Value"}))
ONHAND = Schema(
    {"PartNo": "str", "WarehouseCode": "str", "LocationCode": "str", "OnhandValue": _D, "IncomingValue": _D,
     "NextDeliveryDate": "date", "LeadTimeDayCount": "int", "MinimumValue": _D, "MaximumValue": _D,
     "IsActive": "bool", "Infos": ("list", ("obj", INFO)), "OnOrderValue": _D},
    frozenset({"PartNo", "WarehouseCode", "LocationCode"}), frozenset({"OnhandValue"}))
_PRICE_PROPS: dict[str, Spec] = {
    "PartNo": "str", "PriceListCode": "str", "QuantityBreak": "int", "PriceSale": _D, "CostPurchase": _D,
    "CostUnit": _D, "PriceRecommended": _D, "PricePrevious": _D, "PriceCatalog": _D, "IsPriceDiscountable": "bool",
    "IsActive": "bool", "CurrencyCode": "str", "PriceRule": ("enum", PRICE_RULE, False), "PriceRuleValue": _D}
SKU_PRICE = Schema(_PRICE_PROPS, frozenset({"PartNo", "PriceListCode"}))
STANDARD_PRICE = Schema(_PRICE_PROPS)
LOCATION = Schema({"Code": "str", "Name": "str", "IsIncludedInStockCalculation": "bool", "LeadTimeDayCount": "int"},
                  frozenset({"Code"}))
WAREHOUSE = Schema({"Code": "str", "Type": ("enum", WAREHOUSE_TYPE, False), "Name": "str", "LeadTimeDayCount": "int",
                    "Locations": ("list", ("obj", LOCATION))}, frozenset({"Code", "Locations"}))
PRICE_LIST = Schema(
    {"Code": "str", "Name": "str", "Description": "str", "CurrencyCode": "str", "StartDate": "date",
     "EndDate": "date", "IsPrimary": "bool", "IsPublic": "bool", "IsFavorite": "bool", "TypeCode": "str",
     "DefaultPriceRule": ("enum", PRICE_RULE, False), "DefaultPriceRuleValue": _D,
     "Warehouses": ("list", ("obj", WAREHOUSE)), "SalesArea": ("enum", SALES_AREA, True),
     "DefaultMinMarginPercent": _D, "LimitToRecPrice": "bool", "ParentPriceListCode": "str",
     "DefaultSupplementalChargeFixed": _D, "DefaultSupplementalChargePercent": _D, "PriceRules": "any",
     "Population": "any", "InheritStructureCalculationRule": "bool", "IsErpIntegrated": "bool",
     "DoNotCreateApplicationPriceList": "bool"},
    frozenset({"Code"}), max_len={"Name": 50})
_TEXTS = ("Name", "SubHeader", "SubDescription", "DescriptionHeader", "Description", "Synonyms", "Title", "Tags",
          "MetaTags", "MetaDescription", "UniqueUrlName")
PRODUCT_CULTURE = Schema({"CultureCode": "str", **dict.fromkeys(_TEXTS, "str"),
                          "IsUniqueUrlNameManuallyMaintained": "bool"}, frozenset({"CultureCode"}))
SKU_CULTURE = Schema({"CultureCode": "str", "ErpName": "str", "Comment": "str"}, frozenset({"CultureCode"}))
VAT_RATE = Schema({"SalesArea": ("enum", SALES_AREA, True), "Rate": _D}, frozenset({"SalesArea", "Rate"}))
SKU = Schema(
    {"PartNo": "str", "Status": ("enum", SKU_STATUS, False), "Type": ("enum", SKU_TYPE, True),
     "IntegrationPartNo": "str", "CommodityCode": "str", "EanCode": "str", "TrackingCode": "str",
     "UnitOfMeasurementType": ("enum", UNIT_OF_MEASUREMENT, False), "UnitOfMeasurementCount": _D,
     "IsDropShipOnly": "bool", "IsBuyable": "bool", "DiscountClass": "str", "RecommendedSalesQty": _D,
     "IsRecommendedSalesQtyFixed": "bool", "ActualWeight": _D, "VolumeWeight": _D, "LogisticWidth": _D,
     "LogisticHeight": _D, "LogisticDepth": _D, "StandardPrice": ("obj", STANDARD_PRICE),
     "VatRates": ("list", ("obj", VAT_RATE)), "Cultures": ("list", ("obj", SKU_CULTURE)), "StartDate": "date",
     "StopDate": "date", "StructureItems": "any"},
    frozenset({"PartNo"}))
VARIANT = Schema(
    {"ManufacturerPartNo": "str", "SortOrderValue": "int", "StockDisplayBreakPoint": "int",
     "IsDangerousGoods": "bool", "TranslationRequested": "bool", "Cultures": ("list", ("obj", PRODUCT_CULTURE)),
     "Skus": ("list", ("obj", SKU)), "MainImage": "any", "AdditionalImages": "any", "VariantFlags": "any",
     "VariantParametrics": "any", "NonParametricVariantDefinitions": "any", "DeliveryMethods": "any"})
PRODUCT = Schema(
    {"Code": "str", "ManufacturerCode": "str", "ManufacturerName": "str", "Alias": "str", "AssortmentCode": "str",
     "Cultures": ("list", ("obj", PRODUCT_CULTURE)), "Categories": "any", "MainImage": "any",
     "AdditionalImages": "any", "Family": "any", "ProductFlags": "any", "ProductParametrics": "any",
     "VariantDefinitionGroup": "any", "Variants": ("list", ("obj", VARIANT))})
ROW_SCHEMAS = {"ImportOnhands": ONHAND, "ImportSkuPriceLists": SKU_PRICE, "ImportPriceLists": PRICE_LIST,
               "ImportProducts": PRODUCT}


@dataclass(frozen=True)
class BoundRow:
    """One row of an import: its 1-based position, the value as sent, and the bound value or the error."""

    index: int
    raw: Any
    value: dict[str, Any] | None
    error: str | None = None

    def label(self) -> str:
        part_no = _row_part_no(self.raw)
        return f"Row {self.index}" + (f" (PartNo '{part_no}')" if part_no else "")


def _row_part_no(raw: Any) -> str | None:
    if not isinstance(raw, dict):
        return None
    for key, value in raw.items():
        if str(key).lower() == "partno" and isinstance(value, (str, int)) and not isinstance(value, bool):
            return str(value)
    return None


def bind_rows(operation: str, header: ImportHeader, items: list[Any]) -> list[BoundRow]:
    """Bind every row; rows that fail carry the message the ValidationSummary reports."""
    schema = ROW_SCHEMAS[operation]
    out = []
    for index, item in enumerate(items, start=1):
        try:
            value = bind(item, schema)
            if operation == "ImportProducts":
                _check_product(value, header)
            elif operation == "ImportSkuPriceLists" and value.get("QuantityBreak") is not None \
                    and value["QuantityBreak"] < 1:
                raise RowError(f"QuantityBreak: {value['QuantityBreak']} is not valid; the least is 1.")
            out.append(BoundRow(index, item, value))
        except RowError as exc:
            out.append(BoundRow(index, item, None, str(exc)))
    return out


def _check_product(value: dict[str, Any], header: ImportHeader) -> None:
    """§4.6: Code is mandatory when it is whitelisted and when FullFile is true."""
    if not value.get("Code") and (header.full_file or header.has("ProductFieldsThatAreSet", 3)):
        why = "FullFile is true" if header.full_file else "Code is in ProductFieldsThatAreSet"
        raise RowError(f"Code: is required when {why}.")
