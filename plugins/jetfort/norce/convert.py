"""Norce order JSON → :class:`ShopOrder` (pure, no I/O): a pushed ``OrderRequest`` or a Query 2.0 order.

Reading is strict: a missing required value, a string or boolean where Norce sends a number, a NaN, a
fraction where a whole number belongs - each raises :class:`NorceUnreadableOrder` naming the JSON path
(``Items[3].UnitPrice``, ``ClientOrderRef``). JSON numbers are read as ``Decimal(str(x))``, never floats.

Rules (reference norce-api.md §2a/§2b; the choices where the reference is silent are marked *choice*):

* ``order_id`` = the basket id: ``ClientOrderRef`` (push) or ``QuotationId`` (Query), an int32 > 0.
  ``order_number`` = Query ``OrderNo`` when set, else the basket id as text (a push has no OrderNo).
* Push rows: quantity = ``Quantity2`` when set and non-zero, else ``Quantity`` (*choice*: a 0 in
  ``Quantity2`` beside a non-zero ``Quantity`` is the unused decimal column); unit price ex VAT =
  ``UnitPrice`` (after discounts), incl. VAT = ``UnitPrice + UnitVat``; row total incl. VAT =
  quantity x (UnitPrice + UnitVat); ``discount_inc_vat`` = 0 (the discount is already in the price);
  VAT rate = ``VatRate`` / 100; article number = ``ErpPartNo`` when set, else ``PartNo``.
* Query rows: quantity = ``QtyOrdered``; unit ex VAT = ``PriceSale``; row net = ``LineAmount``
  (else PriceSale x quantity); incl. VAT = net x (1 + rate) - unrounded, Query rows carry no VAT amount.
* Freight: push rows with ``Type`` ``Freight`` (the reference's TypeGroup ``Fee`` rows; any group) →
  ``freight_inc_vat``/``freight_vat_rate``; rows with TypeGroup ``Fee`` and Type ``Invoice`` → the
  payment (invoice) fee. Several such rows at the first one's VAT rate are summed; one at another rate
  stays an ordinary row (RowType.OTHER) so no amount moves between VAT rates. Other ``Fee``/``AddedFee``
  rows (insurance, environmental fees) → RowType.OTHER rows. *Choice*, Query: a row carrying
  ``Type``/``TypeGroup`` is classified the same way; otherwise the last row whose ``LineAmount`` equals
  the order's ``FreightCost`` (resp. ``OrderFee``) is the freight (resp. fee) row.
* ``GiftCertificate`` rows (a sold gift card) → RowType.GIFT_CARD. A gift-card *payment* (``Payments``
  entry named gift card/voucher/presentkort) becomes a GIFT_CARD row of -Amount at 0 % VAT (row id
  -(index+1)), as Jetshop reports a redeemed gift card; the order then totals what the PSP holds.
* Totals (OrderRequest has none): total_ex_vat = Σ net of every row incl. freight, fee and gift-card
  rows; total_inc_vat = Σ row totals incl. VAT; vat_total = total_inc_vat - total_ex_vat. Exact
  Decimal sums, no rounding (Fortnox's rounding is the mapping's job).
* Order-level ``Fees``/``Discounts`` with a non-zero amount are refused (whether their amount holds
  VAT is not documented): the order is unreadable rather than booked with a guessed VAT.
* Payments (push): ``PaymentRef`` = transaction id, ``Amount`` = authorised amount incl. VAT, status
  "Reserved"; provider from ``PaymentName``/``PaymentMethodCode`` (Klarna, DIBS/Nets, card, Swish,
  invoice). More than one non-gift-card payment is refused. Query orders carry no PSP reference and
  no payment amounts: Norce reserves the whole order at checkout (§2a), so a pulled order paid with a
  PSP method (Core/PaymentMethods) counts as reserved for its total, status "Reserved"; what was
  already captured is known to Norce by invoice number, which the backend looks up before capturing.
* Addresses: push from ``Person``/``Company``/``Address`` (``Line1``, ``Line2`` and ``Box`` joined by
  ", " into the street); billing = ``BillTo`` else ``SellTo``, delivery = ``ShipTo`` else billing;
  customer = ``SellTo`` else ``BillTo`` (``Company.Name`` → company name, ``VatNo`` → VAT number).
  Query ``Address`` entities have one ``Name``: it goes to ``first_name`` (``Attention`` then becomes the
  name and ``Name`` the company when the buyer is a company). Countries are ISO 3166-1 alpha-2.
* A pushed order's status is Created (0); its date is ``SubmitDate`` when sent, else ``received_at``.
  Date-times without an offset are read in the connection's time zone.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from jetfort.norce.errors import NorceUnreadableOrder
from jetfort.shop.models import Address, OrderRow, Payment, PaymentProvider, RowType, ShopCustomer, ShopOrder

ZERO = Decimal(0)
CENT = Decimal("0.01")
HUNDRED = Decimal(100)
INT32_MAX = 2**31 - 1
#: Norce ``OrderStatus`` (Connect enum = Query StatusId), reference §3.1
STATUS_NAMES: dict[int, str] = {
    0: "Created", 1: "Allocation", 2: "Confirmed", 3: "BackOrder", 4: "Delivered", 5: "Invoiced", 6: "Cancelled",
    7: "CreditControl", 8: "PartlyDelivered", 9: "Acknowledged", 10: "ErpConfirmed", 11: "ReadyForPickup",
    12: "PickedUp", 13: "NotPickedUp", 14: "OnHold", 15: "WaitingForCancel", 16: "WaitingForOnHoldRemoved",
    17: "CancelError", 18: "AcknowledgementError", 19: "ReadyForReservation", 20: "Reserved"}
ITEM_TYPES = frozenset({"Undefined", "ErpStandard", "Refurbished", "Freight", "Insurance", "GiftCertificate", "Bid",
                        "Download", "Structure", "Invoice"})
ITEM_TYPE_GROUPS = frozenset({"Undefined", "Physical", "Virtual", "Fee", "Service", "AddedFee"})
_PROVIDER_WORDS: tuple[tuple[PaymentProvider, tuple[str, ...]], ...] = (
    (PaymentProvider.GIFT_CARD, ("gift", "voucher", "presentkort")),
    (PaymentProvider.KLARNA, ("klarna",)),
    (PaymentProvider.DIBS, ("dibs", "nets")),
    (PaymentProvider.SWISH, ("swish",)),
    (PaymentProvider.CARD, ("card", "kort", "adyen", "stripe")),
    (PaymentProvider.INVOICE, ("invoice", "faktura")),
)
_COUNTRY = re.compile(r"^[A-Za-z]{2}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")


def provider_of(*names: str) -> PaymentProvider:
    """The payment provider a Norce payment name/method code speaks of (OTHER when none is recognised)."""
    text = " ".join(names).lower()
    for provider, words in _PROVIDER_WORDS:
        if any(word in text for word in words):
            return provider
    return PaymentProvider.OTHER


class _Reader:
    """Strict reads inside one order; every failure names the order and the JSON path."""

    def __init__(self) -> None:
        self.order_id: int | None = None
        self.order_number = ""

    def fail(self, path: str, value: Any, problem: str) -> NorceUnreadableOrder:
        text = None if value is None else (value if isinstance(value, str) else repr(value))
        return NorceUnreadableOrder(self.order_id, self.order_number, path, text, problem)

    def number(self, data: Mapping[str, Any], key: str, path: str, *, required: bool = False) -> Decimal | None:
        value = data.get(key)
        if value is None:
            if required:
                raise self.fail(path + key, None, "is required")
            return None
        if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
            raise self.fail(path + key, value, "is not a JSON number")
        if isinstance(value, float) and not math.isfinite(value):
            raise self.fail(path + key, value, "is not a finite number")
        number = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
        if not number.is_finite():
            raise self.fail(path + key, value, "is not a finite number")
        return number

    def money(self, data: Mapping[str, Any], key: str, path: str) -> Decimal:
        value = self.number(data, key, path, required=True)
        assert value is not None
        return value

    def int32(self, data: Mapping[str, Any], key: str, path: str, *, required: bool = False,
              digits_ok: bool = False) -> int | None:
        """A whole number in int32 range; ``digits_ok`` also takes digit text (OData keys may be strings)."""
        value = data.get(key)
        if value is None:
            if required:
                raise self.fail(path + key, None, "is required")
            return None
        if digits_ok and isinstance(value, str) and re.fullmatch(r"-?\d{1,10}", value.strip()):
            value = int(value)
        elif isinstance(value, Decimal | float) and not isinstance(value, bool):
            number = self.number(data, key, path)
            if number is None or number != number.to_integral_value():
                raise self.fail(path + key, value, "is not a whole number")
            value = int(number)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(path + key, value, "is not a whole number")
        if not -INT32_MAX - 1 <= value <= INT32_MAX:
            raise self.fail(path + key, value, "is outside the int32 range")
        return value

    def text(self, data: Mapping[str, Any], key: str, path: str) -> str:
        value = data.get(key)
        if value is None:
            return ""
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise self.fail(path + key, value, "is not text")
        return str(value).strip()

    def obj(self, data: Mapping[str, Any], key: str, path: str) -> Mapping[str, Any] | None:
        value = data.get(key)
        if value is not None and not isinstance(value, Mapping):
            raise self.fail(path + key, value, "is not a JSON object")
        return value

    def array(self, data: Mapping[str, Any], key: str, path: str) -> list[Mapping[str, Any]]:
        value = data.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.fail(path + key, value, "is not a JSON array")
        for index, entry in enumerate(value):
            if not isinstance(entry, Mapping):
                raise self.fail(f"{path}{key}[{index}]", entry, "is not a JSON object")
        return value

    def when(self, data: Mapping[str, Any], key: str, path: str, tz: ZoneInfo, *,
             required: bool = False) -> datetime | None:
        value = data.get(key)
        if value is None or value == "":
            if required:
                raise self.fail(path + key, None, "is required")
            return None
        if not isinstance(value, str):
            raise self.fail(path + key, value, "is not an ISO-8601 date-time")
        text = re.sub(r"(\.\d{6})\d+", r"\1", value.strip())  # .NET writes 7 fraction digits
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise self.fail(path + key, value, "is not an ISO-8601 date-time") from None
        return parsed.replace(tzinfo=tz) if parsed.tzinfo is None else parsed

    def basket_id(self, value: Any, path: str) -> int:
        """``ClientOrderRef``/``QuotationId``: the basket id, an int32 > 0 (Connect's status calls need it)."""
        text = value.strip() if isinstance(value, str) else value
        if isinstance(text, str) and re.fullmatch(r"\d{1,10}", text):
            text = int(text)
        if value is None:
            raise self.fail(path, None, "is required")
        if isinstance(text, bool) or not isinstance(text, int) or not 0 < text <= INT32_MAX:
            raise self.fail(path, value, "is not a basket id (a whole number from 1 to 2147483647)")
        return text

    def currency(self, value: str, path: str) -> str:
        if not _CURRENCY.match(value):
            raise self.fail(path, value or None, "is not an ISO 4217 currency code" if value else "is required")
        return value

    def country(self, value: str, path: str) -> str:
        if value and not _COUNTRY.match(value):
            raise self.fail(path, value, "is not an ISO 3166-1 alpha-2 country code")
        return value.upper()


@dataclass(frozen=True)
class _Line:
    """One row before freight and fees are pulled out: the row, its net amount and what it is."""

    row: OrderRow
    net: Decimal
    kind: str  # "row" | "freight" | "fee"


def _kind(r: _Reader, item: Mapping[str, Any], path: str) -> tuple[str, RowType]:
    item_type, group = r.text(item, "Type", path), r.text(item, "TypeGroup", path)
    if item_type and item_type not in ITEM_TYPES:
        raise r.fail(path + "Type", item.get("Type"), "is not a Norce order item type name")
    if group and group not in ITEM_TYPE_GROUPS:
        raise r.fail(path + "TypeGroup", item.get("TypeGroup"), "is not a Norce order item type group name")
    if item_type == "Freight":
        return "freight", RowType.OTHER
    if group == "Fee" and item_type == "Invoice":
        return "fee", RowType.OTHER
    if item_type == "GiftCertificate":
        return "row", RowType.GIFT_CARD
    if group in ("Fee", "AddedFee"):
        return "row", RowType.OTHER
    return "row", RowType.PRODUCT


def _request_line(r: _Reader, item: Mapping[str, Any], index: int) -> _Line:
    path = f"Items[{index}]."
    line_no = r.int32(item, "LineNo", path, required=True)
    assert line_no is not None
    quantity = r.number(item, "Quantity2", path)
    whole = r.int32(item, "Quantity", path, required=True)
    assert whole is not None
    if quantity is None or (quantity == 0 and whole != 0):
        quantity = Decimal(whole)
    unit_ex, unit_vat = r.money(item, "UnitPrice", path), r.money(item, "UnitVat", path)
    rate = r.money(item, "VatRate", path)
    kind, row_type = _kind(r, item, path)
    row = OrderRow(
        row_id=line_no, article_number=r.text(item, "ErpPartNo", path) or r.text(item, "PartNo", path) or None,
        product_id=r.int32(item, "InternalProductId", path), name=r.text(item, "Description", path),
        row_type=row_type, quantity=quantity, unit_price_inc_vat=unit_ex + unit_vat, unit_price_ex_vat=unit_ex,
        vat_rate=rate / HUNDRED, total_inc_vat=quantity * (unit_ex + unit_vat))
    return _Line(row, quantity * unit_ex, kind)


def _pull_out(lines: list[_Line], kind: str) -> tuple[Decimal, Decimal, list[_Line]]:
    """(amount incl. VAT, VAT fraction, remaining lines) for freight or fee lines at the first one's rate."""
    picked = [line for line in lines if line.kind == kind]
    if not picked:
        return ZERO, ZERO, lines
    rate = picked[0].row.vat_rate
    taken = [line for line in picked if line.row.vat_rate == rate]
    amount = sum((line.row.total_inc_vat for line in taken), ZERO)
    rest = [line for line in lines if not any(line is t for t in taken)]
    return amount, rate, rest


def _totals(lines: Sequence[_Line]) -> dict[str, Decimal]:
    total_ex = sum((line.net for line in lines), ZERO)
    total_inc = sum((line.row.total_inc_vat for line in lines), ZERO)
    return {"total_ex_vat": total_ex, "total_inc_vat": total_inc, "vat_total": total_inc - total_ex}


def _person_address(r: _Reader, party: Mapping[str, Any] | None, path: str) -> Address:
    if party is None:
        return Address()
    company = r.obj(party, "Company", path)
    person = r.obj(party, "Person", path)
    values: dict[str, str] = {}
    if company is not None:
        values["company"] = r.text(company, "Name", path + "Company.")
    if person is not None:
        p = path + "Person."
        values.update(first_name=r.text(person, "FirstName", p), last_name=r.text(person, "LastName", p),
                      phone=r.text(person, "PrivatePhone", p) or r.text(person, "WorkPhone", p),
                      mobile_phone=r.text(person, "CellPhone", p))
        address = r.obj(person, "Address", p)
        if address is not None:
            a = p + "Address."
            street = [r.text(address, key, a) for key in ("Line1", "Line2", "Box")]
            values.update(street=", ".join(part for part in street if part), care_of=r.text(address, "CareOf", a),
                          zip_code=r.text(address, "ZipCode", a), city=r.text(address, "City", a),
                          country_code=r.country(r.text(address, "Country", a), a + "Country"))
            values["phone"] = r.text(address, "ShippingPhoneNumber", a) or values["phone"]
    return Address(**values)


def _customer(r: _Reader, party: Mapping[str, Any] | None, path: str) -> ShopCustomer:
    if party is None:
        return ShopCustomer()
    company = r.obj(party, "Company", path) or {}
    person = r.obj(party, "Person", path) or {}
    return ShopCustomer(email=r.text(person, "Email", path + "Person."),
                        company_name=r.text(company, "Name", path + "Company."),
                        vat_number=r.text(company, "VatNo", path + "Company."))


def _payments(r: _Reader, payload: Mapping[str, Any], currency: str) -> tuple[Payment, list[_Line]]:
    """The one PSP payment, and a GIFT_CARD line per gift-card payment."""
    paid: list[Payment] = []
    gift: list[_Line] = []
    for index, entry in enumerate(r.array(payload, "Payments", "")):
        path = f"Payments[{index}]."
        amount = r.money(entry, "Amount", path)
        code, name = r.text(entry, "PaymentMethodCode", path), r.text(entry, "PaymentName", path)
        own = r.text(entry, "CurrencyCode", path)
        if own and own != currency:
            raise r.fail(path + "CurrencyCode", own, f"differs from the order's currency {currency}")
        provider = provider_of(name, code)
        if provider is PaymentProvider.GIFT_CARD:
            row = OrderRow(row_id=-(index + 1), name=name or code or "Gift card", row_type=RowType.GIFT_CARD,
                           quantity=Decimal(1), unit_price_inc_vat=-amount, unit_price_ex_vat=-amount,
                           vat_rate=ZERO, total_inc_vat=-amount)
            gift.append(_Line(row, -amount, "row"))
            continue
        if paid:
            raise r.fail(path.rstrip("."), name or code, "is a second PSP payment; jetfort books one per order")
        paid.append(Payment(method=code or name, provider=provider, transaction_id=r.text(entry, "PaymentRef", path),
                            status="Reserved", authorized_amount=amount))
    return (paid[0] if paid else Payment()), gift


def _refuse_order_level(r: _Reader, payload: Mapping[str, Any]) -> None:
    for key in ("Fees", "Discounts"):
        for index, entry in enumerate(r.array(payload, key, "")):
            amount = r.number(entry, "Amount", f"{key}[{index}].")
            if amount:
                raise r.fail(f"{key}[{index}].Amount", entry.get("Amount"),
                             "is an order-level amount whose VAT basis Norce does not document; not guessed")


def _with_fees(lines: list[_Line]) -> dict[str, Any]:
    """Freight and fee pulled out of the lines; the totals over all of them."""
    totals = _totals(lines)
    freight, freight_rate, lines = _pull_out(lines, "freight")
    fee, fee_rate, lines = _pull_out(lines, "fee")
    return {"rows": [line.row for line in lines], "freight_inc_vat": freight, "freight_vat_rate": freight_rate,
            "fee": fee, "fee_rate": fee_rate, **totals}


def order_from_request(payload: Mapping[str, Any], *, shop_id: str, tz: ZoneInfo, received_at: datetime,
                       application_id: int) -> ShopOrder:
    """A pushed ``OrderRequest`` (reference §2a); ``application_id`` is the connection's (→ channel id)."""
    r = _Reader()
    if not isinstance(payload, Mapping):
        raise r.fail("OrderRequest", payload, "is not a JSON object")
    ref = payload.get("ClientOrderRef")
    r.order_number = str(ref).strip() if isinstance(ref, str | int) and not isinstance(ref, bool) else ""
    r.order_id = r.basket_id(payload.get("ClientOrderRef"), "ClientOrderRef")
    currency = r.currency(r.text(payload, "CurrencyCode", ""), "CurrencyCode")
    lines = [_request_line(r, item, index) for index, item in enumerate(r.array(payload, "Items", ""))]
    _refuse_order_level(r, payload)
    payment, gift = _payments(r, payload, currency)
    parts = _with_fees(lines + gift)
    payment = payment.model_copy(update={"fee_inc_vat": parts.pop("fee"), "fee_vat_rate": parts.pop("fee_rate")})
    sell_to, bill_to = r.obj(payload, "SellTo", ""), r.obj(payload, "BillTo", "")
    ship_to = r.obj(payload, "ShipTo", "")
    if sell_to is None and bill_to is None:
        raise r.fail("SellTo", None, "is required (neither SellTo nor BillTo was sent)")
    billing = _person_address(r, bill_to, "BillTo.") if bill_to is not None else _person_address(r, sell_to, "SellTo.")
    delivery = _person_address(r, ship_to, "ShipTo.") if ship_to is not None else billing
    customer = _customer(r, sell_to, "SellTo.") if sell_to is not None else _customer(r, bill_to, "BillTo.")
    received = received_at if received_at.tzinfo is not None else received_at.replace(tzinfo=tz)
    advice = r.obj(payload, "ShippingAdvice", "") or {}
    return ShopOrder(
        shop_id=shop_id, order_id=r.order_id, order_number=r.order_number,
        order_date=r.when(payload, "SubmitDate", "", tz) or received, modified_date=received,
        status_id=0, status_name=STATUS_NAMES[0], channel_id=application_id, currency=currency,
        customer=customer, billing=billing, delivery=delivery, payment=payment,
        delivery_method=r.text(advice, "DeliveryMethodCode", "ShippingAdvice."),
        discount_code=r.text(payload, "DiscountCode", ""), comment=r.text(payload, "CustomerOrderComment", ""),
        **parts)


# ------------------------------------------------------------------------------------------- Query 2.0
def _query_line(r: _Reader, item: Mapping[str, Any], index: int) -> _Line:
    path = f"Items[{index}]."
    number = r.number(item, "LineNumber", path, required=True)
    assert number is not None
    if number != number.to_integral_value() or not 0 <= number <= INT32_MAX:
        raise r.fail(path + "LineNumber", item.get("LineNumber"), "is not a whole row number")
    quantity = r.money(item, "QtyOrdered", path)
    unit_ex = r.money(item, "PriceSale", path)
    rate = r.money(item, "VatRate", path) / HUNDRED
    net = r.number(item, "LineAmount", path)
    net = quantity * unit_ex if net is None else net
    kind, row_type = _kind(r, item, path) if item.get("Type") or item.get("TypeGroup") else ("row", RowType.PRODUCT)
    row = OrderRow(row_id=int(number), article_number=r.text(item, "PartNo", path) or None,
                   name=r.text(item, "ProductName", path), row_type=row_type, quantity=quantity,
                   unit_price_inc_vat=unit_ex * (1 + rate), unit_price_ex_vat=unit_ex, vat_rate=rate,
                   total_inc_vat=net * (1 + rate))
    return _Line(row, net, kind)


def _mark_by_amount(lines: list[_Line], amount: Decimal | None, kind: str) -> list[_Line]:
    """Without ``Type`` on Query rows: the last plain row whose net equals the order's FreightCost/OrderFee."""
    if not amount or any(line.kind == kind for line in lines):
        return lines
    for position in range(len(lines) - 1, -1, -1):
        line = lines[position]
        if line.kind == "row" and line.row.row_type is RowType.PRODUCT and line.net == amount:
            return [*lines[:position], _Line(line.row.model_copy(update={"row_type": RowType.OTHER}), line.net, kind),
                    *lines[position + 1:]]
    return lines


def _query_address(r: _Reader, entity: Mapping[str, Any] | None, path: str, countries: Mapping[int, str],
                   company: bool) -> Address:
    if entity is None:
        return Address()
    name, attention = r.text(entity, "Name", path), r.text(entity, "Attention", path)
    country_id = r.int32(entity, "CountryId", path)
    country = ""
    if country_id is not None:
        if country_id not in countries:
            raise r.fail(path + "CountryId", country_id, "is not in Norce's country list (Core/Countries)")
        country = r.country(countries[country_id], path + "CountryId")
    street = [r.text(entity, key, path) for key in ("Line1", "Line2")]
    names = {"company": name, "first_name": attention} if company and attention else {"first_name": name}
    return Address(**names, street=", ".join(part for part in street if part), care_of=r.text(entity, "CareOf", path),
                   zip_code=r.text(entity, "ZipCode", path), city=r.text(entity, "City", path), country_code=country,
                   phone=r.text(entity, "ShippingPhoneNumber", path) or r.text(entity, "PhoneNumber", path))


def _query_party(r: _Reader, row: Mapping[str, Any], countries: Mapping[int, str]) -> dict[str, Any]:
    company = bool(r.int32(row, "BuyerCompanyId", "", digits_ok=True) or r.text(row, "BuyerCompanyCode", ""))
    buyer, payer, ship_to = (r.obj(row, key, "") for key in ("Buyer", "Payer", "ShipTo"))
    billing_entity, billing_path = (payer, "Payer.") if payer is not None else (buyer, "Buyer.")
    billing = _query_address(r, billing_entity, billing_path, countries, company)
    delivery = _query_address(r, ship_to, "ShipTo.", countries, company) if ship_to is not None else billing
    email_from = buyer if buyer is not None else (payer or {})
    customer = ShopCustomer(
        customer_id=r.int32(row, "BuyerCustomerId", "", digits_ok=True),
        email=r.text(email_from, "EmailAddress", "Buyer." if buyer is not None else "Payer."),
        company_name=r.text(buyer or payer or {}, "Name", "Buyer.") if company else "")
    return {"billing": billing, "delivery": delivery, "customer": customer}


def order_from_query(row: Mapping[str, Any], *, shop_id: str, tz: ZoneInfo, currencies: Mapping[int, str],
                     countries: Mapping[int, str], payment_methods: Mapping[int, str] | None = None) -> ShopOrder:
    """A Query 2.0 ``Orders/Orders`` row with ``$expand=Items,Buyer,Payer,ShipTo`` (reference §2b).

    ``currencies``/``countries``/``payment_methods`` map Norce's ids to ISO codes and names
    (``Core/Currencies``, ``Core/Countries``, ``Core/PaymentMethods``).
    """
    r = _Reader()
    if not isinstance(row, Mapping):
        raise r.fail("Order", row, "is not a JSON object")
    r.order_number = r.text(row, "OrderNo", "") if isinstance(row.get("OrderNo"), str) else ""
    r.order_id = r.basket_id(row.get("QuotationId"), "QuotationId")
    r.order_number = r.order_number or str(r.order_id)
    currency_id = r.int32(row, "CurrencyId", "", required=True)
    if currency_id not in currencies:
        raise r.fail("CurrencyId", currency_id, "is not in Norce's currency list (Core/Currencies)")
    currency = r.currency(currencies[currency_id], "CurrencyId")  # type: ignore[index]
    lines = [_query_line(r, item, index) for index, item in enumerate(r.array(row, "Items", ""))]
    lines = _mark_by_amount(lines, r.number(row, "FreightCost", ""), "freight")
    lines = _mark_by_amount(lines, r.number(row, "OrderFee", ""), "fee")
    parts = _with_fees(lines)
    method_id = r.int32(row, "PaymentMethodId", "", digits_ok=True)
    method = (payment_methods or {}).get(method_id, "") if method_id is not None else ""
    provider = provider_of(method) if method else PaymentProvider.OTHER
    # Payment.Amount is "the reserved amount incl. VAT after rounding" (§2a): öre, half up
    reserved = parts["total_inc_vat"].quantize(CENT, rounding=ROUND_HALF_UP) if provider.capturable else ZERO
    payment = Payment(method=method, provider=provider, authorized_amount=reserved,
                      status="Reserved" if provider.capturable else "",
                      fee_inc_vat=parts.pop("fee"), fee_vat_rate=parts.pop("fee_rate"))
    order_date = r.when(row, "OrderDate", "", tz) or r.when(row, "Created", "", tz, required=True)
    assert order_date is not None
    status_id = r.int32(row, "StatusId", "", required=True)
    assert status_id is not None
    return ShopOrder(
        shop_id=shop_id, order_id=r.order_id, order_number=r.order_number, order_date=order_date,
        modified_date=r.when(row, "Updated", "", tz) or r.when(row, "Created", "", tz) or order_date,
        status_id=status_id, status_name=STATUS_NAMES.get(status_id, ""),
        channel_id=r.int32(row, "ApplicationId", "", required=True) or 0, currency=currency,
        payment=payment, delivery_method=r.text(row, "DeliveryMode", ""), comment="",
        **_query_party(r, row, countries), **parts)


__all__ = ["ITEM_TYPES", "ITEM_TYPE_GROUPS", "STATUS_NAMES", "order_from_query", "order_from_request", "provider_of"]
