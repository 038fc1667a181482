"""Shops and their channels (markets): the part of the rules that says where orders come from."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from pydantic import Field, StringConstraints, model_validator

from jetfort.rules.errors import Problems, duplicate_problems
from jetfort.rules.types import ConnId, Key, PriceListCode, RulesModel, TagCode


class Channel(RulesModel):
    """A market inside a Jetshop shop: culture, currency, base price list, Fortnox tags."""

    key: Key = Field(description="Short id used in task names, unique within the shop.")
    jetshop_channel_id: int | None = Field(default=None, ge=0, description="Jetshop channel id orders carry.")
    culture: Annotated[str, StringConstraints(pattern=r"^[a-z]{2}-[A-Z]{2}$")] = Field(
        description="Jetshop culture, e.g. 'sv-SE'."
    )
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] = Field(
        description="ISO 4217 code; must be enabled in Fortnox."
    )
    price_list_guid: UUID = Field(description="The channel's Jetshop price list (base prices).")
    fortnox_price_list: PriceListCode = Field(
        default="A", description="Fortnox price list feeding it (erp/combo)."
    )
    prices_include_vat: bool = Field(default=True, description="Write the channel's prices incl. VAT.")
    project: TagCode | None = Field(
        default=None, description="Fortnox project put on this channel's documents."
    )
    cost_center: TagCode | None = Field(default=None, description="Fortnox cost centre for this channel.")
    our_reference: Annotated[str, StringConstraints(max_length=50)] | None = Field(
        default=None, description="Fortnox OurReference for this channel's documents."
    )


class Shop(RulesModel):
    """One Jetshop shop (its own connection: integration login + ShopId)."""

    key: Key = Field(description="Short id used in task names, unique within the tenant.")
    jetshop_conn_id: ConnId = Field(description="Airflow connection (type jetshop) of this shop.")
    channels: list[Channel] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_channel_keys(self) -> Shop:
        problems = duplicate_problems((ch.key for ch in self.channels), "channels", "key", "channel key")
        if problems:
            raise Problems(problems)
        return self
