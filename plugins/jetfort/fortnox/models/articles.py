"""Fortnox articles, price lists, prices and warehouse stock balances."""

from __future__ import annotations

from jetfort.fortnox.models.base import ArticleType, FortnoxModel, Int, Money, Text, api_field


class FortnoxArticle(FortnoxModel):
    """``/3/articles/{ArticleNumber}``; ``description`` is required on create.

    ``SalesPrice``, stock figures and ``VAT`` are read-only (prices live in ``/3/prices``; VAT
    follows the sales account). ``quantity_in_stock`` is writable only without the warehouse module.
    """

    url: str | None = api_field("@url", read_only=True)
    article_number: Text | None = api_field("ArticleNumber", 50)
    description: str | None = api_field("Description", 200)
    type: ArticleType | None = api_field("Type")
    active: bool | None = api_field("Active")
    webshop_article: bool | None = api_field("WebshopArticle")
    expired: bool | None = api_field("Expired")
    stock_goods: bool | None = api_field("StockGoods")
    quantity_in_stock: Money | None = api_field("QuantityInStock")
    reserved_quantity: Money | None = api_field("ReservedQuantity", read_only=True)
    disposable_quantity: Money | None = api_field("DisposableQuantity", read_only=True)
    stock_value: Money | None = api_field("StockValue", read_only=True)
    sales_price: Money | None = api_field("SalesPrice", read_only=True)
    purchase_price: Money | None = api_field("PurchasePrice")
    vat: Money | None = api_field("VAT", read_only=True)
    ean: str | None = api_field("EAN", 30)
    unit: str | None = api_field("Unit")
    sales_account: Int | None = api_field("SalesAccount", ge=1000, le=99999)
    eu_account: Int | None = api_field("EUAccount", ge=1000, le=99999)
    euvat_account: Int | None = api_field("EUVATAccount", ge=1000, le=99999)
    export_account: Int | None = api_field("ExportAccount", ge=1000, le=99999)
    purchase_account: Int | None = api_field("PurchaseAccount", ge=1000, le=99999)
    manufacturer: str | None = api_field("Manufacturer", 50)
    manufacturer_article_number: str | None = api_field("ManufacturerArticleNumber", 50)
    note: str | None = api_field("Note", 10000)
    stock_place: str | None = api_field("StockPlace", 100)
    supplier_number: str | None = api_field("SupplierNumber")
    weight: Int | None = api_field("Weight", ge=0, le=999999999)
    width: Int | None = api_field("Width", ge=0, le=999999999)
    height: Int | None = api_field("Height", ge=0, le=999999999)
    depth: Int | None = api_field("Depth", ge=0, le=999999999)
    housework: bool | None = api_field("Housework")


class ArticleListItem(FortnoxModel):
    url: str | None = api_field("@url")
    article_number: Text | None = api_field("ArticleNumber")
    description: str | None = api_field("Description")
    disposable_quantity: Money | None = api_field("DisposableQuantity")
    quantity_in_stock: Money | None = api_field("QuantityInStock")
    reserved_quantity: Money | None = api_field("ReservedQuantity")
    sales_price: Money | None = api_field("SalesPrice")
    purchase_price: Money | None = api_field("PurchasePrice")
    stock_value: Money | None = api_field("StockValue")
    ean: str | None = api_field("EAN")
    unit: str | None = api_field("Unit")
    vat: Money | None = api_field("VAT")
    webshop_article: bool | None = api_field("WebshopArticle")
    stock_place: str | None = api_field("StockPlace")
    housework: bool | None = api_field("Housework")


class PriceList(FortnoxModel):
    """``/3/pricelists/{Code}``; code and description required."""

    url: str | None = api_field("@url", read_only=True)
    code: str | None = api_field("Code", 100)
    description: str | None = api_field("Description", 50)
    comments: str | None = api_field("Comments")
    pre_selected: bool | None = api_field("PreSelected", read_only=True)


class Price(FortnoxModel):
    """One price row: key (price list, article number, from quantity); from quantity 0 = base price."""

    url: str | None = api_field("@url", read_only=True)
    price_list: str | None = api_field("PriceList")
    article_number: Text | None = api_field("ArticleNumber")
    from_quantity: Money | None = api_field("FromQuantity")
    price: Money | None = api_field("Price")
    percent: Money | None = api_field("Percent")
    date: str | None = api_field("Date", read_only=True)


class StockBalance(FortnoxModel):
    """Warehouse API item (camelCase, no envelope); reserved = in stock - available."""

    item_id: Text | None = api_field("itemId")
    stock_point_code: str | None = api_field("stockPointCode")
    in_stock: Money | None = api_field("inStock")
    available_stock: Money | None = api_field("availableStock")
