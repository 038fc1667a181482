"""The catalog of the Norce sandbox: products → SKUs, price lists, SKU prices, warehouses and on-hands.

Seeded with the article numbers of the Jetshop sandbox (``sandbox/jetshop/seed.py``), which line up with
the Fortnox sandbox's articles, so demo orders, stock and prices meet across the three sandboxes. Writes
come only through Connect import jobs (:mod:`sandbox.norce.jobs`, applied by
:mod:`sandbox.norce.catalog_imports`); reads through the Python inspection methods, ``GET /_sandbox/catalog``
and the Query entity sets (:meth:`NorceCatalog.entity_sets`).
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sandbox.jetshop.seed import ARTICLES, EUR_RATE
from sandbox.norce.catalog_imports import apply_job
from sandbox.norce.catalog_wire import ImportHeader, bind_rows
from sandbox.norce.jobs import CatalogFaults, Job, JobQueue

ACCOUNT_ID = 17
SEK_BASE, EUR_BASE = "SEK-BASE", "EUR-BASE"
WAREHOUSE, LOCATION = "MAIN", "MAIN"
DEFAULT_CULTURE = "sv-SE"
MANUFACTURER = "DEMO"
SWEDEN = 1  # SalesArea
Key3 = tuple[str, str, Any]


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def query_time(value: datetime | None) -> str | None:
    """A DateTime in a Query 2.0 row: UTC with ``Z`` (as the Query OpenAPI samples show)."""
    if value is None:
        return None
    return _utc(value).astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _numbers(value: Any) -> Any:
    """Query rows carry decimals as JSON numbers (floats; the sandbox's amounts print exactly)."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {k: _numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_numbers(v) for v in value]
    return value


def ean13(number: str) -> str | None:
    """A valid EAN-13 in the 735 (Sweden) range for a numeric article number; None for the others."""
    if not number.isdigit():
        return None
    body = "7350000" + number.zfill(5)
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body))
    return body + str((10 - total % 10) % 10)


def _ex_vat(inc: Decimal, vat: Decimal, divisor: Decimal = Decimal(1)) -> Decimal:
    return (inc / divisor / (1 + vat)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


class NorceCatalog:
    """Catalog state, the job queue that writes it, and the knobs that make jobs fail."""

    def __init__(self, seed: int, clock: Callable[[], datetime], *, job_delay_seconds: float | None = 0.0,
                 account_ids: frozenset[int] = frozenset({ACCOUNT_ID})) -> None:
        self.seed = seed
        self.clock = clock
        self.account_ids = account_ids
        self.lock = threading.RLock()
        self.faults = CatalogFaults(job_delay_seconds=job_delay_seconds)
        self.jobs = JobQueue(self.now, self._apply, self.faults, self.lock)
        self.reset(seed)

    def now(self) -> datetime:
        return _utc(self.clock())

    # -- state -------------------------------------------------------------------------------------------------
    def reset(self, seed: int | None = None) -> None:
        """Back to the seeded catalog: no jobs, default knobs (the delay knob is kept)."""
        with self.lock:
            self.seed = self.seed if seed is None else seed
            self.products: dict[int, dict[str, Any]] = {}
            self.skus: dict[str, dict[str, Any]] = {}
            self.price_lists: dict[str, dict[str, Any]] = {}
            self.prices: dict[Key3, dict[str, Any]] = {}
            self.warehouses: dict[str, dict[str, Any]] = {}
            self.onhands: dict[Key3, dict[str, Any]] = {}
            self.next_product_id = 1000
            self.next_price_list_id = 1
            self.jobs.jobs.clear()
            self.faults.fail_next_jobs = 0
            self.faults.reject_skus = []
            self._seed_catalog()

    def _seed_catalog(self) -> None:
        now = self.now()
        self.warehouses[WAREHOUSE] = {"Code": WAREHOUSE, "Type": 1, "Name": "Huvudlager", "LeadTimeDayCount": None,
                                      "Locations": {LOCATION: {"Code": LOCATION, "Name": "Huvudlager",
                                                               "IsIncludedInStockCalculation": True,
                                                               "LeadTimeDayCount": None}}}
        for code, name, currency, primary in ((SEK_BASE, "Bas SEK", "SEK", True), (EUR_BASE, "Base EUR", "EUR", False)):
            pl = self.new_price_list(code, now)
            pl.update(Name=name, CurrencyCode=currency, IsPrimary=primary, IsPublic=True, Warehouses=[WAREHOUSE])
        for number, sv, _nb, vat, price, stock, parent, variant in ARTICLES:
            product = self.new_product(MANUFACTURER, number, now)
            product.update(Code=parent or number, ManufacturerName="Demo AB")
            product["Cultures"][DEFAULT_CULTURE] = {"Name": f"{sv} {variant}".strip()}
            sku = self.new_sku(number, product["Id"], now)
            sku.update(Status=1, Type=14 if number.isdigit() else 11, EanCode=ean13(number),
                       VatRates=[{"SalesArea": SWEDEN, "Rate": Decimal(vat) * 100}])
            sku["Cultures"][DEFAULT_CULTURE] = {"ErpName": sv, "Comment": None}
            rate, inc = Decimal(vat), Decimal(price)
            for code, divisor in ((SEK_BASE, Decimal(1)), (EUR_BASE, EUR_RATE)):
                self.new_price(number, code, 1, now).update(PriceSale=_ex_vat(inc, rate, divisor), IsActive=True)
            self.new_onhand(number, WAREHOUSE, LOCATION, now).update(OnhandValue=Decimal(stock), IsActive=True)

    def new_product(self, manufacturer_code: str, manufacturer_part_no: str, now: datetime) -> dict[str, Any]:
        self.next_product_id += 1
        product: dict[str, Any] = {"Id": self.next_product_id, "Code": None, "ManufacturerCode": manufacturer_code,
                   "ManufacturerName": None, "ManufacturerPartNo": manufacturer_part_no, "Alias": None,
                   "Cultures": {}, "Created": now, "Updated": now}
        self.products[product["Id"]] = product
        return product

    def new_sku(self, part_no: str, product_id: int, now: datetime) -> dict[str, Any]:
        sku: dict[str, Any] = {"PartNo": part_no, "ProductId": product_id, "Status": 6, "Type": 14, "EanCode": None,
               "VatRates": [], "Cultures": {}, "StandardPrice": None, "Created": now, "Updated": now}
        self.skus[part_no] = sku
        return sku

    def new_price_list(self, code: str, now: datetime) -> dict[str, Any]:
        pl: dict[str, Any] = {"Id": self.next_price_list_id, "Code": code, "Name": code, "Description": None, "CurrencyCode": "SEK",
              "StartDate": None, "EndDate": None, "IsPrimary": False, "IsPublic": False, "IsFavorite": False,
              "TypeCode": None, "DefaultPriceRule": None, "DefaultPriceRuleValue": None, "Warehouses": [],
              "Created": now, "Updated": now}
        self.next_price_list_id += 1
        self.price_lists[code] = pl
        return pl

    def new_price(self, part_no: str, code: str, quantity_break: int, now: datetime) -> dict[str, Any]:
        price: dict[str, Any] = {"PartNo": part_no, "PriceListCode": code, "QuantityBreak": quantity_break, "PriceSale": None,
                 "CostPurchase": None, "CostUnit": None, "PriceRecommended": None, "PricePrevious": None,
                 "PriceCatalog": None, "IsPriceDiscountable": True, "IsActive": True, "PriceRule": None,
                 "PriceRuleValue": None, "Created": now, "Updated": now}
        self.prices[(part_no, code, quantity_break)] = price
        return price

    def new_onhand(self, part_no: str, warehouse: str, location: str, now: datetime) -> dict[str, Any]:
        onhand: dict[str, Any] = {"PartNo": part_no, "WarehouseCode": warehouse, "LocationCode": location,
                  "OnhandValue": Decimal(0), "IncomingValue": None, "NextDeliveryDate": None,
                  "LeadTimeDayCount": None, "MinimumValue": None, "MaximumValue": None, "IsActive": True,
                  "Infos": [], "Created": now, "Updated": now}
        self.onhands[(part_no, warehouse, location)] = onhand
        return onhand

    def location_exists(self, warehouse: str, location: str) -> bool:
        return location in self.warehouses.get(warehouse, {}).get("Locations", {})

    def primary_price_list(self) -> dict[str, Any] | None:
        return next((pl for pl in self.price_lists.values() if pl["IsPrimary"]), None)

    # -- jobs --------------------------------------------------------------------------------------------------
    def submit(self, operation: str, header: ImportHeader, items: list[Any]) -> dict[str, Any]:
        """Queue an import (rows bound now, applied when the job succeeds); the ``JobResponse``."""
        rows = bind_rows(operation, header, items)
        with self.lock:
            job = self.jobs.submit(operation, header, rows)
            return self.jobs.response(job)

    def _apply(self, job: Job, at: datetime) -> None:
        apply_job(self, job, at)

    def tick(self) -> None:
        self.jobs.tick()

    def set_faults(self, **knobs: Any) -> dict[str, Any]:
        """Change catalog knobs (``fail_next_jobs``, ``reject_skus``, ``job_delay_seconds``)."""
        with self.lock:
            self.faults.update(**knobs)
            return self.faults.as_dict()

    def clear_faults(self) -> None:
        with self.lock:
            self.faults.update(fail_next_jobs=0, reject_skus=[])

    # -- inspection --------------------------------------------------------------------------------------------
    def product(self, part_no: str) -> dict[str, Any] | None:
        """The SKU with its product (``["Product"]``), or None."""
        with self.lock:
            self.tick()
            sku = self.skus.get(part_no)
            if sku is None:
                return None
            return {**copy.deepcopy(sku), "Product": copy.deepcopy(self.products[sku["ProductId"]])}

    def price(self, part_no: str, code: str, quantity_break: int = 1) -> dict[str, Any] | None:
        with self.lock:
            self.tick()
            found = self.prices.get((part_no, code, quantity_break))
            return copy.deepcopy(found) if found else None

    def onhand(self, part_no: str, warehouse: str = WAREHOUSE, location: str = LOCATION) -> dict[str, Any] | None:
        with self.lock:
            self.tick()
            found = self.onhands.get((part_no, warehouse, location))
            return copy.deepcopy(found) if found else None

    def price_list(self, code: str) -> dict[str, Any] | None:
        with self.lock:
            self.tick()
            found = self.price_lists.get(code)
            return copy.deepcopy(found) if found else None

    def job(self, job_id: int) -> Job | None:
        with self.lock:
            return self.jobs.get(job_id)

    @property
    def jobs_seen(self) -> list[dict[str, Any]]:
        """Every import posted, oldest first: operation, header (incl. FullFile), counts, effects."""
        with self.lock:
            self.tick()
            return [job.seen() for job in self.jobs.jobs.values()]

    def snapshot(self) -> dict[str, Any]:
        """Everything, for ``GET /_sandbox/catalog``."""
        with self.lock:
            self.tick()
            return {
                "products": [self.product(p) for p in sorted(self.skus)],
                "price_lists": copy.deepcopy(sorted(self.price_lists.values(), key=lambda p: p["Code"])),
                "prices": [copy.deepcopy(self.prices[k]) for k in sorted(self.prices)],
                "warehouses": copy.deepcopy(self.warehouses),
                "onhands": [copy.deepcopy(self.onhands[k]) for k in sorted(self.onhands)],
                "jobs": self.jobs_seen,
                "faults": self.faults.as_dict(),
            }

    # -- Query 2.0 entity sets ---------------------------------------------------------------------------------
    def entity_sets(self) -> dict[str, Callable[[], list[dict[str, Any]]]]:
        """Query entity sets this catalog serves (shapes: see CATALOG_CHOICES)."""
        return {"Products/Products": self.query_products, "Products/ProductSkus": self.query_skus,
                "Products/PriceLists": self.query_price_lists}

    @staticmethod
    def entity_keys() -> dict[str, str]:
        return {"Products/Products": "Id", "Products/ProductSkus": "PartNo", "Products/PriceLists": "Id"}

    def query_products(self) -> list[dict[str, Any]]:
        with self.lock:
            self.tick()
            skus_by_product: dict[int, list[dict[str, Any]]] = {}
            for part_no in sorted(self.skus):
                skus_by_product.setdefault(self.skus[part_no]["ProductId"], []).append(self._sku_row(part_no))
            return [_numbers({"Id": p["Id"], "Code": p["Code"], "ManufacturerCode": p["ManufacturerCode"],
                     "ManufacturerName": p["ManufacturerName"], "ManufacturerPartNo": p["ManufacturerPartNo"],
                     "Name": p["Cultures"].get(DEFAULT_CULTURE, {}).get("Name"),
                     "Created": query_time(p["Created"]), "Updated": query_time(p["Updated"]),
                     "Cultures": [{"CultureCode": cc, **texts} for cc, texts in sorted(p["Cultures"].items())],
                     "Skus": skus_by_product.get(p["Id"], [])})
                    for p in sorted(self.products.values(), key=lambda p: p["Id"])]

    def query_skus(self) -> list[dict[str, Any]]:
        with self.lock:
            self.tick()
            return [_numbers(self._sku_row(part_no)) for part_no in sorted(self.skus)]

    def query_price_lists(self) -> list[dict[str, Any]]:
        with self.lock:
            self.tick()
            return [_numbers({"Id": pl["Id"], "Code": pl["Code"], "Name": pl["Name"], "Description": pl["Description"],
                     "CurrencyCode": pl["CurrencyCode"], "IsPrimary": pl["IsPrimary"], "IsPublic": pl["IsPublic"],
                     "StartDate": query_time(pl["StartDate"]), "EndDate": query_time(pl["EndDate"]),
                     "Created": query_time(pl["Created"]), "Updated": query_time(pl["Updated"])})
                    for pl in sorted(self.price_lists.values(), key=lambda p: p["Id"])]

    def _sku_row(self, part_no: str) -> dict[str, Any]:
        sku = self.skus[part_no]
        product = self.products[sku["ProductId"]]
        primary = self.primary_price_list()
        price = self.prices.get((part_no, primary["Code"], 1)) if primary else None
        price = price if price and price["IsActive"] else None
        vat = next((v["Rate"] for v in sku["VatRates"] if v["SalesArea"] == SWEDEN), None)
        onhands = [o for k, o in sorted(self.onhands.items()) if k[0] == part_no]
        changed = max([sku["Updated"], product["Updated"], *(p["Updated"] for k, p in self.prices.items()
                                                             if k[0] == part_no), *(o["Updated"] for o in onhands)])
        return {
            "PartNo": part_no, "ProductId": product["Id"], "ProductCode": product["Code"],
            "ManufacturerPartNo": product["ManufacturerPartNo"],
            "Name": product["Cultures"].get(DEFAULT_CULTURE, {}).get("Name"),
            "ErpName": sku["Cultures"].get(DEFAULT_CULTURE, {}).get("ErpName"), "EanCode": sku["EanCode"],
            "StatusId": sku["Status"], "TypeId": sku["Type"], "VatRate": vat,
            "PriceListCode": primary["Code"] if primary else None,
            "CurrencyCode": primary["CurrencyCode"] if primary else None,
            "PriceSale": price["PriceSale"] if price else None,
            "OnhandValue": sum((o["OnhandValue"] for o in onhands if o["IsActive"]), Decimal(0)),
            "Created": query_time(sku["Created"]), "Updated": query_time(sku["Updated"]),
            "LastChanged": query_time(changed),
            "Cultures": [{"CultureCode": cc, **texts} for cc, texts in sorted(sku["Cultures"].items())],
            "Prices": [self._price_row(p) for k, p in sorted(self.prices.items()) if k[0] == part_no],
            "Onhands": [self._onhand_row(o) for o in onhands],
        }

    @staticmethod
    def _price_row(p: dict[str, Any]) -> dict[str, Any]:
        return {k: (query_time(v) if k in ("Created", "Updated") else v) for k, v in p.items()}

    @staticmethod
    def _onhand_row(o: dict[str, Any]) -> dict[str, Any]:
        return {k: (query_time(v) if k in ("Created", "Updated", "NextDeliveryDate") else v)
                for k, v in o.items() if k != "Infos"}
