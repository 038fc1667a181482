"""Applying a succeeded import job to the catalog, with Norce's rules (norce-api.md §4.2-§4.6).

* ``…FieldsThatAreSet`` whitelist what a row may write: a field not listed is never written, even when the
  row carries it. A listed field the row leaves out is left as it is; an explicit ``null`` clears it.
* SKU prices: ``null`` and ``0`` never overwrite; a field in ``IgnoreSkuPriceListFieldsWhenEmpty`` that is
  empty drops the whole row.
* Rows for SKUs, price lists or warehouse locations that do not exist are ignored with a Warning log row
  naming the PartNo; rows the fault knob ``reject_skus`` names get an Error log row and are not imported.
* ``FullFile=true`` deactivates what the import leaves out, within its scope: on-hands of the warehouse
  locations in the import, prices of the price lists in the import, products of the variant clusters in
  the import (removed from the cluster).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sandbox.norce.catalog_wire import BoundRow
from sandbox.norce.jobs import Job, Severity

if TYPE_CHECKING:
    from sandbox.norce.catalog import NorceCatalog


def apply_job(cat: NorceCatalog, job: Job, at: datetime) -> None:
    """Write a job's valid rows into ``cat`` (called when the job reaches Succeeded)."""
    {"ImportOnhands": _onhands, "ImportSkuPriceLists": _sku_prices, "ImportPriceLists": _price_lists,
     "ImportProducts": _products}[job.operation](cat, job, at)


def _reject(job: Job, row: BoundRow, at: datetime, part_no: str, what: str) -> None:
    job.failures += 1
    job.log(Severity.ERROR, f"PartNo '{part_no}': {what} could not be imported; the row was rejected.", at, row.raw)


def _ignore(job: Job, row: BoundRow, at: datetime, message: str) -> None:
    job.ignored += 1
    job.log(Severity.WARNING, message, at, row.raw)


def _write(target: dict[str, Any], source: dict[str, Any], name: str, *, keep_null_bool: bool = True) -> bool:
    """Copy one whitelisted field if the row carries it (null clears, except a null boolean)."""
    if name not in source:
        return False
    value = source[name]
    if value is None and keep_null_bool and isinstance(target.get(name), bool):
        return False
    target[name] = value
    return True


# -- on-hands (§4.3) -------------------------------------------------------------------------------------------
ONHAND_UNSUPPORTED = frozenset({"OnOrderValue"})  # deprecated, not written


def _onhands(cat: NorceCatalog, job: Job, at: datetime) -> None:
    fields = [f for f in job.header.names("SkuOnhandFieldsThatAreSet") if f not in ONHAND_UNSUPPORTED]
    included: set[tuple[str, str, str]] = set()
    scopes: set[tuple[str, str]] = set()
    for row in job.valid_rows:
        v = row.value or {}
        key = (v["PartNo"], v["WarehouseCode"], v["LocationCode"])
        included.add(key)
        scopes.add(key[1:])
        part_no = key[0]
        if part_no in job.reject:
            _reject(job, row, at, part_no, f"on-hand for warehouse '{key[1]}' location '{key[2]}'")
        elif part_no not in cat.skus:
            _ignore(job, row, at, f"Sku with PartNo '{part_no}' does not exist; on-hand row ignored.")
        elif not cat.location_exists(key[1], key[2]):
            _ignore(job, row, at, f"Warehouse '{key[1]}' location '{key[2]}' does not exist; on-hand row for "
                                  f"PartNo '{part_no}' ignored.")
        else:
            record = cat.onhands.get(key)
            if record is None:
                record = cat.new_onhand(*key, at)
                job.inserts += 1
            else:
                job.updates += 1
            for name in fields:
                _write(record, v, name)
            record["Updated"] = at
    if job.header.full_file:
        stale = [k for k, r in cat.onhands.items() if k[1:] in scopes and k not in included and r["IsActive"]]
        for key in sorted(stale):
            cat.onhands[key].update(IsActive=False, Updated=at)
            job.effects.append(f"FullFile deactivated on-hand {key[0]} @ {key[1]}/{key[2]}")
        _full_file_log(job, at, len(stale), "on-hand records", "warehouse locations")


def _full_file_log(job: Job, at: datetime, count: int, what: str, scope: str) -> None:
    job.log(Severity.INFORMATION, f"FullFile: {count} {what} of the {scope} in the import that were not "
                                  "included were deactivated.", at)


# -- SKU prices (§4.4) ------------------------------------------------------------------------------------------
def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, Decimal) and value == 0) or value == ""


def _sku_prices(cat: NorceCatalog, job: Job, at: datetime) -> None:
    fields = job.header.names("SkuPriceListFieldsThatAreSet")
    ignore_empty = job.header.names("IgnoreSkuPriceListFieldsWhenEmpty")
    included: set[tuple[str, str, int]] = set()
    lists_in_import: set[str] = set()
    for row in job.valid_rows:
        v = row.value or {}
        part_no, code, qty = v["PartNo"], v["PriceListCode"], v.get("QuantityBreak") or 1
        included.add((part_no, code, qty))
        if code in cat.price_lists:
            lists_in_import.add(code)
        empty = next((f for f in ignore_empty if _empty(v.get(f))), None)
        if part_no in job.reject:
            _reject(job, row, at, part_no, f"price for price list '{code}'")
        elif empty:
            job.ignored += 1
            job.log(Severity.INFORMATION, f"PartNo '{part_no}', price list '{code}': {empty} is empty and in "
                                          "IgnoreSkuPriceListFieldsWhenEmpty; row ignored.", at, row.raw)
        elif part_no not in cat.skus:
            _ignore(job, row, at, f"Sku with PartNo '{part_no}' does not exist; price for price list '{code}' "
                                  "ignored.")
        elif code not in cat.price_lists:
            _ignore(job, row, at, f"Price list '{code}' does not exist; price for PartNo '{part_no}' ignored.")
        else:
            record = cat.prices.get((part_no, code, qty))
            created = record is None
            if record is None:
                record = cat.new_price(part_no, code, qty, at)
            job.inserts += created
            job.updates += not created
            write_price_fields(record, v, fields, created=created)
            record["Updated"] = at
    if job.header.full_file:
        stale = [k for k, r in cat.prices.items()
                 if k[1] in lists_in_import and k not in included and r["IsActive"]]
        for key in sorted(stale):
            cat.prices[key].update(IsActive=False, Updated=at)
            job.effects.append(f"FullFile deactivated price {key[0]} @ {key[1]} (QuantityBreak {key[2]})")
        _full_file_log(job, at, len(stale), "prices", "price lists")


def write_price_fields(record: dict[str, Any], v: dict[str, Any], fields: list[str], *, created: bool) -> None:
    """Whitelisted price fields; null and 0 never overwrite (§4.4)."""
    for name in fields:
        if name == "FullfileResetInheritance":
            continue
        if name == "IsPriceDiscountableCreateOnly":
            if created and v.get("IsPriceDiscountable") is not None:
                record["IsPriceDiscountable"] = v["IsPriceDiscountable"]
            continue
        if name == "PriceRule":
            for part in ("PriceRule", "PriceRuleValue"):
                if not _empty(v.get(part)):
                    record[part] = v[part]
            continue
        if not _empty(v.get(name)):
            record[name] = v[name]


# -- price lists (§4.5) -----------------------------------------------------------------------------------------
PRICE_LIST_FLAGS = frozenset({"PriceRulesCleanup", "PriceRulesLimitedUpdate", "PopulationCleanup"})


def _price_lists(cat: NorceCatalog, job: Job, at: datetime) -> None:
    fields = job.header.names("PriceListFieldsThatAreSet")
    for row in job.valid_rows:
        v = row.value or {}
        record = cat.price_lists.get(v["Code"])
        created = record is None
        if record is None:
            record = cat.new_price_list(v["Code"], at)
            job.log(Severity.INFORMATION, f"Price list '{v['Code']}' created.", at)
        job.inserts += created
        job.updates += not created
        for name in fields:
            if name in PRICE_LIST_FLAGS:
                continue
            if name == "Warehouses":
                if v.get("Warehouses") is not None:
                    record["Warehouses"] = _warehouses(cat, job, v["Warehouses"])
            elif name == "DefaultPriceRule":
                _write(record, v, "DefaultPriceRule")
                _write(record, v, "DefaultPriceRuleValue")
            elif name == "Name" and v.get("Name") is None:
                continue  # a price list keeps a name
            else:
                _write(record, v, name)
        if fields and "IsPrimary" in fields and record.get("IsPrimary"):
            for other in cat.price_lists.values():
                if other is not record and other["IsPrimary"]:
                    other.update(IsPrimary=False, Updated=at)  # one primary price list per application
        record["Updated"] = at


def _warehouses(cat: NorceCatalog, job: Job, items: list[dict[str, Any]]) -> list[str]:
    wh_fields = job.header.names("WarehouseFieldsThatAreSet")
    loc_fields = job.header.names("WarehouseLocationFieldsThatAreSet")
    codes = []
    for item in items:
        warehouse = cat.warehouses.setdefault(item["Code"], {"Code": item["Code"], "Type": 1, "Name": item["Code"],
                                                             "LeadTimeDayCount": None, "Locations": {}})
        for name in wh_fields:
            _write(warehouse, item, name)
        for loc in item.get("Locations") or []:
            location = warehouse["Locations"].setdefault(loc["Code"], {
                "Code": loc["Code"], "Name": loc["Code"], "IsIncludedInStockCalculation": True,
                "LeadTimeDayCount": None})
            for name in loc_fields:
                _write(location, loc, name)
        codes.append(item["Code"])
    return sorted(set(codes))


# -- products (§4.6) --------------------------------------------------------------------------------------------
PRODUCT_SIMPLE = ("ManufacturerCode", "ManufacturerName", "Alias", "Code", "Categories", "MainImage",
                  "AdditionalImages", "Family", "ProductParametrics", "VariantDefinitionGroup")
VARIANT_SIMPLE = ("ManufacturerPartNo", "SortOrderValue", "StockDisplayBreakPoint", "IsDangerousGoods", "MainImage",
                  "AdditionalImages", "VariantParametrics", "NonParametricVariantDefinitions", "DeliveryMethods",
                  "TranslationRequested")


def _products(cat: NorceCatalog, job: Job, at: datetime) -> None:
    touched: dict[str, set[int]] = {}
    for row in job.valid_rows:
        v = row.value or {}
        for variant in v.get("Variants") or []:
            product = _variant(cat, job, row, v, variant, at)
            if product is not None and v.get("Code"):
                touched.setdefault(v["Code"], set()).add(product["Id"])
    if job.header.full_file:
        removed = 0
        for product in sorted(cat.products.values(), key=lambda p: p["Id"]):
            code = product["Code"]
            if code in touched and product["Id"] not in touched[code]:
                product.update(Code=None, Updated=at)
                removed += 1
                job.effects.append(f"FullFile removed product {product['ManufacturerCode']}/"
                                   f"{product['ManufacturerPartNo']} from variant cluster {code}")
        job.log(Severity.INFORMATION, f"FullFile: {removed} products of the variant clusters in the import that "
                                      "were not included were removed from their cluster.", at)


def _find_product(cat: NorceCatalog, mc: str | None, mpn: str | None,
                  skus: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Updates need ManufacturerCode + ManufacturerPartNo, or a SKU PartNo (§4.6)."""
    if mc and mpn:
        found = next((p for p in cat.products.values()
                      if p["ManufacturerCode"] == mc and p["ManufacturerPartNo"] == mpn), None)
        if found is not None:
            return found
    for sku in skus:
        if sku["PartNo"] in cat.skus:
            return cat.products[cat.skus[sku["PartNo"]]["ProductId"]]
    return None


def _variant(cat: NorceCatalog, job: Job, row: BoundRow, prod_in: dict[str, Any], var_in: dict[str, Any],
             at: datetime) -> dict[str, Any] | None:
    header = job.header
    skus_in = [s for s in var_in.get("Skus") or []]
    for sku in [s for s in skus_in if s["PartNo"] in job.reject]:
        _reject(job, row, at, sku["PartNo"], "sku")
    if skus_in and all(s["PartNo"] in job.reject for s in skus_in):
        return None  # nothing of this variant is imported
    skus_in = [s for s in skus_in if s["PartNo"] not in job.reject]
    mc, mpn = prod_in.get("ManufacturerCode"), var_in.get("ManufacturerPartNo")
    product = _find_product(cat, mc, mpn, skus_in)
    created = product is None
    if product is None:
        first = skus_in[0]["PartNo"] if skus_in else None
        missing = [n for n, val in (("ManufacturerCode", mc), ("ManufacturerPartNo", mpn), ("PartNo", first))
                   if not val]
        if not header.has("ProductFieldsThatAreSet", 4) or not header.has("VariantFieldsThatAreSet", 5):
            missing.append("Variants in ProductFieldsThatAreSet and Skus in VariantFieldsThatAreSet")
        if missing:
            job.failures += 1
            label = f"PartNo '{first}'" if first else f"ManufacturerPartNo '{mpn}'"
            job.log(Severity.ERROR, f"{label}: product could not be created; required: {', '.join(missing)}.",
                    at, row.raw)
            return None
        product = cat.new_product(str(mc), str(mpn), at)
    _product_fields(product, prod_in, header.names("ProductFieldsThatAreSet"),
                    header.names("ProductCultureFieldsThatAreSet"), created)
    if header.has("ProductFieldsThatAreSet", 4):
        for name in header.names("VariantFieldsThatAreSet"):
            if name in VARIANT_SIMPLE and not (name == "ManufacturerPartNo" and not var_in.get(name)):
                _write(product, var_in, name)
            elif name.endswith("CreateOnly") and created:
                _write(product, var_in, name[:-len("CreateOnly")])
        if header.has("VariantFieldsThatAreSet", 4):
            _cultures(product["Cultures"], var_in.get("Cultures"), header.names("VariantCultureFieldsThatAreSet"),
                      created)
        if header.has("VariantFieldsThatAreSet", 5):
            for sku_in in skus_in:
                _sku(cat, job, row, product, sku_in, at)
    product["Updated"] = at
    return product


def _product_fields(product: dict[str, Any], prod_in: dict[str, Any], fields: list[str], culture_fields: list[str],
                    created: bool) -> None:
    for name in fields:
        if name in PRODUCT_SIMPLE:
            _write(product, prod_in, name)
        elif name == "Assortment":
            _write(product, prod_in, "AssortmentCode")
        elif name.endswith("CreateOnly") and created:
            _write(product, prod_in, name[:-len("CreateOnly")])
    if "Cultures" in fields:
        _cultures(product["Cultures"], prod_in.get("Cultures"), culture_fields, created)


def _cultures(target: dict[str, dict[str, Any]], items: list[dict[str, Any]] | None, fields: list[str],
              created: bool) -> None:
    """Per-culture texts: ``…CreateOnly`` only on create, ``…LimitedUpdate`` only into an empty text."""
    for item in items or []:
        entry = target.setdefault(item["CultureCode"], {})
        for name in fields:
            if name == "CultureCode":
                continue
            if name.endswith("CreateOnly"):
                if created:
                    _write(entry, item, name[:-len("CreateOnly")])
            elif name.endswith("LimitedUpdate"):
                base = name[:-len("LimitedUpdate")]
                if not entry.get(base):
                    _write(entry, item, base)
            else:
                _write(entry, item, name)


SKU_SKIP = frozenset({"StandardPrice", "VatRate", "StatusCreateOnly", "PartNoCreateWhenMissing"})


def _sku(cat: NorceCatalog, job: Job, row: BoundRow, product: dict[str, Any], sku_in: dict[str, Any],
         at: datetime) -> None:
    header = job.header
    part_no = sku_in["PartNo"]
    sku = cat.skus.get(part_no)
    if sku is not None and sku["ProductId"] != product["Id"]:
        job.failures += 1
        job.log(Severity.ERROR, f"PartNo '{part_no}' belongs to another product and was not imported.", at, row.raw)
        return
    created = sku is None
    if sku is None:
        sku = cat.new_sku(part_no, product["Id"], at)
    job.inserts += created
    job.updates += not created
    fields = header.names("SkuFieldsThatAreSet")
    for name in fields:
        if name not in SKU_SKIP:
            _write(sku, sku_in, name)
    if "StatusCreateOnly" in fields and created:
        _write(sku, sku_in, "Status")
    if "VatRate" in fields and sku_in.get("VatRates") is not None:
        rates = {r["SalesArea"]: r for r in sku["VatRates"]}
        rates.update({r["SalesArea"]: dict(r) for r in sku_in["VatRates"]})
        sku["VatRates"] = [rates[k] for k in sorted(rates)]
    if "StandardPrice" in fields and isinstance(sku_in.get("StandardPrice"), dict):
        std = sku_in["StandardPrice"]
        ignore_empty = header.names("IgnoreSkuPriceListFieldsWhenEmpty")
        empty = next((f for f in ignore_empty if _empty(std.get(f))), None)
        if empty:
            job.log(Severity.INFORMATION, f"PartNo '{part_no}': StandardPrice.{empty} is empty and in "
                                          "IgnoreSkuPriceListFieldsWhenEmpty; standard price ignored.", at)
        else:
            record = sku["StandardPrice"] or {}
            write_price_fields(record, std, header.names("SkuPriceListFieldsThatAreSet"),
                               created=sku["StandardPrice"] is None)
            sku["StandardPrice"] = record
    _cultures(sku["Cultures"], sku_in.get("Cultures"), header.names("SkuCultureFieldsThatAreSet"), created)
    sku["Updated"] = at
