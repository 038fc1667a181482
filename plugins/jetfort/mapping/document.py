"""The mapped document: a Fortnox order or invoice ready to post with what the post stage and the
audit need, and the total check that compares it with the shop's total the way Fortnox will compute it.

Pure, like the rest of :mod:`jetfort.mapping`; :mod:`jetfort.mapping.orders` makes the document and
:mod:`jetfort.mapping.plugins` checks it again after the tenant's plugins changed it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any, Literal

from jetfort.fortnox.models import FortnoxArticle, FortnoxInvoice, FortnoxOrder, VatType
from jetfort.mapping.problems import MappingProblem
from jetfort.mapping.text import money
from jetfort.mapping.totals import VAT_FREE_TYPES, DocumentTotals, fortnox_totals
from jetfort.rules import TenantRules
from jetfort.shop.models import ShopOrder

__all__ = ["DocumentKind", "MappedDocument", "check_total", "used_articles"]

SEK = "SEK"
VAT_NOTE_TOLERANCE = Decimal("0.05")


DocumentKind = Literal["order", "invoice"]


@dataclass(frozen=True)
class MappedDocument:
    """A Fortnox document ready to post, with what the post stage and the audit need."""

    kind: DocumentKind
    document: FortnoxOrder | FortnoxInvoice
    idempotency_field: str
    idempotency_key: str
    shop_total: Decimal
    fortnox_total: Decimal
    articles_to_create: list[FortnoxArticle] = field(default_factory=list)
    text_rows: list[int] = field(default_factory=list)
    """Indexes of document rows made from shop rows without a Fortnox article (sent on an account)."""
    notes: list[str] = field(default_factory=list)
    vat_type: VatType = VatType.SEVAT
    totals: DocumentTotals | None = None
    shop_vat: Decimal | None = None
    plugins_applied: bool = False

    @property
    def vat_free(self) -> bool:
        return self.vat_type in VAT_FREE_TYPES

    def payload(self) -> dict[str, Any]:
        """The JSON object for ``{"Order": ...}`` / ``{"Invoice": ...}``."""
        return self.document.to_payload()

    def total_check(self) -> dict[str, str]:
        """The total check as text figures, for dry runs, the audit and the quarantine."""
        totals = self.totals
        out = {"currency": self.document.currency or "SEK", "shop_total": str(self.shop_total),
               "fortnox_total": str(self.fortnox_total)}
        if totals is not None:
            out.update(fortnox_unrounded=str(totals.unrounded), round_off=str(totals.round_off),
                       fortnox_vat=str(totals.vat), difference=str(self.shop_total - totals.unrounded))
        if self.shop_vat is not None:
            out["shop_vat"] = str(self.shop_vat)
        return out


def used_articles(document: FortnoxOrder | FortnoxInvoice, articles: Iterable[FortnoxArticle]) -> list[FortnoxArticle]:
    """The articles to create that the document's rows still use (a plugin may have re-booked a row)."""
    used = {row.article_number for row in document.rows or ()}
    return [article for article in articles if article.article_number in used]


def check_total(mapped: MappedDocument, order: ShopOrder, rules: TenantRules) -> MappedDocument:
    """Recompute the document's totals as Fortnox will and compare with the shop's total.

    The comparison is before öresavrundning (Fortnox's rounding to whole kronor is not a mismatch);
    the tolerance is ``rules.orders.rounding_tolerance`` SEK, converted for foreign currencies.
    """
    document = mapped.document
    totals = fortnox_totals(document, vat_free=mapped.vat_free)
    currency = document.currency or SEK
    tolerance = rules.orders.rounding_tolerance
    if currency != SEK and document.currency_rate:
        tolerance = tolerance * (document.currency_unit or Decimal(1)) / document.currency_rate
    difference = abs(mapped.shop_total - totals.unrounded)
    notes = list(mapped.notes)
    if difference > tolerance:
        raise MappingProblem(
            "total_mismatch", "total",
            f"Order {order.order_number}: the shop's total is {money(mapped.shop_total, currency)} but Fortnox "
            f"would compute {money(totals.unrounded, currency)} (Total {money(totals.total, currency)} after "
            f"öresavrundning); the difference {money(difference, currency)} is over the tolerance "
            f"{money(tolerance, currency)}.")
    if mapped.shop_vat is not None and abs(mapped.shop_vat - totals.vat) > VAT_NOTE_TOLERANCE and not mapped.vat_free:
        note = (f"VAT in Fortnox {money(totals.vat, currency)} differs from the shop's {money(mapped.shop_vat, currency)} "
                "(freight/fee VAT follows the goods, rows are exact to the öre)")
        if note not in notes:
            notes.append(note)
    return replace(mapped, fortnox_total=totals.total, totals=totals, notes=notes)
