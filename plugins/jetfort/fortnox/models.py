"""Pydantic models of the Fortnox resources jetfort reads and writes.

Two jobs, one model per resource:

* **parse** what the real API returns: numbers that arrive as strings (``"OrderedQuantity": "1"``),
  ``"0"`` meaning "no reference", ``""`` or ``null`` for unset dates, ``"true"``/``"false"`` strings;
* **write** documents with the exact field names and JSON types of Fortnox's official OpenAPI file
  (``to_payload()``): read-only fields are left out, money is ``Decimal`` in Python and a JSON number
  on the wire, fields the spec types as strings (row quantities) go as strings, integers as integers.

Python attributes are snake_case; the Fortnox name is the alias (``FortnoxOrder(customer_number="1")``
or ``FortnoxOrder.model_validate({"CustomerNumber": "1"})`` both work). Text limits from the spec
are enforced (a too long value is a ``ValidationError`` naming the field) and published through
:func:`max_length` / :func:`fit` so mapping code can truncate on purpose instead of failing.
"""

from __future__ import annotations

import datetime as dt
import functools
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal, get_args, get_origin

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    model_validator,
)

# --------------------------------------------------------------------------------------------------
# value types


def _blank_to_none(value: Any) -> Any:
    """``""`` and ``null`` both mean "not set" in Fortnox responses."""
    if value is None or (isinstance(value, str) and value.strip() == ""):
        return None
    return value


def _reference(value: Any) -> Any:
    """Document references use the string ``"0"`` (sometimes ``0``) for "none"."""
    value = _blank_to_none(value)
    if value is None or str(value).strip() in {"0", "0.0"}:
        return None
    return str(value)


def _number_out(value: Decimal | None) -> int | float | None:
    """JSON number for a money/amount field (integral values as ints, e.g. ``VAT: 25``)."""
    if value is None:
        return None
    if value == value.to_integral_value():
        return int(value)
    return float(value)


def _string_number_out(value: Decimal | None) -> str | None:
    """Fields the spec types as ``string`` although they hold numbers (row quantities)."""
    if value is None:
        return None
    text = format(value.normalize(), "f") if value != 0 else "0"
    return text


def _date_out(value: dt.date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _int_in(value: Any) -> Any:
    value = _blank_to_none(value)
    if isinstance(value, str):
        return int(Decimal(value))
    return value


Money = Annotated[Decimal, BeforeValidator(_blank_to_none), PlainSerializer(_number_out)]
"""Amount as a JSON number (Fortnox rounds to 2 decimals, half up)."""
Quantity = Annotated[Decimal, BeforeValidator(_blank_to_none), PlainSerializer(_string_number_out)]
"""Number that the spec types as a string (``OrderedQuantity``, ``DeliveredQuantity``)."""
Reference = Annotated[str | None, BeforeValidator(_reference)]
"""Document number reference; ``None`` where Fortnox says ``"0"``."""
Date = Annotated[dt.date, BeforeValidator(_blank_to_none), PlainSerializer(_date_out)]
Int = Annotated[int, BeforeValidator(_int_in)]
Text = Annotated[str, BeforeValidator(lambda v: str(v) if isinstance(v, int | float | Decimal) else v)]
"""Identifiers are strings but sometimes arrive as numbers (DocumentNumber wobble)."""


def _f(alias: str, max_length: int | None = None, *, read_only: bool = False, **kwargs: Any) -> Any:
    """A model field with its Fortnox name, spec limit and read-only flag (kept in metadata)."""
    extra: dict[str, Any] = {"read_only": True} if read_only else {}
    return Field(default=None, alias=alias, max_length=max_length,
                 json_schema_extra=extra or None, **kwargs)


class FortnoxModel(BaseModel):
    """Base: Fortnox names as aliases, unknown response fields ignored, ``to_payload`` for writing."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore", validate_assignment=True,
                              str_strip_whitespace=False, use_enum_values=True)

    #: fields never sent even if set (besides those flagged read_only)
    _exclude_on_write: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="before")
    @classmethod
    def _empty_strings_are_unset(cls, data: Any) -> Any:
        """Fortnox sends ``""`` for unset enums, dates and numbers (e.g. ``"PaymentWay": ""``)."""
        if not isinstance(data, dict):
            return data
        text_keys = _text_aliases(cls)
        return {k: (None if v == "" and k not in text_keys else v) for k, v in data.items()}

    @classmethod
    def read_only_fields(cls) -> frozenset[str]:
        return _read_only_fields(cls)

    def to_payload(self) -> dict[str, Any]:
        """The JSON object Fortnox expects inside the envelope: set, writable, non-null fields only,
        nested models likewise. One pydantic dump with a per-class exclude of the read-only fields
        (:func:`_write_exclude`), not one dump per nested model."""
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True, exclude_none=True,
                               exclude=_write_exclude(type(self)))


def _nested_model(annotation: Any) -> tuple[type[FortnoxModel] | None, bool]:
    """The FortnoxModel inside a field's annotation (``X``, ``X | None``, ``list[X]``) and whether it is
    a list of them."""
    if isinstance(annotation, type) and issubclass(annotation, FortnoxModel):
        return annotation, False
    origin = get_origin(annotation)
    for arg in get_args(annotation):
        if arg is type(None):
            continue
        found, is_list = _nested_model(arg)
        if found is not None:
            return found, is_list or origin is list
    return None, False


@functools.cache
def _write_exclude(model: type[FortnoxModel]) -> dict[str, Any]:
    """pydantic ``exclude`` of what is never written: ``model``'s read-only fields and, recursively,
    those of the FortnoxModels it holds (``{"rows": {"__all__": {...}}}`` for lists). Fixed per class."""
    exclude: dict[str, Any] = {name: True for name in _read_only_fields(model)}
    for name, info in model.model_fields.items():
        if name in exclude:
            continue
        nested, is_list = _nested_model(info.annotation)
        if nested is not None and nested is not model:
            inner = _write_exclude(nested)
            if inner:
                exclude[name] = {"__all__": inner} if is_list else inner
    return exclude


def _is_text(annotation: Any) -> bool:
    args = [a for a in get_args(annotation) if a is not type(None)] or [annotation]
    return all(a is str or (get_origin(a) is Annotated and get_args(a)[0] is str) for a in args)


@functools.cache
def _read_only_fields(model: type[FortnoxModel]) -> frozenset[str]:
    """Fields never written back: marked ``read_only`` or in ``_exclude_on_write``. Fixed per class,
    so computed once (``to_payload`` asks for every row of every document it serialises)."""
    names = {name for name, info in model.model_fields.items()
             if isinstance(info.json_schema_extra, dict) and info.json_schema_extra.get("read_only")}
    return frozenset(names) | model._exclude_on_write


@functools.cache
def _text_aliases(model: type[BaseModel]) -> frozenset[str]:
    """Names (aliases and attribute names) of plain text fields, where ``""`` is a real value."""
    keys: set[str] = set()
    for name, info in model.model_fields.items():
        if _is_text(info.annotation):
            keys.update({name, info.alias or name})
    return frozenset(keys)


def max_length(model: type[BaseModel], field: str) -> int | None:
    """Spec ``maxLength`` of ``model.field`` (snake_case name), or None when unlimited."""
    info = model.model_fields[field]
    for meta in info.metadata:
        limit = getattr(meta, "max_length", None)
        if limit is not None:
            return int(limit)
    return None


def fit(model: type[BaseModel], field: str, value: str | None) -> str | None:
    """Truncate ``value`` to the spec limit of ``model.field`` (for free text like Remarks)."""
    if value is None:
        return None
    limit = max_length(model, field)
    return value if limit is None else value[:limit]


def field_limits(model: type[BaseModel]) -> dict[str, int]:
    """All text limits of a model, keyed by snake_case field name."""
    return {name: limit for name in model.model_fields if (limit := max_length(model, name)) is not None}


# --------------------------------------------------------------------------------------------------
# enums


class CustomerType(StrEnum):
    PRIVATE = "PRIVATE"
    COMPANY = "COMPANY"


class VatType(StrEnum):
    SEVAT = "SEVAT"
    SEREVERSEDVAT = "SEREVERSEDVAT"
    EUREVERSEDVAT = "EUREVERSEDVAT"
    EUVAT = "EUVAT"
    EXPORT = "EXPORT"


class DiscountType(StrEnum):
    AMOUNT = "AMOUNT"
    PERCENT = "PERCENT"


class ArticleType(StrEnum):
    STOCK = "STOCK"
    SERVICE = "SERVICE"


class InvoiceType(StrEnum):
    INVOICE = "INVOICE"
    AGREEMENTINVOICE = "AGREEMENTINVOICE"
    INTRESTINVOICE = "INTRESTINVOICE"
    SUMMARYINVOICE = "SUMMARYINVOICE"
    CASHINVOICE = "CASHINVOICE"


# --------------------------------------------------------------------------------------------------
# paging


class MetaInformation(FortnoxModel):
    total_resources: Int = Field(0, alias="@TotalResources")
    total_pages: Int = Field(0, alias="@TotalPages")
    current_page: Int = Field(1, alias="@CurrentPage")


# --------------------------------------------------------------------------------------------------
# customers


class DefaultDeliveryTypes(FortnoxModel):
    invoice: str | None = _f("Invoice")
    order: str | None = _f("Order")
    offer: str | None = _f("Offer")


class FortnoxCustomer(FortnoxModel):
    """``/3/customers/{CustomerNumber}``; ``name`` is required on create."""

    url: str | None = _f("@url", read_only=True)
    customer_number: Text | None = _f("CustomerNumber", 1024)
    name: str | None = _f("Name", 1024)
    type: CustomerType | None = _f("Type")
    organisation_number: str | None = _f("OrganisationNumber", 30)
    email: str | None = _f("Email", 1024)
    email_invoice: str | None = _f("EmailInvoice", 1024)
    email_order: str | None = _f("EmailOrder", 1024)
    address1: str | None = _f("Address1", 1024)
    address2: str | None = _f("Address2", 1024)
    zip_code: str | None = _f("ZipCode", 10)
    city: str | None = _f("City", 1024)
    country_code: str | None = _f("CountryCode", 2)
    country: str | None = _f("Country", read_only=True)
    phone1: str | None = _f("Phone1", 1024)
    phone2: str | None = _f("Phone2", 1024)
    delivery_name: str | None = _f("DeliveryName", 1024)
    delivery_address1: str | None = _f("DeliveryAddress1", 1024)
    delivery_address2: str | None = _f("DeliveryAddress2", 1024)
    delivery_zip_code: str | None = _f("DeliveryZipCode", 10)
    delivery_city: str | None = _f("DeliveryCity", 1024)
    delivery_country_code: str | None = _f("DeliveryCountryCode", 2)
    delivery_country: str | None = _f("DeliveryCountry", read_only=True)
    delivery_phone1: str | None = _f("DeliveryPhone1", 1024)
    currency: str | None = _f("Currency", 3)
    price_list: str | None = _f("PriceList")
    vat_type: VatType | None = _f("VATType")
    vat_number: str | None = _f("VATNumber")
    terms_of_payment: str | None = _f("TermsOfPayment")
    terms_of_delivery: str | None = _f("TermsOfDelivery")
    way_of_delivery: str | None = _f("WayOfDelivery")
    our_reference: str | None = _f("OurReference", 50)
    your_reference: str | None = _f("YourReference", 50)
    external_reference: str | None = _f("ExternalReference", 1024)
    comments: str | None = _f("Comments", 1024)
    active: bool | None = _f("Active")
    show_price_vat_included: bool | None = _f("ShowPriceVATIncluded")
    sales_account: Text | None = _f("SalesAccount", 4)
    cost_center: str | None = _f("CostCenter")
    project: str | None = _f("Project")
    default_delivery_types: DefaultDeliveryTypes | None = _f("DefaultDeliveryTypes")


class CustomerListItem(FortnoxModel):
    url: str | None = _f("@url")
    customer_number: Text | None = _f("CustomerNumber")
    name: str | None = _f("Name")
    email: str | None = _f("Email")
    organisation_number: str | None = _f("OrganisationNumber")
    address1: str | None = _f("Address1")
    address2: str | None = _f("Address2")
    zip_code: str | None = _f("ZipCode")
    city: str | None = _f("City")
    phone: str | None = _f("Phone")


# --------------------------------------------------------------------------------------------------
# articles, prices, stock


class FortnoxArticle(FortnoxModel):
    """``/3/articles/{ArticleNumber}``; ``description`` is required on create.

    ``SalesPrice``, stock figures and ``VAT`` are read-only (prices live in ``/3/prices``; VAT
    follows the sales account). ``quantity_in_stock`` is writable only without the warehouse module.
    """

    url: str | None = _f("@url", read_only=True)
    article_number: Text | None = _f("ArticleNumber", 50)
    description: str | None = _f("Description", 200)
    type: ArticleType | None = _f("Type")
    active: bool | None = _f("Active")
    webshop_article: bool | None = _f("WebshopArticle")
    expired: bool | None = _f("Expired")
    stock_goods: bool | None = _f("StockGoods")
    quantity_in_stock: Money | None = _f("QuantityInStock")
    reserved_quantity: Money | None = _f("ReservedQuantity", read_only=True)
    disposable_quantity: Money | None = _f("DisposableQuantity", read_only=True)
    stock_value: Money | None = _f("StockValue", read_only=True)
    sales_price: Money | None = _f("SalesPrice", read_only=True)
    purchase_price: Money | None = _f("PurchasePrice")
    vat: Money | None = _f("VAT", read_only=True)
    ean: str | None = _f("EAN", 30)
    unit: str | None = _f("Unit")
    sales_account: Int | None = _f("SalesAccount", ge=1000, le=99999)
    eu_account: Int | None = _f("EUAccount", ge=1000, le=99999)
    euvat_account: Int | None = _f("EUVATAccount", ge=1000, le=99999)
    export_account: Int | None = _f("ExportAccount", ge=1000, le=99999)
    purchase_account: Int | None = _f("PurchaseAccount", ge=1000, le=99999)
    manufacturer: str | None = _f("Manufacturer", 50)
    manufacturer_article_number: str | None = _f("ManufacturerArticleNumber", 50)
    note: str | None = _f("Note", 10000)
    stock_place: str | None = _f("StockPlace", 100)
    supplier_number: str | None = _f("SupplierNumber")
    weight: Int | None = _f("Weight", ge=0, le=999999999)
    width: Int | None = _f("Width", ge=0, le=999999999)
    height: Int | None = _f("Height", ge=0, le=999999999)
    depth: Int | None = _f("Depth", ge=0, le=999999999)
    housework: bool | None = _f("Housework")


class ArticleListItem(FortnoxModel):
    url: str | None = _f("@url")
    article_number: Text | None = _f("ArticleNumber")
    description: str | None = _f("Description")
    disposable_quantity: Money | None = _f("DisposableQuantity")
    quantity_in_stock: Money | None = _f("QuantityInStock")
    reserved_quantity: Money | None = _f("ReservedQuantity")
    sales_price: Money | None = _f("SalesPrice")
    purchase_price: Money | None = _f("PurchasePrice")
    stock_value: Money | None = _f("StockValue")
    ean: str | None = _f("EAN")
    unit: str | None = _f("Unit")
    vat: Money | None = _f("VAT")
    webshop_article: bool | None = _f("WebshopArticle")
    stock_place: str | None = _f("StockPlace")
    housework: bool | None = _f("Housework")


class PriceList(FortnoxModel):
    """``/3/pricelists/{Code}``; code and description required."""

    url: str | None = _f("@url", read_only=True)
    code: str | None = _f("Code", 100)
    description: str | None = _f("Description", 50)
    comments: str | None = _f("Comments")
    pre_selected: bool | None = _f("PreSelected", read_only=True)


class Price(FortnoxModel):
    """One price row: key (price list, article number, from quantity); from quantity 0 = base price."""

    url: str | None = _f("@url", read_only=True)
    price_list: str | None = _f("PriceList")
    article_number: Text | None = _f("ArticleNumber")
    from_quantity: Money | None = _f("FromQuantity")
    price: Money | None = _f("Price")
    percent: Money | None = _f("Percent")
    date: str | None = _f("Date", read_only=True)


class StockBalance(FortnoxModel):
    """Warehouse API item (camelCase, no envelope); reserved = in stock - available."""

    item_id: Text | None = _f("itemId")
    stock_point_code: str | None = _f("stockPointCode")
    in_stock: Money | None = _f("inStock")
    available_stock: Money | None = _f("availableStock")


# --------------------------------------------------------------------------------------------------
# registers


class Currency(FortnoxModel):
    url: str | None = _f("@url", read_only=True)
    code: str | None = _f("Code")
    description: str | None = _f("Description")
    buy_rate: Money | None = _f("BuyRate")
    sell_rate: Money | None = _f("SellRate")
    unit: Money | None = _f("Unit")
    date: Date | None = _f("Date")
    is_automatic: bool | None = _f("IsAutomatic")


class TermsOfPayment(FortnoxModel):
    url: str | None = _f("@url", read_only=True)
    code: str | None = _f("Code", 25)
    description: str | None = _f("Description")


class WayOfDelivery(FortnoxModel):
    url: str | None = _f("@url", read_only=True)
    code: str | None = _f("Code", 50)
    description: str | None = _f("Description", 100)
    description_english: str | None = _f("DescriptionEnglish", 100)


class CompanyInformation(FortnoxModel):
    company_name: str | None = _f("CompanyName")
    organization_number: str | None = _f("OrganizationNumber")
    address: str | None = _f("Address")
    zip_code: str | None = _f("ZipCode")
    city: str | None = _f("City")
    country_code: str | None = _f("CountryCode")
    database_number: Int | None = _f("DatabaseNumber")
    """The tenant id (``TenantId`` for client credentials)."""
    visit_address: str | None = _f("VisitAddress")
    visit_zip_code: str | None = _f("VisitZipCode")
    visit_city: str | None = _f("VisitCity")
    visit_country_code: str | None = _f("VisitCountryCode")


class Account(FortnoxModel):
    """Chart-of-accounts entry (``/3/accounts/{Number}``) for checking configured accounts."""

    url: str | None = _f("@url", read_only=True)
    number: Int | None = _f("Number")
    description: str | None = _f("Description", 200)
    active: bool | None = _f("Active")
    vat_code: str | None = _f("VATCode")
    year: Int | None = _f("Year")


# --------------------------------------------------------------------------------------------------
# documents


class EmailInformation(FortnoxModel):
    email_address_to: str | None = _f("EmailAddressTo")
    email_address_cc: str | None = _f("EmailAddressCC")
    email_address_bcc: str | None = _f("EmailAddressBCC")
    email_address_from: str | None = _f("EmailAddressFrom")
    email_subject: str | None = _f("EmailSubject", 100)
    email_body: str | None = _f("EmailBody", 20000)


class Label(FortnoxModel):
    id: Int | None = _f("Id")


class DocumentRow(FortnoxModel):
    """A row of an order (``OrderRows``) or invoice (``InvoiceRows``).

    Row totals follow ``delivered_quantity`` — set it equal to ``ordered_quantity`` for an order
    that should carry its full amount. A row needs an ``article_number`` (article must exist) or
    an ``account_number``; text-only rows use ``account_number="API_BLANK"``-style blanking via
    :data:`API_BLANK` on the caller side. Invoices have no ordered/reserved quantity.
    """

    row_id: Int | None = _f("RowId")
    article_number: Text | None = _f("ArticleNumber")
    description: str | None = _f("Description", 255)
    ordered_quantity: Quantity | None = _f("OrderedQuantity")
    delivered_quantity: Quantity | None = _f("DeliveredQuantity")
    reserved_quantity: Quantity | None = _f("ReservedQuantity", read_only=True)
    price: Money | None = _f("Price")
    discount: Money | None = _f("Discount")
    discount_type: DiscountType | None = _f("DiscountType")
    vat: Money | None = _f("VAT")
    vat_code: str | None = _f("VATCode")
    account_number: Int | None = _f("AccountNumber", ge=1000, le=9999)
    unit: str | None = _f("Unit")
    cost_center: str | None = _f("CostCenter")
    project: str | None = _f("Project")
    total: Money | None = _f("Total", read_only=True)
    price_excluding_vat: Money | None = _f("PriceExcludingVAT", read_only=True)
    total_excluding_vat: Money | None = _f("TotalExcludingVAT", read_only=True)
    contribution_percent: Quantity | None = _f("ContributionPercent", read_only=True)
    contribution_value: Quantity | None = _f("ContributionValue", read_only=True)


class _Document(FortnoxModel):
    """Header fields shared by orders and invoices."""

    url: str | None = _f("@url", read_only=True)
    document_number: Text | None = _f("DocumentNumber")
    customer_number: Text | None = _f("CustomerNumber")
    customer_name: str | None = _f("CustomerName", 1024)
    organisation_number: str | None = _f("OrganisationNumber", read_only=True)
    currency: str | None = _f("Currency", 3)
    currency_rate: Money | None = _f("CurrencyRate")
    currency_unit: Money | None = _f("CurrencyUnit")
    price_list: str | None = _f("PriceList")
    language: Literal["SV", "EN"] | None = _f("Language")
    vat_included: bool | None = _f("VATIncluded")
    freight: Money | None = _f("Freight")
    administration_fee: Money | None = _f("AdministrationFee")
    terms_of_payment: str | None = _f("TermsOfPayment")
    terms_of_delivery: str | None = _f("TermsOfDelivery")
    way_of_delivery: str | None = _f("WayOfDelivery")
    our_reference: str | None = _f("OurReference", 50)
    your_reference: str | None = _f("YourReference", 50)
    your_order_number: str | None = _f("YourOrderNumber", 75)
    external_invoice_reference1: str | None = _f("ExternalInvoiceReference1", 80)
    external_invoice_reference2: str | None = _f("ExternalInvoiceReference2", 80)
    remarks: str | None = _f("Remarks", 1024)
    comments: str | None = _f("Comments", 1024)
    cost_center: str | None = _f("CostCenter")
    project: str | None = _f("Project")
    print_template: str | None = _f("PrintTemplate")
    not_completed: bool | None = _f("NotCompleted")
    address1: str | None = _f("Address1", 1024)
    address2: str | None = _f("Address2", 1024)
    zip_code: str | None = _f("ZipCode", 1024)
    city: str | None = _f("City", 1024)
    country: str | None = _f("Country")
    phone1: str | None = _f("Phone1", 1024)
    phone2: str | None = _f("Phone2", 1024)
    delivery_name: str | None = _f("DeliveryName", 1024)
    delivery_address1: str | None = _f("DeliveryAddress1", 1024)
    delivery_address2: str | None = _f("DeliveryAddress2", 1024)
    delivery_zip_code: str | None = _f("DeliveryZipCode", 1024)
    delivery_city: str | None = _f("DeliveryCity", 1024)
    delivery_country: str | None = _f("DeliveryCountry")
    delivery_date: Date | None = _f("DeliveryDate")
    email_information: EmailInformation | None = _f("EmailInformation")
    labels: list[Label] | None = _f("Labels")
    # read-only results
    cancelled: bool | None = _f("Cancelled", read_only=True)
    sent: bool | None = _f("Sent", read_only=True)
    net: Money | None = _f("Net", read_only=True)
    gross: Money | None = _f("Gross", read_only=True)
    total: Money | None = _f("Total", read_only=True)
    total_vat: Money | None = _f("TotalVAT", read_only=True)
    total_to_pay: Money | None = _f("TotalToPay", read_only=True)
    round_off: Money | None = _f("RoundOff", read_only=True)
    freight_vat: Money | None = _f("FreightVAT", read_only=True)
    administration_fee_vat: Money | None = _f("AdministrationFeeVAT", read_only=True)
    warehouse_ready: bool | None = _f("WarehouseReady", read_only=True)
    offer_reference: Reference = _f("OfferReference", read_only=True)


class FortnoxOrder(_Document):
    """``/3/orders/{DocumentNumber}``. ``rows`` is ``OrderRows``; ``customer_number`` required."""

    order_date: Date | None = _f("OrderDate")
    copy_remarks: bool | None = _f("CopyRemarks")
    delivery_state: Literal["registration", "reservation", "delivery"] | None = _f("DeliveryState")
    rows: list[DocumentRow] | None = _f("OrderRows")
    invoice_reference: Reference = _f("InvoiceReference", read_only=True)
    order_type: str | None = _f("OrderType", read_only=True)

    @property
    def invoiced(self) -> bool:
        return self.invoice_reference is not None


_INVOICE_ROW_ONLY_ON_ORDERS = frozenset({"ordered_quantity", "reserved_quantity"})


class FortnoxInvoice(_Document):
    """``/3/invoices/{DocumentNumber}``. ``rows`` is ``InvoiceRows`` (no ordered quantity)."""

    invoice_date: Date | None = _f("InvoiceDate")
    due_date: Date | None = _f("DueDate")
    invoice_type: InvoiceType | None = _f("InvoiceType")
    payment_way: Literal["CASH", "CARD", "AG"] | None = _f("PaymentWay")
    ocr: str | None = _f("OCR")
    rows: list[DocumentRow] | None = _f("InvoiceRows")
    booked: bool | None = _f("Booked", read_only=True)
    credit: bool | None = _f("Credit", read_only=True)
    credit_invoice_reference: Reference = _f("CreditInvoiceReference", read_only=True)
    order_reference: Reference = _f("OrderReference", read_only=True)
    balance: Money | None = _f("Balance", read_only=True)
    final_pay_date: Date | None = _f("FinalPayDate", read_only=True)
    last_remind_date: Date | None = _f("LastRemindDate", read_only=True)
    reminders: Int | None = _f("Reminders", read_only=True)
    voucher_number: Int | None = _f("VoucherNumber", read_only=True)
    voucher_series: str | None = _f("VoucherSeries", read_only=True)
    voucher_year: Int | None = _f("VoucherYear", read_only=True)
    accounting_method: str | None = _f("AccountingMethod", read_only=True)

    @property
    def fully_paid(self) -> bool:
        return self.final_pay_date is not None or (self.balance is not None and self.balance == 0
                                                   and (self.total or 0) != 0)

    def to_payload(self) -> dict[str, Any]:
        payload = super().to_payload()
        rows = payload.get("InvoiceRows")
        if rows:
            for row in rows:
                row.pop("OrderedQuantity", None)
                row.pop("ReservedQuantity", None)
                if isinstance(row.get("VAT"), float):  # the spec types invoice-row VAT as integer
                    row["VAT"] = round(row["VAT"])
        return payload


class OrderListItem(FortnoxModel):
    url: str | None = _f("@url")
    document_number: Text | None = _f("DocumentNumber")
    customer_number: Text | None = _f("CustomerNumber")
    customer_name: str | None = _f("CustomerName")
    order_date: Date | None = _f("OrderDate")
    delivery_date: Date | None = _f("DeliveryDate")
    currency: str | None = _f("Currency")
    total: Money | None = _f("Total")
    cancelled: bool | None = _f("Cancelled")
    sent: bool | None = _f("Sent")
    order_type: str | None = _f("OrderType")
    project: str | None = _f("Project")
    external_invoice_reference1: str | None = _f("ExternalInvoiceReference1")
    external_invoice_reference2: str | None = _f("ExternalInvoiceReference2")


class InvoiceListItem(FortnoxModel):
    url: str | None = _f("@url")
    document_number: Text | None = _f("DocumentNumber")
    customer_number: Text | None = _f("CustomerNumber")
    customer_name: str | None = _f("CustomerName")
    invoice_date: Date | None = _f("InvoiceDate")
    due_date: Date | None = _f("DueDate")
    final_pay_date: Date | None = _f("FinalPayDate")
    currency: str | None = _f("Currency")
    currency_rate: Money | None = _f("CurrencyRate")
    total: Money | None = _f("Total")
    balance: Money | None = _f("Balance")
    booked: bool | None = _f("Booked")
    cancelled: bool | None = _f("Cancelled")
    sent: bool | None = _f("Sent")
    ocr: str | None = _f("OCR")
    invoice_type: str | None = _f("InvoiceType")
    terms_of_payment: str | None = _f("TermsOfPayment")
    way_of_delivery: str | None = _f("WayOfDelivery")
    external_invoice_reference1: str | None = _f("ExternalInvoiceReference1")
    external_invoice_reference2: str | None = _f("ExternalInvoiceReference2")
    voucher_number: Int | None = _f("VoucherNumber")


class InvoicePayment(FortnoxModel):
    """``/3/invoicepayments/{Number}`` (also the list item shape, fields optional)."""

    url: str | None = _f("@url", read_only=True)
    number: Text | None = _f("Number", read_only=True)
    invoice_number: Int | None = _f("InvoiceNumber")
    amount: Money | None = _f("Amount")
    amount_currency: Money | None = _f("AmountCurrency")
    currency: str | None = _f("Currency", 3)
    currency_rate: Money | None = _f("CurrencyRate")
    currency_unit: Money | None = _f("CurrencyUnit")
    payment_date: Date | None = _f("PaymentDate")
    mode_of_payment: str | None = _f("ModeOfPayment")
    mode_of_payment_account: Int | None = _f("ModeOfPaymentAccount", ge=1000, le=9999)
    booked: bool | None = _f("Booked", read_only=True)
    source: str | None = _f("Source", read_only=True)
    external_invoice_reference1: str | None = _f("ExternalInvoiceReference1", read_only=True)
    external_invoice_reference2: str | None = _f("ExternalInvoiceReference2", read_only=True)
    write_off_exist: bool | None = _f("WriteOffExist", read_only=True)


API_BLANK = "API_BLANK"
"""Send this literal to blank a field on update (Fortnox convention)."""

__all__ = [
    "API_BLANK",
    "Account",
    "ArticleListItem",
    "ArticleType",
    "CompanyInformation",
    "Currency",
    "CustomerListItem",
    "CustomerType",
    "DefaultDeliveryTypes",
    "DiscountType",
    "DocumentRow",
    "EmailInformation",
    "FortnoxArticle",
    "FortnoxCustomer",
    "FortnoxInvoice",
    "FortnoxModel",
    "FortnoxOrder",
    "InvoiceListItem",
    "InvoicePayment",
    "InvoiceType",
    "Label",
    "MetaInformation",
    "OrderListItem",
    "Price",
    "PriceList",
    "StockBalance",
    "TermsOfPayment",
    "VatType",
    "WayOfDelivery",
    "field_limits",
    "fit",
    "max_length",
]
