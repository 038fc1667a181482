"""Tenant rules: what a data engineer writes (JSON in an Airflow Variable) to tell jetfort how one
Fortnox company and its Jetshop shops are synced.

One Variable per tenant, key ``jetfort_tenant_<tenant_id>``. The model covers every flow (ecom, erp,
combo) from the start so later work only fills in behaviour. Defaults are data in
``include/mappings/`` (``defaults.json``, ``status_map.json``, ``vat_accounts.json``,
``product_fields.json``); ``JETFORT_MAPPINGS_DIR`` points elsewhere for an installed package.

This module must stay light: it does not import Airflow at module level; reading the metastore
imports Airflow's Variable API only in a process that has already imported Airflow (see
:func:`collect_tenant_variables`).
"""

from __future__ import annotations

import copy
import json
import logging
import os
import re
from collections.abc import Iterator, Mapping
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal, get_args
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

log = logging.getLogger(__name__)

__all__ = [
    "ENV_PREFIX",
    "FEATURES",
    "PLANS",
    "TENANT_ID_PATTERN",
    "VARIABLE_PREFIX",
    "Channel",
    "RulesError",
    "Shop",
    "TenantRules",
    "load_mapping",
    "load_tenants",
    "mappings_dir",
    "parse_tenant",
    "render_json_schema",
    "write_json_schema",
]

VARIABLE_PREFIX = "jetfort_tenant_"
ENV_PREFIX = "AIRFLOW_VAR_" + VARIABLE_PREFIX.upper()
TENANTS_DIR_ENV = "JETFORT_TENANTS_DIR"
MAPPINGS_DIR_ENV = "JETFORT_MAPPINGS_DIR"
TENANT_ID_PATTERN = r"^[a-z0-9_]{1,40}$"
SCHEMA_FILE = "tenant_rules.schema.json"

Flow = Literal["ecom", "erp", "combo"]
Plan = Literal["100", "200", "400", "800", "premium"]
Feature = Literal["order_status", "stock", "price_lists", "multishop", "plugins"]
FortnoxState = Literal["delivered", "invoiced", "paid", "cancelled"]
PLANS: tuple[str, ...] = get_args(Plan)
FEATURES: tuple[str, ...] = get_args(Feature)
FEATURE_LABELS: dict[str, str] = {
    "order_status": "Order status back to the shop",
    "stock": "Stock sync",
    "price_lists": "Price lists per customer group",
    "multishop": "Multishop",
    "plugins": "Plugins",
}
_PRICE_MASTER_FLOWS = ("erp", "combo")  # Fortnox masters prices and stock
_PRODUCT_MASTER_SHOP_FLOWS = ("ecom", "combo")  # Jetshop masters products


# ---------------------------------------------------------------------------------------------
# Defaults as data
# ---------------------------------------------------------------------------------------------


def mappings_dir() -> Path:
    """``include/mappings`` next to ``plugins/`` in the repo, or ``$JETFORT_MAPPINGS_DIR``."""
    override = os.environ.get(MAPPINGS_DIR_ENV)
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[2] / "include" / "mappings"


def _strip_doc(value: Any) -> Any:
    """Drop ``_doc``-style keys: the data files document themselves with keys starting with ``_``."""
    if isinstance(value, dict):
        return {k: _strip_doc(v) for k, v in value.items() if not str(k).startswith("_")}
    if isinstance(value, list):
        return [_strip_doc(v) for v in value]
    return value


@lru_cache(maxsize=32)
def _read_mapping(path: str) -> Any:
    with open(path, encoding="utf-8") as fh:
        return _strip_doc(json.load(fh))


def load_mapping(name: str) -> Any:
    """A data file from the mappings directory (without its ``_doc`` keys); a fresh copy each call."""
    return copy.deepcopy(_read_mapping(str(mappings_dir() / name)))


def _default(*path: str) -> Any:
    """One value from ``defaults.json`` by key path, e.g. ``_default("orders", "document")``."""
    value: Any = load_mapping("defaults.json")
    for key in path:
        value = value[key]
    return value


def _from_defaults(*path: str, description: str | None = None) -> Any:
    """A pydantic Field whose default comes from ``defaults.json`` when the rules leave it out."""
    where = ".".join(path)
    text = f"Default: defaults.json {where}."
    return Field(
        default_factory=lambda: _default(*path),
        description=f"{description} {text}" if description else text,
    )


# ---------------------------------------------------------------------------------------------
# Error reporting: every message names the tenant and the field path
# ---------------------------------------------------------------------------------------------


class _Problems(ValueError):
    """Cross-field problems raised inside a validator, each with a path relative to that model."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        super().__init__("\n".join(f"{path}: {msg}" if path else msg for path, msg in problems))


class RulesError(ValueError):
    """Invalid tenant rules; one line per problem: ``tenant '<id>': <field path>: <message>``."""

    def __init__(self, tenant_id: str, problems: list[tuple[str, str]]) -> None:
        self.tenant_id = tenant_id
        self.problems = problems
        super().__init__("\n".join(f"tenant '{tenant_id}': {path}: {msg}" for path, msg in problems))

    @property
    def paths(self) -> list[str]:
        return [path for path, _ in self.problems]

    def __reduce__(self) -> tuple[Any, ...]:  # picklable across processes (DAG processor, workers)
        return (type(self), (self.tenant_id, self.problems))


def _join_path(base: str, rel: str) -> str:
    if not base:
        return rel
    if not rel:
        return base
    return f"{base}{rel}" if rel.startswith("[") else f"{base}.{rel}"


def _format_loc(loc: tuple[int | str, ...]) -> tuple[str, str]:
    """Pydantic loc → ``shops[0].channels[1].currency``; a bad dict key gives a ``key`` prefix."""
    path = ""
    prefix = ""
    for part in loc:
        if part == "[key]":
            prefix = "invalid key: "
            continue
        path = _join_path(path, f"[{part}]" if isinstance(part, int) else str(part))
    return path, prefix


def _problems_from(exc: ValidationError) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    for err in exc.errors():
        path, prefix = _format_loc(tuple(err["loc"]))
        cause = (err.get("ctx") or {}).get("error")
        if isinstance(cause, _Problems):
            problems.extend((_join_path(path, rel) or "(rules)", msg) for rel, msg in cause.problems)
            continue
        msg = err["msg"]
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        if err["type"] == "extra_forbidden":
            msg = "unknown field (Extra inputs are not permitted)"
        problems.append((path or "(rules)", prefix + msg))
    return problems


# ---------------------------------------------------------------------------------------------
# Value types
# ---------------------------------------------------------------------------------------------


def _unique(values: list[Any]) -> list[Any]:
    seen: set[Any] = set()
    dupes: list[Any] = []
    for v in values:
        if v in seen:
            dupes.append(v)
        seen.add(v)
    if dupes:
        raise ValueError(f"duplicate value(s) {', '.join(repr(d) for d in dict.fromkeys(dupes))}")
    return values


Key = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]{1,20}$")]
ConnId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.\-]{1,200}$")]
ChannelRef = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9_]{1,20}/[a-z0-9_]{1,20}$"),
    Field(description="A channel as '<shop key>/<channel key>'."),
]
StatusId = Annotated[int, Field(ge=0, description="A Jetshop order/stock status id (shop-configurable).")]
Account = Annotated[int, Field(ge=1000, le=9999, description="A BAS account number.")]
ArticleNumber = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_\-+/.]{1,50}$")]
CustomerNumber = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_\-+/]{1,50}$")]
TermsCode = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z0-9]{1,25}$"), AfterValidator(str.upper)
]  # Fortnox upper-cases terms-of-payment codes
DeliveryCode = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_\-]{1,50}$")]
PriceListCode = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_\-]{1,100}$")]
TagCode = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_\-]{1,20}$")]
VatRateKey = Annotated[str, StringConstraints(pattern=r"^(0|[1-9][0-9]?)(\.[0-9]{1,2})?$")]
StockPointCode = Annotated[str, StringConstraints(min_length=1, max_length=10)]
_DOTTED = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+(:[A-Za-z_][A-Za-z0-9_]*)?$")


def _check_dotted(value: str) -> str:
    if not _DOTTED.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a dotted import path like 'acme_plugins.mapper' or 'acme_plugins.mapper:adjust'"
        )
    return value


DottedPath = Annotated[str, AfterValidator(_check_dotted)]

_CRON_PRESETS = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}


def _check_cron(value: str) -> str:
    """A 5-field cron (presets like ``@hourly`` become their cron) that croniter accepts."""
    text = " ".join(value.split())
    text = _CRON_PRESETS.get(text, text)
    if text.startswith("@"):
        raise ValueError(
            f"unsupported preset {value!r}; use a 5-field cron or one of {sorted(_CRON_PRESETS)}"
        )
    if len(text.split()) != 5:
        raise ValueError(f"{value!r} is not a 5-field cron expression (minute hour day month weekday)")
    if not croniter.is_valid(text):
        raise ValueError(f"invalid cron expression {value!r}")
    return text


Cron = Annotated[str, AfterValidator(_check_cron)]

_SECRET_KEY = re.compile(r"pass(word|wd)?|secret|token|api[_-]?key|private[_-]?key|credential", re.I)


def _secret_keys(value: Any, path: str = "") -> list[str]:
    found: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            sub = _join_path(path, str(key))
            if _SECRET_KEY.search(str(key)) and not str(key).endswith("conn_id"):
                found.append(sub)
            found.extend(_secret_keys(item, sub))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found.extend(_secret_keys(item, f"{path}[{i}]"))
    return found


class _Rules(BaseModel):
    """Base: unknown keys are errors (typos surface with their path); defaults are validated too."""

    model_config = ConfigDict(extra="forbid", validate_default=True)


# ---------------------------------------------------------------------------------------------
# Shops and channels
# ---------------------------------------------------------------------------------------------


class Channel(_Rules):
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


class Shop(_Rules):
    """One Jetshop shop (its own connection: integration login + ShopId)."""

    key: Key = Field(description="Short id used in task names, unique within the tenant.")
    jetshop_conn_id: ConnId = Field(description="Airflow connection (type jetshop) of this shop.")
    channels: list[Channel] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_channel_keys(self) -> Shop:
        seen: dict[str, int] = {}
        problems = []
        for i, ch in enumerate(self.channels):
            if ch.key in seen:
                problems.append(
                    (
                        f"channels[{i}].key",
                        f"duplicate channel key {ch.key!r} (also channels[{seen[ch.key]}])",
                    )
                )
            seen.setdefault(ch.key, i)
        if problems:
            raise _Problems(problems)
        return self


# ---------------------------------------------------------------------------------------------
# Schedules
# ---------------------------------------------------------------------------------------------


class Schedules(_Rules):
    """Cron per flow part (data-interval timetables); null switches a part's schedule off."""

    orders: Cron = _from_defaults("schedules", "orders")
    order_status: Cron | None = _from_defaults("schedules", "order_status")
    catalog: Cron | None = _from_defaults("schedules", "catalog")
    drift: Cron | None = _from_defaults("schedules", "drift")
    window_overlap_minutes: int = Field(
        default_factory=lambda: _default("schedules", "window_overlap_minutes"),
        ge=0,
        le=1440,
        description="Each run also re-reads this many minutes before its window (clock skew, late writes).",
    )
    timezone: str = _from_defaults("schedules", "timezone")

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r} (use an IANA name like 'Europe/Stockholm')"
            ) from None
        return value


class RetryRules(_Rules):
    """How Airflow retries a failed jetfort task (permanent errors are never retried)."""

    count: int = Field(default=3, ge=0, le=10, description="Retries after the first try.")
    delay_seconds: float = Field(
        default=30.0, gt=0, le=3600,
        description="Delay before the first retry; doubles on each further retry (exponential backoff).",
    )
    max_delay_minutes: float = Field(default=15.0, gt=0, le=1440, description="Cap on the backoff delay.")


# ---------------------------------------------------------------------------------------------
# Orders
# ---------------------------------------------------------------------------------------------


class CustomerDefaults(_Rules):
    """Values a new Fortnox customer (and the document) gets when the shop order does not say."""

    terms_of_payment: TermsCode | None = _from_defaults("orders", "customer_defaults", "terms_of_payment")
    way_of_delivery: DeliveryCode | None = _from_defaults("orders", "customer_defaults", "way_of_delivery")
    terms_of_delivery: DeliveryCode | None = _from_defaults(
        "orders", "customer_defaults", "terms_of_delivery"
    )
    price_list: PriceListCode = _from_defaults("orders", "customer_defaults", "price_list")


class FeeRule(_Rules):
    """Freight or payment fee: on the document header (Freight / AdministrationFee) or as a row."""

    mode: Literal["header", "row"] = "header"
    article_number: ArticleNumber | None = Field(
        default=None, description="The Fortnox article for the row (mode row)."
    )

    @model_validator(mode="after")
    def _article_when_row(self) -> FeeRule:
        if self.mode == "row" and not self.article_number:
            raise _Problems([("article_number", "required when mode is 'row'")])
        if self.mode == "header" and self.article_number:
            raise _Problems([("article_number", "only used when mode is 'row' (mode is 'header')")])
        return self


def _vat_accounts() -> dict[str, Any]:
    """vat_accounts.json flattened to the OrderAccounts shape."""
    table = load_mapping("vat_accounts.json")
    return {
        "sales": {rate: row["sales_account"] for rate, row in table["rates"].items()},
        "eu_vat": table["vat_types"]["EUVAT"]["sales_account"],
        "eu_reverse_charge": table["vat_types"]["EUREVERSEDVAT"]["sales_account"],
        "export": table["vat_types"]["EXPORT"]["sales_account"],
        "freight": table["freight_account"],
        "payment_fee": table["payment_fee_account"],
    }


class OrderAccounts(_Rules):
    """Sales accounts per VAT rate and per customer VAT type; defaults from vat_accounts.json.

    ``sales`` merges rate by rate over the defaults, so ``{"sales": {"25": 3011}}`` keeps 12/6/0.
    """

    sales: dict[VatRateKey, Account] = Field(
        default_factory=lambda: _vat_accounts()["sales"],
        description="VAT rate (percent, as text) → sales account.",
    )
    eu_vat: Account = Field(
        default_factory=lambda: _vat_accounts()["eu_vat"], description="EU consumer sales."
    )
    eu_reverse_charge: Account = Field(
        default_factory=lambda: _vat_accounts()["eu_reverse_charge"], description="EU B2B, reverse charge."
    )
    export: Account = Field(default_factory=lambda: _vat_accounts()["export"], description="Outside the EU.")
    freight: Account = Field(default_factory=lambda: _vat_accounts()["freight"])
    payment_fee: Account = Field(default_factory=lambda: _vat_accounts()["payment_fee"])

    @field_validator("sales", mode="before")
    @classmethod
    def _merge_default_rates(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        return {**_vat_accounts()["sales"], **{str(k): v for k, v in value.items()}}

    def sales_account_for(self, rate: Decimal | int | str) -> int:
        """The sales account for a VAT rate (25, Decimal('12.00'), '6'); KeyError if none is set."""
        value = Decimal(str(rate))
        key = str(int(value)) if value == value.to_integral_value() else format(value.normalize(), "f")
        return self.sales[key]


class OrderRules(_Rules):
    """How shop orders become Fortnox documents (issue: orders flow)."""

    document: Literal["order", "invoice"] = _from_defaults("orders", "document")
    trigger_statuses: Annotated[list[StatusId], AfterValidator(_unique)] = Field(
        default_factory=lambda: _default("orders", "trigger_statuses"),
        min_length=1,
        description="Jetshop status ids that release an order to Fortnox (all shops unless overridden).",
    )
    trigger_statuses_by_shop: dict[Key, Annotated[list[StatusId], AfterValidator(_unique)]] = Field(
        default_factory=dict, description="Shop key → trigger statuses, replacing the default for that shop."
    )
    transferred_status: StatusId = _from_defaults(
        "orders", "transferred_status", description="Jetshop status set after posting."
    )
    transferred_status_by_shop: dict[Key, StatusId] = Field(
        default_factory=dict,
        description="Shop key → transferred status (Jetshop status ids are per shop).",
    )
    customer_match: Annotated[list[Literal["organisation_number", "email"]], AfterValidator(_unique)] = Field(
        default_factory=lambda: _default("orders", "customer_match"),
        min_length=1,
        description="Order in which existing Fortnox customers are looked up; none found → create.",
    )
    collective_customer_number: CustomerNumber | None = Field(
        default=None,
        description="Fortnox customer for all private (B2C) buyers; unset = one customer per buyer.",
    )
    customer_defaults: CustomerDefaults = Field(default_factory=lambda: CustomerDefaults())
    freight: FeeRule = Field(default_factory=lambda: FeeRule())
    payment_fee: FeeRule = Field(default_factory=lambda: FeeRule())
    accounts: OrderAccounts = Field(default_factory=lambda: OrderAccounts())
    vat_included: bool = _from_defaults("orders", "vat_included", description="Document VATIncluded.")
    rounding_tolerance: Decimal = Field(
        default_factory=lambda: _default("orders", "rounding_tolerance"),
        ge=0,
        le=100,
        decimal_places=2,
        description="Largest accepted difference (SEK) between the shop total and Fortnox's computed total.",
    )
    idempotency_field: Literal["ExternalInvoiceReference1", "ExternalInvoiceReference2"] = _from_defaults(
        "orders", "idempotency_field", description="Document field that carries the shop+order key."
    )
    missing_article: Literal["create", "text_row", "quarantine"] = _from_defaults(
        "orders",
        "missing_article",
        description="Article unknown in Fortnox: create it (ecom/combo), text row, or quarantine.",
    )
    max_rows: int = Field(
        default_factory=lambda: _default("orders", "max_rows"),
        ge=1,
        le=500,
        description="Orders with more rows are quarantined (Fortnox accepts at most 500).",
    )

    @model_validator(mode="after")
    def _transferred_is_not_a_trigger(self) -> OrderRules:
        problems = []
        if self.transferred_status in self.trigger_statuses:
            problems.append(
                (
                    "transferred_status",
                    f"{self.transferred_status} is also a trigger status; posted orders would be picked up again",
                )
            )
        shops = set(self.trigger_statuses_by_shop) | set(self.transferred_status_by_shop)
        for shop in sorted(shops):
            transferred = self.transferred_status_for(shop)
            if shop in self.trigger_statuses_by_shop and transferred in self.trigger_statuses_for(shop):
                problems.append(
                    (
                        f"trigger_statuses_by_shop.{shop}",
                        f"contains the transferred status {transferred} of shop {shop!r}",
                    )
                )
            elif shop in self.transferred_status_by_shop and transferred in self.trigger_statuses_for(shop):
                problems.append(
                    (
                        f"transferred_status_by_shop.{shop}",
                        f"{transferred} is also a trigger status of shop {shop!r}",
                    )
                )
        if problems:
            raise _Problems(problems)
        return self

    def transferred_status_for(self, shop_key: str) -> int:
        return self.transferred_status_by_shop.get(shop_key, self.transferred_status)

    def trigger_statuses_for(self, shop_key: str) -> tuple[int, ...]:
        return tuple(self.trigger_statuses_by_shop.get(shop_key, self.trigger_statuses))


# ---------------------------------------------------------------------------------------------
# Order status back (Fortnox → Jetshop)
# ---------------------------------------------------------------------------------------------


def _partial_in_schema(schema: dict[str, Any]) -> None:
    """Rules may give only the fields that differ from the default state, so the schema requires none."""
    schema.pop("required", None)


class StatusAction(_Rules):
    """What the shop order gets when the Fortnox document reaches a state (fields left out come from
    the default state; jetshop_status is required where the state has no default)."""

    model_config = ConfigDict(json_schema_extra=_partial_in_schema)

    jetshop_status: StatusId
    send_email: bool = False
    capture: bool = Field(
        default=False, description="Capture the payment (Klarna/DIBS) in Jetshop; never on cancelled."
    )
    include_tracking: bool = False


class StatusStates(_Rules):
    """Fortnox state → action; null means the state is not pushed to the shop."""

    delivered: StatusAction | None = None
    invoiced: StatusAction | None = None
    paid: StatusAction | None = None
    cancelled: StatusAction | None = None

    @model_validator(mode="after")
    def _capture_rules(self) -> StatusStates:
        problems = []
        if self.cancelled is not None and self.cancelled.capture:
            problems.append(("cancelled.capture", "a cancelled order is never captured"))
        capturing = [s for s, action in self.mapped() if action.capture and s != "cancelled"]
        if len(capturing) > 1:
            problems.extend(
                (f"{s}.capture", f"capture may be set on one state only (set on {', '.join(capturing)})")
                for s in capturing[1:]
            )
        if problems:
            raise _Problems(problems)
        return self

    def mapped(self) -> Iterator[tuple[str, StatusAction]]:
        """The mapped states in Fortnox order (delivered, invoiced, paid, cancelled)."""
        for state in get_args(FortnoxState):
            action = getattr(self, state)
            if action is not None:
                yield state, action


TrackingField = Literal[
    "ExternalInvoiceReference1",
    "ExternalInvoiceReference2",
    "YourReference",
    "OurReference",
    "Remarks",
    "Comments",
]


class StatusMapRules(_Rules):
    """Order status back to the shop; states merge field by field over include/mappings/status_map.json."""

    enabled: bool = Field(default=False, description="Default: true for flows erp and combo, false for ecom.")
    states: StatusStates = Field(
        default_factory=lambda: StatusStates.model_validate(load_mapping("status_map.json")["states"]),
        description="Each state merges field by field over status_map.json; null = not pushed.",
    )
    tracking_field: TrackingField = Field(
        default_factory=lambda: load_mapping("status_map.json")["tracking_field"],
        description=(
            "Fortnox document field holding the tracking number. Default ExternalInvoiceReference2: a short "
            "unprinted reference on orders and invoices that jetfort never writes."
        ),
    )
    tracking_url_template: str | None = Field(
        default=None,
        description="e.g. 'https://tracking.postnord.com/?id={tracking}'.",
        pattern=r"\{tracking\}",
    )
    states_by_shop: dict[Key, StatusStates] = Field(
        default_factory=dict,
        description="Shop key → states merged field by field over `states` (Jetshop status ids are per shop).",
    )
    trigger: Literal["poll", "websocket"] = Field(
        default="poll", description="websocket: Fortnox event stream as trigger, polling stays the fallback."
    )

    @model_validator(mode="before")
    @classmethod
    def _merge_defaults(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        base = load_mapping("status_map.json")
        merged = {"tracking_field": base["tracking_field"], **data}
        states = _merge_states(base["states"], data.get("states", {}))
        merged["states"] = states
        by_shop = data.get("states_by_shop")
        if isinstance(by_shop, dict) and isinstance(states, dict):
            merged["states_by_shop"] = {shop: _merge_states(states, given) for shop, given in by_shop.items()}
        return merged

    def states_for(self, shop_key: str) -> StatusStates:
        """The status map for one shop (its override, else the tenant's)."""
        return self.states_by_shop.get(shop_key, self.states)


def _merge_states(base: Mapping[str, Any], given: Any) -> Any:
    """Per state: a dict merges field by field over the base action, null switches the state off."""
    if not isinstance(given, dict):
        return given
    states: dict[str, Any] = {}
    for state, action in base.items():
        if state not in given:
            states[state] = action
        elif isinstance(given[state], dict) and isinstance(action, dict):
            states[state] = {**action, **given[state]}
        else:
            states[state] = given[state]
    states.update({k: v for k, v in given.items() if k not in states})  # unknown → extra-field error
    return states


# ---------------------------------------------------------------------------------------------
# Prices, stock, catalog
# ---------------------------------------------------------------------------------------------


class PriceListRule(_Rules):
    """A customer group's Fortnox price list written into Jetshop price lists, per channel."""

    customer_group: Annotated[str, StringConstraints(min_length=1, max_length=50)] = Field(
        description="e.g. 'resellers' (ÅF)."
    )
    fortnox_price_list: PriceListCode
    jetshop_price_lists: dict[ChannelRef, UUID] = Field(min_length=1, description="Channel → Jetshop GUID.")
    prices_include_vat: bool = Field(
        default=True, description="Write PriceIncVat (true) or ex-VAT prices (false)."
    )


class StockThresholds(_Rules):
    """Quantity → stock status: ≤ out_at_or_below is out of stock, ≤ low_at_or_below is low (when the
    shop has a low-stock status), else in stock."""

    low_at_or_below: int = Field(
        default_factory=lambda: _default("stock", "thresholds", "low_at_or_below"), ge=0
    )
    out_at_or_below: int = Field(default_factory=lambda: _default("stock", "thresholds", "out_at_or_below"))

    @model_validator(mode="after")
    def _ordered(self) -> StockThresholds:
        if self.out_at_or_below > self.low_at_or_below:
            raise _Problems(
                [
                    (
                        "out_at_or_below",
                        f"{self.out_at_or_below} is above low_at_or_below {self.low_at_or_below}",
                    )
                ]
            )
        return self


class StockStatusIds(_Rules):
    """Jetshop stock status ids (shop-configurable)."""

    in_stock: StatusId = _from_defaults("stock", "status_ids", "in_stock")
    low_stock: StatusId | None = _from_defaults(
        "stock", "status_ids", "low_stock", description="null: no low-stock status (counts as in stock)."
    )
    out_of_stock: StatusId = _from_defaults("stock", "status_ids", "out_of_stock")
    expected: StatusId | None = _from_defaults(
        "stock", "status_ids", "expected", description="Used when out of stock with an expected date."
    )


class StockOverride(_Rules):
    """A channel's own thresholds and/or status ids (whole objects; fields left out take defaults.json)."""

    thresholds: StockThresholds | None = None
    status_ids: StockStatusIds | None = None


class StockRules(_Rules):
    """Stock and stock status Fortnox → Jetshop (erp, combo)."""

    enabled: bool = Field(default=False, description="Default: true for flows erp and combo, false for ecom.")
    source: Literal["disposable", "warehouse"] = _from_defaults(
        "stock", "source", description="Article DisposableQuantity, or the warehouse module's stock points."
    )
    stock_points: Annotated[list[StockPointCode], AfterValidator(_unique)] = Field(
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
            raise _Problems([("stock_points", "source 'warehouse' needs at least one stock point code")])
        if self.source == "disposable" and self.stock_points:
            raise _Problems([("stock_points", "only used with source 'warehouse' (source is 'disposable')")])
        return self

    def thresholds_for(self, channel_ref: str) -> StockThresholds:
        override = self.per_channel.get(channel_ref)
        return override.thresholds if override and override.thresholds else self.thresholds

    def status_ids_for(self, channel_ref: str) -> StockStatusIds:
        override = self.per_channel.get(channel_ref)
        return override.status_ids if override and override.status_ids else self.status_ids


class ArticleFilter(_Rules):
    """Which articles the catalog flows touch; patterns are shell globs on the article number."""

    webshop_only: bool = Field(
        default=True, description="Fortnox side: only articles flagged WebshopArticle."
    )
    active_only: bool = True
    include: list[Annotated[str, StringConstraints(min_length=1)]] = Field(default_factory=list)
    exclude: list[Annotated[str, StringConstraints(min_length=1)]] = Field(default_factory=list)


class CatalogRules(_Rules):
    """Products between the shop and Fortnox; field_map overrides include/mappings/product_fields.json."""

    description_max_length: int = Field(
        default_factory=lambda: _default("catalog", "description_max_length"),
        ge=1,
        le=200,
        description="Fortnox article Description limit to write (200 max; updates over 50 fail in practice).",
    )
    variant_name_separator: str = _from_defaults("catalog", "variant_name_separator")
    field_map: dict[str, Annotated[str, StringConstraints(min_length=1)] | None] = Field(
        default_factory=dict, description="Fortnox article field → Jetshop field (null drops the field)."
    )
    article_filter: ArticleFilter = Field(default_factory=lambda: ArticleFilter())
    correct_drift: bool = Field(default=False, description="The drift report also writes corrections.")

    @field_validator("field_map")
    @classmethod
    def _known_fortnox_fields(cls, value: dict[str, str | None]) -> dict[str, str | None]:
        known = set(load_mapping("product_fields.json")["fortnox_article_fields"])
        unknown = [k for k in value if k not in known]
        if unknown:
            raise _Problems(
                [(k, f"not a Fortnox article field jetfort maps (known: {sorted(known)})") for k in unknown]
            )
        if value.get("ArticleNumber", "ArticleNumber") != "ArticleNumber":
            raise _Problems(
                [("ArticleNumber", "article numbers are the same on both sides and cannot be remapped")]
            )
        return value

    def effective_field_map(self) -> dict[str, str]:
        fields: dict[str, str | None] = {**load_mapping("product_fields.json")["fields"], **self.field_map}
        return {k: v for k, v in fields.items() if v is not None}


# ---------------------------------------------------------------------------------------------
# Plugins, notifications, plan
# ---------------------------------------------------------------------------------------------


class PluginSpec(_Rules):
    """A tenant plugin: dotted import path ('pkg.module' or 'pkg.module:attr') and its config."""

    path: DottedPath
    config: dict[str, Any] = Field(default_factory=dict, description="No secrets: name a conn id instead.")
    enabled: bool = True

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, data: Any) -> Any:
        return {"path": data} if isinstance(data, str) else data

    @field_validator("config")
    @classmethod
    def _no_secrets(cls, value: dict[str, Any]) -> dict[str, Any]:
        found = _secret_keys(value)
        if found:
            raise _Problems(
                [
                    (p, "looks like a secret; keep secrets in an Airflow Connection and put its conn id here")
                    for p in found
                ]
            )
        return value


class NotificationRules(_Rules):
    """Failure and attention notices through an Airflow connection (secrets stay in the Connection)."""

    kind: Literal["smtp", "slack_webhook", "http"] | None = None
    conn_id: ConnId | None = Field(default=None, description="Airflow connection the notifier uses.")
    to: list[Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]] = Field(
        default_factory=list, description="Recipients (smtp)."
    )
    on_failure: bool = True
    on_quarantine: bool = True
    on_cap_reached: bool = True

    @model_validator(mode="after")
    def _complete(self) -> NotificationRules:
        problems = []
        if self.kind and not self.conn_id:
            problems.append(("conn_id", f"required for kind {self.kind!r}"))
        if self.conn_id and not self.kind:
            problems.append(("kind", "required when conn_id is set"))
        if self.kind == "smtp" and not self.to:
            problems.append(("to", "smtp needs at least one recipient"))
        if problems:
            raise _Problems(problems)
        return self


class PlanOverrides(_Rules):
    """Per-merchant deals on top of the plan."""

    features: Annotated[list[Feature], AfterValidator(_unique)] = Field(
        default_factory=list, description="Features granted beyond the plan."
    )
    monthly_order_cap: int | None = Field(default=None, ge=1, description="Replaces the plan's monthly cap.")
    unlimited_orders: bool = Field(default=False, description="No monthly cap at all.")

    @model_validator(mode="after")
    def _one_cap(self) -> PlanOverrides:
        if self.unlimited_orders and self.monthly_order_cap is not None:
            raise _Problems(
                [("monthly_order_cap", "set either monthly_order_cap or unlimited_orders, not both")]
            )
        return self


def plan_table() -> dict[str, dict[str, Any]]:
    """Plan → {"features": [...], "monthly_order_cap": int | None}, from defaults.json."""
    table: dict[str, dict[str, Any]] = _default("plans")
    return table


def minimum_plan(feature: str) -> str:
    """The smallest plan that includes a feature (e.g. 'price_lists' → '400')."""
    table = plan_table()
    for plan in PLANS:
        if feature in table[plan]["features"]:
            return plan
    return "premium"


# ---------------------------------------------------------------------------------------------
# The tenant
# ---------------------------------------------------------------------------------------------


class TenantRules(_Rules):
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
    status_map: StatusMapRules = Field(default_factory=lambda: StatusMapRules.model_validate({}))
    price_lists: list[PriceListRule] = Field(default_factory=list)
    stock: StockRules = Field(default_factory=lambda: StockRules())
    catalog: CatalogRules = Field(default_factory=lambda: CatalogRules())
    plugins: list[PluginSpec] = Field(default_factory=list)
    notifications: NotificationRules = Field(default_factory=lambda: NotificationRules())

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
        on = data["flow"] in _PRICE_MASTER_FLOWS
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
        if problems:
            raise _Problems(problems)
        return self

    # -- cross-field checks -------------------------------------------------------------------

    def _check_shops(self) -> list[tuple[str, str]]:
        problems = []
        seen: dict[str, int] = {}
        for i, shop in enumerate(self.shops):
            if shop.key in seen:
                problems.append(
                    (f"shops[{i}].key", f"duplicate shop key {shop.key!r} (also shops[{seen[shop.key]}])")
                )
            seen.setdefault(shop.key, i)
        return problems

    def _check_orders(self) -> list[tuple[str, str]]:
        problems = []
        keys = {s.key for s in self.shops}
        for field in ("trigger_statuses_by_shop", "transferred_status_by_shop"):
            for shop in getattr(self.orders, field):
                if shop not in keys:
                    problems.append((f"orders.{field}.{shop}", f"no shop with key {shop!r}"))
        if self.orders.missing_article == "create" and self.flow not in _PRODUCT_MASTER_SHOP_FLOWS:
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
        base_guids = {ch.price_list_guid for _, ch in self.channels()}
        if self.price_lists and self.flow not in _PRICE_MASTER_FLOWS:
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
            for ref, guid in rule.jetshop_price_lists.items():
                if ref not in refs:
                    problems.append(
                        (
                            f"price_lists[{i}].jetshop_price_lists.{ref}",
                            f"no channel {ref!r} (known: {sorted(refs)})",
                        )
                    )
                elif guid in base_guids:
                    problems.append(
                        (
                            f"price_lists[{i}].jetshop_price_lists.{ref}",
                            f"{guid} is a channel's base price list; a customer group needs its own list",
                        )
                    )
        if self.stock.enabled and self.flow not in _PRICE_MASTER_FLOWS:
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
        problems = []
        seen: dict[str, int] = {}
        for i, plugin in enumerate(self.plugins):
            if plugin.path in seen:
                problems.append(
                    (
                        f"plugins[{i}].path",
                        f"duplicate plugin {plugin.path!r} (also plugins[{seen[plugin.path]}])",
                    )
                )
            seen.setdefault(plugin.path, i)
        return problems

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

    # -- helpers the DAG factory and tasks use ------------------------------------------------

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


# ---------------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------------


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def parse_tenant(tenant_id: str, raw: str | bytes | Mapping[str, Any]) -> TenantRules:
    """Validate one tenant's rules (JSON text or a dict); RulesError names the tenant and each field path."""
    if not isinstance(tenant_id, str) or not re.fullmatch(TENANT_ID_PATTERN, tenant_id):
        raise RulesError(
            str(tenant_id),
            [("(tenant id)", f"must match {TENANT_ID_PATTERN} (Variable key {VARIABLE_PREFIX}<tenant_id>)")],
        )
    data: Any = raw
    if isinstance(raw, str | bytes):
        try:
            data = json.loads(raw, object_pairs_hook=_no_duplicate_keys)
        except json.JSONDecodeError as exc:
            raise RulesError(
                tenant_id, [("(json)", f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}")]
            ) from None
        except ValueError as exc:
            raise RulesError(tenant_id, [("(json)", str(exc))]) from None
    try:
        rules = TenantRules.model_validate(data)
    except ValidationError as exc:
        raise RulesError(tenant_id, _problems_from(exc)) from None
    rules._tenant_id = tenant_id
    return rules


def load_tenants(
    variables: Mapping[str, str | Mapping[str, Any]],
) -> tuple[dict[str, TenantRules], dict[str, RulesError]]:
    """Valid tenants and errors per tenant id, from Variable key → JSON; other keys are ignored.

    One tenant's invalid rules never hide the others.
    """
    tenants: dict[str, TenantRules] = {}
    errors: dict[str, RulesError] = {}
    for key in sorted(variables):
        if not key.startswith(VARIABLE_PREFIX):
            continue
        tenant_id = key[len(VARIABLE_PREFIX) :]
        try:
            tenants[tenant_id] = parse_tenant(tenant_id, variables[key])
        except RulesError as exc:
            errors[tenant_id] = exc
    return tenants, errors


# ---------------------------------------------------------------------------------------------
# JSON schema
# ---------------------------------------------------------------------------------------------


def render_json_schema() -> str:
    """The tenant rules' JSON schema as committed in include/mappings/tenant_rules.schema.json."""
    schema = TenantRules.model_json_schema(by_alias=True)
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def write_json_schema(path: Path | None = None) -> Path:
    """Write the schema (default: mappings dir) — run ``python -m jetfort.rules`` after changing models."""
    target = path or (mappings_dir() / SCHEMA_FILE)
    target.write_text(render_json_schema(), encoding="utf-8")
    return target


if __name__ == "__main__":  # pragma: no cover - maintenance entry point
    print(write_json_schema())
