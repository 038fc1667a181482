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
    "no_rows": "an order without rows",
    "negative_total": "an order whose total is below zero (a credit, not a sale)",
    "too_many_rows": "more rows than the rules (and Fortnox) accept on one document",
    "plugin_failed": "a tenant plugin raised or returned something invalid",
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
