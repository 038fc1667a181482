"""Pydantic models of the Fortnox resources jetfort reads and writes (see :mod:`.base` for the rules).

One module per entity family; every model, value helper and enum is importable from here
(``from jetfort.fortnox.models import FortnoxOrder, max_length``). Cheap to import: pydantic only,
no HTTP or Airflow.
"""

from jetfort.fortnox.models.articles import ArticleListItem, FortnoxArticle, Price, PriceList, StockBalance
from jetfort.fortnox.models.base import (
    API_BLANK,
    ArticleType,
    CustomerType,
    DiscountType,
    FortnoxModel,
    InvoiceType,
    VatType,
    field_limits,
    fit,
    max_length,
)
from jetfort.fortnox.models.customers import CustomerListItem, DefaultDeliveryTypes, FortnoxCustomer
from jetfort.fortnox.models.documents import (
    DocumentRow,
    EmailInformation,
    FortnoxInvoice,
    FortnoxOrder,
    InvoiceListItem,
    InvoicePayment,
    Label,
    OrderListItem,
)
from jetfort.fortnox.models.registers import (
    Account,
    CompanyInformation,
    Currency,
    EUVatLimitRegulation,
    MetaInformation,
    TermsOfPayment,
    WayOfDelivery,
)

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
    "EUVatLimitRegulation",
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
