"""Translation between zeep's SOAP objects and jetfort's Jetshop models (pure functions, no I/O).

Jetshop writes zone-less local times; they are read and written in the shop's timezone. Empty
string elements arrive from zeep as ``None`` and become ``""``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from zeep.xsd.valueobjects import CompoundValue

from jetfort.jetshop.errors import JetshopUnreadableOrder as UnreadableOrder
from jetfort.shop.models import (
    Address,
    CaptureResult,
    Channel,
    DeleteResult,
    DynamicFieldResult,
    DynamicFieldValue,
    OrderReturn,
    OrderRow,
    OrderStatus,
    Payment,
    PaymentProvider,
    PriceListPrice,
    PriceListResult,
    Product,
    ProductUpsert,
    ProductUpsertResult,
    ReturnRow,
    RowType,
    ShopCustomer,
    ShopOrder,
    StatusUpdate,
    StatusUpdateResult,
    StockInfo,
    StockUpdate,
    Variant,
)

NO_DISCOUNT = Decimal("-1")
ADDRESS_FIELDS = {"company": "Company", "first_name": "FirstName", "last_name": "LastName", "street": "Address",
                  "care_of": "Co", "zip_code": "ZipCode", "city": "City", "country_code": "CountryCode",
                  "phone": "Phone", "mobile_phone": "MobilePhone"}


def plain(value: Any) -> Any:
    """zeep objects -> dicts and lists.

    What ``zeep.helpers.serialize_object(value, dict)`` returns, read from each object's value map
    directly: zeep's generic walk goes through ``CompoundValue.__getattribute__`` for every field,
    which made it a large share of jetfort's CPU per order in the extract stage.
    """
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, CompoundValue):
        return {k: plain(v) for k, v in value.__values__.items()}
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


def items(value: Any, item_name: str) -> list[dict[str, Any]]:
    """The list inside an ``ArrayOfX`` result: the wrapper, a list, or None.

    Plain data (what ``JetshopHook._call`` returns) is used as it is, not copied again; a zeep object
    (the wrapper, or the items of a list) is made plain first.
    """
    data = value if value is None or isinstance(value, list | dict) else plain(value)
    if data is None:
        return []
    if isinstance(data, Mapping):
        data = data.get(item_name) or []
    return [plain(d) if isinstance(d, CompoundValue) else d for d in data if d is not None]


def _s(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    return "" if value is None else str(value)


def _d(data: Mapping[str, Any], key: str) -> Decimal:
    value = data.get(key)
    return Decimal(0) if value is None else Decimal(value)


def aware(value: datetime | None, tz: ZoneInfo) -> datetime | None:
    """Shop-local wall time -> aware datetime."""
    if value is None:
        return None
    return value.replace(tzinfo=tz) if value.tzinfo is None else value.astimezone(tz)


def to_wire_time(value: datetime | None, tz: ZoneInfo) -> datetime | None:
    """Aware datetime -> the shop's zone-less wall time (naive input is taken as shop-local)."""
    if value is None:
        return None
    return value if value.tzinfo is None else value.astimezone(tz).replace(tzinfo=None)


def _provider(value: str) -> PaymentProvider:
    try:
        return PaymentProvider(value)
    except ValueError:
        return PaymentProvider.OTHER


def _row_type(value: str) -> RowType:
    try:
        return RowType(value)
    except ValueError:
        return RowType.OTHER


class Unreadable:
    """A value the fast reader could not convert to its element's type, kept as the text that came.

    Only the order operations' readers keep these (see :mod:`fastreply`); :func:`order_from_wire`
    turns one into :class:`UnreadableOrder` naming the order, the row and the element.
    """

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"Unreadable({self.text!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Unreadable) and other.text == self.text

    def __hash__(self) -> int:
        return hash(("Unreadable", self.text))


class _Strict:
    """Strict reads of one order's values: an unreadable or non-finite value names order, row and field."""

    def __init__(self, data: Mapping[str, Any], row_id: int | None = None, outer: _Strict | None = None,
                 prefix: str = "") -> None:
        self.data, self.row_id, self.prefix = data, row_id, prefix
        self.order_id: int | None = outer.order_id if outer else None
        self.order_number: str = outer.order_number if outer else ""

    def fail(self, key: str, text: str | None, problem: str) -> UnreadableOrder:
        return UnreadableOrder(self.order_id, self.order_number, self.prefix + key, text, problem, self.row_id)

    def _raw(self, key: str, required: bool) -> Any:
        value = self.data.get(key)
        if isinstance(value, Unreadable):
            return value
        if value is None and required:
            raise self.fail(key, None, "is required")
        return value

    def int_(self, key: str, *, required: bool = False) -> int | None:
        value = self._raw(key, required)
        if isinstance(value, Unreadable | bool) or not (value is None or isinstance(value, int)):
            raise self.fail(key, _text(value), "is not a whole number")
        return value

    def dec(self, key: str, *, required: bool = False, default: Decimal = Decimal(0)) -> Decimal:
        value = self._raw(key, required)
        if value is None:
            return default
        if isinstance(value, Unreadable | bool) or not isinstance(value, Decimal | int):
            raise self.fail(key, _text(value), "is not a decimal number (a point, no thousands separator)")
        value = Decimal(value)
        if not value.is_finite():
            raise self.fail(key, _text(value), "is not a finite number")
        return value

    def when(self, key: str, tz: ZoneInfo, *, required: bool = False) -> datetime | None:
        value = self._raw(key, required)
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise self.fail(key, _text(value), "is not a date and time")
        return aware(value, tz)


def _text(value: Any) -> str:
    return value.text if isinstance(value, Unreadable) else str(value)


def _row_from_wire(r: Mapping[str, Any], order: _Strict) -> OrderRow:
    row_id = _Strict(r, outer=order, prefix="OrderItems.").int_("RowId", required=True)
    assert row_id is not None
    v = _Strict(r, row_id=row_id, outer=order)
    return OrderRow(
        row_id=row_id, article_number=r.get("ArticleNumber") or None, product_id=v.int_("ProductId"),
        name=_s(r, "Name"), variant_text=_s(r, "AttValue"), row_type=_row_type(_s(r, "ItemType") or "Product"),
        quantity=v.dec("Quantity", required=True), unit_price_inc_vat=v.dec("UnitPriceIncVat"),
        unit_price_ex_vat=v.dec("UnitPriceExVat"), vat_rate=v.dec("Vat"), discount_inc_vat=v.dec("DiscountIncVat"),
        total_inc_vat=v.dec("RowTotalIncVat"))


def _return_from_wire(data: Mapping[str, Any], order: _Strict, tz: ZoneInfo) -> OrderReturn:
    v = _Strict(data, outer=order, prefix="Returns.")
    return_id = v.int_("ReturnId", required=True)
    v.prefix = f"Returns[{return_id}]."
    return_date = v.when("ReturnDate", tz, required=True)
    assert return_id is not None and return_date is not None
    rows = []
    for item in items(data.get("Items"), "OrderReturnItemData"):
        r = _Strict(item, outer=order, prefix=f"Returns[{return_id}].Items.")
        row_id = r.int_("RowId", required=True)
        assert row_id is not None
        r.prefix = f"Returns[{return_id}].Items[{row_id}]."
        rows.append(ReturnRow(row_id=row_id, quantity=r.dec("Quantity", required=True),
                              amount_inc_vat=r.dec("AmountIncVat", required=True)))
    return OrderReturn(return_id=return_id, return_date=return_date, rows=rows,
                       freight_inc_vat=v.dec("FreightRefundIncVat"),
                       payment_fee_inc_vat=v.dec("PaymentFeeRefundIncVat"))


def order_from_wire(data: Mapping[str, Any], shop_id: str, tz: ZoneInfo) -> ShopOrder:
    """One order, strictly: a value that cannot be read raises :class:`UnreadableOrder` naming it."""
    v = _Strict(data)
    v.order_number = _s(data, "OrderNumber")
    v.order_id = v.int_("OrderId", required=True)
    rows = [_row_from_wire(r, v) for r in items(data.get("OrderItems"), "OrderItemData")]
    returns = [_return_from_wire(r, v, tz) for r in items(data.get("Returns"), "OrderReturnData")]
    order_date = v.when("OrderDate", tz, required=True)
    modified = v.when("ModifiedDate", tz) or order_date
    assert v.order_id is not None and order_date is not None and modified is not None
    return ShopOrder(
        shop_id=shop_id, order_id=v.order_id, order_number=v.order_number,
        order_date=order_date, modified_date=modified, status_id=v.int_("OrderStatusId") or 0,
        status_name=_s(data, "OrderStatusName"), channel_id=v.int_("ChannelId") or 0,
        culture=_s(data, "Culture"), currency=_s(data, "CurrencyCode") or "SEK",
        currency_rate=v.dec("CurrencyRate") or Decimal(1),
        customer=ShopCustomer(customer_id=v.int_("CustomerId"), email=_s(data, "Email"),
                              company_name=_s(data, "CompanyName"), org_number=_s(data, "OrgNumber"),
                              vat_number=_s(data, "VatNumber")),
        billing=Address(**{k: _s(data, "BillTo" + n) for k, n in ADDRESS_FIELDS.items()}),
        delivery=Address(**{k: _s(data, "ShipTo" + n) for k, n in ADDRESS_FIELDS.items()}),
        rows=rows, delivery_method=_s(data, "DeliveryMethod"), freight_inc_vat=v.dec("FreightPriceIncVat"),
        freight_vat_rate=v.dec("FreightVat"),
        payment=Payment(method=_s(data, "PaymentMethod"), provider=_provider(_s(data, "PaymentProvider")),
                        transaction_id=_s(data, "PaymentTransactionId"), status=_s(data, "PaymentStatus"),
                        authorized_amount=v.dec("AuthorizedAmount"), captured_amount=v.dec("CapturedAmount"),
                        fee_inc_vat=v.dec("PaymentFeeIncVat"), fee_vat_rate=v.dec("PaymentFeeVat")),
        discount_code=_s(data, "DiscountCode"), order_discount_inc_vat=v.dec("OrderDiscountIncVat"),
        total_inc_vat=v.dec("OrderTotalIncVat"), total_ex_vat=v.dec("OrderTotalExVat"),
        vat_total=v.dec("VatTotal"), tracking_number=_s(data, "TrackingNumber"),
        tracking_url=_s(data, "TrackingUrl"), comment=_s(data, "Comment"), returns=returns)


def status_from_wire(data: Mapping[str, Any]) -> OrderStatus:
    return OrderStatus(status_id=int(data["OrderStatusId"]), name=_s(data, "Name"), culture=_s(data, "Culture"),
                       captures_payment=bool(data.get("CapturesPayment")), is_cancelled=bool(data.get("IsCancelled")),
                       sort_order=int(data.get("SortOrder") or 0))


def channel_from_wire(data: Mapping[str, Any]) -> Channel:
    return Channel(channel_id=int(data["ChannelId"]), name=_s(data, "Name"), culture=_s(data, "Culture"),
                   currency=_s(data, "CurrencyCode"), country_code=_s(data, "CountryCode"),
                   price_list_id=_s(data, "PriceListId"), is_default=bool(data.get("IsDefault")))


def status_update_to_wire(update: StatusUpdate) -> dict[str, Any]:
    out: dict[str, Any] = {"OrderId": update.order_id, "OrderStatusId": update.status_id,
                           "SendEmailToCustomer": update.send_email}
    for attr, key in (("tracking_number", "TrackingNumber"), ("tracking_url", "TrackingUrl"),
                      ("carrier", "Carrier"), ("comment", "Comment")):
        value = getattr(update, attr)
        if value is not None:
            out[key] = value
    return out


def status_result_from_wire(data: Mapping[str, Any]) -> StatusUpdateResult:
    return StatusUpdateResult(order_id=int(data.get("OrderId") or 0), success=bool(data.get("Success")),
                              message=_s(data, "Message"), payment_captured=bool(data.get("PaymentCaptured")),
                              captured_amount=_d(data, "CapturedAmount"))


def capture_result_from_wire(data: Mapping[str, Any]) -> CaptureResult:
    return CaptureResult(order_id=int(data.get("OrderId") or 0), success=bool(data.get("Success")),
                         message=_s(data, "Message"), capture_id=_s(data, "CaptureId"),
                         captured_amount=_d(data, "CapturedAmount"),
                         already_captured=bool(data.get("AlreadyCaptured")),
                         transaction_id=_s(data, "PaymentTransactionId"))


def product_from_wire(data: Mapping[str, Any], tz: ZoneInfo) -> Product:
    stock = data.get("StockData")
    discounted = data.get("DiscountedPrice")
    return Product(
        article_number=_s(data, "ArticleNumber"), culture=_s(data, "Culture"), product_id=data.get("ProductId"),
        name=_s(data, "Name"), sub_name=_s(data, "SubName"), short_description=_s(data, "ShortDescription"),
        description=_s(data, "ProductDescription"), ean=_s(data, "EanCode"), manufacturer=_s(data, "Manufacturer"),
        manufacturer_article_number=_s(data, "ManufacturerArtnr"), quantity_suffix=_s(data, "QuantitySuffix"),
        template_id=data.get("TemplateId"), price_ex_vat=_d(data, "Price"),
        # any negative discounted price is the "none" sentinel (-1, or -1/(1+VAT) after the server's divide)
        discounted_price_ex_vat=None if discounted is None or Decimal(discounted) < 0 else Decimal(discounted),
        price_list_id=_s(data, "PriceListIdOrName"), vat_rate=_d(data, "Vat"),
        hide_product=bool(data.get("HideProduct")), hide_price=bool(data.get("HidePrice")),
        weight=_d(data, "Weight"),
        stock=None if not stock else StockInfo(
            stock_count=int(stock.get("NewStockCount") or 0), stock_status_id=stock.get("StockStatusId"),
            stock_status_name=_s(stock, "StockStatusName"), delivery_date=aware(stock.get("DeliveryDate"), tz),
            status_when_out_of_stock=stock.get("StockStatusWhenOutOfStock"),
            use_advanced_status=bool(stock.get("UseAdvancedStatus"))),
        has_variants=bool(data.get("HasAttributes")),
        parent_article_number=data.get("ParentArticleNumber") or None, att_value=_s(data, "AttValue"),
        variants=[Variant(article_number=_s(v, "ArticleNumber"), product_id=v.get("ProductId"),
                          att_value=_s(v, "AttValue")) for v in items(data.get("Variants"), "VariantData")],
        publish_date=aware(data.get("PublishDate"), tz), modified_date=aware(data.get("ModifiedDate"), tz))


def stock_to_wire(stock: StockUpdate, tz: ZoneInfo) -> dict[str, Any]:
    out: dict[str, Any] = {"ArticleNumber": stock.article_number, "NewStockCount": stock.stock_count}
    if stock.stock_status_id is not None:
        out["StockStatusId"] = stock.stock_status_id
    if stock.status_when_out_of_stock is not None:
        out["StockStatusWhenOutOfStock"] = stock.status_when_out_of_stock
    if stock.delivery_date is not None:
        out["DeliveryDate"] = to_wire_time(stock.delivery_date, tz)
    return out


_UPSERT_FIELDS = {"template_id": "TemplateId", "name": "Name", "sub_name": "SubName",
                  "short_description": "ShortDescription", "description": "ProductDescription", "ean": "EanCode",
                  "manufacturer": "Manufacturer", "manufacturer_article_number": "ManufacturerArtnr",
                  "quantity_suffix": "QuantitySuffix", "vat_rate": "Vat", "weight": "Weight",
                  "hide_product": "HideProduct", "parent_article_number": "ParentArticleNumber",
                  "att_value": "AttValue"}


def upsert_to_wire(product: ProductUpsert, tz: ZoneInfo) -> dict[str, Any]:
    """Only fields that are set travel: the service leaves omitted elements unchanged."""
    out: dict[str, Any] = {"ArticleNumber": product.article_number, "Culture": product.culture}
    for attr, key in _UPSERT_FIELDS.items():
        value = getattr(product, attr)
        if value is not None:
            out[key] = value
    if product.stock is not None:
        out["StockData"] = stock_to_wire(product.stock, tz)
    return out


def upsert_result_from_wire(data: Mapping[str, Any]) -> ProductUpsertResult:
    return ProductUpsertResult(article_number=_s(data, "ArticleNumber"), culture=_s(data, "Culture"),
                               status=_s(data, "StatusMainProductCreateDelete"),
                               stock_result=_s(data, "ResultStockCreateUpdate"))


def price_to_wire(price: PriceListPrice, tz: ZoneInfo) -> dict[str, Any]:
    discounted = price.discounted_price_inc_vat
    out: dict[str, Any] = {"ArticleNumber": price.article_number, "PriceListId": price.price_list_id,
                           "PriceIncVat": price.price_inc_vat,
                           "DiscountedPriceIncVat": NO_DISCOUNT if discounted is None else discounted}
    if price.hide_product is not None:
        out["HideProduct"] = price.hide_product
    if price.use_discount_date_span is not None:
        out["UseDiscountDateSpan"] = price.use_discount_date_span
    if price.discount_start is not None:
        out["DiscountStartDate"] = to_wire_time(price.discount_start, tz)
    if price.discount_end is not None:
        out["DiscountEndDate"] = to_wire_time(price.discount_end, tz)
    return out


def price_result_from_wire(data: Mapping[str, Any]) -> PriceListResult:
    return PriceListResult(article_number=_s(data, "ArticleNumber"), price_list_id=_s(data, "PriceListId"),
                           success=bool(data.get("Success")), message=_s(data, "Message"))


def delete_result_from_wire(data: Mapping[str, Any], article_number: str) -> DeleteResult:
    return DeleteResult(article_number=_s(data, "Identifier") or article_number, result=_s(data, "Result"),
                        message=_s(data, "Message"))


def dynamic_to_wire(value: DynamicFieldValue) -> dict[str, Any]:
    return {"ArticleNumber": value.article_number, "Key": value.key, "ClearExistingListData": value.clear_existing,
            "ItemValues": {"Localization": [{"Culture": c, "Value": v} for c, v in value.values.items()]}}


def dynamic_result_from_wire(data: Mapping[str, Any]) -> DynamicFieldResult:
    return DynamicFieldResult(article_number=_s(data, "ArticleNumber"), key=_s(data, "Key"),
                              product_id=data.get("ProductId"), success=bool(data.get("Success")),
                              message=_s(data, "Message"))


def dynamic_values_from_wire(outputs: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    result: dict[str, dict[str, str]] = {}
    for out in outputs:
        values = result.setdefault(_s(out, "Key"), {})
        for loc in items(out.get("ItemValues"), "Localization"):
            values[_s(loc, "Culture")] = _s(loc, "Value")
    return result
