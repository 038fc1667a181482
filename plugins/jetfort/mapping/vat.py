"""VAT that depends on the buyer's country: the EU VAT number behind reverse charge, and OSS rates.

Decisions (the rules side is :mod:`jetfort.rules.vat`):

* **Reverse charge needs a valid VAT number**, not a well-shaped one: its check digits must pass the
  country's algorithm (python-stdnum, ``stdnum.eu.vat``) and its country must be the buyer's (the
  delivery country, else the billing country). Otherwise the order is quarantined
  (``invalid_vat_number`` / ``vat_number_country_mismatch``): the buyer would get 0 % VAT without the
  right to it. (A text that is no VAT number at all — ``n/a`` — is not used, as before: Swedish VAT.)
* **OSS.** When the tenant is OSS-registered (``vat.oss.registered``, from ``vat.oss.since``) and the
  buyer is an EU private buyer outside Sweden (VAT type ``EUVAT``), every row must carry one of the
  buyer country's rates valid on the order date (``include/mappings/eu_vat_rates.json``), and is
  booked on the rules' sales account of that country and rate. A rate that is not the country's →
  ``not_a_country_vat_rate``; a country or rate without accounts in the rules →
  ``oss_accounts_missing``; a fractional rate (Finland's 25.5 %) on an invoice →
  ``vat_rate_not_on_invoice`` (Fortnox invoice rows carry VAT as a whole number; never rounded).
  Rows at 0 % (a gift-card purchase: a voucher carries no VAT when sold) are not OSS supplies: they
  keep the Swedish 0 % sales account. Freight and fees follow the goods' rates, on the same accounts.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from stdnum.eu import vat as eu_vat
from stdnum.exceptions import InvalidChecksum, InvalidLength, ValidationError

from jetfort.fortnox.models import VatType
from jetfort.mapping.problems import MappingProblem
from jetfort.mapping.text import normalise_country, vat_number_country
from jetfort.rules import TenantRules
from jetfort.rules.vat import RATES_FILE, CountryRates, OssRules, RatePeriod, eu_vat_rates, rate_key
from jetfort.shop.models import ShopOrder

__all__ = ["HOME", "OssBooking", "buyer_country", "check_reverse_charge_number", "country_name", "oss_for"]

HOME = "SE"
ZERO = Decimal(0)


def buyer_country(order: ShopOrder) -> tuple[str, bool]:
    """(country, guessed): delivery country (the place of supply for goods), else billing, else
    Sweden (guessed=True)."""
    for address in (order.delivery, order.billing):
        code = normalise_country(address.country_code)
        if code:
            return code, False
    return HOME, True


def country_name(country: str, *, adjective: bool = False) -> str:
    """``DE`` → ``Germany`` (or ``German``); the code itself for a country the table does not know."""
    known = eu_vat_rates().countries.get(country)
    if known is None:
        return country
    return known.adjective if adjective else known.name


def _reason(exc: ValidationError) -> str:
    if isinstance(exc, InvalidChecksum):
        return "check digit"
    if isinstance(exc, InvalidLength):
        return "length"
    return "format"


def check_reverse_charge_number(order: ShopOrder, vat_number: str, country: str) -> None:
    """Raise MappingProblem unless ``vat_number`` (EU, not Swedish) is valid and of the buyer's country."""
    prefix = vat_number_country(vat_number) or ""
    try:
        eu_vat.validate(vat_number)
    except ValidationError as exc:
        raise MappingProblem(
            "invalid_vat_number", "customer.vat_number",
            f"Order {order.order_number}: {vat_number} is not a valid {country_name(prefix, adjective=True)} VAT "
            f"number ({_reason(exc)}) — correct it in the shop; the buyer would otherwise get 0 % VAT "
            "(reverse charge) without the right to it.") from None
    if prefix != country:
        raise MappingProblem(
            "vat_number_country_mismatch", "customer.vat_number",
            f"Order {order.order_number}: VAT number {vat_number} is {country_name(prefix, adjective=True)} but the "
            f"buyer is in {country_name(country)} (delivery address) — correct the VAT number or the address in "
            "the shop; reverse charge (0 % VAT) is given only for a VAT number of the buyer's country.")


def _percent(rate: Decimal) -> str:
    return f"{rate_key(rate)} %"


def _listed(rates: tuple[Decimal, ...]) -> str:
    texts = [_percent(r) for r in rates]
    return texts[0] if len(texts) == 1 else ", ".join(texts[:-1]) + f" and {texts[-1]}"


@dataclass(frozen=True)
class OssBooking:
    """One order's OSS context: the buyer country, its rates on the order date and the rules."""

    order_number: str
    country: str
    day: dt.date
    table: CountryRates | None
    period: RatePeriod | None
    rules: OssRules
    invoice: bool

    @property
    def name(self) -> str:
        return self.table.name if self.table else self.country

    def check_rate(self, rate: Decimal, path: str) -> list[str]:
        """Raise MappingProblem unless ``rate`` is one of the country's rates with accounts that a
        document of this kind can carry; returns notes."""
        if rate == 0:
            return []
        number, name = self.order_number, self.name
        if self.period is None:
            raise MappingProblem(
                "oss_rates_unknown", path,
                f"Order {number}: {RATES_FILE} has no VAT rates of {name} for {self.day} (OSS needs the buyer "
                "country's rates); add them to the table.")
        if rate not in self.period.rates:
            adjective = self.table.adjective if self.table else self.country
            unlisted = (f"; {RATES_FILE} lists only {adjective} standard rate"
                        if self.period.reduced is None else "")
            raise MappingProblem(
                "not_a_country_vat_rate", path,
                f"Order {number}: the shop charged {_percent(rate)} to a private buyer in {name}; under OSS "
                f"the {adjective} rates on {self.day} are {_listed(self.period.rates)}{unlisted} — correct "
                f"the article's VAT for {name} in the shop.")
        if self.rules.accounts_for(self.country, rate) is None:
            raise MappingProblem(
                "oss_accounts_missing", path,
                f"Order {number}: {_percent(rate)} to a private buyer in {name} (OSS) has no accounts in the "
                f"tenant rules; add vat.oss.accounts.{self.country}.\"{rate_key(rate)}\" with its sales and "
                "VAT accounts (and the VAT code in Fortnox).")
        if rate != rate.to_integral_value():
            if self.invoice:
                raise MappingProblem(
                    "vat_rate_not_on_invoice", path,
                    f"Order {number}: {_percent(rate)} ({name}, OSS) cannot be put on a Fortnox invoice: invoice "
                    "rows carry VAT as a whole number (InvoiceRow.VAT is an integer) and jetfort never rounds "
                    "a VAT rate. Book this order by hand, or post orders as Fortnox orders (orders.document "
                    "'order'; order rows carry decimals).")
            return [f"{_percent(rate)} ({name}, OSS) is on a Fortnox order row; check that Fortnox keeps it "
                    "when the order is invoiced (unconfirmed: invoice rows carry whole-number VAT in the API)"]
        return []

    def sales_account(self, rate: Decimal, zero_account: int) -> int:
        if rate == 0:
            return zero_account
        accounts = self.rules.accounts_for(self.country, rate)
        if accounts is None:  # check_rate ran first; this is a bug, not a user error
            raise KeyError(f"vat.oss.accounts.{self.country}.{rate_key(rate)}")
        return accounts.sales


def oss_for(order: ShopOrder, rules: TenantRules, vat_type: VatType | str) -> OssBooking | None:
    """The OSS booking of ``order``, or None when OSS does not apply (not registered on the order
    date, or not an EU private buyer outside Sweden)."""
    oss = rules.vat.oss
    day = order.order_date.date()
    if vat_type != VatType.EUVAT or not oss.applies_on(day):
        return None
    country, _ = buyer_country(order)
    if country == HOME:
        return None
    table = eu_vat_rates().countries.get(country)
    return OssBooking(order_number=order.order_number, country=country, day=day, table=table,
                      period=table.on(day) if table else None, rules=oss,
                      invoice=rules.orders.document == "invoice")
