"""Hosting plans: which features each plan includes, its monthly order cap, per-merchant overrides."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, Field, model_validator

from jetfort.rules.errors import Problems
from jetfort.rules.files import default_value
from jetfort.rules.types import PLANS, Feature, RulesModel, unique

FEATURE_LABELS: dict[str, str] = {
    "order_status": "Order status back to the shop",
    "stock": "Stock sync",
    "price_lists": "Price lists per customer group",
    "multishop": "Multishop",
    "plugins": "Plugins",
}


class PlanOverrides(RulesModel):
    """Per-merchant deals on top of the plan."""

    features: Annotated[list[Feature], AfterValidator(unique)] = Field(
        default_factory=list, description="Features granted beyond the plan."
    )
    monthly_order_cap: int | None = Field(default=None, ge=1, description="Replaces the plan's monthly cap.")
    unlimited_orders: bool = Field(default=False, description="No monthly cap at all.")

    @model_validator(mode="after")
    def _one_cap(self) -> PlanOverrides:
        if self.unlimited_orders and self.monthly_order_cap is not None:
            raise Problems(
                [("monthly_order_cap", "set either monthly_order_cap or unlimited_orders, not both")]
            )
        return self


def plan_table() -> dict[str, dict[str, Any]]:
    """Plan → {"features": [...], "monthly_order_cap": int | None}, from defaults.json."""
    table: dict[str, dict[str, Any]] = default_value("plans")
    return table


def minimum_plan(feature: str) -> str:
    """The smallest plan that includes a feature (e.g. 'price_lists' → '400')."""
    table = plan_table()
    for plan in PLANS:
        if feature in table[plan]["features"]:
            return plan
    return "premium"
