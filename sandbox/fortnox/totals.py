"""Document amounts computed the way Fortnox computes them.

- Row ``Total`` = ``DeliveredQuantity`` x ``Price`` minus the discount (PERCENT of the row or an
  AMOUNT); orders follow DeliveredQuantity, not OrderedQuantity (recorded: a row ordered 1,
  delivered 0 has Total 0).
- With ``VATIncluded`` the row prices are gross; ``PriceExcludingVAT``/``TotalExcludingVAT`` and
  ``Net`` are net. Without it everything on the row is net.
- ``Freight`` and ``AdministrationFee`` live on the header and carry VAT at the company's rate
  (``FreightVAT``/``AdministrationFeeVAT`` are amounts); both are in ``TotalVAT`` and ``Total``.
- ``Total`` is rounded to whole kronor with the difference in ``RoundOff`` (öresavrundning);
  example from a real invoice: rows 1590 + freight 95 + VAT 421.25 → Total 2106, RoundOff -0.25.
- Money and quantities are rounded to 2 decimals, half up; that includes an article's stock figures
  (recorded: row quantity 1.123 -> "1.12"; reference: quantity_in_stock_rounding). See FIDELITY.md.
- VAT is rounded once per document, not per rate (no real document settles it). The whole rule, what
  is UNCONFIRMED and why, is FIDELITY.md "Document arithmetic"; two real invoices
  (tests/sandbox/fortnox/test_real_invoices.py) and an independent oracle (tests/oracle/) pin it.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

CENT = Decimal("0.01")
KRONA = Decimal("1")


def dec(value: Any) -> Decimal:
    if value in (None, "", "API_BLANK"):
        return Decimal(0)
    return Decimal(str(value))


def r2(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def num(value: Decimal) -> int | float:
    """JSON number as Fortnox prints it: integers without decimals."""
    value = r2(value)
    return int(value) if value == value.to_integral_value() else float(value)


def quantity(value: Any) -> float:
    """A stored quantity as Fortnox keeps it: 2 decimals, half up (1.123 -> 1.12, 1.125 -> 1.13)."""
    return float(r2(dec(value)))


def qty_text(value: Decimal) -> str:
    """Quantities are strings: "1", "1.12", "2.5"."""
    value = r2(value)
    if value == value.to_integral_value():
        return str(int(value))
    return format(value.normalize(), "f")


def compute(doc: dict[str, Any], rows_key: str, header_vat_rate: Decimal, rows_vat_free: bool) -> None:
    """Fill row totals and header sums of ``doc`` in place."""
    vat_included = bool(doc.get("VATIncluded"))
    net = gross = row_vat = Decimal(0)
    for row in doc.get(rows_key, []):
        price = dec(row.get("Price"))
        quantity = dec(row.get("DeliveredQuantity"))
        rate = Decimal(0) if rows_vat_free else dec(row.get("VAT"))
        before = quantity * price
        discount = dec(row.get("Discount"))
        if row.get("DiscountType") == "AMOUNT":
            total = before - discount
        else:
            total = before * (Decimal(1) - discount / Decimal(100))
        total = r2(total)
        if vat_included:
            total_ex = r2(total / (Decimal(1) + rate / Decimal(100)))
            price_ex = r2(price / (Decimal(1) + rate / Decimal(100)))
            before_ex = before / (Decimal(1) + rate / Decimal(100))
            row_vat += total - total_ex
        else:
            total_ex, price_ex, before_ex = total, price, before
            row_vat += total * rate / Decimal(100)
        row["Total"] = num(total)
        if rows_key == "InvoiceRows":
            row["PriceExcludingVAT"] = num(price_ex)
            row["TotalExcludingVAT"] = num(total_ex)
        net += total_ex
        gross += before_ex
    header_rate = Decimal(0) if rows_vat_free else header_vat_rate
    extras_ex = extras_vat = Decimal(0)
    for key in ("Freight", "AdministrationFee"):
        amount = dec(doc.get(key))
        if vat_included:
            ex = amount / (Decimal(1) + header_rate / Decimal(100))
            vat = amount - ex
        else:
            ex, vat = amount, amount * header_rate / Decimal(100)
        doc[f"{key}VAT"] = num(vat)
        extras_ex += ex
        extras_vat += r2(vat)
    total_vat = r2(row_vat + extras_vat)
    unrounded = r2(net + extras_ex + total_vat)
    if doc.get("Currency", "SEK") == "SEK":
        rounded = unrounded.quantize(KRONA, rounding=ROUND_HALF_UP)
    else:
        rounded = unrounded  # [I] foreign-currency documents keep öre
    doc["Net"] = num(net)
    doc["Gross"] = num(r2(gross))
    doc["TotalVAT"] = num(total_vat)
    doc["RoundOff"] = num(rounded - unrounded)
    doc["Total"] = num(rounded)
    doc["TotalToPay"] = num(rounded)
