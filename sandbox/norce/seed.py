"""Deterministic demo data of the Norce sandbox: credentials, lookups and ~20 orders.

Article numbers and prices (incl. VAT, SEK) are the Jetshop sandbox's, so order rows find the same
Fortnox articles. Orders are built from plain specs (:func:`order_from_spec`), the same format the
``POST /_sandbox/orders`` admin route takes, so seeded and added orders go through one path.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sandbox.jetshop.seed import ARTICLES
from sandbox.norce.orders import FOUR, ORDER_STATUSES, Line, Order, Party, Payment

CLIENT_ID = "jetfort-demo"
CLIENT_SECRET = "norce-demo-secret"  # a public demo credential of the sandbox
SLUG = "demoshop"
ENVIRONMENT = "stage"
APPLICATION_ID = 1244
ACCOUNT_ID = 17
NORCE_CLIENT_ID = 1033  # the tenant's ClientId in Query rows
FIRST_ORDER_ID = 5001
FIRST_REF = 100101
FIRST_ITEM_ID = 70001
DEFAULT_BASE_TIME = datetime(2025, 6, 12, 12, 0, tzinfo=UTC)

CURRENCIES: list[dict[str, Any]] = [{"Id": 1, "Code": "SEK", "Name": "Svensk krona", "Prefix": None, "Suffix": "kr"},
              {"Id": 2, "Code": "EUR", "Name": "Euro", "Prefix": "€", "Suffix": None},
              {"Id": 3, "Code": "NOK", "Name": "Norsk krone", "Prefix": None, "Suffix": "kr"},
              {"Id": 4, "Code": "DKK", "Name": "Dansk krone", "Prefix": None, "Suffix": "kr"}]
COUNTRIES: list[dict[str, Any]] = [{"Id": 1, "Code": "SE", "Code3": "SWE", "Name": "Sverige"},
             {"Id": 2, "Code": "NO", "Code3": "NOR", "Name": "Norge"},
             {"Id": 3, "Code": "DK", "Code3": "DNK", "Name": "Danmark"},
             {"Id": 4, "Code": "FI", "Code3": "FIN", "Name": "Suomi"},
             {"Id": 5, "Code": "DE", "Code3": "DEU", "Name": "Deutschland"}]
PAYMENT_METHODS: list[dict[str, Any]] = [{"Id": 1, "Code": "KLARNA", "Name": "Klarna Checkout", "PaymentServiceId": 10},
                   {"Id": 2, "Code": "ADYEN", "Name": "Adyen kort", "PaymentServiceId": 11},
                   {"Id": 3, "Code": "SWISH", "Name": "Swish", "PaymentServiceId": 12},
                   {"Id": 4, "Code": "INVOICE", "Name": "Faktura", "PaymentServiceId": None},
                   {"Id": 5, "Code": "GIFTCARD", "Name": "Presentkort", "PaymentServiceId": 13}]
PAYMENT_CODES = {m["Code"]: m["Id"] for m in PAYMENT_METHODS}
EUR_RATE = Decimal("11.4523")  # SEK per EUR, as the Jetshop sandbox
FREIGHT_PART_NO = "FREIGHT"


def country_id(code: str) -> int:
    return next(int(c["Id"]) for c in COUNTRIES if c["Code"] == code)


def currency_id(code: str) -> int:
    return next(int(c["Id"]) for c in CURRENCIES if c["Code"] == code)


def _article(part_no: str) -> tuple[str, Decimal, Decimal]:
    """(name, VAT percent, SEK incl. VAT) of a Jetshop-sandbox article."""
    for number, name, _nb, vat, price, *_ in ARTICLES:
        if number == part_no:
            return name, Decimal(vat) * 100, Decimal(price)
    raise KeyError(f"unknown article {part_no!r}; known: {[a[0] for a in ARTICLES]}")


def _ex_vat(inc: Decimal, rate: Decimal) -> Decimal:
    return (inc / (1 + rate / 100)).quantize(FOUR, rounding=ROUND_HALF_UP)


class Ids:
    """Counters for order ids, basket ids (ClientOrderRef), row ids and address ids."""

    def __init__(self) -> None:
        self.order = FIRST_ORDER_ID
        self.ref = FIRST_REF
        self.item = FIRST_ITEM_ID
        self.address = 30001

    def take(self, name: str) -> int:
        value: int = getattr(self, name)
        setattr(self, name, value + 1)
        return value


def _line(spec: dict[str, Any], line_no: int, currency: str, ids: Ids) -> Line:
    """A row from ``part_no``, ``qty`` and a price (``unit_price`` ex VAT, or ``price_inc_vat``, or catalog)."""
    part = str(spec["part_no"])
    name, rate, inc = _article(part) if part in {a[0] for a in ARTICLES} else (part, Decimal(25), Decimal(0))
    rate = Decimal(str(spec.get("vat_rate", rate)))
    if "price_inc_vat" in spec:
        inc = Decimal(str(spec["price_inc_vat"]))
    elif currency == "EUR" and "unit_price" not in spec:
        inc = (inc / EUR_RATE).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    unit = Decimal(str(spec["unit_price"])) if "unit_price" in spec else _ex_vat(inc, rate)
    original = Decimal(str(spec["unit_price_original"])) if "unit_price_original" in spec else unit
    if "discount_inc_vat" in spec:
        unit = _ex_vat(inc - Decimal(str(spec["discount_inc_vat"])), rate)
    return Line(item_id=ids.take("item"), line_no=line_no, part_no=part, name=str(spec.get("name", name)),
                qty=Decimal(str(spec.get("qty", 1))), unit_price=unit, unit_price_original=max(original, unit),
                vat_rate=rate, type=str(spec.get("type", "ErpStandard")),
                type_group=str(spec.get("type_group", "Physical")), uom=str(spec.get("uom", "st")),
                product_id=spec.get("product_id", 2000 + line_no if part.isdigit() else None))


def _party(spec: dict[str, Any] | None, ids: Ids) -> Party:
    spec = dict(spec or {})
    known = set(Party.__dataclass_fields__) - {"address_id"}
    unknown = set(spec) - known
    if unknown:
        raise KeyError(f"unknown party fields {sorted(unknown)}; known: {sorted(known)}")
    return Party(**spec, address_id=ids.take("address"))


def order_from_spec(spec: dict[str, Any], ids: Ids, now: datetime) -> Order:
    """Build an order from an admin/seed spec (see README.md for the fields)."""
    currency = str(spec.get("currency", "SEK"))
    lines = [_line(r, i + 1, currency, ids) for i, r in enumerate(spec.get("rows") or [])]
    if not lines:
        raise KeyError("an order needs at least one row in 'rows'")
    if spec.get("freight_inc_vat") is not None:
        lines.append(_line({"part_no": FREIGHT_PART_NO, "name": "Frakt", "price_inc_vat": spec["freight_inc_vat"],
                            "vat_rate": spec.get("freight_vat_rate", 25), "type": "Freight", "type_group": "Fee",
                            "product_id": None}, len(lines) + 1, currency, ids))
    buyer = _party(spec.get("buyer"), ids)
    ship_to = _party(spec.get("ship_to"), ids) if spec.get("ship_to") else _party(spec.get("buyer"), ids)
    pay = dict(spec.get("payment") or {})
    method = str(pay.get("method_code", "KLARNA"))
    order_date = spec.get("order_date") or now
    if isinstance(order_date, str):
        order_date = datetime.fromisoformat(order_date.replace("Z", "+00:00"))
    ref = str(spec["client_order_ref"]) if spec.get("client_order_ref") is not None else str(ids.take("ref"))
    order = Order(id=ids.take("order"), ref=ref, application_id=int(spec.get("application_id", APPLICATION_ID)),
                  client_id=NORCE_CLIENT_ID, currency=currency, order_date=order_date, created=order_date,
                  sell_to=buyer, bill_to=_party(spec.get("buyer"), ids), ship_to=ship_to, lines=lines, payments=[],
                  customer_order_ref=spec.get("customer_order_ref"), comment=spec.get("comment"),
                  discount_code=spec.get("discount_code"), kind=str(spec.get("kind", "added")))
    order.payments.append(Payment(code=PAYMENT_CODES.get(method, 1), method_code=method,
                                  ref=str(pay.get("ref", f"psp-{order.ref}")),
                                  amount=Decimal(str(pay["amount"])) if "amount" in pay else order.total_inc_vat,
                                  name=str(pay.get("name", "Card")), method_id=PAYMENT_CODES.get(method, 1)))
    status = spec.get("status_id", 0)
    order.status_id = ORDER_STATUSES[status] if isinstance(status, str) else int(status)
    for line in order.lines:
        line.status_id = order.status_id
    if spec.get("erp_order_no"):
        order.erp_order_no = str(spec["erp_order_no"])
    if order.status_id == 4:  # delivered: everything shipped
        for line in order.lines:
            line.shipped = line.qty
    if spec.get("updated"):
        order.updated = datetime.fromisoformat(str(spec["updated"]).replace("Z", "+00:00"))
    return order


ANNA = {"first_name": "Anna", "last_name": "Andersson", "email": "anna@example.se", "phone": "+46701234567",
        "line1": "Storgatan 1", "zip_code": "11122", "city": "Stockholm", "country": "SE"}
B2B = {"first_name": "Bertil", "last_name": "Berg", "email": "inkop@exempel.se", "phone": "+4687654321",
       "line1": "Industrivägen 7", "zip_code": "41250", "city": "Göteborg", "country": "SE",
       "company_name": "Exempel AB", "vat_no": "SE556677889901"}
AINO = {"first_name": "Aino", "last_name": "Virtanen", "email": "aino@example.fi", "phone": "+358401234567",
        "line1": "Mannerheimintie 5", "zip_code": "00100", "city": "Helsinki", "country": "FI"}


def special_specs(base: datetime) -> list[dict[str, Any]]:
    """The hand-made orders every test can rely on (refs 100101-100105)."""
    day = timedelta(days=1)
    return [
        {"kind": "b2c_freight", "rows": [{"part_no": "1001", "qty": 2}], "freight_inc_vat": "49.00",
         "buyer": ANNA, "order_date": base - 3 * day},
        {"kind": "decimal_quantity", "rows": [{"part_no": "1011", "qty": "1.5", "uom": "kg"}],
         "buyer": ANNA, "order_date": base - 2 * day, "status_id": 2, "erp_order_no": "9001",
         "updated": (base - day).isoformat()},
        {"kind": "b2b", "rows": [{"part_no": "1004", "qty": 3}, {"part_no": "1016", "qty": 1}],
         "freight_inc_vat": "99.00", "buyer": B2B, "customer_order_ref": "PO-4711",
         "payment": {"method_code": "ADYEN", "name": "Card"}, "order_date": base - 2 * day},
        {"kind": "eur", "currency": "EUR", "rows": [{"part_no": "1006", "qty": 2, "vat_rate": "25.5"}],
         "freight_inc_vat": "9.90", "freight_vat_rate": "25.5", "buyer": AINO, "order_date": base - day},
        {"kind": "discounted", "rows": [{"part_no": "1007", "qty": 4, "unit_price": "55.2000",
                                         "unit_price_original": "63.2000"}],
         "discount_code": "SOMMAR", "buyer": ANNA, "order_date": base - day + timedelta(hours=2)},
    ]


def ordinary_specs(seed: int, base: datetime, count: int) -> Iterator[dict[str, Any]]:
    """Plain orders spread over the last days (statuses Created/Confirmed/Delivered/Cancelled)."""
    rng = random.Random(seed)
    numbers = [a[0] for a in ARTICLES if a[0].isdigit() and Decimal(a[4]) > 0]
    statuses = [0, 0, 0, 2, 2, 4, 6]
    for i in range(count):
        when = base - timedelta(days=6) + timedelta(minutes=rng.randint(0, 6 * 24 * 60 - 60))
        status = rng.choice(statuses)
        spec: dict[str, Any] = {
            "kind": "ordinary", "order_date": when, "status_id": status, "buyer": ANNA,
            "rows": [{"part_no": p, "qty": rng.randint(1, 3)} for p in rng.sample(numbers, rng.randint(1, 3))]}
        if rng.random() < 0.5:
            spec["freight_inc_vat"] = "49.00"
        if status:
            spec["updated"] = min(when + timedelta(hours=rng.randint(1, 20)), base).isoformat()
            spec["erp_order_no"] = str(9100 + i)
        yield spec


def seed_orders(seed: int, base: datetime, ids: Ids, count: int = 15) -> list[Order]:
    """The five special orders, then ``count`` ordinary ones, in order-date order of creation."""
    specs = [*special_specs(base), *sorted(ordinary_specs(seed, base, count), key=lambda s: s["order_date"])]
    orders = []
    for spec in specs:
        order = order_from_spec(spec, ids, base)
        order.kind = spec["kind"]
        orders.append(order)
    return orders
