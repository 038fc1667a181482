"""Deterministic demo data for one company, derived from a seed number.

Same seed → same registers, articles (stock and service; VAT 25, 12 and 6 %), customers (private,
company, EU reverse charge, export), price lists A and B (reseller) with quantity breaks, stock
balances and company information. Nothing here depends on the wall clock except modification stamps.
"""

from __future__ import annotations

import random
from typing import Any

from sandbox.checkdigits import luhn

from .state import Company
from .stock import price_key, refresh_article_stock

CURRENCIES = [
    ("SEK", "Svensk krona", 1.0, 1), ("EUR", "Euro", 11.45, 1), ("NOK", "Norsk krona", 0.98, 1),
    ("USD", "US-dollar", 10.62, 1), ("DKK", "Dansk krona", 1.53, 1), ("GBP", "Brittiskt pund", 13.21, 1),
]
TERMS = [("0", "0 dagar"), ("10", "10 dagar"), ("15", "15 dagar"), ("20", "20 dagar"), ("30", "30 dagar"),
         ("K", "Kontant")]
WAYS = [("P", "Postpaket", "Parcel"), ("DHL", "DHL Service Point", "DHL Service Point"),
        ("SCH", "DB Schenker", "DB Schenker"), ("HAMT", "Hämtas", "Pick-up")]
UNITS = [("st", "Styck", "pcs"), ("förp", "Förpackning", "pack"), ("kg", "Kilogram", "kg"), ("h", "Timme", "h")]
# (number, description, VAT code, SRU); the sales accounts decide an article's VAT rate
ACCOUNTS = [
    (1510, "Kundfordringar", "", 204), (1930, "Företagskonto", "", 200), (2611, "Utgående moms 25 %", "UMP", 7369),
    (2621, "Utgående moms 12 %", "UMP", 7369), (2631, "Utgående moms 6 %", "UMP", 7369),
    (3001, "Försäljning inom Sverige, 25 % moms", "MP1", 7410), (3002, "Försäljning inom Sverige, 12 % moms", "MP2", 7410),
    (3003, "Försäljning inom Sverige, 6 % moms", "MP3", 7410), (3004, "Försäljning inom Sverige, momsfri", "", 7410),
    (3105, "Försäljning varor till land utanför EU", "", 7410), (3106, "Försäljning varor till annat EU-land, momspliktig", "", 7410),
    (3108, "Försäljning varor till annat EU-land, momsfri", "", 7410), (3740, "Öres- och kronutjämning", "", 7410),
    (3520, "Fakturerade frakter", "MP1", 7410), (3540, "Faktureringsavgifter", "MP1", 7410),
    # BAS 3521/3522, 3541/3542 (EU-land, export); 3523-3525, 3543-3545 per VAT rate and 2421 gift cards,
    # as a company that follows jetfort's default account rules has them (pre-flight checks they exist)
    (3521, "Fakturerade frakter, EU-land", "", 7410), (3522, "Fakturerade frakter, export", "", 7410),
    (3523, "Fakturerade frakter, 12 % moms", "MP2", 7410), (3524, "Fakturerade frakter, 6 % moms", "MP3", 7410),
    (3525, "Fakturerade frakter, momsfri", "", 7410),
    (3541, "Faktureringsavgifter, EU-land", "", 7410), (3542, "Faktureringsavgifter, export", "", 7410),
    (3543, "Faktureringsavgifter, 12 % moms", "MP2", 7410), (3544, "Faktureringsavgifter, 6 % moms", "MP3", 7410),
    (3545, "Faktureringsavgifter, momsfri", "", 7410), (2421, "Ej inlösta presentkort", "", 7369),
    (3990, "Övriga ersättningar och intäkter", "", 7413), (4000, "Inköp av varor från Sverige", "", 7512),
]
SALES_ACCOUNT_BY_VAT = {25: 3001, 12: 3002, 6: 3003, 0: 3004}
VAT_RATES = (25, 12, 6, 0)

_ADJ = ["Robust", "Klassisk", "Mjuk", "Lätt", "Grön", "Svart", "Vit", "Nordisk", "Stor", "Liten"]
_NOUN25 = ["Hammare", "Tröja", "Ryggsäck", "Lampa", "Kopp", "Mössa", "Handske", "Termos", "Kniv", "Filt"]
_NOUN12 = ["Kaffe", "Te", "Choklad", "Müsli", "Honung"]
_NOUN6 = ["Kokbok", "Roman", "Tidning", "Karta"]
_FIRST = ["Anna", "Erik", "Karin", "Lars", "Maria", "Nils", "Sara", "Johan", "Emma", "Oskar"]
_LAST = ["Andersson", "Berg", "Holm", "Lind", "Nyström", "Sjöberg", "Ek", "Wallin", "Forsberg", "Lund"]
_CITIES = [("Stockholm", "11122"), ("Göteborg", "41101"), ("Malmö", "21120"), ("Uppsala", "75320"), ("Umeå", "90326")]


def organisation_number(tenant_id: int) -> str:
    base = f"55{tenant_id:07d}"[:9]
    return f"{base[:6]}-{base[6:]}{luhn(base)}"


def populate(company: Company, seed: int, *, empty: bool = False) -> None:
    """Fill ``company`` with registers always, and with articles/customers/prices unless ``empty``."""
    rng = random.Random(seed * 7919 + company.tenant_id)
    company.info.update(seed=seed, empty=empty)
    _registers(company)
    if not empty:
        _articles_and_prices(company, rng)
        _customers(company, rng)


def _registers(company: Company) -> None:
    today = company.clock.today().isoformat()
    for code, description, rate, unit in CURRENCIES:
        company.put("currencies", code, {"BuyRate": rate, "Code": code, "Date": today, "Description": description,
                                         "IsAutomatic": code != "SEK", "SellRate": rate, "Unit": unit})
    for code, description in TERMS:
        company.put("termsofpayments", code, {"Code": code, "Description": description})
    for code, description, english in WAYS:
        company.put("wayofdeliveries", code, {"Code": code, "Description": description,
                                              "DescriptionEnglish": english})
    for code, description, english in UNITS:
        company.put("units", code, {"Code": code, "CodeEnglish": english, "Description": description})
    for number, description, vat_code, sru in ACCOUNTS:
        company.put("accounts", str(number), {
            "Active": True, "BalanceBroughtForward": 0, "CostCenter": None, "CostCenterSettings": "ALLOWED",
            "Description": description, "Number": number, "Project": "", "ProjectSettings": "ALLOWED",
            "SRU": sru, "VATCode": vat_code or None, "Year": 1, "BalanceCarriedForward": 0,
        })
    company.put("pricelists", "A", {"Code": "A", "Comments": "", "Description": "Standard", "PreSelected": True})
    company.put("pricelists", "B", {"Code": "B", "Comments": "Återförsäljare", "Description": "Återförsäljare",
                                    "PreSelected": False})
    company.info.update(
        CompanyName=company.name, OrganizationNumber=company.organisation_number, Address="Storgatan 1",
        ZipCode="11122", City="Stockholm", CountryCode="SE", VisitAddress="Storgatan 1", VisitCity="Stockholm",
        VisitCountryCode="SE", VisitZipCode="11122", Email="info@sandbox.example", Phone1="08-123 456 78",
        VATNumber=f"SE{company.organisation_number.replace('-', '')}01",
    )


def article_entity(number: str, description: str, *, vat: int = 25, stock_goods: bool = True,
                   article_type: str = "STOCK", ean: str = "", purchase_price: float = 0,
                   unit: str | None = "st", webshop: bool = True) -> dict[str, Any]:
    """A full Article as Fortnox returns it (field set from recorded GET /3/articles/{n})."""
    return {
        "ArticleNumber": number, "Bulky": False, "ConstructionAccount": 0, "Depth": 0,
        "Description": description, "DisposableQuantity": 0, "EAN": ean, "EUAccount": 3108,
        "EUVATAccount": 3106, "ExportAccount": 3105, "Height": 0, "Housework": False, "HouseworkType": None,
        "Active": True, "Manufacturer": None, "ManufacturerArticleNumber": "", "Note": "",
        "PurchaseAccount": 4000, "PurchasePrice": purchase_price, "QuantityInStock": 0, "ReservedQuantity": 0,
        "SalesAccount": SALES_ACCOUNT_BY_VAT.get(vat, 3001), "StockGoods": stock_goods, "StockPlace": None,
        "StockValue": 0, "StockWarning": None, "SupplierName": None, "SupplierNumber": None, "Type": article_type,
        "Unit": unit, "VAT": vat, "WebshopArticle": webshop, "Weight": 0, "Width": 0, "Expired": False,
        "SalesPrice": None, "CostCalculationMethod": None, "StockAccount": None, "StockChangeAccount": None,
        "DirectCost": None, "FreightCost": None, "OtherCost": None, "DefaultStockPoint": None,
        "DefaultStockLocation": None, "CommodityCode": "",
    }


def _ean(rng: random.Random) -> str:
    body = "73" + "".join(str(rng.randint(0, 9)) for _ in range(10))
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body))
    return body + str((10 - total % 10) % 10)


def _articles_and_prices(company: Company, rng: random.Random) -> None:
    plan = [(n, 25) for n in _NOUN25] + [(n, 12) for n in _NOUN12] + [(n, 6) for n in _NOUN6]
    for index, (noun, vat) in enumerate(plan):
        number = f"{1001 + index}"
        description = f"{rng.choice(_ADJ)} {noun.lower()}".capitalize()
        price = float(rng.choice([49, 79, 99, 129, 149, 199, 249, 299, 399, 499]))
        article = article_entity(number, description, vat=vat, ean=_ean(rng),
                                 purchase_price=round(price * 0.45, 2))
        company.put("articles", number, article)
        company.stock[(number, "LAGER1")] = [float(rng.randint(0, 150)), 0.0]
        _price(company, "A", number, 0, price)
        _price(company, "B", number, 0, round(price * 0.8, 2))
        if index % 3 == 0:
            _price(company, "A", number, 10, round(price * 0.9, 2))
            _price(company, "B", number, 10, round(price * 0.72, 2))
    for offset, (description, vat) in enumerate([("Montering", 25), ("Presentinslagning", 25),
                                                  ("Frakt", 25), ("Expeditionsavgift", 25)]):
        number = f"S{offset + 1:03d}"
        company.put("articles", number, article_entity(number, description, vat=vat, stock_goods=False,
                                                       article_type="SERVICE", unit="st"))
        _price(company, "A", number, 0, float(rng.choice([29, 49, 99])))
    refresh_article_stock(company)


def _price(company: Company, price_list: str, article: str, from_quantity: float, price: float) -> None:
    company.put("prices", price_key(price_list, article, from_quantity), {
        "ArticleNumber": article, "Date": company.clock.stamp(),
        "FromQuantity": from_quantity, "Percent": 0, "Price": price, "PriceList": price_list,
    })


def customer_entity(number: str, name: str, **fields: Any) -> dict[str, Any]:
    """A full Customer as Fortnox returns it (field set and null/"" defaults from recordings)."""
    customer: dict[str, Any] = {
        "Address1": None, "Address2": None, "City": None, "Country": None, "Comments": None, "Currency": "SEK",
        "CostCenter": None, "CountryCode": None, "Active": True, "CustomerNumber": number,
        "DefaultDeliveryTypes": {"Invoice": "PRINT", "Order": "PRINT", "Offer": "PRINT"},
        "DefaultTemplates": {"Order": "DEFAULTTEMPLATE", "Offer": "DEFAULTTEMPLATE", "Invoice": "DEFAULTTEMPLATE",
                             "CashInvoice": "DEFAULTTEMPLATE"},
        "DeliveryAddress1": None, "DeliveryAddress2": None, "DeliveryCity": None, "DeliveryCountry": None,
        "DeliveryCountryCode": None, "DeliveryFax": None, "DeliveryName": None, "DeliveryPhone1": None,
        "DeliveryPhone2": None, "DeliveryZipCode": None, "Email": "", "EmailInvoice": "", "EmailInvoiceBCC": "",
        "EmailInvoiceCC": "", "EmailOffer": "", "EmailOfferBCC": "", "EmailOfferCC": "", "EmailOrder": "",
        "EmailOrderBCC": "", "EmailOrderCC": "", "ExternalReference": None, "Fax": None, "GLN": None,
        "GLNDelivery": None, "InvoiceAdministrationFee": None, "InvoiceDiscount": None, "InvoiceFreight": None,
        "InvoiceRemark": "", "Name": name, "OrganisationNumber": "", "OurReference": "", "Phone1": None,
        "Phone2": None, "PriceList": "A", "Project": "", "SalesAccount": None, "ShowPriceVATIncluded": False,
        "TermsOfDelivery": "", "TermsOfPayment": "", "Type": "COMPANY", "VATNumber": "", "VATType": "SEVAT",
        "VisitingAddress": None, "VisitingCity": None, "VisitingCountry": None, "VisitingCountryCode": None,
        "VisitingZipCode": None, "WayOfDelivery": "", "WWW": "", "YourReference": "", "ZipCode": None,
    }
    customer.update(fields)
    return customer


def _customers(company: Company, rng: random.Random) -> None:
    for index in range(1, 16):
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        city, zipcode = rng.choice(_CITIES)
        private = index % 3 != 0
        name = f"{first} {last}" if private else f"{last} {rng.choice(['Bygg', 'Handel', 'Design'])} AB"
        email = f"{first}.{last}{index}@example.se".lower().replace("ö", "o").replace("å", "a").replace("ä", "a")
        org = (f"19{rng.randint(50, 99)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}-{rng.randint(1000, 9999)}"
               if private else f"55{rng.randint(1000, 9999)}-{rng.randint(1000, 9999)}")
        company.put("customers", str(index), customer_entity(
            str(index), name, Address1=f"{rng.choice(['Storgatan', 'Kungsgatan', 'Sveavägen'])} {index}",
            City=city, ZipCode=zipcode, CountryCode="SE", Country="Sverige", Email=email, EmailInvoice=email,
            OrganisationNumber=org, Type="PRIVATE" if private else "COMPANY", Phone1=f"070-{rng.randint(1000000, 9999999)}",
            PriceList="A" if private else "B", TermsOfPayment="30" if not private else "",
        ))
    company.put("customers", "16", customer_entity(
        "16", "Müller Handels GmbH", Address1="Hauptstraße 5", City="Berlin", ZipCode="10115", CountryCode="DE",
        Country="Tyskland", Email="einkauf@mueller.example.de", OrganisationNumber="HRB 12345",
        VATNumber="DE123456788", VATType="EUREVERSEDVAT", Currency="EUR", PriceList="B"))
    company.put("customers", "17", customer_entity(
        "17", "Nordmann AS", Address1="Karl Johans gate 1", City="Oslo", ZipCode="0154", CountryCode="NO",
        Country="Norge", Email="post@nordmann.example.no", OrganisationNumber="987654321", VATType="EXPORT",
        Currency="NOK"))
