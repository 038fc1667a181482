"""Stock and stock status Fortnox → Jetshop: source, thresholds, status ids, per-channel overrides."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from jetfort.rules.errors import Problems
from jetfort.rules.files import default_value, from_defaults
from jetfort.rules.types import ChannelRef, RulesModel, StatusId, StockPointCode, unique


class StockThresholds(RulesModel):
    """Quantity → stock status: ≤ out_at_or_below is out of stock, ≤ low_at_or_below is low (when the
    shop has a low-stock status), else in stock."""

    low_at_or_below: int = Field(
        default_factory=lambda: default_value("stock", "thresholds", "low_at_or_below"), ge=0
    )
    out_at_or_below: int = Field(default_factory=lambda: default_value("stock", "thresholds", "out_at_or_below"))

    @model_validator(mode="after")
    def _ordered(self) -> StockThresholds:
        if self.out_at_or_below > self.low_at_or_below:
            raise Problems(
                [
                    (
                        "out_at_or_below",
                        f"{self.out_at_or_below} is above low_at_or_below {self.low_at_or_below}",
                    )
                ]
            )
        return self


class StockStatusIds(RulesModel):
    """Jetshop stock status ids (shop-configurable)."""

    in_stock: StatusId = from_defaults("stock", "status_ids", "in_stock")
    low_stock: StatusId | None = from_defaults(
        "stock", "status_ids", "low_stock", description="null: no low-stock status (counts as in stock)."
    )
    out_of_stock: StatusId = from_defaults("stock", "status_ids", "out_of_stock")
    expected: StatusId | None = from_defaults(
        "stock", "status_ids", "expected", description="Used when out of stock with an expected date."
    )


class StockOverride(RulesModel):
    """A channel's own thresholds and/or status ids (whole objects; fields left out take defaults.json)."""

    thresholds: StockThresholds | None = None
    status_ids: StockStatusIds | None = None


class StockRules(RulesModel):
    """Stock and stock status Fortnox → Jetshop (erp, combo)."""

    enabled: bool = Field(default=False, description="Default: true for flows erp and combo, false for ecom.")
    source: Literal["disposable", "warehouse"] = from_defaults(
        "stock", "source", description="Article DisposableQuantity, or the warehouse module's stock points."
    )
    stock_points: Annotated[list[StockPointCode], AfterValidator(unique)] = Field(
        default_factory=list, description="Warehouse stock point codes summed per article (source warehouse)."
    )
    thresholds: StockThresholds = Field(default_factory=lambda: StockThresholds())
    status_ids: StockStatusIds = Field(default_factory=lambda: StockStatusIds())
    use_expected_date: bool = Field(
        default=True, description="Out of stock with a delivery date → 'expected' status."
    )
    per_channel: dict[ChannelRef, StockOverride] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _stock_points_match_source(self) -> StockRules:
        if self.source == "warehouse" and not self.stock_points:
            raise Problems([("stock_points", "source 'warehouse' needs at least one stock point code")])
        if self.source == "disposable" and self.stock_points:
            raise Problems([("stock_points", "only used with source 'warehouse' (source is 'disposable')")])
        return self

    def thresholds_for(self, channel_ref: str) -> StockThresholds:
        override = self.per_channel.get(channel_ref)
        return override.thresholds if override and override.thresholds else self.thresholds

    def status_ids_for(self, channel_ref: str) -> StockStatusIds:
        override = self.per_channel.get(channel_ref)
        return override.status_ids if override and override.status_ids else self.status_ids
