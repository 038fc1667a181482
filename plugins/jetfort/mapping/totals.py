"""Document totals as Fortnox computes them, so the total check runs before anything is posted.

Fortnox's arithmetic (reference fortnox-api.md §5.4/§5.5, the recorded invoice example, and the
sandbox in ``sandbox/fortnox/totals.py`` which tests compare against):

* money and quantities are rounded to 2 decimals, half up;
* a row's total follows ``DeliveredQuantity`` (not ``OrderedQuantity``): ``quantity x price``
  minus the discount (``AMOUNT`` off the row, or ``PERCENT`` of it), rounded;
* with ``VATIncluded`` row prices are gross and the row's net is ``round(total / (1 + rate))``;
  without it everything is net and the row's VAT is ``total x rate`` (summed unrounded);
* ``Freight`` and ``AdministrationFee`` sit on the header and carry the company's header VAT rate
  (25 % by default; 0 for VAT-free customers), gross when ``VATIncluded``;
* ``TotalVAT`` is rounded once; for SEK the total is rounded to whole kronor and the difference is
  ``RoundOff`` (öresavrundning); foreign-currency documents keep their öre.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from jetfort.fortnox.models import DiscountType, FortnoxInvoice, FortnoxOrder, VatType

__all__ = ["HEADER_VAT_RATE", "VAT_FREE_TYPES", "DocumentTotals", "fortnox_total", "fortnox_totals", "r2"]

CENT = Decimal("0.01")
KRONA = Decimal("1")
ZERO = Decimal(0)
ONE = Decimal(1)
HUNDRED = Decimal(100)
HEADER_VAT_RATE = Decimal(25)
"""VAT Fortnox puts on header freight and administration fee (the company setting's default)."""
VAT_FREE_TYPES = frozenset({VatType.EXPORT, VatType.EUREVERSEDVAT})
"""Customer VAT types Fortnox books without VAT on every row, freight and fee."""


def r2(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class DocumentTotals:
    """What Fortnox will show: ``net`` ex VAT, ``vat``, the ``unrounded`` sum, ``round_off`` and ``total``."""

    net: Decimal
    vat: Decimal
    unrounded: Decimal
    round_off: Decimal
    total: Decimal
    freight_vat: Decimal
    administration_fee_vat: Decimal


def fortnox_totals(document: FortnoxOrder | FortnoxInvoice, *, vat_free: bool = False,
                   header_vat_rate: Decimal = HEADER_VAT_RATE) -> DocumentTotals:
    """All totals of ``document`` as Fortnox computes them.

    ``vat_free``: the customer's VAT type is EXPORT or EUREVERSEDVAT (Fortnox then books every row and
    the header freight/fee without VAT, whatever the row says).
    """
    vat_included = bool(document.vat_included)
    net = row_vat = ZERO
    for row in document.rows or ():
        price = r2(row.price or ZERO)
        quantity = r2(row.delivered_quantity or ZERO)
        rate = ZERO if vat_free else (row.vat or ZERO)
        before = quantity * price
        discount = row.discount or ZERO
        if row.discount_type == DiscountType.AMOUNT:
            total = before - r2(discount)
        else:
            total = before * (ONE - discount / HUNDRED)
        total = r2(total)
        if vat_included:
            total_ex = r2(total / (ONE + rate / HUNDRED))
            row_vat += total - total_ex
        else:
            total_ex = total
            row_vat += total * rate / HUNDRED
        net += total_ex
    header_rate = ZERO if vat_free else header_vat_rate
    extras_ex = extras_vat = ZERO
    header_vats: list[Decimal] = []
    for amount in (document.freight, document.administration_fee):
        amount = r2(amount or ZERO)
        if vat_included:
            ex = amount / (ONE + header_rate / HUNDRED)
            vat = amount - ex
        else:
            ex, vat = amount, amount * header_rate / HUNDRED
        extras_ex += ex
        extras_vat += r2(vat)
        header_vats.append(r2(vat))
    total_vat = r2(row_vat + extras_vat)
    unrounded = r2(net + extras_ex + total_vat)
    if (document.currency or "SEK") == "SEK":
        rounded = unrounded.quantize(KRONA, rounding=ROUND_HALF_UP)
    else:
        rounded = unrounded
    return DocumentTotals(net=r2(net), vat=total_vat, unrounded=unrounded, round_off=rounded - unrounded,
                          total=rounded, freight_vat=header_vats[0], administration_fee_vat=header_vats[1])


def fortnox_total(document: FortnoxOrder | FortnoxInvoice, *, vat_free: bool = False,
                  header_vat_rate: Decimal = HEADER_VAT_RATE) -> Decimal:
    """The document's ``Total`` as Fortnox computes it (rows, header freight/fee and their VAT,
    ``VATIncluded``, öresavrundning to whole kronor for SEK)."""
    return fortnox_totals(document, vat_free=vat_free, header_vat_rate=header_vat_rate).total
