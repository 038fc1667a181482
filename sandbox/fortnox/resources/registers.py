"""Customers, articles, price lists and the small registers, as :class:`.base.Resource` configs."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter

from .. import errors
from ..errors import FortnoxError, bad_request
from ..query import ListSpec
from ..seed import SALES_ACCOUNT_BY_VAT, VAT_RATES, article_entity, customer_entity
from ..state import Company
from ..stock import refresh_article_stock
from ..totals import quantity
from .base import Entity, Resource

COUNTRY_NAMES = {"SE": "Sverige", "NO": "Norge", "DK": "Danmark", "FI": "Finland", "DE": "Tyskland",
                 "GB": "Storbritannien", "US": "USA", "NL": "Nederländerna", "FR": "Frankrike"}

ACTIVE_FILTERS = {"active": lambda e: bool(e.get("Active")), "inactive": lambda e: not e.get("Active")}


# --- customers -------------------------------------------------------------------------------------
def _customer_defaults(company: Company, key: str, body: Entity) -> Entity:
    return customer_entity(key, str(body.get("Name", "")))


def _customer_key(company: Company, key: str) -> None:
    if key in company.deleted_customer_numbers:
        raise bad_request(errors.CUSTOMER_NUMBER_USED, key)


def _customer_after(company: Company, entity: Entity, changes: Entity) -> None:
    for code_field, name_field in (("CountryCode", "Country"), ("DeliveryCountryCode", "DeliveryCountry"),
                                   ("VisitingCountryCode", "VisitingCountry")):
        if code_field in changes:
            entity[name_field] = COUNTRY_NAMES.get(str(entity[code_field]).upper(), entity[code_field]) or None
    for register, name in (("currencies", "Currency"), ("pricelists", "PriceList"),
                           ("termsofpayments", "TermsOfPayment"), ("wayofdeliveries", "WayOfDelivery")):
        value = changes.get(name)
        if value and company.get(register, str(value)) is None:
            raise bad_request(errors.INVALID_VALUE, name, value)
    if "SalesAccount" in changes and entity["SalesAccount"] not in (None, ""):
        entity["SalesAccount"] = str(entity["SalesAccount"])


def _sales_account_as_number(rendered: Entity) -> Entity:
    """A created customer's SalesAccount comes back as a number, later GETs give a string (recorded)."""
    account = rendered.get("SalesAccount")
    if isinstance(account, str) and account.isdigit():
        rendered["SalesAccount"] = int(account)
    return rendered


def _customer_delete(company: Company, entity: Entity) -> None:
    number = entity["CustomerNumber"]
    for collection in ("orders", "invoices"):
        if any(d["CustomerNumber"] == number for d in company.data[collection].values()):
            raise bad_request(errors.NO_DELETE)


CUSTOMERS = Resource(
    collection="customers", singular="Customer", key_field="CustomerNumber",
    list_spec=ListSpec(
        plural="Customers",
        search={"customernumber": "CustomerNumber", "name": "Name", "zipcode": "ZipCode", "city": "City",
                "email": "Email", "phone": "Phone1", "organisationnumber": "OrganisationNumber",
                "gln": "GLN", "glndelivery": "GLNDelivery"},
        filters=ACTIVE_FILTERS, sort={"customernumber": "CustomerNumber", "name": "Name"},
        default_sort="customernumber"),
    defaults=_customer_defaults,
    list_render=lambda e: {"Address1": e.get("Address1") or "", "Address2": e.get("Address2") or "",
                           "City": e.get("City") or "", "CustomerNumber": e["CustomerNumber"],
                           "Email": e.get("Email") or "", "Name": e["Name"],
                           "OrganisationNumber": e.get("OrganisationNumber") or "",
                           "Phone": e.get("Phone1") or "", "ZipCode": e.get("ZipCode") or ""},
    auto_number=True, check_key=_customer_key, after_write=_customer_after, check_delete=_customer_delete,
    after_delete=lambda company, e: company.deleted_customer_numbers.add(e["CustomerNumber"]),
    read_only=("Country", "DeliveryCountry", "VisitingCountry"),
    created_render=_sales_account_as_number,
)


# --- articles --------------------------------------------------------------------------------------
def _article_defaults(company: Company, key: str, body: Entity) -> Entity:
    return article_entity(key, str(body.get("Description", "")), stock_goods=False, unit=None, webshop=False)


def _article_after(company: Company, entity: Entity, changes: Entity) -> None:
    if "VAT" in changes:
        vat = float(changes["VAT"])
        if vat not in VAT_RATES:
            raise bad_request(errors.INVALID_VAT, changes["VAT"])
        entity["VAT"] = int(vat)
        if "SalesAccount" not in changes:
            entity["SalesAccount"] = SALES_ACCOUNT_BY_VAT[int(vat)]
    elif "SalesAccount" in changes:
        by_account = {v: k for k, v in SALES_ACCOUNT_BY_VAT.items()}
        entity["VAT"] = by_account.get(int(changes["SalesAccount"]), 25)
    if changes.get("Unit") and company.get("units", str(changes["Unit"])) is None:
        raise bad_request(errors.INVALID_VALUE, "Unit", changes["Unit"])
    number = entity["ArticleNumber"]
    if "QuantityInStock" in changes:
        # without the warehouse module the stock figure is writable on the article (recorded)
        points = sorted(k for k in company.stock if k[0] == number)
        for point in points[1:]:
            del company.stock[point]
        reserved = company.stock[points[0]][1] if points else 0.0
        company.stock[points[0] if points else (number, "LAGER1")] = [quantity(changes["QuantityInStock"]), reserved]
    company.data["articles"][number] = entity
    refresh_article_stock(company, only=number)


def _article_delete(company: Company, entity: Entity) -> None:
    number = entity["ArticleNumber"]
    for collection, rows in (("orders", "OrderRows"), ("invoices", "InvoiceRows")):
        for doc in company.data[collection].values():
            if any(r.get("ArticleNumber") == number for r in doc.get(rows, [])):
                raise bad_request(errors.NO_DELETE)


def _article_list_item(e: Entity) -> Entity:
    """Slim list item; Fortnox renders several numbers as strings here (recorded articles/all.yml)."""
    def text(value: Any) -> str:
        number = float(value or 0)
        return str(int(number)) if number.is_integer() else str(number)
    return {"ArticleNumber": e["ArticleNumber"], "Description": e["Description"],
            "DisposableQuantity": text(e.get("DisposableQuantity")), "EAN": e.get("EAN") or "",
            "Housework": bool(e.get("Housework")), "PurchasePrice": text(e.get("PurchasePrice")),
            "SalesPrice": None if e.get("SalesPrice") is None else text(e.get("SalesPrice")),
            "QuantityInStock": text(e.get("QuantityInStock")), "ReservedQuantity": text(e.get("ReservedQuantity")),
            "StockPlace": e.get("StockPlace"), "StockValue": text(e.get("StockValue")), "Unit": e.get("Unit"),
            "VAT": None, "WebshopArticle": bool(e.get("WebshopArticle"))}


ARTICLE_NUMBER = re.compile(r"^[A-Za-z0-9_\-+/.$\\]{1,50}$")


def _article_key(company: Company, key: str) -> None:
    if not ARTICLE_NUMBER.match(key):
        raise bad_request(errors.NOT_ALNUM, key)


ARTICLES = Resource(
    collection="articles", singular="Article", key_field="ArticleNumber",
    list_spec=ListSpec(
        plural="Articles",
        search={"articlenumber": "ArticleNumber", "description": "Description", "ean": "EAN",
                "suppliernumber": "SupplierNumber", "manufacturer": "Manufacturer",
                "manufacturerarticlenumber": "ManufacturerArticleNumber", "webshop": "WebshopArticle"},
        filters=ACTIVE_FILTERS, bool_params=("webshop",),
        sort={"articlenumber": "ArticleNumber", "quantityinstock": "QuantityInStock",
              "reservedquantity": "ReservedQuantity", "stockvalue": "StockValue"},
        default_sort="articlenumber"),
    defaults=_article_defaults, list_render=_article_list_item, auto_number=True, check_key=_article_key,
    after_write=_article_after, check_delete=_article_delete,
    read_only=("SalesPrice", "DisposableQuantity", "ReservedQuantity", "StockValue", "SupplierName"),
)


# --- price lists and small registers ---------------------------------------------------------------
def _code_spec(plural: str, search: dict[str, str] | None = None) -> ListSpec:
    return ListSpec(plural=plural, search=search or {}, sort={"code": "Code"}, default_sort="code", text_sort=True)


def _terms_key(key: str) -> str:
    if not key.isalnum():
        raise FortnoxError(400, errors.NOT_ALNUM[0], errors.NOT_ALNUM[1].format(key))
    return key.upper()  # Fortnox upper-cases terms-of-payment codes (30days -> 30DAYS)


PRICELISTS = Resource("pricelists", "PriceList", "Code", _code_spec("PriceLists"), allow_delete=False,
                      defaults=lambda c, k, b: {"Code": k, "Comments": "", "Description": "", "PreSelected": False},
                      read_only=("PreSelected",))
CURRENCIES = Resource("currencies", "Currency", "Code", _code_spec("Currencies"),
                      defaults=lambda c, k, b: {"BuyRate": 0, "Code": k, "Date": c.clock.today().isoformat(),
                                                "Description": "", "IsAutomatic": False, "SellRate": 0, "Unit": 1},
                      normalize_key=str.upper)
TERMS = Resource("termsofpayments", "TermsOfPayment", "Code", _code_spec("TermsOfPayments"),
                 defaults=lambda c, k, b: {"Code": k, "Description": ""}, normalize_key=_terms_key)
WAYS = Resource("wayofdeliveries", "WayOfDelivery", "Code", _code_spec("WayOfDeliveries"),
                defaults=lambda c, k, b: {"Code": k, "Description": "", "DescriptionEnglish": ""})
UNITS = Resource("units", "Unit", "Code", _code_spec("Units"),
                 defaults=lambda c, k, b: {"Code": k, "CodeEnglish": "", "Description": ""})
PROJECTS = Resource(
    "projects", "Project", "ProjectNumber",
    ListSpec(plural="Projects", search={"description": "Description", "status": "Status"},
             sort={"projectnumber": "ProjectNumber"}, default_sort="projectnumber"),
    defaults=lambda c, k, b: {"Comments": "", "ContactPerson": None, "Description": "", "EndDate": None,
                              "ProjectLeader": None, "ProjectNumber": k, "Status": "ONGOING", "StartDate": None},
    list_fields=("Description", "EndDate", "ProjectLeader", "ProjectNumber", "Status", "StartDate"),
    auto_number=True,
)

router = APIRouter()
for _resource in (CUSTOMERS, ARTICLES, PRICELISTS, CURRENCIES, TERMS, WAYS, UNITS, PROJECTS):
    router.include_router(_resource.router())
