"""Comparisons of what Fortnox stored: with the oracle on the posted document, and with the shop."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from jetfort.mapping.document import MappedDocument
from jetfort.rules import TenantRules
from jetfort.shop.models import ShopOrder
from tests.oracle import arithmetic

HEADER = ("Net", "TotalVAT", "FreightVAT", "AdministrationFeeVAT", "Total", "RoundOff", "TotalToPay")


def _d(value: Any) -> Decimal:
    return Decimal(str(value))


def oracle_differences(posted: dict[str, Any], stored: dict[str, Any], rows_key: str, vat_type: str) -> list[str]:
    """(a): every stored figure against the oracle computed from the posted document."""
    totals = arithmetic.compute(posted, rows_key, vat_type)
    expected = {"Net": totals.net, "TotalVAT": totals.total_vat, "FreightVAT": totals.freight_vat,
                "AdministrationFeeVAT": totals.administration_fee_vat, "Total": totals.total,
                "RoundOff": totals.round_off, "TotalToPay": totals.total}
    found = [f"{name}: stored {stored[name]}, oracle {expected[name]}" for name in HEADER
             if _d(stored[name]) != expected[name]]
    if len(stored[rows_key]) != len(totals.rows):
        return [*found, f"{len(stored[rows_key])} rows stored, {len(totals.rows)} posted"]
    for index, (row, figures) in enumerate(zip(stored[rows_key], totals.rows, strict=True)):
        if _d(row["Total"]) != figures.total:
            found.append(f"row {index} Total: stored {row['Total']}, oracle {figures.total}")
        if "TotalExcludingVAT" in row and _d(row["TotalExcludingVAT"]) != figures.total_excluding_vat:
            found.append(f"row {index} TotalExcludingVAT: stored {row['TotalExcludingVAT']}, "
                         f"oracle {figures.total_excluding_vat}")
    bound = arithmetic.per_rate_difference_bound(set(totals.vat_by_rate))
    if abs(totals.total_vat_per_rate - totals.total_vat) > bound:
        found.append(f"TotalVAT {totals.total_vat} vs per-rate {totals.total_vat_per_rate}: over the bound {bound}")
    return found


def shop_difference(order: ShopOrder, posted: dict[str, Any], stored: dict[str, Any], rules: TenantRules) -> str | None:
    """(b): what the buyer paid against Fortnox's total before öresavrundning."""
    before = _d(stored["Total"]) - _d(stored["RoundOff"])
    tolerance = rules.orders.rounding_tolerance
    if posted.get("Currency", "SEK") != "SEK":
        tolerance = tolerance * _d(posted.get("CurrencyUnit") or 1) / _d(posted["CurrencyRate"])
    if abs(order.total_inc_vat - before) > tolerance:
        return (f"shop total {order.total_inc_vat} {order.currency}, Fortnox before rounding {before}: "
                f"{order.total_inc_vat - before} is over the tolerance {tolerance:.4f}")
    return None


def prediction_difference(mapped: MappedDocument, stored: dict[str, Any]) -> str | None:
    """(d): the total jetfort checked before posting (its own prediction of Fortnox's figures, read off
    the mapped document, not recomputed here) against what Fortnox stored: a total check against the
    wrong figure would pass orders Fortnox then books differently."""
    predicted = mapped.totals
    if predicted is None:
        return "jetfort mapped the document without a total check"
    figures = {"Total": (predicted.total, stored["Total"]), "TotalVAT": (predicted.vat, stored["TotalVAT"]),
               "RoundOff": (predicted.round_off, stored["RoundOff"]), "Net": (predicted.net, stored["Net"])}
    wrong = [f"{name}: jetfort predicted {mine}, Fortnox stored {theirs}" for name, (mine, theirs) in figures.items()
             if mine != _d(theirs)]
    return "; ".join(wrong) or None
