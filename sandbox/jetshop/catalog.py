"""CONFIRMED product, stock, price-list and dynamic-field operations, as observed on the live service.

``Product_Get``, ``Product_AddUpdate`` (upsert per article and culture, partial updates, stock via
``StockData``), ``Product_Delete`` and ``PriceList_UpdateArticleIncVAT`` (incl.-VAT prices per
price-list GUID, reported ex VAT through ``/(1+Vat)``, the ``-1`` "no discount" sentinel included).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sandbox.jetshop.state import JetshopSandbox, ShopState

NO_DISCOUNT = Decimal("-1")

# Text fields kept per culture; everything else (price, VAT, stock, flags) is shared by all cultures.
PER_CULTURE = ("Name", "SubName", "ShortDescription", "ProductDescription", "PageTitle", "MetaDescription",
               "MetaKeywords", "SearchKeys", "Permalink", "DescriptionUrl", "RelatedProductsText")
# Computed by the server: ignored on input.
READ_ONLY = frozenset({"ArticleNumber", "Culture", "ProductId", "Price", "DiscountedPrice", "PriceListIdOrName",
                       "ModifiedDate", "StockStatusName", "HasAttributes", "Variants", "StockData",
                       "ProductInCategories", "ParentArticleNumber"})
STOCK_FIELDS = ("DeliveryDate", "NewStockCount", "StockStatusId", "UseAdvancedStatus", "StockStatusWhenOutOfStock")


def new_article(shop: ShopState, article_number: str, now: Any) -> dict[str, Any]:
    """Defaults of a freshly created article, as a new live product reads back."""
    shop.next_product_id += 1
    return {
        "ProductId": shop.next_product_id,
        "global": {
            "DiscountEndDate": now, "DiscountStartDate": now, "EanCode": "", "FreightClassId": 1,
            "HasSpecification": False, "HidePrice": False, "HideProduct": False, "IsSynchronized": 1,
            "Manufacturer": "", "ManufacturerArtnr": "", "ManufacturerModel": "",
            "PriceListChangeInheritPricePercent": None, "QuantitySuffix": "0", "ShowSendTip": False,
            "SynchStatus": "Ignore", "TemplateId": 1, "UseAttributeChooseText": False, "UseComment": False,
            "UseCommentRequired": False, "UseDescriptionUrl": False, "UseDiscountDateSpan": False,
            "Vat": Decimal("0.25"), "Volume": Decimal(0), "Weight": Decimal(0), "PublishDate": None,
            "UseStockNotification": False, "DiscountedPriceIsMemberPrice": False, "ModifiedDate": now,
        },
        "stock": {"DeliveryDate": None, "NewStockCount": 0, "StockStatusId": shop.default_stock_status,
                  "UseAdvancedStatus": False, "StockStatusWhenOutOfStock": shop.default_stock_status},
        "cultures": {},
        "parent": None,
        "att_value": "",
        "categories": [],
        "dynamic": {},
    }


def _ex_vat(value: Decimal, vat: Decimal) -> Decimal:
    return (value / (1 + vat)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


def product_record(sb: JetshopSandbox, shop: ShopState, article_number: str, culture: str) -> dict[str, Any] | None:
    """The ProductData dict ``Product_Get`` reports for one article in one culture."""
    art = shop.products.get(article_number)
    if art is None or culture not in art["cultures"]:
        return None
    g = art["global"]
    vat = g["Vat"]
    price_list = shop.default_price_list
    entry = shop.prices.get((article_number, price_list))
    if entry is None or "PriceIncVat" not in entry:
        price, discounted = Decimal(0), NO_DISCOUNT  # no price in the default list: raw -1 is reported
    else:
        price = _ex_vat(entry["PriceIncVat"], vat)
        # quirk kept on purpose: the -1 sentinel goes through the ex-VAT divide (-0.8000 at 25 %)
        discounted = _ex_vat(entry.get("DiscountedPriceIncVat", NO_DISCOUNT), vat)
    hide = entry.get("HideProduct", g["HideProduct"]) if entry else g["HideProduct"]
    stock = dict(art["stock"])
    stock["StockStatusName"] = shop.stock_status_name(stock.get("StockStatusId"), culture)
    texts = art["cultures"][culture]
    variants = [{"ArticleNumber": a, "ProductId": v["ProductId"], "AttValue": v["att_value"]}
                for a, v in sorted(shop.products.items()) if v["parent"] == article_number]
    rec: dict[str, Any] = {
        **{k: v for k, v in g.items()},
        **{k: texts.get(k, "") for k in PER_CULTURE if k != "Permalink"},
        "ArticleNumber": article_number, "Culture": culture, "DiscountedPrice": discounted, "Price": price,
        "PriceListIdOrName": price_list, "ProductId": art["ProductId"], "HideProduct": hide,
        "HasAttributes": bool(variants), "StockData": stock, "StockStatusName": stock["StockStatusName"],
    }
    if "Permalink" in texts:
        rec["Permalink"] = texts["Permalink"]
    if art["categories"]:
        rec["ProductInCategories"] = art["categories"]
    if art["parent"]:
        rec["ParentArticleNumber"] = art["parent"]
        rec["AttValue"] = art["att_value"]
    if variants:
        rec["Variants"] = variants
    return rec


def product_get(sb: JetshopSandbox, shop: ShopState, params: dict[str, Any]) -> list[dict[str, Any]]:
    opts = params.get("productOptions") or {}
    rec = product_record(sb, shop, opts.get("ArticleNumber") or "", opts.get("Culture") or shop.default_culture)
    return [rec] if rec else []  # a missing product is an empty result, not a fault


def product_add_update(sb: JetshopSandbox, shop: ShopState, params: dict[str, Any]) -> list[dict[str, Any]]:
    results = []
    now = sb.now(shop)
    for item in params.get("products") or []:
        results.append(_upsert_one(shop, item or {}, now))
    return results


def _upsert_one(shop: ShopState, item: dict[str, Any], now: Any) -> dict[str, Any]:
    article_number = (item.get("ArticleNumber") or "").strip()
    culture = item.get("Culture") or shop.default_culture
    result = {"ArticleNumber": article_number, "Culture": culture, "StatusMainProductCreateDelete": "",
              "ResultStockCreateUpdate": "", "ResultAttributeCreateUpdate": "",
              "ResultAttributeCreateMissing": "", "ResultProductInCategoriesDataResult": ""}
    if not article_number or culture not in shop.cultures:
        return result  # refused per item: empty statuses, nothing stored
    vat = item.get("Vat")
    if vat is not None and not Decimal(0) <= vat < Decimal(1):
        return result  # VAT is a fraction; 25 instead of 0.25 is refused
    parent = item.get("ParentArticleNumber")
    if parent and (parent == article_number or parent not in shop.products):
        return result
    art = shop.products.get(article_number)
    created = art is None
    if art is None:
        art = new_article(shop, article_number, now)
        shop.products[article_number] = art
    texts = art["cultures"].setdefault(culture, {})
    if created and culture == shop.default_culture:
        texts["Permalink"] = article_number
    for key, value in item.items():
        if key in READ_ONLY:
            continue
        if key in PER_CULTURE:
            texts[key] = value if value is not None else ""
        elif key in ("AttValue",):
            art["att_value"] = value or ""
        elif key in art["global"] or key in ("EanCode",):
            art["global"][key] = value
    if parent:
        art["parent"] = parent
    stock_in = item.get("StockData")
    if stock_in:
        for key in STOCK_FIELDS:
            if key in stock_in:
                art["stock"][key] = stock_in[key]
    if item.get("ProductInCategories"):
        art["categories"] = [dict(c, ArticleNumber=article_number, ProductId=art["ProductId"], Result="None")
                             for c in item["ProductInCategories"]
                             if c.get("ProductInCategoryState") != "DeleteConnection"]
    art["global"]["ModifiedDate"] = now
    result.update(StatusMainProductCreateDelete="SuccessNew" if created else "SuccessUpdate",
                  ResultStockCreateUpdate="Success" if stock_in else "None",
                  ResultAttributeCreateUpdate="None", ResultAttributeCreateMissing="None",
                  ResultProductInCategoriesDataResult="Success" if item.get("ProductInCategories") else "None")
    return result


def product_delete(sb: JetshopSandbox, shop: ShopState, params: dict[str, Any]) -> dict[str, Any]:
    req = params.get("productDeleteRequest") or {}
    article_number = req.get("ArticleNumber") or ""
    if article_number not in shop.products:
        return {"Identifier": article_number, "Result": "NotFound"}
    del shop.products[article_number]
    for key in [k for k in shop.prices if k[0] == article_number]:
        del shop.prices[key]
    for art in shop.products.values():
        if art["parent"] == article_number:
            art["parent"] = None
    return {"Identifier": article_number, "Result": "Success"}


PRICE_FIELDS = ("PriceIncVat", "DiscountedPriceIncVat", "HideProduct", "DiscountedPriceIsMemberPrice",
                "UseDiscountDateSpan", "DiscountStartDate", "DiscountEndDate", "PriceListChangeInheritPricePercent")


def price_list_update_inc_vat(sb: JetshopSandbox, shop: ShopState, params: dict[str, Any]) -> list[dict[str, Any]]:
    results = []
    now = sb.now(shop)
    for item in params.get("articlePriceLists") or []:
        item = item or {}
        article_number = item.get("ArticleNumber") or ""
        sent_id = item.get("PriceListId") or ""
        res = {"ArticleNumber": article_number, "PriceListId": sent_id, "Success": False, "Message": ""}
        list_id = sent_id.upper()
        if article_number not in shop.products:
            res["Message"] = f"Product with articlenumber '{article_number}' not found."
        elif list_id not in shop.price_lists:
            res["Message"] = f"PriceList with id '{sent_id}' not found."
        elif item.get("PriceIncVat") is not None and item["PriceIncVat"] < 0:
            res["Message"] = "PriceIncVat can not be negative."
        else:
            entry = shop.prices.setdefault((article_number, list_id), {})
            for key in PRICE_FIELDS:
                if key in item:
                    entry[key] = item[key]
            shop.products[article_number]["global"]["ModifiedDate"] = now
            res["Success"] = True
        results.append(res)
    return results


NO_DYNAMIC_FIELD = "No dynamic field, connected to product, found with key."


def dynamic_field_get(sb: JetshopSandbox, shop: ShopState, params: dict[str, Any]) -> list[dict[str, Any]]:
    """Values per key for the given articles and cultures (keys without a value are left out)."""
    cultures = [c for c in params.get("cultures") or [] if c]
    out = []
    for article_number in params.get("articleNumbers") or []:
        art = shop.products.get(article_number or "")
        if art is None:
            continue
        for key, values in sorted(art["dynamic"].items()):
            wanted = [{"Culture": c, "Value": values[c]} for c in (cultures or sorted(values)) if c in values]
            if wanted:
                out.append({"Key": key, "ItemValues": wanted})
    return out


def dynamic_field_save(sb: JetshopSandbox, shop: ShopState, params: dict[str, Any]) -> list[dict[str, Any]]:
    results = []
    for item in params.get("dynamicFieldOnProductInputs") or []:
        item = item or {}
        article_number, key = item.get("ArticleNumber") or "", item.get("Key") or ""
        art = shop.products.get(article_number)
        res = {"ProductId": art["ProductId"] if art else 0, "ArticleNumber": article_number, "Key": key,
               "Success": False, "Message": ""}
        if art is None:
            res["Message"] = f"Product with articlenumber '{article_number}' not found."
        elif key not in shop.dynamic_field_keys.get(art["global"]["TemplateId"], set()):
            res["Message"] = NO_DYNAMIC_FIELD  # observed wording
        else:
            values = art["dynamic"].setdefault(key, {})
            if item.get("ClearExistingListData"):
                values.clear()
            for loc in item.get("ItemValues") or []:
                if loc and loc.get("Culture"):
                    values[loc["Culture"]] = loc.get("Value") or ""
            art["global"]["ModifiedDate"] = sb.now(shop)
            res["Success"] = True
        results.append(res)
    return results


Handler = Callable[["JetshopSandbox", "ShopState", dict[str, Any]], Any]

CONFIRMED_HANDLERS: dict[str, Handler] = {
    "Product_Get": product_get,
    "Product_AddUpdate": product_add_update,
    "Product_Delete": product_delete,
    "PriceList_UpdateArticleIncVAT": price_list_update_inc_vat,
    "ProductDynamicField_GetProductDynamicFieldData": dynamic_field_get,
    "ProductDynamicField_SaveProductDynamicFieldData": dynamic_field_save,
}
