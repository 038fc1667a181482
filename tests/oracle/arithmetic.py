"""A deliberately plain second implementation of Fortnox's document arithmetic.

Written from the Fortnox reference notes (orders §5.4, invoices §5.5, VAT §5.8) and the two real
invoices in ``tests/data/fortnox-real-invoices/``, not from jetfort's or the sandbox's code, and it
imports neither. Plain dicts in (a document as Fortnox JSON, as it was posted), plain Decimals out.

The rule, step by step (the same rule, with its sources and what is UNCONFIRMED, is the section
"Document arithmetic" of ``sandbox/fortnox/FIDELITY.md``):

1. Fortnox keeps 2 decimals, half up, of a row's ``Price`` and ``DeliveredQuantity`` (recorded).
2. Row ``Total`` = ``DeliveredQuantity`` x ``Price``, less the discount (``PERCENT`` of that, or an
   ``AMOUNT`` off the row), rounded to 2 decimals. Orders use ``DeliveredQuantity`` too (recorded).
3. A customer of VAT type ``EXPORT`` or ``EUREVERSEDVAT`` pays no VAT: every rate counts as 0.
4. ``VATIncluded`` false: the row total is net; the row's VAT is total x rate, kept unrounded.
   ``VATIncluded`` true: the row total is gross; its net (``TotalExcludingVAT``) is
   total / (1 + rate) rounded to 2 decimals, and its VAT is total - net (exact to the öre).
5. ``Net`` = the sum of the rows' nets (without freight or fee).
6. ``Freight`` and ``AdministrationFee`` carry the header rate (25 %, 0 for a VAT-free customer):
   VAT = amount x rate (net document) or amount - amount / (1 + rate) (gross document);
   ``FreightVAT``/``AdministrationFeeVAT`` are those rounded to 2 decimals; their net part stays
   unrounded (amount, or amount / (1 + rate)).
7. ``TotalVAT`` = (sum of the rows' VAT, unrounded) + FreightVAT + AdministrationFeeVAT, rounded
   once to 2 decimals — **not** per VAT rate. ``vat_by_rate`` gives the per-rate alternative (each
   rate's VAT rounded on its own); with the Swedish rates 25/12/6 the two differ by at most 0.01,
   and :func:`per_rate_difference_bound` states the bound for any set of rates.
8. Before rounding: Net + freight net + fee net + TotalVAT, rounded to 2 decimals.
   SEK: ``Total`` = that rounded half up to a whole krona, ``RoundOff`` = Total - before.
   Other currencies: ``Total`` = before, ``RoundOff`` = 0 (UNCONFIRMED; no real document).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

HEADER_RATE = Decimal(25)
VAT_FREE = ("EXPORT", "EUREVERSEDVAT")
CENT = Decimal("0.01")


def money(value: Any) -> Decimal:
    """A JSON number, numeric string or None as a Decimal (None and "" are 0)."""
    if value is None or value == "":
        return Decimal(0)
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(str(value))


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def whole(value: Decimal) -> Decimal:
    return value.quantize(Decimal(1), rounding=ROUND_HALF_UP)


@dataclass
class RowFigures:
    total: Decimal
    total_excluding_vat: Decimal
    vat: Decimal  # unrounded
    rate: Decimal


@dataclass
class Totals:
    rows: list[RowFigures]
    net: Decimal
    freight_vat: Decimal
    administration_fee_vat: Decimal
    total_vat: Decimal
    before_rounding: Decimal
    total: Decimal
    round_off: Decimal
    vat_by_rate: dict[Decimal, Decimal] = field(default_factory=dict)

    @property
    def total_vat_per_rate(self) -> Decimal:
        """TotalVAT as a company rounding per VAT rate would have it (the alternative rule)."""
        return sum(self.vat_by_rate.values(), Decimal(0))


def per_rate_difference_bound(rates: set[Decimal]) -> Decimal:
    """How far TotalVAT rounded once may lie from TotalVAT rounded per rate: each of n non-zero rates
    rounds off by at most half an öre, the single rounding by at most another half, so the two lie
    less than (n + 1) / 2 öre apart: 0 for one rate, 0.01 for two or three (25/12/6), 0.02 for four."""
    return CENT * (len([rate for rate in rates if rate]) // 2)


def compute(document: dict[str, Any], rows_key: str, vat_type: str = "SEVAT") -> Totals:
    """Totals of ``document`` (the posted JSON object, without its wrapper) for a customer of ``vat_type``."""
    vat_included = document.get("VATIncluded") is True
    vat_free = vat_type in VAT_FREE
    rows: list[RowFigures] = []
    for row in document.get(rows_key) or []:
        price = cents(money(row.get("Price")))
        quantity = cents(money(row.get("DeliveredQuantity")))
        rate = Decimal(0) if vat_free else money(row.get("VAT"))
        amount = quantity * price
        discount = money(row.get("Discount"))
        if row.get("DiscountType") == "AMOUNT":
            amount = amount - discount
        else:
            amount = amount - amount * discount / 100
        total = cents(amount)
        if vat_included:
            net = cents(total * 100 / (100 + rate))
            vat = total - net
        else:
            net = total
            vat = total * rate / 100
        rows.append(RowFigures(total=total, total_excluding_vat=net, vat=vat, rate=rate))

    header_rate = Decimal(0) if vat_free else HEADER_RATE
    extras_net = Decimal(0)
    extras_vat: dict[str, Decimal] = {}
    for name in ("Freight", "AdministrationFee"):
        amount = money(document.get(name))
        if vat_included:
            net = amount * 100 / (100 + header_rate)
            vat = amount - net
        else:
            net = amount
            vat = amount * header_rate / 100
        extras_net += net
        extras_vat[name] = cents(vat)

    net_sum = sum((r.total_excluding_vat for r in rows), Decimal(0))
    row_vat = sum((r.vat for r in rows), Decimal(0))
    total_vat = cents(row_vat + extras_vat["Freight"] + extras_vat["AdministrationFee"])
    before = cents(net_sum + extras_net + total_vat)
    currency = document.get("Currency") or "SEK"
    total = whole(before) if currency == "SEK" else before

    by_rate: dict[Decimal, Decimal] = {}
    for r in rows:
        by_rate[r.rate] = by_rate.get(r.rate, Decimal(0)) + r.vat
    if extras_vat["Freight"] or extras_vat["AdministrationFee"]:
        header_vat = extras_vat["Freight"] + extras_vat["AdministrationFee"]
        by_rate[header_rate] = by_rate.get(header_rate, Decimal(0)) + header_vat
    vat_by_rate = {rate: cents(vat) for rate, vat in by_rate.items()}

    return Totals(rows=rows, net=net_sum, freight_vat=extras_vat["Freight"],
                  administration_fee_vat=extras_vat["AdministrationFee"], total_vat=total_vat,
                  before_rounding=before, total=total, round_off=total - before, vat_by_rate=vat_by_rate)
