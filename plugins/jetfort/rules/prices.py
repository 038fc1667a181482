"""Customer-group price lists: a Fortnox price list written into shop price lists per channel."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from pydantic import Field, StringConstraints, model_validator

from jetfort.rules.errors import Problems
from jetfort.rules.types import ChannelRef, NorcePriceListCode, PriceListCode, RulesModel


class PriceListRule(RulesModel):
    """A customer group's Fortnox price list written into shop price lists, per channel."""

    customer_group: Annotated[str, StringConstraints(min_length=1, max_length=50)] = Field(
        description="e.g. 'resellers' (ÅF)."
    )
    fortnox_price_list: PriceListCode
    jetshop_price_lists: dict[ChannelRef, UUID] = Field(
        default_factory=dict, description="Channel of a Jetshop shop → Jetshop GUID."
    )
    norce_price_lists: dict[ChannelRef, NorcePriceListCode] = Field(
        default_factory=dict, description="Channel of a Norce shop → Norce price list code."
    )
    prices_include_vat: bool = Field(
        default=True, description="Write PriceIncVat (true) or ex-VAT prices (false)."
    )

    @model_validator(mode="after")
    def _some_target(self) -> PriceListRule:
        if not self.jetshop_price_lists and not self.norce_price_lists:
            raise Problems([("jetshop_price_lists", "name at least one shop price list "
                                                    "(jetshop_price_lists or norce_price_lists)")])
        return self

    def shop_price_lists(self) -> dict[str, str]:
        """Channel ref → the price list as its shop names it (Jetshop GUIDs upper-case, Norce codes)."""
        return {**{ref: str(guid).upper() for ref, guid in self.jetshop_price_lists.items()},
                **self.norce_price_lists}
