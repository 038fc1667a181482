"""Catalog in (Connect Product Service 4.0): import bodies, ``X-StormConnect-Header``, jobs and their outcome.

Every write is an asynchronous Norce import job; a submit returns :class:`PendingJob` s at once and
:func:`job_outcome` reads where a job stands (``Job/Get``, then ``Job/GetLog`` for its row errors).
Rules kept here, each a choice the reference leaves to the integration:

* **Never** ``FullFile: true``: every header says ``"FullFile": false`` (jetfort never sends a full,
  verified snapshot, and a full file deactivates everything it does not include).
* ``…FieldsThatAreSet`` lists exactly the fields the rows carry. Rows that set different fields go in
  different jobs (one header per job); an array with nothing set is sent empty, never left out (what
  Norce does with a missing array is not documented).
* At most :data:`MAX_ROWS_PER_JOB` (500) rows per job: Norce documents no limit; 500 is Query's page size.
* Products: one ``Product`` → one ``Variant`` → one ``Sku`` per upsert, ``Sku.PartNo`` = the article
  number (it matches existing SKUs). ``Product.Code`` (the variant cluster) = the parent article number
  when the upsert has one. ``ManufacturerCode``/``ManufacturerName`` = ``manufacturer`` and
  ``Variant.ManufacturerPartNo`` = ``manufacturer_article_number``, only when given (no invented
  manufacturer: a NEW product without them is refused by Norce in the job log and lands in the
  quarantine with Norce's message). Texts go to the product culture (Name, SubHeader, SubDescription,
  Description), ``att_value`` to the variant culture's Name, ``hide_product`` to ``Sku.Status`` (4 Hidden /
  1 Active), ``vat_rate`` to ``Sku.VatRates`` for the culture's country. ``template_id`` and
  ``quantity_suffix`` have no Norce counterpart and are not sent.
* Prices: Norce stores SKU prices **ex VAT** (``PriceSale``, as ``OrderItem.UnitPrice``); jetfort's
  prices are incl. VAT, so each is divided by (1 + the article's VAT rate), 4 decimals. A discounted
  price becomes ``PriceSale`` with the regular price as ``PricePrevious`` ("was"). ``QuantityBreak`` 1.
* Stock: ``OnhandValue`` = the count; a ``delivery_date`` adds ``NextDeliveryDate`` (UTC) and
  ``LeadTimeDayCount`` (whole days from today in the shop's zone, never negative). Stock *status*
  ids are Jetshop's; Norce derives availability from on-hand and next delivery, so they are not sent.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from jetfort.norce.connect_orders import ConnectClient, odata_text, utc_text
from jetfort.shop.errors import ShopError, ShopNotFound, ShopRejected
from jetfort.shop.interface import JobOutcome, JobState, PendingJob
from jetfort.shop.models import (
    PriceListPrice,
    PriceListResult,
    Product,
    ProductUpsert,
    StockInfo,
    StockUpdate,
)

__all__ = [
    "MAX_ROWS_PER_JOB", "OP_ONHANDS", "OP_PRICES", "OP_PRODUCTS", "PRODUCT_ENTITY", "Batch", "header_text",
    "iter_products", "job_outcome", "lead_time_days", "onhand_batches", "price_batches", "price_list_codes",
    "product_batches", "product_from_query", "submit", "vat_rates",
]

MAX_ROWS_PER_JOB = 500
OP_PRODUCTS = "Product/ImportProducts"
OP_PRICES = "Product/ImportSkuPriceLists"
OP_ONHANDS = "Product/ImportOnhands"
HEADER = "X-StormConnect-Header"
UNIT = Decimal("0.0001")
#: ``SalesArea`` of a culture's country (reference §4.6: 1 Sweden, 2 Norway, 3 Denmark, 4 Finland)
SALES_AREAS = {"SE": 1, "NO": 2, "DK": 3, "FI": 4}
#: Job/Get StatusId: 2 Succeeded, 3 Failed, 4 Validation failed (1, 5, 6: still going)
JOB_SUCCEEDED, JOB_FAILED, JOB_VALIDATION_FAILED = 2, 3, 4
SEVERITY_WARNING, SEVERITY_ERROR = 2, 3  # JobLogDto.SeverityId: 1 information, 2 row partly imported, 3 row not imported
T = TypeVar("T")


@dataclass(frozen=True)
class Batch:
    """One import job to send: its operation, header, rows and the item keys the rows carry."""

    operation: str
    header: dict[str, Any]
    rows: list[dict[str, Any]]
    keys: tuple[str, ...]


def header_text(header: Mapping[str, Any]) -> str:
    """The header as Norce wants it: one line of JSON, no spaces, no line breaks."""
    if header.get("FullFile") is not False:
        raise ShopError("X-StormConnect-Header without FullFile false: jetfort never sends a full file")
    return json.dumps(header, separators=(",", ":"))


def _base_header(account_id: int) -> dict[str, Any]:
    return {"AccountId": account_id, "FullFile": False, "SerializationType": 0}


def _batches(operation: str, account_id: int, items: Sequence[tuple[str, tuple[Any, ...], dict[str, Any]]],
             header: Callable[[tuple[Any, ...]], dict[str, Any]]) -> list[Batch]:
    """Rows grouped by the fields they set (one header per group), then cut into jobs of 500."""
    groups: dict[tuple[Any, ...], list[tuple[str, dict[str, Any]]]] = {}
    for key, fields, row in items:
        groups.setdefault(fields, []).append((key, row))
    batches: list[Batch] = []
    for fields, rows in groups.items():
        for chunk in _chunks(rows, MAX_ROWS_PER_JOB):
            keys = tuple(dict.fromkeys(key for key, _ in chunk))
            batches.append(Batch(operation, {**_base_header(account_id), **header(fields)},
                                 [row for _, row in chunk], keys))
    return batches


def _chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


# ------------------------------------------------------------------------------------------ products
def product_batches(upserts: Sequence[ProductUpsert], *, account_id: int) -> list[Batch]:
    """``Product/ImportProducts`` jobs for the upserts (their ``stock`` goes to :func:`onhand_batches`)."""
    items = [(u.article_number, *_product_row(u)) for u in upserts]
    return _batches(OP_PRODUCTS, account_id, items, lambda f: {
        "ProductFieldsThatAreSet": list(f[0]), "ProductCultureFieldsThatAreSet": list(f[1]),
        "VariantFieldsThatAreSet": list(f[2]), "VariantCultureFieldsThatAreSet": list(f[3]),
        "SkuFieldsThatAreSet": list(f[4])})


def _product_row(u: ProductUpsert) -> tuple[tuple[tuple[int, ...], ...], dict[str, Any]]:
    """One Product → Variant → Sku row and the field ids it sets (product, product culture, variant,
    variant culture, sku)."""
    product: dict[str, Any] = {}
    pf, vf = {4}, {5}  # Variants, Skus: the nested rows are read
    if u.parent_article_number:
        product["Code"] = u.parent_article_number
        pf.add(3)
    if u.manufacturer is not None:
        product["ManufacturerCode"] = product["ManufacturerName"] = u.manufacturer
        pf |= {0, 1}
    culture: dict[str, Any] = {"CultureCode": u.culture}
    pcf: set[int] = set()
    for fid, name, value in ((0, "Name", u.name), (2, "SubHeader", u.sub_name),
                             (3, "SubDescription", u.short_description), (5, "Description", u.description)):
        if value is not None:
            culture[name] = value
            pcf.add(fid)
    if pcf:
        product["Cultures"] = [culture]
        pf.add(5)
    variant: dict[str, Any] = {}
    if u.manufacturer_article_number is not None:
        variant["ManufacturerPartNo"] = u.manufacturer_article_number
        vf.add(0)
    vcf: set[int] = set()
    if u.att_value is not None:
        variant["Cultures"] = [{"CultureCode": u.culture, "Name": u.att_value}]
        vf.add(4)
        vcf = {0, 1}
    sku, sf = _sku(u)
    variant["Skus"] = [sku]
    product["Variants"] = [variant]
    fields = tuple(tuple(sorted(s)) for s in (pf, pcf, vf, vcf, sf))
    return fields, product


def _sku(u: ProductUpsert) -> tuple[dict[str, Any], set[int]]:
    sku: dict[str, Any] = {"PartNo": u.article_number}
    sf: set[int] = set()
    if u.hide_product is not None:
        sku["Status"] = 4 if u.hide_product else 1
        sf.add(1)
    if u.ean is not None:
        sku["EanCode"] = u.ean
        sf.add(5)
    if u.weight is not None:
        sku["ActualWeight"] = u.weight
        sf.add(14)
    if u.vat_rate is not None:
        sku["VatRates"] = [{"SalesArea": _sales_area(u.article_number, u.culture), "Rate": _percent(u.vat_rate)}]
        sf.add(21)
    return sku, sf


def _sales_area(article: str, culture: str) -> int:
    country = culture.rpartition("-")[2].upper()
    try:
        return SALES_AREAS[country]
    except KeyError:
        raise ShopRejected(f"article {article}: vat_rate for culture {culture!r} has no Norce SalesArea "
                           f"(known: {', '.join(SALES_AREAS)})") from None


def _percent(fraction: Decimal) -> Decimal:
    return (fraction * 100).normalize() if fraction else Decimal(0)


# -------------------------------------------------------------------------------------------- prices
def price_batches(prices: Sequence[PriceListPrice], *, account_id: int, vat_rates: Mapping[str, Decimal]
                  ) -> tuple[list[Batch], list[PriceListResult]]:
    """``Product/ImportSkuPriceLists`` jobs (prices ex VAT), and the prices refused before sending
    (no known VAT rate for the article: the price cannot be turned into Norce's ex-VAT figure)."""
    items: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []
    refused: list[PriceListResult] = []
    for p in prices:
        vat = vat_rates.get(p.article_number)
        if vat is None:
            refused.append(PriceListResult(
                article_number=p.article_number, price_list_id=p.price_list_id, success=False,
                message=f"article {p.article_number}: no VAT rate known in Norce, so its ex-VAT price "
                        "cannot be computed; not sent"))
            continue
        row: dict[str, Any] = {"PartNo": p.article_number, "PriceListCode": p.price_list_id, "QuantityBreak": 1,
                               "PriceSale": _ex_vat(p.price_inc_vat, vat)}
        fields: tuple[int, ...] = (3,)
        if p.discounted_price_inc_vat is not None:
            row["PriceSale"] = _ex_vat(p.discounted_price_inc_vat, vat)
            row["PricePrevious"] = _ex_vat(p.price_inc_vat, vat)
            fields = (3, 7)
        items.append((f"{p.article_number}@{p.price_list_id}", fields, row))
    batches = _batches(OP_PRICES, account_id, items, lambda f: {"SkuPriceListFieldsThatAreSet": list(f)})
    return batches, refused


def _ex_vat(price_inc_vat: Decimal, vat_rate: Decimal) -> Decimal:
    return (price_inc_vat / (1 + vat_rate)).quantize(UNIT, rounding=ROUND_HALF_UP)


# ----------------------------------------------------------------------------------------- on-hands
def onhand_batches(updates: Sequence[StockUpdate], *, account_id: int, warehouse_code: str,
                   location_code: str, now: datetime, tz: ZoneInfo) -> list[Batch]:
    """``Product/ImportOnhands`` jobs: on-hand counts, and next delivery where a date is known."""
    items: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []
    for u in updates:
        row: dict[str, Any] = {"PartNo": u.article_number, "WarehouseCode": warehouse_code,
                               "LocationCode": location_code, "OnhandValue": u.stock_count}
        fields: tuple[int, ...] = (3,)
        if u.delivery_date is not None:
            row["NextDeliveryDate"] = utc_text(u.delivery_date)
            row["LeadTimeDayCount"] = lead_time_days(u.delivery_date, now=now, tz=tz)
            fields = (3, 5, 6)
        items.append((u.article_number, fields, row))
    return _batches(OP_ONHANDS, account_id, items, lambda f: {"SkuOnhandFieldsThatAreSet": list(f)})


def lead_time_days(delivery: datetime, *, now: datetime, tz: ZoneInfo) -> int:
    """Whole calendar days from today to the delivery day, in the shop's zone; 0 when due or past."""
    if delivery.tzinfo is None or now.tzinfo is None:
        raise ValueError("delivery date and now must carry a time zone")
    return max(0, (delivery.astimezone(tz).date() - now.astimezone(tz).date()).days)


# -------------------------------------------------------------------------------------------- jobs
def submit(client: ConnectClient, batch: Batch) -> PendingJob:
    """Send one import; the job id Norce answers becomes a :class:`PendingJob` (never waited for here)."""
    answer = client.connect_post(batch.operation, batch.rows, headers={HEADER: header_text(batch.header)})
    job_id = str((answer or {}).get("JobId") or "").strip() if isinstance(answer, dict) else ""
    if not job_id.isdigit():
        raise ShopError(f"answer without a numeric JobId ({len(batch.rows)} rows sent): "
                        f"{str(answer)[:200]!r}", operation=batch.operation)
    return PendingJob(job_id, batch.operation, batch.keys)


def job_outcome(client: ConnectClient, job: PendingJob) -> JobOutcome:
    """Where a job stands: running until Job/Get says 2/3/4; then its log's Error rows per item key."""
    dto = client.connect_get("Job/Get", {"id": int(job.job_id)})
    status = dto.get("StatusId") if isinstance(dto, dict) else None
    if status not in (JOB_SUCCEEDED, JOB_FAILED, JOB_VALIDATION_FAILED):
        return JobOutcome(JobState.RUNNING, message=f"job {job.job_id} status {status}")
    log = client.connect_get("Job/GetLog", {"id": int(job.job_id)}) or []
    errors = [e for e in log if isinstance(e, dict) and e.get("SeverityId") == SEVERITY_ERROR]
    failed, unmapped = _failures(job, errors)
    # a Warning is "row partly imported" — an unknown SKU, price list or location is ignored with one:
    # the item named did not land as sent, so it is not recorded as written either
    warned, _ = _failures(job, [e for e in log if isinstance(e, dict) and e.get("SeverityId") == SEVERITY_WARNING])
    for key, message in warned.items():
        failed.setdefault(key, f"Norce imported it in part or not at all: {message}")
    if status == JOB_SUCCEEDED:
        if unmapped:  # a row was not imported and the log does not say which: none is taken as written
            note = f"job {job.job_id}: the log has {len(unmapped)} error row(s) naming no item: {unmapped[0]}"
            failed = {key: failed.get(key, note) for key in job.keys}
            return JobOutcome(JobState.SUCCEEDED, failed, note)
        return JobOutcome(JobState.SUCCEEDED, failed, f"job {job.job_id} succeeded, {len(failed)} row error(s)")
    name = "failed" if status == JOB_FAILED else "validation failed"
    shown = "; ".join(unmapped[:3] or [m for m in failed.values()][:3]) or str(dto.get("Description") or "")
    return JobOutcome(JobState.FAILED, failed, f"job {job.job_id} {name}: {shown}".rstrip(": "))


def _failures(job: PendingJob, errors: list[dict[str, Any]]) -> tuple[dict[str, str], list[str]]:
    """(item key → Norce's message, messages of error rows that name no item of the job)."""
    failed: dict[str, str] = {}
    unmapped: list[str] = []
    for entry in errors:
        message = str(entry.get("Message") or "error")
        keys = _keys_named(job, entry.get("ImportedRow"), message)
        for key in keys:
            failed.setdefault(key, message)
        if not keys:
            unmapped.append(message)
    return failed, unmapped


def _keys_named(job: PendingJob, imported: Any, message: str) -> list[str]:
    """The job's keys a log row names: from its ImportedRow (PartNo, PriceListCode), else its message."""
    row = imported
    if isinstance(imported, str):
        try:
            row = json.loads(imported)
        except ValueError:
            row = None
    if isinstance(row, dict):
        part = _prop(row, "PartNo")
        code = _prop(row, "PriceListCode")
        if part is not None:
            named = [k for k in job.keys if k == part or (k.startswith(f"{part}@")
                                                          and (code is None or k == f"{part}@{code}"))]
            if named:
                return named
    text = f"{imported if isinstance(imported, str) else ''} {message}"
    return [k for k in job.keys if re.search(rf"(?<![\w-]){re.escape(k.split('@', 1)[0])}(?![\w-])", text)]


def _prop(row: Mapping[str, Any], name: str) -> str | None:
    """A property of a JSON row, matched case-insensitively (Norce binds names that way)."""
    for key, value in row.items():
        if key.lower() == name.lower() and value is not None:
            return str(value)
    return None


# ---------------------------------------------------------------------------------- reading products
#: Query entity set of sellable SKUs (keyed by PartNo, reference §2b ``Products/ProductSkus('100011')``);
#: row properties as the sandbox serves them (UNCONFIRMED beyond the entity name): PartNo, Name, EanCode,
#: ManufacturerPartNo, StatusId, VatRate (percent, Sweden), PriceSale + PriceListCode (the primary price
#: list, ex VAT), OnhandValue, Updated, LastChanged (any change to the SKU, its prices or on-hands).
PRODUCT_ENTITY = "Products/ProductSkus"
PRICE_LIST_ENTITY = "Products/PriceLists"
CHANGED = "LastChanged"
LOOKUP_CHUNK = 20
HIDDEN_STATUSES = frozenset({4, 5, 6})  # SkuStatus Hidden, Inactive, NotActivated


def iter_products(client: ConnectClient, *, culture: str | None, modified_from: datetime | None,
                  tz: ZoneInfo) -> Iterator[Product]:
    """Every SKU of the application as a :class:`Product` (changed since ``modified_from`` when given)."""
    params: dict[str, Any] = {"$orderby": "PartNo", "$top": MAX_ROWS_PER_JOB}
    if modified_from is not None:
        params["$filter"] = f"{CHANGED} ge {utc_text(modified_from)}"
    for page in client.query_pages(PRODUCT_ENTITY, params):
        for row in page:
            yield product_from_query(row, culture=culture or "", tz=tz)


def product_from_query(row: Mapping[str, Any], *, culture: str, tz: ZoneInfo) -> Product:
    """One Query SKU row; a value that is not what Norce documents is a clear error naming the SKU."""
    part = row.get("PartNo")
    if not isinstance(part, str) or not part:
        raise ShopError(f"{PRODUCT_ENTITY}: a row without PartNo: {str(dict(row))[:200]}")
    rate = _row_number(row, "VatRate", part)
    price = _row_number(row, "PriceSale", part)
    onhand = _row_number(row, "OnhandValue", part)
    if onhand is not None and onhand != onhand.to_integral_value():
        raise ShopError(f"{PRODUCT_ENTITY} {part}: OnhandValue {onhand} is not a whole count")
    return Product(article_number=part, culture=culture, name=str(row.get("Name") or ""),
                   ean=str(row.get("EanCode") or ""),
                   manufacturer_article_number=str(row.get("ManufacturerPartNo") or ""),
                   vat_rate=(rate or Decimal(0)) / 100, price_ex_vat=price or Decimal(0),
                   price_list_id=str(row.get("PriceListCode") or ""),
                   hide_product=row.get("StatusId") in HIDDEN_STATUSES,
                   stock=None if onhand is None else StockInfo(stock_count=int(onhand)),
                   modified_date=_row_time(row, CHANGED, tz) or _row_time(row, "Updated", tz))


def price_list_codes(client: ConnectClient) -> set[str] | None:
    """The codes of the price lists Norce holds (``Products/PriceLists``); None when Query does not serve them."""
    try:
        return {str(row["Code"]) for page in client.query_pages(PRICE_LIST_ENTITY, {"$select": "Code"})
                for row in page if row.get("Code")}
    except ShopNotFound:
        return None


def _sku_rows(client: ConnectClient, articles: Sequence[str], select: str) -> Iterator[dict[str, Any]]:
    """The Query ``Products/ProductSkus`` rows of these articles (``$select``), in chunks of part numbers."""
    for chunk in _chunks(list(articles), LOOKUP_CHUNK):
        condition = " or ".join(f"PartNo eq {odata_text(a)}" for a in chunk)
        for page in client.query_pages(PRODUCT_ENTITY, {"$filter": condition, "$select": select}):
            yield from (row for row in page if isinstance(row.get("PartNo"), str))


def known_skus(client: ConnectClient, articles: Sequence[str]) -> set[str]:
    """The articles Norce has a SKU of."""
    return {row["PartNo"] for row in _sku_rows(client, articles, "PartNo")}


def vat_rates(client: ConnectClient, articles: Sequence[str]) -> dict[str, Decimal]:
    """Each article's VAT rate (fraction) as Norce holds it; articles Norce does not know are left out."""
    rates: dict[str, Decimal] = {}
    for row in _sku_rows(client, articles, "PartNo,VatRate"):
        rate = _row_number(row, "VatRate", row["PartNo"])
        if rate is not None:
            rates[row["PartNo"]] = rate / 100
    return rates


def _row_number(row: Mapping[str, Any], key: str, part: str) -> Decimal | None:
    value = row.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise ShopError(f"{PRODUCT_ENTITY} {part}: {key} {value!r} is not a number")
    return Decimal(str(value))


def _row_time(row: Mapping[str, Any], key: str, tz: ZoneInfo) -> datetime | None:
    value = row.get(key)
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise ShopError(f"{PRODUCT_ENTITY} {row.get('PartNo')}: {key} {value!r} is not a date-time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=tz)
