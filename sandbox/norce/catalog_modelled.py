"""Every choice the catalog side of the Norce sandbox makes where norce-api.md (§4, §5, §7) leaves it open.

Entries are ``(topic, choice, why)``; :mod:`sandbox.norce.modelled` lists them with its own. Code:
``catalog_wire.py`` (door), ``jobs.py`` (life cycle), ``catalog_imports.py`` (semantics), ``catalog.py``
(seed, Query rows), ``product_routes.py`` (HTTP).
"""

from __future__ import annotations

CATALOG_CHOICES: tuple[tuple[str, str, str], ...] = (
    ("import header refusals", "400 (the Connect error shape, errors{'X-StormConnect-Header'}) when the header is "
     "missing, not one JSON object, without AccountId, with an AccountId that is not the client's (17), without "
     "FullFile on on-hand/SKU-price/product headers, with an unknown enum name or integer, with "
     "IgnoreSkuPriceListFieldsWhenEmpty outside {3,4,5,6,7,8,10} or not also in SkuPriceListFieldsThatAreSet, or "
     "with a SerializationType other than Json(0); names case-insensitive, enum names case-insensitive, numeric and "
     "'true'/'false' text accepted, 'PriceListRuleFieldsThatAreSet' read as PriceListPriceRuleFieldsThatAreSet, "
     "other properties (JobId, StorageName) ignored",
     "§4.2: AccountId required, FullFile required, enum names or ints; the refusal status is not published"),
    ("import body", "a JSON array or JSON objects back to back; empty, non-JSON or mixed bodies → 400; media type "
     "as the Order service (415)", "§4.1: array documented, the streaming helper writes bare objects"),
    ("row validation", "rows are bound like the .NET binder (names case-insensitive, unknown dropped, enums as "
     "names or ints — SkuType and SalesArea take any int as the reference lists them partly — numbers from "
     "numeric text, offset-less DateTimes as Europe/Stockholm); a row that cannot be bound (missing key field, "
     "wrong type, OnhandValue null, Name > 50, QuantityBreak < 1, no Code when FullFile or Code is whitelisted) "
     "is counted in ValidationSummary ('Row n (PartNo 'x'): Field: problem'), logged as Error with ImportedRow, "
     "and not imported; the other rows run", "§4.1: per-row problems in ValidationSummary and the job log"),
    ("JobResponse", "StatusCode 'OK' whenever the job is queued (even with validation failures), Description "
     "'Job n queued (Operation).', JobId numeric text counting from 70001", "§4.1/§6.6: StatusCode values unknown"),
    ("job life cycle", "Queued(6) → Validating(5) (logs 'Starting import.' and one Error per unbindable row) → "
     "Initialized(1) → Succeeded(2); every row unbindable → Validation failed(4) straight from Validating, nothing "
     "imported; Failed(3) only by the fail_next_jobs knob (Error 'Import failed: …', nothing imported); 'Import "
     "finished.' is the last entry of every finished job; the rows are applied at the step to Succeeded",
     "§4.7/§7: the order of the non-final states is an assumption"),
    ("job timing", "job_delay_seconds (default 0: finished at the first read) spreads the three steps evenly on "
     "the sandbox clock; null = only jobs.advance()/process_all() (admin: POST /_sandbox/catalog/jobs/advance|"
     "process); jobs.start_background() ticks on a thread", "workers' latency is not published"),
    ("rejected rows", "reject_skus rows get an Error row \"PartNo 'x': … could not be imported; the row was "
     "rejected.\" and are not imported; the rest lands and the job ends Succeeded(2) — Validation failed(4) is "
     "decided before any row is imported, so a job that imported rows succeeded; clients must read GetLog for "
     "every finished job", "§4.7: Error = row not imported; job status with row errors unconfirmed"),
    ("JobDto", "'Inserts' (contract name, not doc's 'Insert'); Totals = rows posted; Fail = Error rows; "
     "Inserts/Updates = records written (SKUs for products); Start/Stop/LastUpdated/TimeStamp Stockholm wall time "
     "without offset, milliseconds; RunTime 'hh:mm:ss.fffffff'; StorageName 'connect/{AccountId}/{Operation}/"
     "{JobId}.json'; unknown id → 404, non-int32 id → 400; Job/Get, api/Job/Get, Job/GetLog, api/Job/GetLog; "
     "Job/Ping → 200 \"Pong\"", "§4.7/§6.6"),
    ("field whitelists", "listed and present → written; listed and absent → untouched; listed and null → cleared, "
     "except booleans (null leaves them); not listed → never written; no list → only the key fields (a new record "
     "with defaults); OnOrderValue never written", "§4.2 says only 'fields not listed are left untouched'"),
    ("ignored rows", "unknown SKU, unknown price list or unknown warehouse location → Warning(2) naming the PartNo, "
     "row ignored; IgnoreSkuPriceListFieldsWhenEmpty drop → Information(1); neither counts as insert or update",
     "§4.1/§4.3/§4.4: 'ignored'; the log severity is not documented"),
    ("on-hand defaults", "a new on-hand record has OnhandValue 0 and IsActive true; IsActive changes only when "
     "whitelisted (a record FullFile deactivated stays inactive until IsActive=true is imported)", "§4.3"),
    ("SKU price details", "QuantityBreak missing/null → 1; 'empty' = missing, null, 0 or ''; "
     "IsPriceDiscountableCreateOnly only on create; FullfileResetInheritance accepted without effect; a row's "
     "CurrencyCode is not checked against the list", "§4.4"),
    ("FullFile scopes", "on-hands: the (WarehouseCode, LocationCode) pairs of the bound rows; prices: the existing "
     "price lists of the bound rows; products: the variant-cluster Codes in the import — their products left out "
     "get Code = null (removed from the cluster), nothing is deactivated; rejected/ignored rows count as included; "
     "every change is listed in jobs_seen[n]['Effects'] and an Information log row",
     "§4.3/§4.4/§4.6; the Storm-era 'inactivated' wording for products is not modelled"),
    ("ImportPriceLists", "a missing list is created (Name = Code, CurrencyCode SEK unless whitelisted); IsPrimary "
     "true clears it on the other lists; Warehouses creates/updates warehouses and locations "
     "(Warehouse[Location]FieldsThatAreSet) and replaces the list's warehouse links; FullFile ignored; "
     "PriceListPriceRuleFieldsThatAreSet takes ints only, without effect", "§4.5"),
    ("ImportProducts model", "a Connect Variant is a Norce product (ManufacturerCode + ManufacturerPartNo), "
     "Product.Code its variant cluster; found by MC+MPN else by a SKU PartNo; creating needs MC, MPN, a PartNo and "
     "Variants in ProductFieldsThatAreSet + Skus in VariantFieldsThatAreSet (Error row otherwise); variant fields "
     "only with Variants(4), SKUs only with Skus(5); a PartNo of another product → Error; a new SKU is Status 6 "
     "NotActivated unless Status/StatusCreateOnly is set; …CreateOnly on create only, …LimitedUpdate only into an "
     "empty text; VatRates merged per SalesArea; StandardPrice kept on the SKU (SkuPriceList whitelist); images, "
     "categories, parametrics stored as sent; PartNoCreateWhenMissing without effect", "§4.6"),
    ("Query catalog sets", "Products/Products (key Id: Id, Code, ManufacturerCode, ManufacturerName, "
     "ManufacturerPartNo, Name, Created, Updated; navigations Cultures, Skus); Products/ProductSkus (key PartNo: "
     "PartNo, ProductId, ProductCode, ManufacturerPartNo, Name, ErpName, EanCode, StatusId, TypeId, VatRate "
     "(Sweden, percent), PriceListCode/CurrencyCode/PriceSale of the primary list's active QuantityBreak-1 price, "
     "OnhandValue = sum of active on-hands, Created, Updated, LastChanged = latest change of SKU, product, price or "
     "on-hand; navigations Cultures, Prices, Onhands); Products/PriceLists (key Id: Id, Code, Name, Description, "
     "CurrencyCode, IsPrimary, IsPublic, StartDate, EndDate, Created, Updated); names in sv-SE",
     "§2b: only the set names Products/Products and Products/ProductSkus are evidenced; take shapes from $metadata"),
    ("catalog seed", "the 13 Jetshop sandbox articles as SKUs, each its own product (ManufacturerCode DEMO), "
     "cluster Code = the Jetshop parent (1002 for 1002-1005) else the number; EAN-13 7350000+number; SEK-BASE "
     "(primary, SEK) = Jetshop incl.-VAT price / (1 + VAT) to cents, EUR-BASE = that / 11.4523; stock at MAIN/MAIN",
     "demo data lines up with the Jetshop and Fortnox sandboxes"),
)
