"""VAT rules beyond the Swedish rates: the EU One Stop Shop (OSS) and the dated EU rate table.

``vat.oss`` says whether the Fortnox company is registered for OSS (the union scheme) and from when,
and on which accounts each country's sales and output VAT are booked, per rate. The accounts are the
company's own (Fortnox has no OSS field: per-country sales accounts linked to per-country VAT codes,
set up under Inställningar > Bokföring > Moms), so there are no default accounts: a country or a
rate the tenant did not configure is quarantined with the rules path to fill in.

The rate table (``include/mappings/eu_vat_rates.json``) is data: per country, the periods since
2021-07-01 with their standard and reduced rates.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from functools import lru_cache
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints, model_validator

from jetfort.rules.errors import Problems
from jetfort.rules.files import load_mapping, mappings_dir
from jetfort.rules.types import Account, RulesModel, VatRateKey

HOME = "SE"
RATES_FILE = "eu_vat_rates.json"

CountryCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]


def rate_key(rate: Decimal | int | str) -> str:
    """A rate as the rules write it: ``Decimal('19.00')`` → ``"19"``, ``Decimal('25.50')`` → ``"25.5"``."""
    value = Decimal(str(rate))
    return str(int(value)) if value == value.to_integral_value() else format(value.normalize(), "f")


# ------------------------------------------------------------------------------------------ rate table


class RatePeriod(BaseModel):
    """The rates of one country from ``valid_from`` until the next period."""

    valid_from: dt.date
    standard: Decimal
    reduced: list[Decimal] | None = Field(
        description="Reduced rates; [] = the country has none; null = not listed in the table.")

    @property
    def rates(self) -> tuple[Decimal, ...]:
        return (self.standard, *(self.reduced or ()))


class CountryRates(BaseModel):
    name: str
    adjective: str
    periods: list[RatePeriod] = Field(min_length=1)

    def on(self, day: dt.date) -> RatePeriod | None:
        """The period valid on ``day`` (None before the first one)."""
        valid = [p for p in self.periods if p.valid_from <= day]
        return max(valid, key=lambda p: p.valid_from) if valid else None


class EuVatRates(BaseModel):
    countries: dict[CountryCode, CountryRates]


@lru_cache(maxsize=4)
def _rates(path_key: str) -> EuVatRates:
    return EuVatRates.model_validate(load_mapping(RATES_FILE))


def eu_vat_rates() -> EuVatRates:
    """The dated EU VAT rate table (``include/mappings/eu_vat_rates.json``), parsed once per directory."""
    return _rates(str(mappings_dir()))


# ------------------------------------------------------------------------------------------ rules


class OssRateAccounts(RulesModel):
    """Where one country's sales at one rate are booked."""

    sales: Account = Field(description="Sales account (a row's AccountNumber), linked in Fortnox to the VAT code of "
                                       "this country and rate.")
    vat: Account = Field(description="Output-VAT account of this country and rate (Fortnox books the VAT there "
                                     "through the VAT code; jetfort checks it exists).")


class OssRules(RulesModel):
    """EU One Stop Shop: EU private buyers outside Sweden pay their country's VAT, booked per country and rate."""

    registered: bool = Field(default=False, description="The company is registered for OSS (union scheme).")
    since: dt.date | None = Field(
        default=None, description="First day of the registration; orders dated earlier get Swedish VAT.")
    accounts: dict[CountryCode, dict[VatRateKey, OssRateAccounts]] = Field(
        default_factory=dict,
        description="Country (ISO code, e.g. DE) → rate (percent as text, e.g. \"19\") → sales and VAT accounts. "
                    "Company-defined: no defaults.")

    @model_validator(mode="after")
    def _known_countries_and_rates(self) -> OssRules:
        table = eu_vat_rates().countries
        problems: list[tuple[str, str]] = []
        for country, rates in self.accounts.items():
            if country == HOME:
                problems.append((f"accounts.{country}", "Swedish sales are not OSS sales (orders.accounts.sales)"))
                continue
            if country not in table:
                problems.append((f"accounts.{country}", f"{country} is not an EU member state"))
                continue
            known = {rate_key(r) for p in table[country].periods for r in p.rates}
            for rate in rates:
                if rate_key(rate) not in known:
                    problems.append((f"accounts.{country}.{rate}",
                                     f"{rate} % is not a rate of {table[country].name} in {RATES_FILE} "
                                     f"(known: {', '.join(sorted(known, key=Decimal))})"))
        if self.registered and not self.accounts:
            problems.append(("accounts", "an OSS-registered company needs sales and VAT accounts per country and rate"))
        if problems:
            raise Problems(problems)
        return self

    def applies_on(self, day: dt.date) -> bool:
        return self.registered and (self.since is None or day >= self.since)

    def accounts_for(self, country: str, rate: Decimal) -> OssRateAccounts | None:
        return self.accounts.get(country, {}).get(rate_key(rate))


class VatRules(RulesModel):
    """VAT beyond the Swedish rates (which are orders.accounts.sales)."""

    oss: OssRules = Field(default_factory=lambda: OssRules())

    def accounts_in_use(self) -> dict[str, int]:
        """Rules path (``vat.oss.accounts.DE.19.sales``) → account, for every OSS account the rules can
        book to (sales) or rely on (output VAT); pre-flight checks each exists in the Fortnox company."""
        found: dict[str, int] = {}
        for country, rates in sorted(self.oss.accounts.items()):
            for rate, accounts in sorted(rates.items(), key=lambda item: Decimal(item[0])):
                found[f"vat.oss.accounts.{country}.{rate}.sales"] = accounts.sales
                found[f"vat.oss.accounts.{country}.{rate}.vat"] = accounts.vat
        return found

    def oss_sales_accounts(self) -> list[tuple[str, int]]:
        """(rate, sales account) of every configured OSS country and rate: the facts' VAT rates (a rate
        Fortnox can book is one whose account exists there)."""
        return sorted({(rate, a.sales) for rates in self.oss.accounts.values() for rate, a in rates.items()})

