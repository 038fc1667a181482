"""Why an order cannot go to Fortnox as it is: a machine-readable reason, the shop field and a sentence."""

from __future__ import annotations

from typing import Any

from jetfort.errors import PermanentError

__all__ = ["REASONS", "MappingProblem"]

REASONS: dict[str, str] = {
    "unknown_article": "an article the order sells does not exist in Fortnox and the rules say quarantine",
    "missing_article_number": "a shop row has no article number and the rules say quarantine",
    "invalid_article_number": "an article number Fortnox cannot store (characters or length)",
    "vat_rate_not_set_up": "the order uses a VAT rate the Fortnox company cannot book",
    "unknown_vat_rate": "the order uses a VAT rate the tenant rules have no sales account for",
    "vat_charged_on_vat_free_sale": "the shop charged VAT on a sale Fortnox books without VAT (export, EU reverse charge)",
    "invalid_org_number": "a Swedish organisation number that fails the format or Luhn check",
    "currency_not_enabled": "the order's currency is not enabled in Fortnox",
    "currency_rate_missing": "a foreign-currency order without an exchange rate",
    "field_too_long": "a value that must not be cut (identifier, zip code) is over Fortnox's limit",
    "total_mismatch": "the total Fortnox will compute differs from the shop's total beyond the tolerance",
    "negative_quantity": "a row with a negative quantity (a return inside a sale) needs a credit, not an order",
    "quantity_precision": "a row quantity with more decimals than Fortnox keeps (2): it would be rounded",
    "unreadable_value": "the shop sent a value jetfort cannot read (e.g. a quantity '1,5'); order, row and element named",
    "no_rows": "an order without rows",
    "negative_total": "an order whose total is below zero (a credit, not a sale)",
    "too_many_rows": "more rows than the rules (and Fortnox) accept on one document",
    "plugin_failed": "a tenant plugin raised or returned something invalid",
    "invalid_vat_number": "an EU VAT number that fails its country's check digits (no reverse charge without a valid one)",
    "vat_number_country_mismatch": "an EU VAT number of another country than the buyer's (no reverse charge)",
    "not_a_country_vat_rate": "OSS: the shop charged a rate that is not one of the buyer country's rates on the order date",
    "oss_rates_unknown": "OSS: the EU VAT rate table has no rates of the buyer's country for the order date",
    "oss_accounts_missing": "OSS: the tenant rules have no sales and VAT accounts for the buyer's country and rate",
    "vat_rate_not_on_invoice": "a fractional VAT rate (25.5 %) that a Fortnox invoice row cannot carry (never rounded)",
    # money back (credits): a shop cancellation or return after posting
    "over_credit": "a return would credit more than was invoiced (a row's quantity or amount, freight, fee or the total)",
    "credit_row_unknown": "a returned row cannot be matched to a row of the original invoice (never guessed)",
    "credit_amount_invalid": "a return's refunded amount cannot be booked (negative, or not what the row can carry)",
    "nothing_to_credit": "a return or cancellation with nothing left to credit",
    "fortnox_document_unreadable": "the original Fortnox document could not be read as jetfort needs it",
    "fortnox_rejected": "Fortnox refused the document, credit or cancellation; its code and message are kept",
}
"""Known reasons and what they mean (plugins may raise others)."""


class MappingProblem(PermanentError):
    """A shop order that cannot become a Fortnox document as it is → quarantine, with what a person needs.

    ``reason`` is machine-readable (see :data:`REASONS`), ``field`` the path in the *shop* order
    (``rows[2].article_number``, ``customer.organisation_number``, ``total``), ``message`` a sentence
    naming the order and both figures or values.
    """

    def __init__(self, reason: str, field: str, message: str) -> None:
        self.reason = reason
        self.field = field
        self.message = message
        super().__init__(message)

    def __str__(self) -> str:
        return f"{self.message} [{self.reason} at {self.field}]"

    def __repr__(self) -> str:
        return f"MappingProblem(reason={self.reason!r}, field={self.field!r}, message={self.message!r})"

    def __reduce__(self) -> tuple[Any, ...]:  # survives pickling between processes (XCom, executors)
        return (type(self), (self.reason, self.field, self.message))

    def as_dict(self) -> dict[str, str]:
        """For the quarantine table and task summaries."""
        return {"reason": self.reason, "field": self.field, "message": self.message}
