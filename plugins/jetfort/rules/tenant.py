"""The tenant: the root of the rules (a Fortnox company, its shops and channels, how they are synced),
the checks that span several sections, and the helpers the DAG factory and the tasks use.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Annotated, Any, get_args

from pydantic import ConfigDict, Field, PrivateAttr, StringConstraints, field_validator, model_validator

from jetfort.rules.catalog import CatalogRules
from jetfort.rules.credits import CreditRules
from jetfort.rules.errors import Problems, duplicate_problems
from jetfort.rules.events import EVENT_PARTS, EventRules
from jetfort.rules.notifications import NotificationRules
from jetfort.rules.orders import OrderRules
from jetfort.rules.plans import FEATURE_LABELS, PlanOverrides, minimum_plan, plan_table
from jetfort.rules.plugins import PluginSpec
from jetfort.rules.prices import PriceListRule
from jetfort.rules.schedules import RetryRules, Schedules
from jetfort.rules.shop import Channel, Shop
from jetfort.rules.status import StatusMapRules
from jetfort.rules.stock import StockRules
from jetfort.rules.types import FEATURES, ConnId, Flow, Plan, RulesModel
from jetfort.rules.vat import VatRules

PRICE_MASTER_FLOWS = ("erp", "combo")  # Fortnox masters prices and stock
PRODUCT_MASTER_SHOP_FLOWS = ("ecom", "combo")  # Jetshop masters products


class TenantRules(RulesModel):
    """One tenant: a Fortnox company, its shops and channels, and how they are synced."""

    model_config = ConfigDict(
        extra="forbid",
        validate_default=True,
        populate_by_name=True,
        title="jetfort tenant rules",
        json_schema_extra={
            "description": "Airflow Variable jetfort_tenant_<tenant_id> (JSON). Defaults from include/mappings/."
        },
    )

    schema_ref: str | None = Field(
        default=None, alias="$schema", description="Optional JSON-schema reference for editors."
    )
    display_name: Annotated[str, StringConstraints(max_length=100)] | None = None
    flow: Flow = Field(
        description="ecom: Jetshop masters all; erp: Fortnox masters products, prices, stock; "
        "combo: Jetshop masters products, Fortnox prices and stock."
    )
    plan: Plan | None = Field(
        default=None, description="Hosting plan: feature gates and monthly order cap; none = no limits."
    )
    plan_overrides: PlanOverrides | None = None
    fortnox_conn_id: ConnId = Field(description="Airflow connection (type fortnox) of the Fortnox company.")
    shops: list[Shop] = Field(min_length=1)
    schedules: Schedules = Field(default_factory=lambda: Schedules())
    retries: RetryRules = Field(default_factory=lambda: RetryRules())
    orders: OrderRules = Field(default_factory=lambda: OrderRules())
    credits: CreditRules = Field(default_factory=lambda: CreditRules())
    status_map: StatusMapRules = Field(default_factory=lambda: StatusMapRules.model_validate({}))
    price_lists: list[PriceListRule] = Field(default_factory=list)
    stock: StockRules = Field(default_factory=lambda: StockRules())
    catalog: CatalogRules = Field(default_factory=lambda: CatalogRules())
    plugins: list[PluginSpec] = Field(default_factory=list)
    notifications: NotificationRules = Field(default_factory=lambda: NotificationRules())
    vat: VatRules = Field(default_factory=lambda: VatRules())
    events: EventRules = Field(default_factory=lambda: EventRules())

    _tenant_id: str | None = PrivateAttr(None)

    @field_validator("plan", mode="before")
    @classmethod
    def _plan_as_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @model_validator(mode="before")
    @classmethod
    def _flow_defaults(cls, data: Any) -> Any:
        """Status back and stock are on by default where Fortnox is master of them (erp, combo)."""
        if not isinstance(data, dict) or data.get("flow") not in get_args(Flow):
            return data
        data = dict(data)
        on = data["flow"] in PRICE_MASTER_FLOWS
        for section in ("status_map", "stock"):
            given = data.get(section)
            if given is None:
                data[section] = {"enabled": on}
            elif isinstance(given, dict) and "enabled" not in given:
                data[section] = {**given, "enabled": on}
        return data

    @model_validator(mode="after")
    def _cross_field(self) -> TenantRules:
        problems: list[tuple[str, str]] = []
        problems += self._check_shops()
        problems += self._check_orders()
        problems += self._check_status_map()
        problems += self._check_prices_and_stock()
        problems += self._check_plugins()
        problems += self._check_plan()
        problems += self._check_events()
        if problems:
            raise Problems(problems)
        return self

    # -- cross-field checks -------------------------------------------------------------------

    def _check_shops(self) -> list[tuple[str, str]]:
        return duplicate_problems((shop.key for shop in self.shops), "shops", "key", "shop key")

    def _check_orders(self) -> list[tuple[str, str]]:
        problems = []
        keys = {s.key for s in self.shops}
        for field in ("trigger_statuses_by_shop", "transferred_status_by_shop"):
            for shop in getattr(self.orders, field):
                if shop not in keys:
                    problems.append((f"orders.{field}.{shop}", f"no shop with key {shop!r}"))
        if self.orders.missing_article == "create" and self.flow not in PRODUCT_MASTER_SHOP_FLOWS:
            problems.append(
                (
                    "orders.missing_article",
                    f"'create' needs the shop to be product master (flow ecom or combo); flow is {self.flow!r}",
                )
            )
        return problems

    def _check_status_map(self) -> list[tuple[str, str]]:
        problems = []
        if self.status_map.tracking_field == self.orders.idempotency_field:
            problems.append(
                (
                    "status_map.tracking_field",
                    f"{self.status_map.tracking_field} already carries the idempotency key (orders.idempotency_field)",
                )
            )
        keys = {s.key for s in self.shops}
        for key in self.status_map.states_by_shop:
            if key not in keys:
                problems.append((f"status_map.states_by_shop.{key}", f"no shop with key {key!r}"))
        if self.status_map.enabled:
            for shop in self.shops:
                triggers = self.orders.trigger_statuses_for(shop.key)
                by_shop = shop.key in self.status_map.states_by_shop
                where = f"status_map.states_by_shop.{shop.key}" if by_shop else "status_map.states"
                for state, action in self.status_map.states_for(shop.key).mapped():
                    if action.jetshop_status in triggers:
                        problem = (
                            f"{where}.{state}.jetshop_status",
                            f"{action.jetshop_status} is an order trigger status of shop {shop.key!r}; "
                            "orders would be sent again",
                        )
                        if problem not in problems:
                            problems.append(problem)
        return problems

    def _check_prices_and_stock(self) -> list[tuple[str, str]]:
        problems = []
        refs = {self.channel_ref(shop, ch) for shop, ch in self.channels()}
        base_lists = {(shop.key, ch.shop_price_list) for shop, ch in self.channels()}
        backends = {self.channel_ref(shop, ch): shop.backend for shop, ch in self.channels()}
        if self.price_lists and self.flow not in PRICE_MASTER_FLOWS:
            problems.append(
                (
                    "price_lists",
                    f"prices come from Fortnox only in flows erp and combo; flow is {self.flow!r}",
                )
            )
        groups: dict[str, int] = {}
        for i, rule in enumerate(self.price_lists):
            if rule.customer_group in groups:
                problems.append(
                    (
                        f"price_lists[{i}].customer_group",
                        f"duplicate customer group {rule.customer_group!r} (also price_lists[{groups[rule.customer_group]}])",
                    )
                )
            groups.setdefault(rule.customer_group, i)
            problems += _group_list_problems(i, rule, refs, backends, base_lists)
        if self.stock.enabled and self.flow not in PRICE_MASTER_FLOWS:
            problems.append(
                (
                    "stock.enabled",
                    f"stock comes from Fortnox only in flows erp and combo; flow is {self.flow!r}",
                )
            )
        for ref in self.stock.per_channel:
            if ref not in refs:
                problems.append((f"stock.per_channel.{ref}", f"no channel {ref!r} (known: {sorted(refs)})"))
        return problems

    def _check_plugins(self) -> list[tuple[str, str]]:
        return duplicate_problems((plugin.path for plugin in self.plugins), "plugins", "path", "plugin")

    def _check_plan(self) -> list[tuple[str, str]]:
        if self.plan is None:
            if self.plan_overrides is not None:
                return [("plan_overrides", "only meaningful with a plan (no plan means no gates and no cap)")]
            return []
        problems = []
        for feature, (path, what) in self.features_used().items():
            if not self.feature_allowed(feature):
                problems.append(
                    (
                        path,
                        f"{FEATURE_LABELS[feature]} ({what}) needs plan '{minimum_plan(feature)}' or higher; "
                        f"plan '{self.plan}' does not include it "
                        f'(or add "{feature}" to plan_overrides.features)',
                    )
                )
        return problems

    def _check_events(self) -> list[tuple[str, str]]:
        if not self.events.enabled:
            return []
        if not self.events.purposes():
            return [("events.enabled", "events are on, but neither events.status nor events.catalog is")]
        if self.events.status and not self.status_map.enabled:
            return [("events.status", "the order-status DAG is off (status_map.enabled is false); "
                                      "set events.status to false or turn status_map on")]
        return []

    # -- helpers the DAG factory and tasks use ------------------------------------------------

    def events_purpose(self, part: str) -> str | None:
        """The Fortnox events purpose that drives DAG ``part`` of this tenant, or None (no events)."""
        purpose = EVENT_PARTS.get(part)
        return purpose if purpose in self.events.purposes() else None

    @property
    def tenant_id(self) -> str | None:
        """Set by :func:`parse_tenant` (from the Variable key)."""
        return self._tenant_id

    @staticmethod
    def channel_ref(shop: Shop, channel: Channel) -> str:
        return f"{shop.key}/{channel.key}"

    def channels(self) -> Iterator[tuple[Shop, Channel]]:
        """Every (shop, channel) of the tenant, in the order written."""
        for shop in self.shops:
            for channel in shop.channels:
                yield shop, channel

    def channel(self, ref: str) -> tuple[Shop, Channel]:
        """The (shop, channel) for '<shop>/<channel>'; KeyError if there is none."""
        for shop, ch in self.channels():
            if self.channel_ref(shop, ch) == ref:
                return shop, ch
        raise KeyError(ref)

    @property
    def is_multishop(self) -> bool:
        return len(self.shops) > 1 or sum(len(s.channels) for s in self.shops) > 1

    def features_used(self) -> dict[str, tuple[str, str]]:
        """Feature → (field path, what uses it) for every gated feature these rules use."""
        used: dict[str, tuple[str, str]] = {}
        if self.flow == "combo":
            used["multishop"] = ("flow", "flow 'combo'")
        elif self.is_multishop:
            n_channels = sum(len(s.channels) for s in self.shops)
            used["multishop"] = ("shops", f"{len(self.shops)} shop(s), {n_channels} channels")
        if self.status_map.enabled:
            used["order_status"] = ("status_map.enabled", "enabled")
        if self.stock.enabled:
            used["stock"] = ("stock.enabled", "enabled")
        if self.price_lists:
            used["price_lists"] = ("price_lists", f"{len(self.price_lists)} rule(s)")
        enabled_plugins = [p.path for p in self.plugins if p.enabled]
        if enabled_plugins:
            used["plugins"] = ("plugins", ", ".join(enabled_plugins))
        return used

    def feature_allowed(self, feature: str) -> bool:
        """Whether the plan (plus overrides) includes a feature; always true without a plan."""
        if feature not in FEATURES:
            raise ValueError(f"unknown feature {feature!r}; known: {', '.join(FEATURES)}")
        if self.plan is None:
            return True
        extra = self.plan_overrides.features if self.plan_overrides else []
        return feature in plan_table()[self.plan]["features"] or feature in extra

    @property
    def monthly_order_cap(self) -> int | None:
        """Orders per calendar month before further orders are held; None = no cap."""
        if self.plan is None:
            return None
        if self.plan_overrides is not None:
            if self.plan_overrides.unlimited_orders:
                return None
            if self.plan_overrides.monthly_order_cap is not None:
                return self.plan_overrides.monthly_order_cap
        cap: int | None = plan_table()[self.plan]["monthly_order_cap"]
        return cap


def _group_list_problems(i: int, rule: PriceListRule, refs: set[str], backends: Mapping[str, str],
                         base_lists: set[tuple[str, str]]) -> list[tuple[str, str]]:
    """A customer group's shop price lists: known channels, of the right backend, not a base list."""
    problems = []
    for field, backend in (("jetshop_price_lists", "jetshop"), ("norce_price_lists", "norce")):
        for ref, value in getattr(rule, field).items():
            where = f"price_lists[{i}].{field}.{ref}"
            if ref not in refs:
                problems.append((where, f"no channel {ref!r} (known: {sorted(refs)})"))
            elif backends[ref] != backend:
                problems.append((where, f"channel {ref!r} is on a {backends[ref]} shop; "
                                        f"use {backends[ref]}_price_lists"))
            elif (ref.split("/")[0], rule.shop_price_lists()[ref]) in base_lists:
                problems.append((where, f"{value} is a channel's base price list; "
                                        "a customer group needs its own list"))
    return problems
