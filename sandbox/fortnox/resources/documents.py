"""Orders and invoices: defaults, rows, totals, actions and the rules that make documents immutable.

Rules modelled (sources in the sandbox README): the customer must exist (2000204); a row article
must exist (2001302); a row needs an article or an account (2001304); orders and invoices are never
deleted; cancelled documents, invoiced orders and booked invoices cannot be changed; a booked
invoice cannot be cancelled (credit it); an invoice is credited at most once and a credit invoice
cannot be credited; ``createinvoice`` works once per order and answers with the Order carrying
``InvoiceReference`` (what the real API does, although the spec says Invoice).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response

from .. import errors, stock, totals
from ..errors import bad_request, not_found
from ..query import ListSpec, page, select
from ..speclimits import limits
from ..state import Company
from ..validation import BLANK, validate
from ..vatcodes import company_vat_rates
from ..web import base_url, company_of, params_of, read_json, reply, with_url

Entity = dict[str, Any]
HEADER_VAT_RATE = Decimal(25)  # [I] company default VAT on freight and administration fee
VAT_FREE_TYPES = ("EXPORT", "EUREVERSEDVAT")
ROT = {"CONSTRUCTION", "ELECTRICITY", "GLASSMETALWORK", "GROUNDDRAINAGEWORK", "MASONRY",
       "PAINTINGWALLPAPERING", "HVAC", "OTHERCOSTS"}
GREEN = {"SOLARCELLS", "STORAGESELFPRODUCEDELECTRICITY", "CHARGINGSTATIONELECTRICVEHICLE", "OTHERCOSTS"}
ENDED_HOUSEWORK = {"COOKING", "TUTORING"}
# Fields Fortnox computes or sets itself: ignored in write bodies ([I] from the reference's RO lists; the
# official spec marks no field read-only). CustomerName is NOT among them: the spec lets a client write it
# (a collective customer's document carries the buyer's name), and no recording shows Fortnox rewriting a
# written value; when it is not given it defaults to the customer's name (recorded). See FIDELITY.md.
READ_ONLY = {
    "Cancelled", "Sent", "Booked", "InvoiceReference", "OfferReference", "OrderReference", "ContractReference",
    "Net", "Gross", "Total", "TotalVAT", "TotalToPay", "RoundOff", "FreightVAT", "AdministrationFeeVAT",
    "Balance", "FinalPayDate", "Credit", "CreditInvoiceReference", "VoucherNumber", "VoucherSeries",
    "VoucherYear", "ContributionPercent", "ContributionValue", "OrderType", "WarehouseReady",
    "BasisTaxReduction", "TaxReduction", "HouseWork", "AccountingMethod", "NoxFinans", "LastRemindDate",
    "Reminders", "@urlTaxReductionList", "OrganisationNumber",
}
ADDRESS_FIELDS = ("Address1", "Address2", "City", "ZipCode", "Phone1", "Phone2")
CUSTOMER_COPY = ("YourReference", "OurReference", "TermsOfDelivery", "WayOfDelivery", "PriceList", "Currency")


@dataclass(frozen=True)
class Kind:
    collection: str
    singular: str
    plural: str
    rows: str

    @property
    def is_order(self) -> bool:
        return self.collection == "orders"


ORDER = Kind("orders", "Order", "Orders", "OrderRows")
INVOICE = Kind("invoices", "Invoice", "Invoices", "InvoiceRows")


# --- defaults --------------------------------------------------------------------------------------
def _base(kind: Kind, company: Company, customer: Entity, number: str) -> Entity:
    today = company.clock.today().isoformat()
    doc: Entity = {
        "AdministrationFee": 0, "AdministrationFeeVAT": 0, "Address1": "", "Address2": "", "BasisTaxReduction": 0,
        "Cancelled": False, "City": "", "Comments": "", "ContributionPercent": 0, "ContributionValue": 0,
        "Country": "", "CostCenter": "", "Currency": "SEK", "CurrencyRate": 1,
        "CurrencyUnit": 1, "CustomerName": customer["Name"], "CustomerNumber": customer["CustomerNumber"],
        "DeliveryAddress1": "", "DeliveryAddress2": "", "DeliveryCity": "", "DeliveryCountry": "",
        "DeliveryDate": None, "DeliveryName": "", "DeliveryZipCode": "", "DocumentNumber": number,
        "EmailInformation": {"EmailAddressFrom": None, "EmailAddressTo": customer.get("Email") or "",
                             "EmailAddressCC": None, "EmailAddressBCC": None,
                             "EmailSubject": ("Order" if kind.is_order else "Faktura") + " {no} bifogas",
                             "EmailBody": " "},
        "ExternalInvoiceReference1": "", "ExternalInvoiceReference2": "", "Freight": 0, "FreightVAT": 0,
        "Gross": 0, "HouseWork": False, "InvoiceReference": "0", "Labels": [], "Language": "SV", "Net": 0,
        "NotCompleted": False, "OfferReference": "0", kind.rows: [], "OrganisationNumber": "", "OurReference": "",
        "OutboundDate": today, "Phone1": "", "Phone2": "", "PriceList": "A", "Project": "", "Remarks": "",
        "RoundOff": 0, "Sent": False, "TaxReduction": None, "TaxReductionType": "none", "TermsOfDelivery": "",
        "TermsOfPayment": customer.get("TermsOfPayment") or company.info.get("DefaultTermsOfPayment", "30"),
        "TimeBasisReference": None, "Total": 0, "TotalToPay": 0, "TotalVAT": 0, "VATIncluded": False,
        "WarehouseReady": True, "WayOfDelivery": "", "YourOrderNumber": "", "YourReference": "", "ZipCode": "",
    }
    if kind.is_order:
        doc.update({"CopyRemarks": False, "DeliveryState": "delivery", "OrderDate": today, "OrderType": "Order", "PrintTemplate": "oc",
                    "StockPointCode": None, "StockPointId": None})
    else:
        doc.update({
            "AccountingMethod": "ACCRUAL", "Balance": 0, "Booked": False, "ContractReference": "0",
            "Credit": "false", "CreditInvoiceReference": "0", "DueDate": None,
            "EDIInformation": {"EDIGlobalLocationNumber": None, "EDIGlobalLocationNumberDelivery": None,
                               "EDIInvoiceExtra1": None, "EDIInvoiceExtra2": None,
                               "EDIOurElectronicReference": None, "EDIYourElectronicReference": None,
                               "EDIStatus": ""},
            "EUQuarterlyReport": False, "FinalPayDate": None, "InvoiceDate": today, "InvoicePeriodEnd": "",
            "InvoicePeriodStart": "", "InvoiceType": "INVOICE", "LastRemindDate": None, "NoxFinans": False,
            "OCR": ocr(number), "OrderReference": "0", "PaymentWay": "", "PrintTemplate": "st", "Reminders": 0,
            "VoucherNumber": None, "VoucherSeries": None, "VoucherYear": None,
        })
    for name in ADDRESS_FIELDS:
        doc[name] = customer.get(name) or ""
    doc["Country"] = customer.get("Country") or ""
    doc["OrganisationNumber"] = customer.get("OrganisationNumber") or ""
    for name in CUSTOMER_COPY:
        if customer.get(name):
            doc[name] = customer[name]
    currency = company.get("currencies", str(doc["Currency"]))
    if currency is not None:
        doc["CurrencyRate"], doc["CurrencyUnit"] = currency["SellRate"], currency["Unit"]
    for name in ("Name", "Address1", "Address2", "City", "ZipCode", "Country"):
        doc[f"Delivery{name}"] = customer.get(f"Delivery{name}") or ""
    return doc


def ocr(number: str) -> str:
    """Fortnox's default OCR: number + length digit + Luhn check digit (matches recorded OCRs)."""
    if not number.isdigit():
        return ""
    body = number + str((len(number) + 2) % 10)
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return body + str((10 - total % 10) % 10)


def _terms_days(company: Company, code: str) -> int:
    digits = "".join(ch for ch in code if ch.isdigit())
    return int(digits) if digits else 0


# --- rows ------------------------------------------------------------------------------------------
def _list_price(company: Company, price_list: str, article: str, quantity: Decimal) -> Decimal | None:
    best: tuple[float, float] | None = None
    for price in company.data["prices"].values():
        if price["PriceList"] == price_list and price["ArticleNumber"] == article:
            from_qty = float(price["FromQuantity"])
            if from_qty <= float(quantity) and (best is None or from_qty > best[0]):
                best = (from_qty, float(price["Price"]))
    return None if best is None else Decimal(str(best[1]))


ACCOUNT_BY_VAT_TYPE = {"EUREVERSEDVAT": "EUAccount", "EXPORT": "ExportAccount", "EUVAT": "EUVATAccount"}


def _build_row(kind: Kind, company: Company, doc: Entity, given: Entity, existing: Entity | None,
               vat_type: str) -> Entity:
    row: Entity = copy.deepcopy(existing) if existing else {
        "AccountNumber": None, "ArticleNumber": "", "ContributionPercent": "0", "ContributionValue": "0",
        "Cost": 0, "CostCenter": "", "DeliveredQuantity": "0", "Description": "", "Discount": 0,
        "DiscountType": "PERCENT", "HouseWork": False, "HouseWorkHoursToReport": None, "HouseWorkType": None,
        "Price": None, "Project": "", "RowId": company.next_counter("rowid"), "StockPointCode": None,
        "Total": 0, "Unit": "", "VAT": None,
    }
    if not existing:
        if kind.is_order:
            row.update({"OrderedQuantity": "0", "ReservedQuantity": "0", "StockPointId": None})
        else:
            row.update({"PriceExcludingVAT": 0, "TotalExcludingVAT": 0, "VATCode": None})
    article = None
    number = given.get("ArticleNumber", row.get("ArticleNumber"))
    if number not in (None, "", BLANK):
        article = company.get("articles", str(number))
        if article is None:
            raise bad_request(errors.NO_ARTICLE)
        row["ArticleNumber"] = str(number)
    elif number == BLANK:
        row["ArticleNumber"] = ""
    for name in ("Description", "Discount", "DiscountType", "CostCenter", "Project", "Unit", "HouseWork",
                 "HouseWorkType", "HouseWorkHoursToReport", "StockPointCode", "VATCode"):
        if name in given:
            row[name] = None if given[name] == BLANK and name == "HouseWorkType" else given[name]
    if given.get("Description") == BLANK:
        row["Description"] = ""
    if article is not None and not existing:
        row["Description"] = given.get("Description") or article["Description"]
        row["Unit"] = given.get("Unit") or article.get("Unit") or ""
    # account: given, else from the article (EU/export accounts for VAT-free customers)
    account = given.get("AccountNumber")
    if account in (None, BLANK):
        account = row.get("AccountNumber") if existing and "ArticleNumber" not in given else None
    vat_free = vat_type in VAT_FREE_TYPES
    if account is None and article is not None:
        account = article[ACCOUNT_BY_VAT_TYPE.get(vat_type, "SalesAccount")] or article["SalesAccount"]
    if account is None:
        if given.get("AccountNumber") == BLANK or (not row["ArticleNumber"] and "Price" not in given):
            account = None  # text row
        else:
            raise bad_request(errors.NO_ACCOUNT)
    if account is not None and company.get("accounts", str(int(account))) is None:
        raise bad_request(errors.NO_ACCOUNT)
    row["AccountNumber"] = None if account is None else int(account)
    # VAT
    if "VAT" in given and given["VAT"] != BLANK:
        vat = float(given["VAT"])
        if Decimal(str(vat)) not in company_vat_rates(company):  # Swedish rates + the company's VAT codes
            raise bad_request(errors.INVALID_VAT, given["VAT"])
        row["VAT"] = int(vat) if vat.is_integer() else vat  # 25.5 on an order row (spec: double)
    elif row.get("VAT") is None:
        row["VAT"] = int(article["VAT"]) if article is not None else 25 if account else 0
    if vat_free:
        row["VAT"] = 0
    # quantities
    if kind.is_order:
        if "OrderedQuantity" in given:
            row["OrderedQuantity"] = totals.qty_text(totals.dec(given["OrderedQuantity"]))
        if "DeliveredQuantity" in given:
            row["DeliveredQuantity"] = totals.qty_text(totals.dec(given["DeliveredQuantity"]))
    elif "DeliveredQuantity" in given:
        row["DeliveredQuantity"] = totals.qty_text(totals.dec(given["DeliveredQuantity"]))
    # price: given, else from the document's price list (quantity breaks), converted for VAT/currency
    if "Price" in given and given["Price"] != BLANK:
        row["Price"] = totals.num(totals.dec(given["Price"]))
    elif row.get("Price") is None or ("ArticleNumber" in given and not existing):
        quantity = totals.dec(row.get("OrderedQuantity") or row.get("DeliveredQuantity"))
        listed = _list_price(company, doc.get("PriceList", "A"), row["ArticleNumber"], quantity) \
            if article is not None else None
        price = listed if listed is not None else Decimal(0)
        if doc.get("VATIncluded"):
            price = price * (Decimal(1) + Decimal(row["VAT"]) / Decimal(100))
        rate = totals.dec(doc.get("CurrencyRate") or 1) / totals.dec(doc.get("CurrencyUnit") or 1)
        if rate and doc.get("Currency", "SEK") != "SEK":
            price = price / rate
        row["Price"] = totals.num(price)
    if given.get("Project") not in (None, "", BLANK) and company.get("projects", str(given["Project"])) is None:
        raise bad_request(errors.NO_PROJECT, given["Project"])
    if row.get("DiscountType") == "PERCENT" and float(row.get("Discount") or 0) > 100:
        raise bad_request(errors.INVALID_VALUE, "Discount", row["Discount"])
    _check_housework(doc, row)
    return row


def _check_housework(doc: Entity, row: Entity) -> None:
    kind = row.get("HouseWorkType")
    if not kind:
        return
    if row.get("HouseWork") and kind in ENDED_HOUSEWORK:
        raise bad_request(errors.HOUSEWORK_ENDED)
    if row.get("HouseWork") and kind == "OTHERCOSTS":
        raise bad_request(errors.HOUSEWORK_OTHERCOSTS)
    reduction = doc.get("TaxReductionType", "none")
    allowed = {"rot": ROT, "green": GREEN}.get(reduction)
    if reduction == "rut":
        if kind in ROT - {"OTHERCOSTS"} or kind in GREEN - {"OTHERCOSTS"}:
            raise bad_request(errors.HOUSEWORK_WRONG_TYPE, reduction, kind)
    elif allowed is not None and kind not in allowed:
        raise bad_request(errors.HOUSEWORK_WRONG_TYPE, reduction, kind)


def _apply_rows(kind: Kind, company: Company, doc: Entity, given_rows: list[Entity] | None, vat_type: str) -> None:
    """PUT semantics: rows with RowId update that row, rows without are new, unmentioned rows go."""
    if given_rows is None:
        old = doc.get(kind.rows, [])
        doc[kind.rows] = [_build_row(kind, company, doc, {}, r, vat_type) for r in old]
        return
    existing = {r["RowId"]: r for r in doc.get(kind.rows, [])}
    rows = []
    for given in given_rows:
        if not isinstance(given, dict):
            raise bad_request(errors.EMPTY_BODY)
        current = existing.get(given.get("RowId")) if given.get("RowId") is not None else None
        rows.append(_build_row(kind, company, doc, given, current, vat_type))
    doc[kind.rows] = rows


# --- header ----------------------------------------------------------------------------------------
def _customer(company: Company, number: Any) -> Entity:
    customer = company.get("customers", str(number)) if number not in (None, "", BLANK) else None
    if customer is None:
        raise bad_request(errors.NO_CUSTOMER)
    return customer


def _apply_header(kind: Kind, company: Company, doc: Entity, changes: Entity) -> None:
    for name, value in changes.items():
        if name in READ_ONLY or name in (kind.rows, "DocumentNumber", "CustomerNumber") or value == "":
            continue  # "" leaves a field unchanged (recorded); API_BLANK clears it
        if value == BLANK:
            doc[name] = "" if isinstance(doc.get(name), str) or doc.get(name) is None else 0
        elif isinstance(value, dict) and isinstance(doc.get(name), dict):
            doc[name].update(value)
        else:
            doc[name] = value
    project = changes.get("Project")
    if project and project != BLANK and company.get("projects", str(project)) is None:
        raise bad_request(errors.NO_PROJECT, project)
    for register, name in (("currencies", "Currency"), ("termsofpayments", "TermsOfPayment"),
                           ("wayofdeliveries", "WayOfDelivery"), ("pricelists", "PriceList")):
        value = changes.get(name)
        if value and value != BLANK and company.get(register, str(value)) is None:
            if name == "Currency":
                raise bad_request(errors.CURRENCY_MISSING, value)
            raise bad_request(errors.INVALID_VALUE, name, value)
    if "Currency" in changes and "CurrencyRate" not in changes:
        currency = company.get("currencies", str(doc["Currency"]))
        if currency is not None:
            doc["CurrencyRate"] = currency["SellRate"]
            doc["CurrencyUnit"] = currency["Unit"]
    if not kind.is_order and not changes.get("DueDate") and (
            "InvoiceDate" in changes or "TermsOfPayment" in changes or doc.get("DueDate") is None):
        invoice_date = date.fromisoformat(str(doc["InvoiceDate"]))
        days = _terms_days(company, str(doc.get("TermsOfPayment") or "30"))
        doc["DueDate"] = (invoice_date + timedelta(days=days)).isoformat()


def _recompute(kind: Kind, company: Company, doc: Entity) -> None:
    customer = company.get("customers", doc["CustomerNumber"]) or {}
    vat_free = customer.get("VATType") in VAT_FREE_TYPES
    totals.compute(doc, kind.rows, HEADER_VAT_RATE, vat_free)
    if not kind.is_order:
        paid = sum((totals.dec(p["AmountCurrency"] if doc.get("Currency") != "SEK" else p["Amount"])
                    for p in company.data["invoicepayments"].values()
                    if str(p["InvoiceNumber"]) == doc["DocumentNumber"]), Decimal(0))
        doc["Balance"] = totals.num(totals.dec(doc["Total"]) - paid)


def _vat_type(company: Company, customer_number: str) -> str:
    customer = company.get("customers", customer_number) or {}
    return str(customer.get("VATType") or "SEVAT")


def build(kind: Kind, company: Company, changes: Entity, number: str | None = None) -> Entity:
    """Create a document from a validated body (shared by POST, createinvoice and credit)."""
    customer = _customer(company, changes.get("CustomerNumber"))
    given_number = changes.get("DocumentNumber")
    if given_number not in (None, "", BLANK):
        if company.get(kind.collection, str(given_number)) is not None:
            raise bad_request(errors.DOCNUMBER_USED, given_number)
        number = str(given_number)
    number = number or company.next_number(kind.collection)
    doc = _base(kind, company, customer, number)
    _apply_header(kind, company, doc, changes)
    if not kind.is_order and not doc.get("OCR"):
        doc["OCR"] = ocr(number)
    _apply_rows(kind, company, doc, changes.get(kind.rows, []), _vat_type(company, customer["CustomerNumber"]))
    _recompute(kind, company, doc)
    return doc


def _order_articles(*orders: Entity) -> set[str]:
    return {str(r.get("ArticleNumber")) for o in orders for r in o.get("OrderRows", []) if r.get("ArticleNumber")}


# --- rendering -------------------------------------------------------------------------------------
def _url(request: Request, kind: Kind, number: str) -> str:
    return f"{base_url(request)}/3/{kind.collection}/{quote(number, safe='')}"


def render(request: Request, kind: Kind, doc: Entity) -> Entity:
    number = doc["DocumentNumber"]
    tax_url = f"{base_url(request)}/3/taxreductions?filter={kind.collection}&referencenumber={number}"
    return with_url(copy.deepcopy(doc), _url(request, kind, number), **{"@urlTaxReductionList": tax_url})


ORDER_ITEM = ("Cancelled", "Currency", "CustomerName", "CustomerNumber", "DeliveryDate", "DocumentNumber",
              "ExternalInvoiceReference1", "ExternalInvoiceReference2", "OrderDate", "OrderType", "Project",
              "Sent", "Total")
INVOICE_ITEM = ("Balance", "Booked", "Cancelled", "CostCenter", "Currency", "CurrencyRate", "CurrencyUnit",
                "CustomerName", "CustomerNumber", "DocumentNumber", "DueDate", "ExternalInvoiceReference1",
                "ExternalInvoiceReference2", "InvoiceDate", "InvoiceType", "NoxFinans", "OCR", "VoucherNumber",
                "VoucherSeries", "VoucherYear", "WayOfDelivery", "TermsOfPayment", "Project", "Sent", "Total",
                "FinalPayDate")


def render_item(request: Request, kind: Kind, doc: Entity) -> Entity:
    item = {k: doc.get(k) for k in (ORDER_ITEM if kind.is_order else INVOICE_ITEM)}
    if not kind.is_order:
        rate = float(doc.get("CurrencyRate") or 1)
        item["CurrencyRate"] = str(int(rate)) if rate.is_integer() else str(rate)  # a string here (recorded)
    return with_url(item, _url(request, kind, doc["DocumentNumber"]))


def _today(company: Company) -> str:
    return company.clock.today().isoformat()


def _unpaid(doc: Entity) -> bool:
    return not doc["Cancelled"] and doc.get("FinalPayDate") is None and doc.get("Credit") != "true"


LIST_SPECS = {
    "orders": ListSpec(
        plural="Orders",
        search={"customername": "CustomerName", "customernumber": "CustomerNumber",
                "label": lambda d: [str(x.get("Id")) for x in d.get("Labels", [])],
                "documentnumber": "DocumentNumber", "externalinvoicereference1": "ExternalInvoiceReference1",
                "externalinvoicereference2": "ExternalInvoiceReference2", "costcenter": "CostCenter",
                "project": "Project", "sent": "Sent", "notcompleted": "NotCompleted",
                "ourreference": "OurReference", "yourreference": "YourReference", "ordertype": "OrderType"},
        bool_params=("sent", "notcompleted"),
        filters={"cancelled": lambda d: d["Cancelled"],
                 "expired": lambda d: (not d["Cancelled"] and d["InvoiceReference"] == "0"
                                       and bool(d.get("DeliveryDate")) and d["DeliveryDate"] < d["_today"]),
                 "invoicecreated": lambda d: d["InvoiceReference"] != "0",
                 "invoicenotcreated": lambda d: d["InvoiceReference"] == "0" and not d["Cancelled"]},
        sort={"customername": "CustomerName", "customernumber": "CustomerNumber", "orderdate": "OrderDate",
              "documentnumber": "DocumentNumber", "total": "Total"},
        default_sort="documentnumber", date_field="OrderDate"),
    "invoices": ListSpec(
        plural="Invoices",
        search={"customername": "CustomerName", "customernumber": "CustomerNumber",
                "label": lambda d: [str(x.get("Id")) for x in d.get("Labels", [])],
                "documentnumber": "DocumentNumber", "ocr": "OCR", "ourreference": "OurReference",
                "yourreference": "YourReference", "project": "Project", "costcenter": "CostCenter",
                "sent": "Sent", "notcompleted": "NotCompleted", "credit": "Credit",
                "externalinvoicereference1": "ExternalInvoiceReference1",
                "externalinvoicereference2": "ExternalInvoiceReference2", "invoicetype": "InvoiceType",
                "articlenumber": lambda d: [r.get("ArticleNumber") for r in d.get("InvoiceRows", [])],
                "articledescription": lambda d: [r.get("Description") for r in d.get("InvoiceRows", [])],
                "currency": "Currency", "yourordernumber": "YourOrderNumber"},
        bool_params=("sent", "notcompleted", "credit"),
        filters={"cancelled": lambda d: d["Cancelled"],
                 "fullypaid": lambda d: not d["Cancelled"] and d.get("FinalPayDate") is not None,
                 "unpaid": _unpaid,
                 "unpaidoverdue": lambda d: _unpaid(d) and bool(d.get("DueDate")) and d["DueDate"] < d["_today"],
                 "unbooked": lambda d: not d["Cancelled"] and not d["Booked"]},
        sort={"customername": "CustomerName", "customernumber": "CustomerNumber",
              "documentnumber": "DocumentNumber", "invoicedate": "InvoiceDate", "ocr": "OCR", "total": "Total"},
        default_sort="documentnumber", date_field="InvoiceDate"),
}


# --- handlers --------------------------------------------------------------------------------------
def _get(company: Company, kind: Kind, number: str) -> Entity:
    doc = company.get(kind.collection, number)
    if doc is None:
        raise not_found(kind.collection)
    return doc


def _routes(kind: Kind) -> APIRouter:
    router = APIRouter()
    base = f"/3/{kind.collection}"

    async def list_docs(request: Request) -> Response:
        company = company_of(request)
        params, multi = params_of(request)
        with company.lock:
            today = _today(company)
            items = [({**d, "_today": today}, company.modified_at(kind.collection, k))
                     for k, d in company.data[kind.collection].items()]
            chosen = select(items, params, multi, LIST_SPECS[kind.collection])
            rows, meta = page(chosen, params)
            return reply({"MetaInformation": meta, kind.plural: [render_item(request, kind, d) for d in rows]})

    async def get_doc(request: Request, number: str) -> Response:
        company = company_of(request)
        with company.lock:
            return reply({kind.singular: render(request, kind, _get(company, kind, number))})

    async def create_doc(request: Request) -> Response:
        body = await read_json(request)
        company = company_of(request)
        changes = validate(kind.singular, body, create=True)
        with company.lock:
            doc = build(kind, company, changes)
            company.put(kind.collection, doc["DocumentNumber"], doc)
            if kind.is_order:
                stock.refresh_articles(company, _order_articles(doc))  # open orders reserve stock
            else:
                stock.deliver(company, doc[kind.rows], +1)
            return reply({kind.singular: render(request, kind, doc)}, 201)

    async def update_doc(request: Request, number: str) -> Response:
        body = await read_json(request)
        company = company_of(request)
        changes = validate(kind.singular, body, create=False)
        with company.lock:
            doc = _get(company, kind, number)
            _ensure_editable(kind, doc)
            updated = copy.deepcopy(doc)
            if "CustomerNumber" in changes and changes["CustomerNumber"] != doc["CustomerNumber"]:
                customer = _customer(company, changes["CustomerNumber"])
                updated["CustomerNumber"], updated["CustomerName"] = customer["CustomerNumber"], customer["Name"]
            _apply_header(kind, company, updated, changes)
            _apply_rows(kind, company, updated, changes.get(kind.rows), _vat_type(company, updated["CustomerNumber"]))
            _recompute(kind, company, updated)
            company.put(kind.collection, number, updated)
            if kind.is_order:
                stock.refresh_articles(company, _order_articles(doc, updated))
            return reply({kind.singular: render(request, kind, updated)})

    async def mark_sent(request: Request, number: str) -> Response:
        company = company_of(request)
        with company.lock:
            doc = _get(company, kind, number)
            if doc["Cancelled"]:
                raise bad_request(errors.DOC_CANCELLED)
            doc["Sent"] = True
            company.put(kind.collection, number, doc)
            return reply({kind.singular: render(request, kind, doc)})

    router.add_api_route(base, list_docs, methods=["GET"])
    router.add_api_route(base, create_doc, methods=["POST"])
    router.add_api_route(base + "/{number}", get_doc, methods=["GET"])
    router.add_api_route(base + "/{number}", update_doc, methods=["PUT"])
    router.add_api_route(base + "/{number}/externalprint", mark_sent, methods=["PUT"])
    router.add_api_route(base + "/{number}/email", mark_sent, methods=["GET"])
    return router


def _ensure_editable(kind: Kind, doc: Entity) -> None:
    if doc["Cancelled"]:
        raise bad_request(errors.DOC_CANCELLED)
    if kind.is_order and doc["InvoiceReference"] != "0":
        raise bad_request(errors.ORDER_INVOICED)
    if not kind.is_order and doc["Booked"]:
        raise bad_request(errors.INVOICE_BOOKED)


async def _action_body(request: Request) -> None:
    """Actions carry no body, but Fortnox still wants a JSON content type (1000031)."""
    await read_json(request, required=False)


order_router = _routes(ORDER)
invoice_router = _routes(INVOICE)


@order_router.put("/3/orders/{number}/createinvoice")
async def create_invoice(request: Request, number: str) -> Response:
    await _action_body(request)
    company = company_of(request)
    with company.lock:
        order = _get(company, ORDER, number)
        _ensure_editable(ORDER, order)
        invoice_fields = limits()["Invoice"]["properties"]
        header = {k: v for k, v in order.items()
                  if k in invoice_fields and k not in READ_ONLY
                  and k not in ("OrderRows", "DocumentNumber", "PrintTemplate", "OutboundDate", "EmailInformation",
                                "Remarks", "Labels")}
        if order.get("CopyRemarks"):
            header["Remarks"] = order["Remarks"]
        header["InvoiceRows"] = [
            {k: v for k, v in row.items() if k in ("AccountNumber", "ArticleNumber", "CostCenter", "DeliveredQuantity",
                                                   "Description", "Discount", "DiscountType", "HouseWork",
                                                   "HouseWorkHoursToReport", "HouseWorkType", "Price", "Project",
                                                   "Unit", "VAT")}
            for row in order["OrderRows"]
        ]
        for row in header["InvoiceRows"]:
            if row.get("AccountNumber") is None:
                row["AccountNumber"] = BLANK
        invoice = build(INVOICE, company, header)
        invoice["OrderReference"] = number
        company.put("invoices", invoice["DocumentNumber"], invoice)
        order["InvoiceReference"] = invoice["DocumentNumber"]
        company.put("orders", number, order)
        stock.deliver(company, invoice["InvoiceRows"], +1)  # the order stops reserving, the invoice delivers
        stock.refresh_articles(company, _order_articles(order))
        return reply({"Order": render(request, ORDER, order)})


def register_payment_effect(company: Company, invoice_number: str, payment_date: str | None) -> None:
    """Recompute Balance/FinalPayDate after a payment was added or removed."""
    invoice = company.get("invoices", invoice_number)
    if invoice is None:
        return
    _recompute(INVOICE, company, invoice)
    invoice["FinalPayDate"] = payment_date if totals.dec(invoice["Balance"]) <= 0 and payment_date else None
    company.put("invoices", invoice_number, invoice)
