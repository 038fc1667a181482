"""Prices: Fortnox price-list rows → Jetshop price lists (by GUID), incl. VAT as Jetshop stores them.

Where prices go comes from the tenant rules: every channel's base price list is fed by its
``fortnox_price_list`` (default ``A``), and every ``price_lists`` rule feeds a customer group's
Jetshop list (one GUID per channel) from its own Fortnox list. Each target says whether the
Fortnox figures already include VAT (``prices_include_vat``); Jetshop's confirmed price operation
takes prices incl. VAT only (``PriceList_UpdateArticleIncVAT``), so ex-VAT lists are grossed up
with the article's VAT rate. Channels in another currency than the company's get the price divided
by the Fortnox currency rate (SEK per unit).

Fortnox quantity breaks (``FromQuantity`` > 0) have no place in a Jetshop price list: the base row
(``FromQuantity`` 0) is written and the breaks are reported as skipped.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from jetfort.shop.models import PriceListPrice

__all__ = ["PriceTarget", "jetshop_price", "price_cell_key", "price_targets", "to_price_list_price"]

CENT = Decimal("0.01")


@dataclass(frozen=True)
class PriceTarget:
    """One Jetshop price list fed from one Fortnox price list."""

    shop: str
    channel: str
    guid: str
    fortnox_price_list: str
    prices_include_vat: bool
    currency: str
    customer_group: str | None = None  # None: the channel's base list

    @property
    def ref(self) -> str:
        return f"{self.shop}/{self.channel}"

    @property
    def label(self) -> str:
        return self.customer_group or "base"


def price_targets(rules: Any) -> list[PriceTarget]:
    """Every Jetshop price list the tenant's rules feed: channel base lists, then customer groups."""
    targets: list[PriceTarget] = []
    seen: set[tuple[str, str]] = set()
    for shop, channel in rules.channels():
        guid = channel.shop_price_list
        if (shop.key, guid) in seen:
            continue
        seen.add((shop.key, guid))
        targets.append(PriceTarget(shop.key, channel.key, guid, channel.fortnox_price_list,
                                   channel.prices_include_vat, channel.currency))
    for rule in rules.price_lists:
        for ref, guid in rule.shop_price_lists().items():
            shop, channel = rules.channel(ref)
            if (shop.key, guid) in seen:
                continue
            seen.add((shop.key, guid))
            targets.append(PriceTarget(shop.key, channel.key, guid, rule.fortnox_price_list,
                                       rule.prices_include_vat, channel.currency, rule.customer_group))
    return targets


def jetshop_price(price: Decimal, *, vat_percent: Decimal, includes_vat: bool,
                  currency_rate: Decimal = Decimal(1)) -> Decimal:
    """The incl.-VAT price Jetshop stores, in the channel's currency, rounded to öre/cents (half up).

    ``currency_rate`` is company currency per unit of the channel's currency (Fortnox SellRate/Unit).
    """
    value = Decimal(price)
    if not includes_vat:
        value = value * (1 + Decimal(vat_percent) / 100)
    if currency_rate and currency_rate != 1:
        value = value / Decimal(currency_rate)
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def price_cell_key(article_number: str, guid: str) -> str:
    """Snapshot key of one price cell: article in one Jetshop price list."""
    return f"{article_number}@{guid.upper()}"


def to_price_list_price(article_number: str, guid: str, price_inc_vat: Decimal) -> PriceListPrice:
    """The Jetshop write for one cell (no discounted price: the -1 sentinel goes out)."""
    return PriceListPrice(article_number=article_number, price_list_id=guid, price_inc_vat=price_inc_vat)


def split_breaks(rows: Mapping[tuple[str, Decimal], Decimal]) -> tuple[dict[str, Decimal], int]:
    """(article → base price, number of quantity-break rows) from (article, from quantity) → price."""
    base: dict[str, Decimal] = {}
    breaks = 0
    for (article, from_quantity), price in rows.items():
        if Decimal(from_quantity) == 0:
            base[article] = Decimal(price)
        else:
            breaks += 1
    return base, breaks


def cells(target: PriceTarget, base_prices: Mapping[str, Decimal], vat_percent: Mapping[str, Decimal],
          *, currency_rate: Decimal = Decimal(1)) -> Iterator[tuple[str, Decimal]]:
    """(article, Jetshop incl.-VAT price) for every article with a base price and a known VAT rate."""
    for article, price in base_prices.items():
        vat = vat_percent.get(article)
        if vat is None:
            continue
        yield article, jetshop_price(price, vat_percent=vat, includes_vat=target.prices_include_vat,
                                     currency_rate=currency_rate)
