"""jetfort's own view of shop data, whatever the backend: pydantic v2 models with Decimal money and aware datetimes.

Every shop backend (Jetshop SOAP, Norce Commerce) converts its payloads to and from these, so mapping,
tasks and the ledger never see XML, JSON field names or the service's element names. Conventions:

* money is ``Decimal`` (the service sends 4 decimals); VAT rates are fractions (``Decimal("0.25")``);
* datetimes are timezone-aware (a service's zone-less local times are read in the shop's
  timezone, Europe/Stockholm by default);
* ``None`` means "not given" on input models: only fields that are set are sent (partial update).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

ZERO = Decimal("0")


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RowType(StrEnum):
    """What an order row sells; gift cards are payment instruments, not revenue, in Fortnox."""

    PRODUCT = "Product"
    GIFT_CARD = "GiftCard"
    OTHER = "Other"


class PaymentProvider(StrEnum):
    """Who holds the authorised money; only PSP payments (Klarna, DIBS/Nets, card) can be captured."""

    KLARNA = "Klarna"
    DIBS = "DIBS"
    CARD = "Card"
    INVOICE = "Invoice"
    SWISH = "Swish"
    GIFT_CARD = "GiftCard"
    OTHER = "Other"

    @property
    def capturable(self) -> bool:
        return self in (PaymentProvider.KLARNA, PaymentProvider.DIBS, PaymentProvider.CARD)


class Address(_Model):
    """A billing or delivery address as the shop recorded it (strings, possibly empty)."""

    company: str = ""
    first_name: str = ""
    last_name: str = ""
    street: str = ""
    care_of: str = ""
    zip_code: str = ""
    city: str = ""
    country_code: str = ""
    phone: str = ""
    mobile_phone: str = ""

    @property
    def full_name(self) -> str:
        return " ".join(part for part in (self.first_name, self.last_name) if part)


class ShopCustomer(_Model):
    """The buyer: a consumer, or a company when ``org_number``/``company_name`` is set."""

    customer_id: int | None = None
    email: str = ""
    company_name: str = ""
    org_number: str = ""
    vat_number: str = ""

    @property
    def is_company(self) -> bool:
        return bool(self.org_number or self.company_name)


class OrderRow(_Model):
    """One order row; ``quantity`` may be fractional (1.5 kg) or negative (returns), ``article_number`` missing."""

    row_id: int
    article_number: str | None = None
    product_id: int | None = None
    name: str = ""
    variant_text: str = ""
    row_type: RowType = RowType.PRODUCT
    quantity: Decimal = Field(description="decimal: goods sold by weight or length (1.5 kg, 0.25 m)")
    unit_price_inc_vat: Decimal
    unit_price_ex_vat: Decimal
    vat_rate: Decimal = Field(description="fraction, e.g. 0.25")
    discount_inc_vat: Decimal = ZERO
    total_inc_vat: Decimal = Field(description="quantity * unit price incl. VAT - row discount, as the shop says")


class ReturnRow(_Model):
    """One returned order row of a return (MODELLED)."""

    row_id: int = Field(description="OrderRow.row_id of the returned row")
    quantity: Decimal = Field(description="> 0: how many came back (decimal: 0.5 kg)")
    amount_inc_vat: Decimal = Field(description="refunded amount incl. VAT for this row, >= 0 (as the shop says)")


class OrderReturn(_Model):
    """A return registered in the shop against an order (MODELLED); several per order, oldest first."""

    return_id: int = Field(description="unique within the shop, stable")
    return_date: datetime
    rows: list[ReturnRow] = Field(default_factory=list)
    freight_inc_vat: Decimal = Field(default=ZERO, description="freight refunded with this return (0 = not)")
    payment_fee_inc_vat: Decimal = Field(default=ZERO, description="payment fee refunded with this return")


class Payment(_Model):
    """How the order was paid and how much of it the PSP has authorised and captured."""

    method: str = ""
    provider: PaymentProvider = PaymentProvider.OTHER
    transaction_id: str = ""
    status: str = ""
    authorized_amount: Decimal = ZERO
    captured_amount: Decimal = ZERO
    fee_inc_vat: Decimal = ZERO
    fee_vat_rate: Decimal = ZERO


class ShopOrder(_Model):
    """A shop order with everything the Fortnox side needs, in jetfort's terms."""

    shop_id: str
    order_id: int
    order_number: str
    order_date: datetime
    modified_date: datetime
    status_id: int
    status_name: str = ""
    channel_id: int
    culture: str = ""
    currency: str = "SEK"
    currency_rate: Decimal = Decimal("1")
    customer: ShopCustomer
    billing: Address
    delivery: Address
    rows: list[OrderRow] = Field(default_factory=list)
    delivery_method: str = ""
    freight_inc_vat: Decimal = ZERO
    freight_vat_rate: Decimal = ZERO
    payment: Payment = Field(default_factory=Payment)
    discount_code: str = ""
    order_discount_inc_vat: Decimal = ZERO
    total_inc_vat: Decimal
    total_ex_vat: Decimal
    vat_total: Decimal
    tracking_number: str = ""
    tracking_url: str = ""
    comment: str = ""
    returns: list[OrderReturn] = Field(default_factory=list, description="oldest first")

    @property
    def key(self) -> str:
        """Stable identity across shops: ``<shop_id>:<order_id>``."""
        return f"{self.shop_id}:{self.order_id}"


class OrderPage(_Model):
    """One page of an order search."""

    orders: list[ShopOrder]
    total_count: int
    page_index: int
    page_size: int

    @property
    def has_more(self) -> bool:
        return (self.page_index + 1) * self.page_size < self.total_count


class OrderStatus(_Model):
    """A shop-configured order status (ids are per shop)."""

    status_id: int
    name: str
    culture: str = ""
    captures_payment: bool = False
    is_cancelled: bool = False
    sort_order: int = 0


class Channel(_Model):
    """A market inside a shop: culture, currency and the price list it sells from."""

    channel_id: int
    name: str
    culture: str
    currency: str
    country_code: str = ""
    price_list_id: str = ""
    is_default: bool = False


class StatusUpdate(_Model):
    """Set an order's status; tracking and the e-mail flag travel with it."""

    order_id: int
    status_id: int
    tracking_number: str | None = None
    tracking_url: str | None = None
    carrier: str | None = None
    send_email: bool = False
    comment: str | None = None
    erp_reference: str | None = Field(
        default=None, description="the Fortnox document number (Norce's ErpOrderNo); Jetshop notes it in the comment")


class StatusUpdateResult(_Model):
    order_id: int
    success: bool
    message: str = ""
    payment_captured: bool = False
    captured_amount: Decimal = ZERO

    @property
    def key(self) -> str:
        return str(self.order_id)


class CaptureResult(_Model):
    """Outcome of a capture; ``already_captured`` marks an idempotent repeat (nothing captured again)."""

    order_id: int
    success: bool
    message: str = ""
    capture_id: str = ""
    captured_amount: Decimal = ZERO
    already_captured: bool = False
    transaction_id: str = ""

    @property
    def key(self) -> str:
        return str(self.order_id)


class StockInfo(_Model):
    """Stock as the shop reports it for an article."""

    stock_count: int = 0
    stock_status_id: int | None = None
    stock_status_name: str = ""
    delivery_date: datetime | None = None
    status_when_out_of_stock: int | None = None
    use_advanced_status: bool = False


class StockUpdate(_Model):
    """New on-hand quantity (and optionally stock status) for one article."""

    article_number: str
    stock_count: int
    stock_status_id: int | None = None
    status_when_out_of_stock: int | None = None
    delivery_date: datetime | None = None


class Variant(_Model):
    """A variant article of a parent product (own article number; ``att_value`` e.g. ``"Röd / L"``)."""

    article_number: str
    product_id: int | None = None
    att_value: str = ""


class Product(_Model):
    """A product record in one culture, as ``Product_Get`` returns it."""

    article_number: str
    culture: str
    product_id: int | None = None
    name: str = ""
    sub_name: str = ""
    short_description: str = ""
    description: str = ""
    ean: str = ""
    manufacturer: str = ""
    manufacturer_article_number: str = ""
    quantity_suffix: str = ""
    template_id: int | None = None
    price_ex_vat: Decimal = ZERO
    discounted_price_ex_vat: Decimal | None = Field(
        default=None, description="None when the shop reports its 'no discount' sentinel")
    price_list_id: str = ""
    vat_rate: Decimal = ZERO
    hide_product: bool = False
    hide_price: bool = False
    weight: Decimal = ZERO
    stock: StockInfo | None = None
    has_variants: bool = False
    parent_article_number: str | None = None
    att_value: str = ""
    variants: list[Variant] = Field(default_factory=list)
    publish_date: datetime | None = None
    modified_date: datetime | None = None


class ProductUpsert(_Model):
    """Create or update an article in one culture; only fields that are not None are sent."""

    article_number: str
    culture: str = "sv-SE"
    template_id: int | None = None
    name: str | None = None
    sub_name: str | None = None
    short_description: str | None = None
    description: str | None = None
    ean: str | None = None
    manufacturer: str | None = None
    manufacturer_article_number: str | None = None
    quantity_suffix: str | None = None
    vat_rate: Decimal | None = None
    weight: Decimal | None = None
    hide_product: bool | None = None
    parent_article_number: str | None = None
    att_value: str | None = None
    stock: StockUpdate | None = None


class ProductPage(_Model):
    """One page of a product listing (MODELLED ``Product_Search``)."""

    products: list[Product]
    total_count: int
    page_index: int
    page_size: int

    @property
    def has_more(self) -> bool:
        return (self.page_index + 1) * self.page_size < self.total_count


class ProductUpsertResult(_Model):
    article_number: str
    culture: str
    status: str = Field(description="SuccessNew | SuccessUpdate | '' (failed)")
    stock_result: str = ""

    @property
    def success(self) -> bool:
        return self.status in ("SuccessNew", "SuccessUpdate")

    @property
    def created(self) -> bool:
        return self.status == "SuccessNew"

    @property
    def key(self) -> str:
        return f"{self.article_number}/{self.culture}"

    @property
    def message(self) -> str:
        return self.status or "no status returned"


class PriceListPrice(_Model):
    """A price incl. VAT for one article in one price list (GUID); ``discounted`` None = no discount."""

    article_number: str
    price_list_id: str
    price_inc_vat: Decimal
    discounted_price_inc_vat: Decimal | None = None
    hide_product: bool | None = None
    use_discount_date_span: bool | None = None
    discount_start: datetime | None = None
    discount_end: datetime | None = None


class PriceListResult(_Model):
    article_number: str
    price_list_id: str
    success: bool
    message: str = ""

    @property
    def key(self) -> str:
        return f"{self.article_number}@{self.price_list_id}"


class DeleteResult(_Model):
    article_number: str
    result: str = Field(description="Success | NotFound")
    message: str = ""

    @property
    def deleted(self) -> bool:
        return self.result == "Success"

    @property
    def not_found(self) -> bool:
        return self.result == "NotFound"


class DynamicFieldValue(_Model):
    """Values of one dynamic (custom) field of an article, per culture."""

    article_number: str
    key: str
    values: dict[str, str] = Field(description="culture -> value")
    clear_existing: bool = False


class DynamicFieldResult(_Model):
    article_number: str
    key: str
    product_id: int | None = None
    success: bool
    message: str = ""
