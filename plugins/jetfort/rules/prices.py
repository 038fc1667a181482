"""Customer-group price lists: a Fortnox price list written into Jetshop price lists per channel."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from pydantic import Field, StringConstraints

from jetfort.rules.types import ChannelRef, PriceListCode, RulesModel


class PriceListRule(RulesModel):
    """A customer group's Fortnox price list written into Jetshop price lists, per channel."""

    customer_group: Annotated[str, StringConstraints(min_length=1, max_length=50)] = Field(
        description="e.g. 'resellers' (ÅF)."
    )
    fortnox_price_list: PriceListCode
    jetshop_price_lists: dict[ChannelRef, UUID] = Field(min_length=1, description="Channel → Jetshop GUID.")
    prices_include_vat: bool = Field(
        default=True, description="Write PriceIncVat (true) or ex-VAT prices (false)."
    )
