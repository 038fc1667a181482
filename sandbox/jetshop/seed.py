"""Deterministic demo data for the Jetshop sandbox: shops, channels, statuses, articles and orders.

Everything derives from a seed number. ``AWKWARD_KINDS`` names the awkward orders seeded into the
demo shop (each order carries its kind, see ``JetshopSandbox.awkward_orders``); ``ordinary_order``
builds plain orders for volume tests and benchmarks.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

D = Decimal
SEED_EPOCH = datetime(2026, 11, 2, 8, 0, 0)  # shop-local; orders are spread forward from here

PL_SE = "7C7DFEC3-2312-4DC9-A74F-913F3DA0C686"
PL_NO = "0036268D-6D49-4A21-B0A2-3C12AF44FB14"
PL_B2B = "F2585A2D-452F-45EB-9CB1-9080134CE0C9"
PL_EU = "5E1B7C1A-9A57-4F1E-9C55-3E0B2D1E7A44"
PL_NORDIC_SE = "2B9C55A0-0F0E-4C3B-8E11-6A2F6B7D1C10"
PL_NORDIC_FI = "9D04E5F7-3C1A-4B0E-A2D8-77C1E0B4F3A2"


@dataclass
class ShopSpec:
    shop_id: str
    name: str
    login: str
    password: str
    cultures: list[str]
    channels: list[dict[str, Any]]
    statuses: list[dict[str, Any]]
    stock_statuses: dict[int, dict[str, str]]
    default_stock_status: int = 1
    timezone: str = "Europe/Stockholm"
    order_id_start: int = 10000
    price_lists: list[str] = field(default_factory=list)


STOCK_STATUSES = {
    1: {"sv-SE": "I lager", "nb-NO": "På lager", "en-GB": "In stock", "fi-FI": "Varastossa"},
    2: {"sv-SE": "Slut i lager", "nb-NO": "Utsolgt", "en-GB": "Out of stock", "fi-FI": "Loppu"},
    3: {"sv-SE": "Beställningsvara", "nb-NO": "Bestillingsvare", "en-GB": "Made to order", "fi-FI": "Tilaustuote"},
    9: {"sv-SE": "Kommer datum", "nb-NO": "Kommer dato", "en-GB": "Arriving", "fi-FI": "Saapuu"},
}


def _status(sid: int, sv: str, nb: str, en: str, *, capture: bool = False, cancelled: bool = False) -> dict[str, Any]:
    return {"id": sid, "names": {"sv-SE": sv, "nb-NO": nb, "en-GB": en, "fi-FI": en},
            "captures": capture, "cancelled": cancelled, "sort": sid}


def shop_specs() -> list[ShopSpec]:
    """Two shops with their own logins, channels, price lists and (different) status ids."""
    demo = ShopSpec(
        shop_id="demoshop", name="Demo Shop AB", login="jetfort-demo", password="demo-secret",
        cultures=["sv-SE", "nb-NO", "en-GB"],
        channels=[
            {"ChannelId": 1, "Name": "Sverige", "Culture": "sv-SE", "CurrencyCode": "SEK", "CountryCode": "SE",
             "PriceListId": PL_SE, "IsDefault": True},
            {"ChannelId": 2, "Name": "Norge", "Culture": "nb-NO", "CurrencyCode": "NOK", "CountryCode": "NO",
             "PriceListId": PL_NO, "IsDefault": False},
            {"ChannelId": 3, "Name": "Företag", "Culture": "sv-SE", "CurrencyCode": "SEK", "CountryCode": "SE",
             "PriceListId": PL_B2B, "IsDefault": False},
            {"ChannelId": 4, "Name": "Europe", "Culture": "en-GB", "CurrencyCode": "EUR", "CountryCode": "DE",
             "PriceListId": PL_EU, "IsDefault": False},
        ],
        statuses=[
            _status(1, "Ny", "Ny", "New"),
            _status(2, "Behandlas", "Behandles", "Processing"),
            _status(3, "Skickad", "Sendt", "Delivered", capture=True),
            _status(4, "Makulerad", "Kansellert", "Cancelled", cancelled=True),
            _status(5, "Väntar på betalning", "Venter på betaling", "Awaiting payment"),
            _status(6, "Överförd till ekonomi", "Overført til økonomi", "Transferred to ERP"),
            _status(7, "Delvis skickad", "Delvis sendt", "Partly delivered"),
            _status(8, "Returnerad", "Returnert", "Returned"),
        ],
        stock_statuses=STOCK_STATUSES, price_lists=[PL_SE, PL_NO, PL_B2B, PL_EU], order_id_start=10000,
    )
    nordic = ShopSpec(
        shop_id="nordicshop", name="Nordic Outdoor Oy", login="jetfort-nordic", password="nordic-secret",
        cultures=["sv-SE", "fi-FI"],
        channels=[
            {"ChannelId": 1, "Name": "Sverige", "Culture": "sv-SE", "CurrencyCode": "SEK", "CountryCode": "SE",
             "PriceListId": PL_NORDIC_SE, "IsDefault": True},
            {"ChannelId": 2, "Name": "Suomi", "Culture": "fi-FI", "CurrencyCode": "EUR", "CountryCode": "FI",
             "PriceListId": PL_NORDIC_FI, "IsDefault": False},
        ],
        statuses=[
            _status(10, "Ny order", "Ny ordre", "New order"),
            _status(20, "Plockas", "Plukkes", "Picking"),
            _status(30, "Levererad", "Levert", "Delivered", capture=True),
            _status(40, "Annullerad", "Annullert", "Cancelled", cancelled=True),
            _status(50, "Exporterad", "Eksportert", "Exported"),
        ],
        stock_statuses=STOCK_STATUSES, price_lists=[PL_NORDIC_SE, PL_NORDIC_FI], order_id_start=10000,
    )
    return [demo, nordic]


# Articles: number, sv name, nb name, VAT fraction, SEK incl. VAT, stock, parent, variant text.
# Numbers and VAT rates line up with sandbox/fortnox/seed.py (1001-1010 at 25 %, 1011-1015 at 12 %,
# 1016-1019 at 6 %), so shop order rows find their Fortnox article. The variants 1003-1005 of the
# parent 1002 are articles of their own, as in Jetshop; the gift card has no Fortnox article.
# Other registers can be mirrored with JetshopSandbox.seed_articles / POST /_sandbox/shops/{id}/articles.
ARTICLES: list[tuple[str, str, str, str, str, int, str | None, str]] = [
    ("1001", "T-shirt bomull", "T-skjorte bomull", "0.25", "249.00", 120, None, ""),
    ("1002", "Huvtröja", "Hettegenser", "0.25", "599.00", 0, None, ""),
    ("1003", "Huvtröja", "Hettegenser", "0.25", "599.00", 14, "1002", "S"),
    ("1004", "Huvtröja", "Hettegenser", "0.25", "599.00", 22, "1002", "M"),
    ("1005", "Huvtröja", "Hettegenser", "0.25", "599.00", 0, "1002", "L"),
    ("1011", "Kaffe mörkrost 500 g", "Kaffe mørkbrent 500 g", "0.12", "89.00", 300, None, ""),
    ("1012", "Te Earl Grey 100 g", "Te Earl Grey 100 g", "0.12", "59.00", 150, None, ""),
    ("1016", "Kokbok", "Kokebok", "0.06", "199.00", 40, None, ""),
    ("1017", "Tidskrift nr 4", "Tidsskrift nr 4", "0.06", "49.00", 75, None, ""),
    ("GIFT-500", "Presentkort 500 kr", "Gavekort 500 kr", "0", "500.00", 9999, None, ""),
    ("1006", "Mugg stengods", "Krus steingods", "0.25", "129.00", 60, None, ""),
    ("1007", "Tygkasse", "Handlenett", "0.25", "79.00", 500, None, ""),
    ("1008", "Gratis provpåse", "Gratis prøvepose", "0.25", "0.00", 1000, None, ""),
]
# dynamic field keys configured on template 1 (others, e.g. "b2c_mp", fail per item as observed)
DYNAMIC_FIELD_KEYS = ("atr_colour", "atr_height", "atr_material")
NOK_PER_SEK = D("1.0125")
EUR_RATE = D("11.4523")  # SEK per EUR
NOK_RATE = D("0.9876")  # SEK per NOK


def article_price(article_number: str) -> tuple[Decimal, Decimal]:
    """(VAT fraction, SEK price incl. VAT) of a catalog article."""
    for number, _sv, _nb, vat, price, *_ in ARTICLES:
        if number == article_number:
            return D(vat), D(price)
    raise KeyError(article_number)


def q4(value: Decimal) -> Decimal:
    return value.quantize(D("0.0001"), rounding=ROUND_HALF_UP)


def q2(value: Decimal) -> Decimal:
    return value.quantize(D("0.01"), rounding=ROUND_HALF_UP)


# --------------------------------------------------------------------------------------- orders

FIRST = ["Anna", "Erik", "Maria", "Lars", "Karin", "Johan", "Sara", "Per", "Emma", "Nils", "Ingrid", "Olof"]
LAST = ["Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Olsson", "Persson", "Lindqvist"]
STREETS = ["Storgatan", "Kungsgatan", "Drottninggatan", "Skolvägen", "Björkvägen", "Sjögatan"]
CITIES = [("11122", "Stockholm"), ("41103", "Göteborg"), ("21119", "Malmö"), ("75310", "Uppsala"),
          ("90325", "Umeå"), ("58223", "Linköping")]


def person(rng: random.Random, country: str = "SE") -> dict[str, str]:
    zip_code, city = rng.choice(CITIES)
    return {"FirstName": rng.choice(FIRST), "LastName": rng.choice(LAST),
            "Address": f"{rng.choice(STREETS)} {rng.randint(1, 120)}", "Co": "", "ZipCode": zip_code,
            "City": city, "CountryCode": country, "Phone": "", "MobilePhone": f"070-{rng.randint(1000000, 9999999)}",
            "Company": ""}


def row(article: str | None, qty: int | Decimal, unit: Decimal | str | None = None, *, vat: str | None = None,
        name: str | None = None, discount: str = "0", item_type: str = "Product", att: str = "",
        product_id: int | None = None) -> dict[str, Any]:
    """An order row; unit price and VAT default to the catalog's SEK price."""
    if article and (unit is None or vat is None):
        cat_vat, cat_price = article_price(article)
        unit = cat_price if unit is None else unit
        vat = str(cat_vat) if vat is None else vat
    return {"ArticleNumber": article or "", "ProductId": product_id, "Name": name or _name(article),
            "AttValue": att, "ItemType": item_type, "Quantity": qty, "UnitPriceIncVat": D(str(unit)),
            "Vat": D(vat or "0.25"), "DiscountIncVat": D(discount)}


def _variant_text(article: str) -> str:
    return next((a[7] for a in ARTICLES if a[0] == article), "")


def _name(article: str | None) -> str:
    for number, sv, *_ in ARTICLES:
        if number == article:
            return sv
    return "Artikel"


@dataclass
class OrderSpec:
    """Inputs of one order; ``build_order`` computes unit ex-VAT prices and totals like the shop does."""

    rows: list[dict[str, Any]]
    bill: dict[str, str]
    ship: dict[str, str] | None = None
    email: str = "kund@example.se"
    customer_id: int | None = None
    company_name: str = ""
    org_number: str = ""
    vat_number: str = ""
    channel_id: int = 1
    status_id: int = 1
    freight: str = "49.00"
    freight_vat: str = "0.25"
    delivery_method: str = "PostNord Ombud"
    payment_method: str = "Klarna Checkout"
    payment_provider: str = "Klarna"
    payment_fee: str = "0"
    payment_fee_vat: str = "0.25"
    payment_status: str = "Authorized"
    order_discount: str = "0"
    discount_code: str = ""
    comment: str = ""
    authorized: str | None = None  # default: the order total


def build_order(shop: Any, spec: OrderSpec, *, order_id: int, order_date: datetime, kind: str) -> dict[str, Any]:
    """An OrderData dict (element names as in the WSDL) plus private ``_`` keys for the sandbox."""
    channel = next(c for c in shop.channels if c["ChannelId"] == spec.channel_id)
    currency = channel["CurrencyCode"]
    rate = {"SEK": D(1), "EUR": EUR_RATE, "NOK": NOK_RATE}.get(currency, D(1))
    items, rows_total, vat_total = [], D(0), D(0)
    by_rate: dict[Decimal, Decimal] = {}
    for i, r in enumerate(spec.rows, start=1):
        unit_inc, vat = r["UnitPriceIncVat"], r["Vat"]
        total = q4(unit_inc * r["Quantity"] - r["DiscountIncVat"])
        art = shop.products.get(r["ArticleNumber"]) if r["ArticleNumber"] else None
        items.append({**r, "RowId": i, "UnitPriceExVat": q4(unit_inc / (1 + vat)), "RowTotalIncVat": total,
                      "ProductId": r["ProductId"] if r["ProductId"] is not None else (art["ProductId"] if art else None)})
        rows_total += total
        vat_total += total * vat / (1 + vat)
        if total > 0:
            by_rate[vat] = by_rate.get(vat, D(0)) + total
    order_discount = D(spec.order_discount)
    positive = sum(by_rate.values(), D(0))
    if order_discount and positive:
        for vat, amount in by_rate.items():  # the discount carries the VAT mix of the goods it reduces
            vat_total -= order_discount * (amount / positive) * vat / (1 + vat)
    freight, fvat = D(spec.freight), D(spec.freight_vat)
    fee, fee_vat = D(spec.payment_fee), D(spec.payment_fee_vat)
    vat_total += freight * fvat / (1 + fvat) + fee * fee_vat / (1 + fee_vat)
    total_inc = q2(rows_total + freight + fee - order_discount)
    vat_total = q2(vat_total)
    authorized = D(spec.authorized) if spec.authorized is not None else max(total_inc, D(0))
    captured = authorized if spec.payment_status == "Captured" else D(0)
    ship = spec.ship or spec.bill
    order = {
        "OrderId": order_id, "OrderNumber": str(order_id), "OrderDate": order_date, "ModifiedDate": order_date,
        "OrderStatusId": spec.status_id, "ChannelId": spec.channel_id, "Culture": channel["Culture"],
        "CurrencyCode": currency, "CurrencyRate": rate, "CustomerId": spec.customer_id, "Email": spec.email,
        "CompanyName": spec.company_name, "OrgNumber": spec.org_number, "VatNumber": spec.vat_number,
        **{"BillTo" + k: v for k, v in spec.bill.items()}, **{"ShipTo" + k: v for k, v in ship.items()},
        "DeliveryMethod": spec.delivery_method, "FreightPriceIncVat": freight, "FreightVat": fvat,
        "PaymentMethod": spec.payment_method, "PaymentProvider": spec.payment_provider,
        "PaymentFeeIncVat": fee, "PaymentFeeVat": fee_vat,
        "PaymentTransactionId": f"{spec.payment_provider[:3].upper()}-{shop.shop_id[:4].upper()}-{order_id}",
        "PaymentStatus": spec.payment_status, "AuthorizedAmount": authorized, "CapturedAmount": captured,
        "DiscountCode": spec.discount_code, "OrderDiscountIncVat": order_discount,
        "OrderTotalIncVat": total_inc, "OrderTotalExVat": total_inc - vat_total, "VatTotal": vat_total,
        "TrackingNumber": "", "TrackingUrl": "", "Comment": spec.comment, "OrderItems": items,
        "_kind": kind,
    }
    if spec.payment_status == "Captured":
        order["_capture"] = {"capture_id": f"CAP-SEED-{order_id}", "amount": captured, "source": "seed"}
    return order


def _addr(first: str, last: str, street: str, zip_code: str, city: str, country: str, *, company: str = "",
          co: str = "", phone: str = "", mobile: str = "") -> dict[str, str]:
    return {"Company": company, "FirstName": first, "LastName": last, "Address": street, "Co": co,
            "ZipCode": zip_code, "City": city, "CountryCode": country, "Phone": phone, "MobilePhone": mobile}


SE = _addr("Anna", "Svensson", "Storgatan 1", "11122", "Stockholm", "SE", mobile="070-1234567")
LONG = "Långnamnsson-" * 20


def _awkward(rng: random.Random) -> dict[str, Callable[[], OrderSpec]]:
    """kind -> spec factory. Each kind is one way real orders break naive integrations."""
    p = lambda country="SE": person(rng, country)  # noqa: E731
    return {
        "plain_single_row": lambda: OrderSpec([row("1001", 1)], p()),
        "mixed_vat_25_12_6_0": lambda: OrderSpec(
            [row("1001", 1), row("1011", 2), row("1016", 1), row("GIFT-500", 1, item_type="GiftCard")], p()),
        "vat_12_only": lambda: OrderSpec([row("1011", 3), row("1012", 2)], p(), freight="29.00", freight_vat="0.12"),
        "vat_6_only": lambda: OrderSpec([row("1016", 1), row("1017", 4)], p(), freight="0"),
        "vat_0_export_non_eu": lambda: OrderSpec(
            [row("1001", 2, "199.20", vat="0"), row("1006", 1, "103.20", vat="0")],
            _addr("John", "Smith", "5th Avenue 100", "10001", "New York", "US", phone="+1 212 555 0100"),
            freight="150.00", freight_vat="0", delivery_method="DHL Express"),
        "row_discount": lambda: OrderSpec([row("1001", 2, discount="49.80"), row("1006", 1)], p()),
        "order_discount_code": lambda: OrderSpec(
            [row("1001", 1), row("1011", 2), row("1016", 1)], p(), order_discount="100.00", discount_code="HÖST100"),
        "row_and_order_discount": lambda: OrderSpec(
            [row("1004", 1, att="M", discount="100.00"), row("1007", 3)], p(), order_discount="50.00",
            discount_code="VIP50"),
        "free_freight": lambda: OrderSpec([row("1005", 1, att="L")], p(), freight="0",
                                          delivery_method="Fri frakt"),
        "paid_freight_mixed_vat": lambda: OrderSpec([row("1001", 1), row("1011", 1)], p(), freight="79.00"),
        "payment_fee": lambda: OrderSpec([row("1006", 2)], p(), payment_method="Klarna Faktura",
                                         payment_fee="29.00"),
        "currency_eur_eu_consumer": lambda: OrderSpec(
            [row("1001", 1, "21.90"), row("1011", 1, "8.50", vat="0.12")],
            _addr("Lukas", "Müller", "Hauptstraße 5", "10115", "Berlin", "DE"), channel_id=4,
            freight="5.90", email="lukas@example.de"),
        "currency_nok_non_eu": lambda: OrderSpec(
            [row("1001", 1, "252.00"), row("1016", 1, "201.00", vat="0.06")],
            _addr("Kari", "Nordmann", "Karl Johans gate 1", "0154", "Oslo", "NO"), channel_id=2,
            freight="69.00", email="kari@example.no", payment_provider="DIBS", payment_method="Nets Easy"),
        "company_buyer_se": lambda: OrderSpec(
            [row("1006", 24), row("1007", 50)],
            _addr("Per", "Inköpare", "Industrivägen 12", "17148", "Solna", "SE", company="Bygg & Co AB"),
            company_name="Bygg & Co AB", org_number="556677-8899", vat_number="SE556677889901", channel_id=3,
            customer_id=7001, email="inkop@byggco.se", payment_provider="Invoice", payment_method="Faktura 30 dagar"),
        "company_buyer_eu_reverse_charge": lambda: OrderSpec(
            [row("1001", 10, "15.94", vat="0"), row("1006", 10, "8.26", vat="0")],
            _addr("Jan", "de Vries", "Keizersgracht 10", "1015 CJ", "Amsterdam", "NL", company="Tulip Trading B.V."),
            company_name="Tulip Trading B.V.", vat_number="NL123456782B01", channel_id=4, freight="12.00",
            freight_vat="0", email="orders@tulip.example.nl", payment_provider="Card", payment_method="Kort"),
        "eu_address_sek": lambda: OrderSpec(
            [row("1001", 1)], _addr("Aino", "Virtanen", "Mannerheimintie 3", "00100", "Helsinki", "FI")),
        "non_eu_address_ch": lambda: OrderSpec(
            [row("1016", 2, "187.74", vat="0")],
            _addr("Lea", "Keller", "Bahnhofstrasse 1", "8001", "Zürich", "CH"), freight="120.00", freight_vat="0"),
        "separate_billing_delivery": lambda: OrderSpec(
            [row("1006", 1)], SE, ship=_addr("Bo", "Ek", "Sjövägen 4", "13140", "Nacka", "SE", co="c/o Lund")),
        "very_long_names": lambda: OrderSpec(
            [row("1001", 1, name="T-shirt " + "extra lång beskrivning " * 12)],
            _addr(LONG, LONG, "Väldigt långa gatan " * 10 + "1", "11122", "Stockholm", "SE", company=LONG),
            company_name=LONG, comment="x" * 1000),
        "non_latin_text": lambda: OrderSpec(
            [row("1001", 1, name="Футболка 東京 μπλουζάκι")],
            _addr("Алексей", "Иванов", "ул. Тверская 7", "125009", "Москва", "RU"), freight_vat="0",
            ship=_addr("太郎", "山田", "千代田区 1-1", "100-0001", "東京", "JP"), email="алексей@example.ru"),
        "xml_special_chars": lambda: OrderSpec(
            [row("1007", 1, name='Kasse <"Röd"> & blå \'special\'')],
            _addr("Åsa", "Öberg & Ärlig", "Ängsvägen <1>", "11122", "Stockholm", "SE", company="A&B <AB>"),
            comment="Ring på dörren & lämna <paketet> ✓ 🎁"),
        "zero_price_row": lambda: OrderSpec([row("1001", 1), row("1008", 1, "0")], p()),
        "gift_card_purchase": lambda: OrderSpec(
            [row("GIFT-500", 2, item_type="GiftCard")], p(), freight="0", delivery_method="E-post"),
        "gift_card_redeemed_row": lambda: OrderSpec(
            [row("1003", 1, att="S"), row(None, 1, "-200.00", vat="0", name="Presentkort 4001-XYZ",
                                            item_type="GiftCard")], p()),
        "missing_article_number": lambda: OrderSpec(
            [row("1001", 1), row(None, 1, "99.00", vat="0.25", name="Specialbeställning utan artikelnummer")], p()),
        "negative_quantity": lambda: OrderSpec([row("1001", 2), row("1006", -1)], p()),
        "unknown_status_id": lambda: OrderSpec([row("1012", 1)], p(), status_id=99),
        "cancelled_order": lambda: OrderSpec([row("1006", 1)], p(), status_id=4),
        "already_captured": lambda: OrderSpec([row("1001", 1)], p(), payment_status="Captured"),
        "invoice_payment_not_capturable": lambda: OrderSpec(
            [row("1016", 1)], p(), payment_provider="Invoice", payment_method="Faktura"),
        "swish_payment": lambda: OrderSpec([row("1011", 1)], p(), payment_provider="Swish", payment_method="Swish",
                                           payment_status="Paid"),
        "card_payment": lambda: OrderSpec([row("1001", 1)], p(), payment_provider="Card",
                                          payment_method="Kortbetalning"),
        "dibs_payment": lambda: OrderSpec([row("1006", 3)], p(), payment_provider="DIBS",
                                          payment_method="DIBS/Nets Easy"),
        "many_rows": lambda: OrderSpec(
            [row(a, (i % 3) + 1) for i, a in enumerate(["1001", "1011", "1012", "1016", "1017", "1006", "1007"] * 8)],
            p()),
        "large_amounts": lambda: OrderSpec([row("1001", 5000, "2499.99")], p(), authorized=None),
        "rounding_edge": lambda: OrderSpec(
            [row("1001", 3, "33.3333"), row("1011", 7, "12.4567", vat="0.12")], p(), freight="19.99"),
        "variant_rows": lambda: OrderSpec(
            [row("1003", 1, att="S"), row("1004", 2, att="M")], p()),
        "duplicate_article_rows": lambda: OrderSpec([row("1001", 1), row("1001", 2)], p()),
        "missing_email": lambda: OrderSpec([row("1007", 1)], p(), email=""),
        "empty_optional_fields": lambda: OrderSpec(
            [row("1007", 1)], _addr("", "Enbart Efternamn", "Box 12", "11122", "Stockholm", "SE"), email="a@b.se"),
        "authorized_below_total": lambda: OrderSpec([row("1001", 2)], p(), authorized="249.00"),
        # goods sold by weight and by length: decimal quantities (1.5 kg of coffee, 0.25 m of fabric)
        "decimal_quantity_1_5_kg": lambda: OrderSpec(
            [row("1011", D("1.5"), "179.00", name="Kaffe mörkrost, lösvikt per kg"), row("1001", 1)], p()),
        "decimal_quantity_0_25_m": lambda: OrderSpec(
            [row("1007", D("0.25"), "119.90", name="Bomullstyg, metervara"), row("1006", 1)], p(),
            freight="29.00"),
    }


AWKWARD_KINDS: tuple[str, ...] = tuple(_awkward(random.Random(0)))


def awkward_specs(seed: int) -> list[tuple[str, OrderSpec]]:
    rng = random.Random(seed * 7919 + 1)
    return [(kind, factory()) for kind, factory in _awkward(rng).items()]


def ordinary_spec(rng: random.Random, shop: Any, *, status_id: int | None = None) -> OrderSpec:
    """A plain, valid order: 1-4 catalog rows, SEK, PSP payment."""
    numbers = [a for a in ("1001", "1003", "1004", "1011", "1012", "1016", "1017", "1006", "1007")
               if a in shop.products] or ["1001"]
    rows = []
    for article in rng.sample(numbers, k=min(len(numbers), rng.randint(1, 4))):
        rows.append(row(article, rng.randint(1, 3), att=_variant_text(article)))
    provider, method = rng.choice([("Klarna", "Klarna Checkout"), ("DIBS", "DIBS/Nets Easy"), ("Card", "Kort")])
    default_channel = next(c["ChannelId"] for c in shop.channels if c["IsDefault"])
    first_status = status_id if status_id is not None else shop.first_status_id
    return OrderSpec(rows, person(rng), email=f"kund{rng.randint(1, 99999)}@example.se",
                     freight=rng.choice(["0", "49.00", "79.00"]), payment_provider=provider, payment_method=method,
                     channel_id=default_channel, status_id=first_status)


def order_dates(base: datetime, index: int) -> datetime:
    return base + timedelta(minutes=37 * index, seconds=(index * 13) % 60, microseconds=(index % 7) * 10000)
