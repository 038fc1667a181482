"""Shops and their channels (markets): the part of the rules that says where orders come from.

A shop names its backend: ``jetshop`` (the Jetshop SOAP service, the default) or ``norce`` (Norce
Commerce); each backend has its own connection field and its own way to name a market and a price list.
"""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from pydantic import Field, StringConstraints, model_validator

from jetfort.rules.errors import Problems, duplicate_problems
from jetfort.rules.types import ConnId, Key, NorcePriceListCode, PriceListCode, RulesModel, TagCode

Backend = Literal["jetshop", "norce"]


class Channel(RulesModel):
    """A market inside a shop: culture, currency, base price list, Fortnox tags."""

    key: Key = Field(description="Short id used in task names, unique within the shop.")
    jetshop_channel_id: int | None = Field(default=None, ge=0, description="Jetshop channel id orders carry.")
    norce_application_id: int | None = Field(
        default=None, ge=0, description="Norce application (storefront) id orders carry (backend norce)."
    )
    culture: Annotated[str, StringConstraints(pattern=r"^[a-z]{2}-[A-Z]{2}$")] = Field(
        description="Jetshop culture, e.g. 'sv-SE'."
    )
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] = Field(
        description="ISO 4217 code; must be enabled in Fortnox."
    )
    price_list_guid: UUID | None = Field(
        default=None, description="The channel's Jetshop price list (base prices); backend jetshop."
    )
    norce_price_list: NorcePriceListCode | None = Field(
        default=None, description="The channel's Norce price list code (base prices); backend norce."
    )
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

    @property
    def order_channel_id(self) -> int | None:
        """The market id the shop's orders carry (Jetshop channel id or Norce application id)."""
        return self.jetshop_channel_id if self.jetshop_channel_id is not None else self.norce_application_id

    @property
    def shop_price_list(self) -> str:
        """The channel's base price list as the shop names it (Jetshop GUID upper-case, Norce code)."""
        if self.price_list_guid is not None:
            return str(self.price_list_guid).upper()
        return self.norce_price_list or ""


#: Per backend: the connection field a shop must set, the channel fields it must set, those it must not.
_BACKEND_FIELDS: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    "jetshop": ("jetshop_conn_id", ("price_list_guid",), ("norce_application_id", "norce_price_list")),
    "norce": ("norce_conn_id", ("norce_price_list",), ("jetshop_channel_id", "price_list_guid")),
}


class Shop(RulesModel):
    """One web shop with its own connection, on the Jetshop or the Norce backend."""

    key: Key = Field(description="Short id used in task names, unique within the tenant.")
    backend: Backend = Field(default="jetshop", description="Shop platform: jetshop (SOAP) or norce (Norce Commerce).")
    jetshop_conn_id: ConnId | None = Field(
        default=None, description="Airflow connection (type jetshop) of this shop; backend jetshop."
    )
    norce_conn_id: ConnId | None = Field(
        default=None, description="Airflow connection (type norce) of this shop; backend norce."
    )
    channels: list[Channel] = Field(min_length=1)

    @property
    def conn_id(self) -> str:
        """The shop's connection id, whichever backend it is on."""
        return str(getattr(self, _BACKEND_FIELDS[self.backend][0]))

    @model_validator(mode="after")
    def _unique_channel_keys(self) -> Shop:
        problems = duplicate_problems((ch.key for ch in self.channels), "channels", "key", "channel key")
        problems += self._backend_problems()
        if problems:
            raise Problems(problems)
        return self

    def _backend_problems(self) -> list[tuple[str, str]]:
        """Each backend's own fields set, the other backend's fields absent (named field by field)."""
        conn_field, needed, foreign = _BACKEND_FIELDS[self.backend]
        other_conn = next(f for b, (f, _, _) in _BACKEND_FIELDS.items() if b != self.backend)
        problems: list[tuple[str, str]] = []
        if getattr(self, conn_field) is None:
            problems.append((conn_field, f"required for a shop on backend {self.backend!r}"))
        if getattr(self, other_conn) is not None:
            problems.append((other_conn, f"not used by backend {self.backend!r}; set {conn_field}"))
        for i, channel in enumerate(self.channels):
            problems += [(f"channels[{i}].{name}", f"required for a shop on backend {self.backend!r}")
                         for name in needed if getattr(channel, name) is None]
            problems += [(f"channels[{i}].{name}", f"not used by backend {self.backend!r}")
                         for name in foreign if getattr(channel, name) is not None]
        return problems
