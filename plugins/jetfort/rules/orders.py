"""How shop orders become Fortnox documents: triggers, customers, fees, accounts, limits."""

from __future__ import annotations

import copy
from decimal import Decimal
from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, field_validator, model_validator

from jetfort.rules.errors import Problems
from jetfort.rules.files import default_value, from_defaults, load_mapping, mappings_dir
from jetfort.rules.types import (
    Account,
    ArticleNumber,
    CustomerNumber,
    DeliveryCode,
    Key,
    PriceListCode,
    RulesModel,
    StatusId,
    TermsCode,
    VatRateKey,
    unique,
)


class CustomerDefaults(RulesModel):
    """Values a new Fortnox customer (and the document) gets when the shop order does not say."""

    terms_of_payment: TermsCode | None = from_defaults("orders", "customer_defaults", "terms_of_payment")
    way_of_delivery: DeliveryCode | None = from_defaults("orders", "customer_defaults", "way_of_delivery")
    terms_of_delivery: DeliveryCode | None = from_defaults(
        "orders", "customer_defaults", "terms_of_delivery"
    )
    price_list: PriceListCode = from_defaults("orders", "customer_defaults", "price_list")


class FeeRule(RulesModel):
    """Freight or payment fee: on the document header (Freight / AdministrationFee) or as a row."""

    mode: Literal["header", "row"] = "header"
    article_number: ArticleNumber | None = Field(
        default=None, description="The Fortnox article for the row (mode row)."
    )

    @model_validator(mode="after")
    def _article_when_row(self) -> FeeRule:
        if self.mode == "row" and not self.article_number:
            raise Problems([("article_number", "required when mode is 'row'")])
        if self.mode == "header" and self.article_number:
            raise Problems([("article_number", "only used when mode is 'row' (mode is 'header')")])
        return self


def _vat_account(key: str) -> Any:
    """One OrderAccounts default from vat_accounts.json (a fresh copy each call)."""
    return copy.deepcopy(_flat_vat_accounts(str(mappings_dir()))[key])


@lru_cache(maxsize=8)
def _flat_vat_accounts(directory: str) -> dict[str, Any]:
    """Flattened once per mappings directory: every account default of every tenant's rules comes from here."""
    table = load_mapping("vat_accounts.json")
    out: dict[str, Any] = {
        "sales": {rate: row["sales_account"] for rate, row in table["rates"].items()},
        "eu_vat": table["vat_types"]["EUVAT"]["sales_account"],
        "eu_reverse_charge": table["vat_types"]["EUREVERSEDVAT"]["sales_account"],
        "export": table["vat_types"]["EXPORT"]["sales_account"],
        "gift_card": table["gift_card_account"],
    }
    for what in EXTRAS:
        out[what] = table[f"{what}_account"]
        out[f"{what}_by_rate"] = {rate: row["account"] for rate, row in table[f"{what}_by_rate"].items()}
        by_type = table[f"{what}_by_vat_type"]
        out[f"{what}_eu_reverse_charge"] = by_type["EUREVERSEDVAT"]["account"]
        out[f"{what}_export"] = by_type["EXPORT"]["account"]
    return out


EXTRAS = ("freight", "payment_fee")
"""The supplementary charges that follow the goods' VAT mix and have accounts per VAT rate."""


def _rate_key(rate: Decimal | int | str) -> str:
    value = Decimal(str(rate))
    return str(int(value)) if value == value.to_integral_value() else format(value.normalize(), "f")


class OrderAccounts(RulesModel):
    """Sales accounts per VAT rate and per customer VAT type; defaults from vat_accounts.json.

    ``sales`` merges rate by rate over the defaults, so ``{"sales": {"25": 3011}}`` keeps 12/6/0.

    Freight and payment-fee rows (split by the goods' VAT mix) each carry an account:
    ``<what>_eu_reverse_charge`` / ``<what>_export`` for VAT-free EU-company and export buyers, else
    ``<what>_by_rate`` for the row's VAT rate, else ``<what>`` (BAS 3520 / 3540, 25 %). ``<what>_by_rate``
    merges over the defaults (12 → 3523/3543, 6 → 3524/3544, 0 → 3525/3545) unless the tenant sets
    ``<what>`` alone: then, as before per-rate accounts existed, that one account takes every rate.
    """

    sales: dict[VatRateKey, Account] = Field(
        default_factory=lambda: _vat_account("sales"),
        description="VAT rate (percent, as text) → sales account.",
    )
    eu_vat: Account = Field(
        default_factory=lambda: _vat_account("eu_vat"), description="EU consumer sales."
    )
    eu_reverse_charge: Account = Field(
        default_factory=lambda: _vat_account("eu_reverse_charge"), description="EU B2B, reverse charge."
    )
    export: Account = Field(default_factory=lambda: _vat_account("export"), description="Outside the EU.")
    freight: Account = Field(
        default_factory=lambda: _vat_account("freight"),
        description="Freight rows at 25 % and at any rate freight_by_rate does not name (BAS 3520).",
    )
    freight_by_rate: dict[VatRateKey, Account] = Field(
        default_factory=lambda: _vat_account("freight_by_rate"),
        description="VAT rate → account of freight rows at that rate (defaults 12 → 3523, 6 → 3524, 0 → 3525; "
        "none when only 'freight' is set).",
    )
    freight_eu_reverse_charge: Account = Field(
        default_factory=lambda: _vat_account("freight_eu_reverse_charge"),
        description="Freight rows of EU reverse-charge buyers (BAS 3521 Fakturerade frakter, EU-land).",
    )
    freight_export: Account = Field(
        default_factory=lambda: _vat_account("freight_export"),
        description="Freight rows of buyers outside the EU (BAS 3522 Fakturerade frakter, export).",
    )
    payment_fee: Account = Field(
        default_factory=lambda: _vat_account("payment_fee"),
        description="Payment-fee rows at 25 % and at any rate payment_fee_by_rate does not name (BAS 3540).",
    )
    payment_fee_by_rate: dict[VatRateKey, Account] = Field(
        default_factory=lambda: _vat_account("payment_fee_by_rate"),
        description="VAT rate → account of payment-fee rows at that rate (defaults 12 → 3543, 6 → 3544, "
        "0 → 3545; none when only 'payment_fee' is set).",
    )
    payment_fee_eu_reverse_charge: Account = Field(
        default_factory=lambda: _vat_account("payment_fee_eu_reverse_charge"),
        description="Payment-fee rows of EU reverse-charge buyers (BAS 3541 Faktureringsavgifter, EU-land).",
    )
    payment_fee_export: Account = Field(
        default_factory=lambda: _vat_account("payment_fee_export"),
        description="Payment-fee rows of buyers outside the EU (BAS 3542 Faktureringsavgifter, export).",
    )
    gift_card: Account = Field(
        default_factory=lambda: _vat_account("gift_card"),
        description="Liability a redeemed gift card settles, at 0 % VAT (BAS 2421 Ej inlösta presentkort).",
    )

    @field_validator("sales", mode="before")
    @classmethod
    def _merge_default_rates(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        return {**_vat_account("sales"), **{str(k): v for k, v in value.items()}}

    @model_validator(mode="before")
    @classmethod
    def _extras_by_rate(cls, data: Any) -> Any:
        """Per-rate freight/fee accounts merge over the defaults; ``freight`` alone means all rates."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for what in EXTRAS:
            key = f"{what}_by_rate"
            given = data.get(key)
            if given is not None and not isinstance(given, dict):
                continue
            given = {str(k): v for k, v in (given or {}).items()}
            data[key] = given if what in data else {**_vat_account(key), **given}
        return data

    def sales_account_for(self, rate: Decimal | int | str) -> int:
        """The sales account for a VAT rate (25, Decimal('12.00'), '6'); KeyError if none is set."""
        return self.sales[_rate_key(rate)]

    def extra_account_for(self, what: Literal["freight", "payment_fee"], rate: Decimal | int | str,
                          vat_type: str = "SEVAT") -> int:
        """The account of a freight or payment-fee row at ``rate`` for a buyer of ``vat_type``."""
        if vat_type == "EUREVERSEDVAT":
            return int(getattr(self, f"{what}_eu_reverse_charge"))
        if vat_type == "EXPORT":
            return int(getattr(self, f"{what}_export"))
        by_rate: dict[str, int] = getattr(self, f"{what}_by_rate")
        return by_rate.get(_rate_key(rate), int(getattr(self, what)))

    def in_use(self, prefix: str = "orders.accounts") -> dict[str, int]:
        """Rules path → account, for every account these rules can book to (nested maps and
        models included, so a field added here is checked by pre-flight without more code)."""
        return _accounts_under(self, prefix)


def _accounts_under(value: Any, path: str) -> dict[str, int]:
    if isinstance(value, bool) or value is None:
        return {}
    if isinstance(value, int):
        return {path: value}
    if isinstance(value, dict):
        items = sorted(value.items(), key=lambda kv: str(kv[0]))
    elif isinstance(value, RulesModel):
        items = [(name, getattr(value, name)) for name in type(value).model_fields]
    else:
        return {}
    out: dict[str, int] = {}
    for key, item in items:
        out.update(_accounts_under(item, f"{path}.{key}"))
    return out


class OrderRules(RulesModel):
    """How shop orders become Fortnox documents (issue: orders flow)."""

    document: Literal["order", "invoice"] = from_defaults("orders", "document")
    trigger_statuses: Annotated[list[StatusId], AfterValidator(unique)] = Field(
        default_factory=lambda: default_value("orders", "trigger_statuses"),
        min_length=1,
        description="Jetshop status ids that release an order to Fortnox (all shops unless overridden).",
    )
    trigger_statuses_by_shop: dict[Key, Annotated[list[StatusId], AfterValidator(unique)]] = Field(
        default_factory=dict, description="Shop key → trigger statuses, replacing the default for that shop."
    )
    transferred_status: StatusId = from_defaults(
        "orders", "transferred_status", description="Jetshop status set after posting."
    )
    transferred_status_by_shop: dict[Key, StatusId] = Field(
        default_factory=dict,
        description="Shop key → transferred status (Jetshop status ids are per shop).",
    )
    customer_match: Annotated[list[Literal["organisation_number", "email"]], AfterValidator(unique)] = Field(
        default_factory=lambda: default_value("orders", "customer_match"),
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
    vat_included: bool = from_defaults("orders", "vat_included", description="Document VATIncluded.")
    rounding_tolerance: Decimal = Field(
        default_factory=lambda: default_value("orders", "rounding_tolerance"),
        ge=0,
        le=100,
        decimal_places=2,
        description="Largest accepted difference (SEK) between the shop total and Fortnox's computed total.",
    )
    idempotency_field: Literal["ExternalInvoiceReference1", "ExternalInvoiceReference2"] = from_defaults(
        "orders", "idempotency_field", description="Document field that carries the shop+order key."
    )
    missing_article: Literal["create", "text_row", "quarantine"] = from_defaults(
        "orders",
        "missing_article",
        description="Article unknown in Fortnox: create it (ecom/combo), text row, or quarantine.",
    )
    max_rows: int = Field(
        default_factory=lambda: default_value("orders", "max_rows"),
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
            raise Problems(problems)
        return self

    def accounts_in_use(self) -> dict[str, int]:
        """Rules path (``orders.accounts.freight_by_rate.12``) → account, for every account the order
        rules can book to; pre-flight checks each exists in the Fortnox company."""
        return self.accounts.in_use("orders.accounts")

    def transferred_status_for(self, shop_key: str) -> int:
        return self.transferred_status_by_shop.get(shop_key, self.transferred_status)

    def trigger_statuses_for(self, shop_key: str) -> tuple[int, ...]:
        return tuple(self.trigger_statuses_by_shop.get(shop_key, self.trigger_statuses))
