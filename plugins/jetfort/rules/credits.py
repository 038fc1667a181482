"""Money back (shop → Fortnox): cancellations after posting and returns as credit invoices."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from jetfort.rules.types import RulesModel


class CreditRules(RulesModel):
    """How a shop order cancelled or returned after it reached Fortnox is reversed there."""

    enabled: bool = Field(
        default=True,
        description="Cancel or credit in Fortnox what the shop cancels or takes back after posting.",
    )
    accounting_method: Literal["accrual", "cash"] = Field(
        default="accrual",
        description=(
            "What makes an invoice 'booked' (credit it, never cancel it): accrual (fakturametoden) = Fortnox "
            "booked it; cash (kontantmetoden) = it was sent or has a payment. Unbooked invoices are cancelled."
        ),
    )
    report_to_shop: bool = Field(
        default=True,
        description=(
            "Set the status map's 'cancelled' status (and 'credited' for a credited return, when mapped) on "
            "the shop order once Fortnox shows the cancellation or credit."
        ),
    )
