"""Shop order → Fortnox order or invoice, with the total checked the way Fortnox will compute it.

Pure: models and rules in, models out; no I/O. :func:`map_document` raises :class:`MappingProblem`
for anything a person has to fix (the order goes to quarantine, the batch goes on).

Decisions (the customer side is in :mod:`jetfort.mapping.customers`):

* **Prices.** Row prices follow the document's ``VATIncluded`` (``rules.orders.vat_included``; VAT-free
  customers get net documents, where gross = net). Fortnox keeps 2 decimals; a unit price with more
  (``33.3333``) is rounded up to the cent and the difference to the shop's row total goes into an
  ``AMOUNT`` discount, so every row carries the shop's row total to the öre. A shop that keeps row
  totals to 4 decimals (8.0625) sums them before it rounds; rounding each row alone would drift (35 x
  8.0625 = 282.19, 35 x 8.06 = 282.10), so each row's rounding remainder is carried to the next row of
  the same VAT rate: every row is within an öre of the shop's, and the rows add up to the shop's sum.
  Shop row discounts are ``AMOUNT`` discounts on the row.
* **Order discount** (discount code): one negative row per VAT rate, split in proportion to the
  positive rows per rate — the same VAT mix the shop used — on the sales account of that rate.
* **Freight and payment fee** follow the goods' VAT mix, split in proportion to the goods' value ex VAT
  per rate (Skatteverket: a supplementary cost shares the VAT of the main supply; gift cards are not
  goods). The header fields carry Fortnox's header rate
  (25 %) only, so they are used when the split is all 25 % (or the customer is VAT-free); any other
  mix gives one row per rate (``mode: row``: always rows, with the rule's article). Every such row
  carries its account explicitly (``rules.orders.accounts.extra_account_for``: per VAT rate, or the
  EU/export account of a VAT-free buyer) — without it Fortnox books an article row on the article's
  own account (3001, 25 %) whatever the row's VAT. The gross amount the buyer paid never changes;
  the VAT may differ from the shop's figure, which is noted.
* **Missing articles** per ``rules.orders.missing_article``: ``create`` → ``articles_to_create`` from
  the shop row; ``text_row`` → a row without article on the sales account of its VAT rate (money
  kept); ``quarantine`` → ``unknown_article``. A row with no article number: ``quarantine`` →
  ``missing_article_number``, otherwise an account row (nothing to create it under).
* **Gift cards.** A *redeemed* card (a gift-card row with a negative amount) is a means of payment,
  not negative sales: one account row on the gift-card liability account
  (``rules.orders.accounts.gift_card``, BAS 2421 "Ej inlösta presentkort") at 0 % VAT for the row's
  amount, whatever the shop's article or VAT on it (a VAT on it is noted); the buyer's total is
  unchanged and the card is not goods for the freight split. A gift-card *purchase* (positive) stays
  a 0 % row on its article or sales account, like any row.
* **OSS**: for an OSS-registered tenant, EU private buyers outside Sweden are charged their country's
  rate and every row (freight and fee rows too) is booked on the rules' account of that country and
  rate — checks and reasons in :mod:`jetfort.mapping.vat`.
* **Total check**: the shop total against Fortnox's total *before* öresavrundning (the rounding to
  whole kronor is Fortnox's own and never a mismatch); tolerance from the rules, in SEK (converted for
  foreign-currency documents).
* Invoices leave ``InvoiceDate`` to Fortnox (today): a backfill must not date an invoice into a
  locked period. Orders carry the shop's order date.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from typing import Any, Literal

from jetfort.fortnox.models import (
    ArticleType,
    DiscountType,
    DocumentRow,
    EmailInformation,
    FortnoxArticle,
    FortnoxInvoice,
    FortnoxOrder,
    VatType,
    max_length,
)
from jetfort.mapping.customers import VAT_FREE_TYPES, buyer_name, is_company_buyer, vat_type_for
from jetfort.mapping.document import SEK, MappedDocument, check_total, used_articles
from jetfort.mapping.plugins import apply_document_plugins, apply_row_plugins
from jetfort.mapping.problems import MappingProblem
from jetfort.mapping.text import clean, cut, money, normalise_email
from jetfort.mapping.totals import HEADER_VAT_RATE, fortnox_total, r2
from jetfort.mapping.vat import oss_for
from jetfort.rules import Channel, FeeRule, TenantRules
from jetfort.shop.models import OrderRow, RowType, ShopOrder

__all__ = [
    "FortnoxFacts",
    "MappedDocument",
    "check_total",
    "fortnox_total",
    "idempotency_key",
    "map_document",
]

ZERO = Decimal(0)
ONE = Decimal(1)
HUNDRED = Decimal(100)
CENT = Decimal("0.01")
KEY_PREFIX = "jetfort"
FREIGHT_LABEL = "Frakt"
"""How freight rows are described (``Frakt <delivery method>``); credits recognise header-split rows by it."""
FEE_LABEL = "Betalningsavgift"
SWEDISH_VAT_RATES = frozenset({Decimal(25), Decimal(12), Decimal(6), ZERO})
"""The rates Swedish VAT has (ML 9 kap.); any other rate on a Swedish sale is an error in the shop."""
_ARTICLE_NUMBER = re.compile(r"^[A-Za-z0-9_\-+/.]{1,50}$")
_ROW_DESCRIPTION = max_length(DocumentRow, "description") or 255
_REFERENCE_LIMIT = {"ExternalInvoiceReference1": 80, "ExternalInvoiceReference2": 80}
_IDEMPOTENCY_ATTR = {"ExternalInvoiceReference1": "external_invoice_reference1",
                     "ExternalInvoiceReference2": "external_invoice_reference2"}


@dataclass(frozen=True)
class FortnoxFacts:
    """What the post stage learned from Fortnox (tasks fetch it; mapping only reads it)."""

    articles: Mapping[str, Decimal | None]
    """Existing article number → its VAT rate in percent (None if unknown)."""
    vat_rates: frozenset[Decimal]
    """VAT rates (percent) the company can book, e.g. {25, 12, 6, 0}."""
    currencies: frozenset[str]
    """Enabled currency codes (SEK always counts as enabled)."""
    currency_rates: Mapping[str, Decimal] = field(default_factory=dict)
    """Code → SEK per unit, when known."""


# ------------------------------------------------------------------------------------------ keys


def idempotency_key(shop_key: str, order: ShopOrder) -> str:
    """``jetfort:<shop key>:<order id>`` — stable for an order and unique within a tenant; hashed to
    fit the idempotency field (80 characters) if a key would ever be longer. The post stage compares
    it for equality (Fortnox's search matches substrings)."""
    key = f"{KEY_PREFIX}:{shop_key}:{order.order_id}"
    if len(key) <= 80:
        return key
    digest = hashlib.sha256(f"{shop_key}\x00{order.order_id}".encode()).hexdigest()[:40]
    return f"{KEY_PREFIX}:h:{digest}"


# ------------------------------------------------------------------------------------------ helpers


def pct(fraction: Decimal) -> Decimal:
    """Shop VAT fraction (0.25) → Fortnox percent (25)."""
    value = (fraction * HUNDRED).quantize(CENT)
    return value.quantize(ONE) if value == value.to_integral_value() else value.normalize()


def _ceil2(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_CEILING)


def _split(amount: Decimal, weights: Mapping[Decimal, Decimal]) -> dict[Decimal, Decimal]:
    """``amount`` split in proportion to ``weights`` (rate → weight), to the öre, summing exactly."""
    total = sum(weights.values(), ZERO)
    rates = sorted(weights, key=lambda r: (weights[r], r), reverse=True)
    if total == 0 or len(rates) == 1:
        return {rates[0]: amount}
    shares: dict[Decimal, Decimal] = {}
    for rate in rates[1:]:
        shares[rate] = r2(amount * weights[rate] / total)
    shares[rates[0]] = amount - sum(shares.values(), ZERO)
    return {rate: shares[rate] for rate in sorted(shares, reverse=True) if shares[rate] != 0}


def _subject(path: str) -> str:
    """What a field path is about, for a person: ``rows[3].vat_rate`` → ``row 4``."""
    match = re.match(r"rows\[(\d+)\]", path)
    if match:
        return f"row {int(match.group(1)) + 1}"
    return "the payment fee" if path.startswith("payment") else "the freight" if path.startswith("freight") else path


def _rate_cause(rate: Decimal, path: str) -> str:
    """The cause first: a rate Sweden does not have is the shop's error, not the rules'."""
    if rate in SWEDISH_VAT_RATES:
        return f"{rate} % VAT on {_subject(path)} has no sales account in the tenant rules — add one. "
    thing = "article's" if path.startswith("rows[") else "payment fee's" if path.startswith("payment") \
        else "freight's" if path.startswith("freight") else "row's"
    return (f"{rate} % ({_subject(path)}) is not a Swedish VAT rate (25, 12, 6 or 0 %) — correct the {thing} "
            "VAT in the shop. ")


def _channel(rules: TenantRules, shop_key: str, channel_id: int) -> Channel | None:
    for shop in rules.shops:
        if shop.key != shop_key:
            continue
        for channel in shop.channels:
            if channel.order_channel_id == channel_id:
                return channel
        unnumbered = [c for c in shop.channels if c.order_channel_id is None]
        if len(shop.channels) == 1 and unnumbered:
            return unnumbered[0]
    return None


class _Builder:
    """State of one mapping run (rows, notes, articles); keeps :func:`map_document` readable."""

    def __init__(self, order: ShopOrder, rules: TenantRules, facts: FortnoxFacts) -> None:
        self.order = order
        self.rules = rules
        self.facts = facts
        self.vat_type = vat_type_for(order)
        self.vat_free = self.vat_type in VAT_FREE_TYPES
        self.vat_included = bool(rules.orders.vat_included) and not self.vat_free
        self.is_order = rules.orders.document == "order"
        self.rows: list[DocumentRow] = []
        self.text_rows: list[int] = []
        self.notes: list[str] = []
        self.articles: dict[str, FortnoxArticle] = {}
        self.goods: dict[Decimal, Decimal] = {}  # rate → goods ex VAT (freight/fee split)
        self.positive: dict[Decimal, Decimal] = {}  # rate → gross of positive rows (order discount)
        self.carry: dict[Decimal, Decimal] = {}  # rate → rounding remainder of the rows so far (< 1 öre)
        self.vat_rates = frozenset(facts.vat_rates)
        self.oss = oss_for(order, rules, self.vat_type)  # EU private buyer of an OSS tenant: their VAT

    @property
    def number(self) -> str:
        return self.order.order_number

    # -- VAT and accounts ------------------------------------------------------------------------

    def rate_for(self, fraction: Decimal, path: str, amount: Decimal) -> Decimal:
        """The Fortnox VAT percent of a shop amount, checked against the VAT type and Fortnox."""
        rate = pct(fraction)
        if self.vat_free:
            if rate != 0 and amount != 0:
                raise MappingProblem(
                    "vat_charged_on_vat_free_sale", path,
                    f"Order {self.number}: the shop charged {rate} % VAT on {_subject(path)} "
                    f"({money(amount, self.order.currency)}) but the buyer is VAT type {self.vat_type}, which "
                    "Fortnox books without VAT: the buyer would have paid VAT that Fortnox never shows. "
                    "Refund or re-invoice the VAT, or fix the buyer's country/VAT number in the shop.")
            rate = ZERO
        self.check_rate(rate, path)
        return rate

    def check_rate(self, rate: Decimal, path: str) -> None:
        if self.oss is not None:
            self.notes.extend(n for n in self.oss.check_rate(rate, path) if n not in self.notes)
        # Swedish VAT needs a Swedish rate: also EU private buyers outside OSS (before vat.oss.since)
        # when the company can book OSS rates
        swedish_eu = self.vat_type == VatType.EUVAT and self.oss is None and bool(self.rules.vat.oss.accounts)
        if self.vat_type == VatType.SEVAT or swedish_eu:
            try:
                self.rules.orders.accounts.sales_account_for(rate)
            except KeyError:
                known = ", ".join(sorted(self.rules.orders.accounts.sales, key=float))
                raise MappingProblem(
                    "unknown_vat_rate", path,
                    f"Order {self.number}: {_rate_cause(rate, path)}(The tenant rules have sales accounts "
                    f"for {known} % only, in orders.accounts.sales.)") from None
        if rate not in self.vat_rates:
            known = ", ".join(str(r) for r in sorted(self.vat_rates))
            cause = _rate_cause(rate, path) if rate not in SWEDISH_VAT_RATES else (
                f"{rate} % VAT on {_subject(path)} is not set up in the Fortnox company — add the rate in "
                "Fortnox (a sales account with its VAT code); the order is posted on the next run. ")
            raise MappingProblem(
                "vat_rate_not_set_up", path,
                f"Order {self.number}: {cause}(Fortnox can book {known} %.)")

    def account_for(self, rate: Decimal) -> int:
        accounts = self.rules.orders.accounts
        if self.vat_type == VatType.EUREVERSEDVAT:
            return accounts.eu_reverse_charge
        if self.vat_type == VatType.EXPORT:
            return accounts.export
        if self.oss is not None:
            return self.oss.sales_account(rate, accounts.sales_account_for(ZERO))
        if self.vat_type == VatType.EUVAT:
            return accounts.eu_vat
        return accounts.sales_account_for(rate)

    # -- money -----------------------------------------------------------------------------------

    def net(self, gross: Decimal, rate: Decimal) -> Decimal:
        """Shop gross → the amount on a document of this VATIncluded setting."""
        if self.vat_included or rate == 0:
            return gross
        return gross / (ONE + rate / HUNDRED)

    def rounded_row_total(self, gross: Decimal, rate: Decimal) -> Decimal:
        """The row's document amount to the öre, carrying the rounding remainder to the next row of the
        same rate, so that the rows of a rate add up to the shop's unrounded sum."""
        exact = self.net(gross, rate) + self.carry.get(rate, ZERO)
        rounded = r2(exact)
        self.carry[rate] = exact - rounded
        return rounded

    def price_and_discount(self, quantity: Decimal, unit: Decimal, total: Decimal) -> tuple[Decimal, Decimal]:
        """(price, AMOUNT discount) with ``quantity x price - discount == total`` to the öre.

        ``quantity`` has at most 2 decimals (1.5 kg; more is quarantined, Fortnox keeps 2). With a
        fractional quantity ``quantity x price`` has up to 4 decimals; the discount is that excess
        rounded half up to the öre, so Fortnox's row total ``r2(quantity x price - discount)`` is
        ``total`` (the remainder is at most half an öre, and never rounds away from ``total``)."""
        total = r2(total)
        if quantity == 0:
            return r2(unit), ZERO
        price = max(r2(unit), _ceil2(total / quantity))
        return price, r2(quantity * price - total)

    # -- rows ------------------------------------------------------------------------------------

    def description(self, row: OrderRow, prefix: str = "") -> str:
        name = clean(row.name)
        variant = clean(row.variant_text)
        if variant and variant.casefold() not in name.casefold():
            name = f"{name}{self.rules.catalog.variant_name_separator}{variant}" if name else variant
        text = f"{prefix} {name}".strip() if prefix else name
        short = cut(text, _ROW_DESCRIPTION)
        if short != text:
            self.notes.append(f"row {row.row_id}: description cut to {_ROW_DESCRIPTION} characters; "
                              f"full text: {text}")
        return short

    def add_row(self, row: DocumentRow, *, shop_row: bool = False) -> None:
        """Shop rows that went without an article (missing article → account row) are listed in
        ``text_rows``; jetfort's own discount and freight rows are not."""
        if shop_row and row.article_number is None:
            self.text_rows.append(len(self.rows))
        self.rows.append(row)

    def add_shop_row(self, doc_row: DocumentRow, row: OrderRow, index: int) -> list[DocumentRow]:
        """A shop row's document row, through the tenant's row plugins (which may replace or split it)."""
        rows = [doc_row]
        if self.rules.plugins:
            rows = apply_row_plugins(doc_row, row, self.order, self.rules, index)
        for item in rows:
            self.add_row(item, shop_row=True)
        return rows

    def make_row(self, *, price: Decimal, quantity: Decimal | int, rate: Decimal, discount: Decimal = ZERO,
                 article: str | None = None, account: int | None = None, description: str | None = None,
                 ) -> DocumentRow:
        qty = Decimal(quantity)
        values: dict[str, Any] = {"price": price, "delivered_quantity": qty, "vat": rate}
        if self.is_order:
            values["ordered_quantity"] = qty
        if discount:
            values["discount"] = discount
            values["discount_type"] = DiscountType.AMOUNT
        if article is not None:
            values["article_number"] = article
        if account is not None:
            values["account_number"] = account
        if description:
            values["description"] = description
        return DocumentRow(**values)

    def product_row(self, index: int, row: OrderRow) -> list[DocumentRow]:
        path = f"rows[{index}]"
        if row.quantity < 0:
            raise MappingProblem(
                "negative_quantity", f"{path}.quantity",
                f"Order {self.number}: row {index + 1} ({clean(row.name) or row.article_number}) has quantity "
                f"{row.quantity}; a return inside a sale needs a credit in Fortnox, not a negative row. "
                "Handle the return separately and remove the row, or book it by hand.")
        if row.quantity != row.quantity.quantize(CENT):
            raise MappingProblem(
                "quantity_precision", f"{path}.quantity",
                f"Order {self.number}: row {index + 1} ({clean(row.name) or row.article_number}) has quantity "
                f"{row.quantity.normalize():f}; Fortnox keeps 2 decimals and would book "
                f"{row.quantity.quantize(CENT, rounding=ROUND_HALF_UP).normalize():f}, which is not what was "
                "sold. Sell it in a smaller unit in the shop (e.g. grams), or book the order by hand.")
        if row.row_type == RowType.GIFT_CARD and row.total_inc_vat < 0:
            return self.redeemed_gift_card(index, row)
        rate = self.rate_for(row.vat_rate, f"{path}.vat_rate", row.total_inc_vat)
        number = (row.article_number or "").strip() or None
        policy = self.rules.orders.missing_article
        as_text = False
        prefix = ""
        if number is None:
            if row.row_type != RowType.GIFT_CARD and policy == "quarantine":
                raise MappingProblem(
                    "missing_article_number", f"{path}.article_number",
                    f"Order {self.number}: row {index + 1} ({clean(row.name)!r}, "
                    f"{money(row.total_inc_vat, self.order.currency)}) has no article number — give it one "
                    "in the shop, or set orders.missing_article to 'text_row' in the tenant rules.")
            as_text = True
            self.notes.append(f"row {index + 1} ({clean(row.name)!r}) has no article number; sent as an "
                              f"account row on {self.account_for(rate)}")
        elif number not in self.facts.articles:
            if policy == "quarantine":
                raise MappingProblem(
                    "unknown_article", f"{path}.article_number",
                    f"Order {self.number}: article {number!r} ({clean(row.name)!r}, row {index + 1}) does not "
                    "exist in Fortnox — create it in Fortnox (or let the rules create it: "
                    "orders.missing_article 'create').")
            if policy == "text_row":
                as_text = True
                prefix = number
                self.notes.append(f"article {number} is not in Fortnox; row {index + 1} sent as an account row")
            else:
                self.create_article(index, number, row)
        else:
            known = self.facts.articles[number]
            if known is not None and not self.vat_free and Decimal(known) != rate:
                self.notes.append(f"row {index + 1}: article {number} has {known} % VAT in Fortnox; "
                                  f"the shop charged {rate} %, which the row keeps")
        gross_total = row.total_inc_vat
        expected = row.quantity * row.unit_price_inc_vat - row.discount_inc_vat
        if abs(expected - gross_total) > CENT:
            self.notes.append(f"row {index + 1}: shop row total {gross_total} differs from quantity x price - "
                              f"discount {expected}; the row total is used")
        unit = row.unit_price_inc_vat if self.vat_included or rate == 0 else row.unit_price_ex_vat
        price, discount = self.price_and_discount(row.quantity, unit, self.rounded_row_total(gross_total, rate))
        description = self.description(row, prefix) or None
        if as_text and not description:
            description = "Artikel"
        doc_row = self.make_row(price=price, quantity=row.quantity, rate=rate, discount=discount,
                                article=None if as_text else number, account=self.account_for(rate),
                                description=description)
        if row.row_type != RowType.GIFT_CARD and gross_total > 0:  # Skatteverket: by the goods' value ex VAT
            self.goods[rate] = self.goods.get(rate, ZERO) + gross_total / (ONE + rate / HUNDRED)
        if gross_total > 0:
            self.positive[rate] = self.positive.get(rate, ZERO) + gross_total
        return self.add_shop_row(doc_row, row, index)

    def redeemed_gift_card(self, index: int, row: OrderRow) -> list[DocumentRow]:
        """A redeemed gift card settles the liability of its sale: one row on the gift-card account at
        0 % VAT for the row's amount (a payment, not negative sales nor goods)."""
        path = f"rows[{index}]"
        account = self.rules.orders.accounts.gift_card
        if ZERO not in self.vat_rates:
            raise MappingProblem(
                "vat_rate_not_set_up", f"{path}.vat_rate",
                f"Order {self.number}: row {index + 1} redeems a gift card ({money(row.total_inc_vat, self.order.currency)}), "
                "which is booked at 0 % VAT, and the Fortnox company has no 0 % rate; add it in Fortnox.")
        shop_rate = pct(row.vat_rate)
        if shop_rate != 0:
            self.notes.append(f"row {index + 1}: the shop put {shop_rate} % VAT on a redeemed gift card; a gift "
                              f"card is a means of payment, so the row is booked at 0 % on {account}")
        number = (row.article_number or "").strip()
        if number:
            self.notes.append(f"row {index + 1}: gift card {number} redeemed; booked on account {account}, "
                              "not on the article")
        gross = r2(row.total_inc_vat)
        doc_row = self.make_row(price=gross, quantity=1, rate=ZERO, account=account,
                                description=self.description(row, number) or "Presentkort")
        return self.add_shop_row(doc_row, row, index)

    def create_article(self, index: int, number: str, row: OrderRow) -> None:
        if not _ARTICLE_NUMBER.match(number):
            raise MappingProblem(
                "invalid_article_number", f"rows[{index}].article_number",
                f"Order {self.number}: article number {number!r} cannot be created in Fortnox (letters, "
                "digits and _ - + / . only, at most 50 characters); rename it in the shop.")
        if number in self.articles:
            return
        rate = pct(row.vat_rate)
        accounts = self.rules.orders.accounts
        try:
            sales = accounts.sales_account_for(rate)
        except KeyError:
            raise MappingProblem(
                "unknown_vat_rate", f"rows[{index}].vat_rate",
                f"Order {self.number}: {_rate_cause(rate, f'rows[{index}].vat_rate')}(Article {number} "
                "would be created at that rate, and orders.accounts.sales in the tenant rules has no "
                "account for it.)") from None
        description = cut(clean(row.name) or number, self.rules.catalog.description_max_length)
        self.articles[number] = FortnoxArticle(
            article_number=number, description=description,
            type=ArticleType.SERVICE if row.row_type == RowType.GIFT_CARD else ArticleType.STOCK,
            webshop_article=True, sales_account=sales, euvat_account=accounts.eu_vat,
            eu_account=accounts.eu_reverse_charge, export_account=accounts.export)
        self.notes.append(f"article {number} is not in Fortnox; it will be created from the shop row "
                          f"({description!r}, {rate} % VAT)")

    def order_discount(self) -> None:
        amount = self.order.order_discount_inc_vat
        if not amount:
            return
        code = clean(self.order.discount_code)
        weights = self.positive or {max(self.vat_rates or {HEADER_VAT_RATE}): ONE}
        for rate, share in _split(amount, weights).items():
            label = f"Rabatt {code}".strip() if code else "Rabatt"
            if len(weights) > 1:
                label += f" ({rate} % moms)"
            net = r2(self.net(share, rate))
            self.add_row(self.make_row(price=-net, quantity=1, rate=rate, account=self.account_for(rate),
                                       description=cut(label, _ROW_DESCRIPTION)))

    def extra(self, what: Literal["freight", "payment_fee"], gross: Decimal, shop_fraction: Decimal,
              rule: FeeRule, label: str) -> Decimal | None:
        """Freight or payment fee: returns the header amount, or None when it went into rows."""
        if not gross:
            return None
        path = "freight_inc_vat" if what == "freight" else "payment.fee_inc_vat"
        if self.vat_free:
            self.rate_for(shop_fraction, path.replace("inc_vat", "vat_rate"), gross)
            split = {ZERO: gross}
        elif self.goods:
            split = _split(gross, self.goods)
        else:
            split = {pct(shop_fraction): gross}
        for rate in split:
            self.check_rate(rate, path)
        shop_rate = pct(shop_fraction)
        if not self.vat_free and (len(split) > 1 or next(iter(split)) != shop_rate):
            parts = ", ".join(f"{money(amount, None)} at {rate} %" for rate, amount in split.items())
            self.notes.append(f"{label} {money(gross, self.order.currency)} follows the goods' VAT: {parts} "
                              f"(the shop charged {shop_rate} %)")
        article = None
        if rule.mode == "header":
            header_rate = ZERO if self.vat_free else HEADER_VAT_RATE
            if set(split) == {header_rate} and self.oss is None:  # OSS: rows on the country's accounts
                return r2(self.net(gross, header_rate))
        else:
            article = rule.article_number
            if article not in self.facts.articles:
                raise MappingProblem(
                    "unknown_article", path,
                    f"Order {self.number}: the {label.lower()} article {article!r} does not exist in Fortnox; "
                    f"create it there, or correct orders.{what}.article_number in the tenant rules.")
        accounts = self.rules.orders.accounts
        for rate, amount in split.items():
            # the account always explicit: an article row would otherwise take the article's (25 %) account
            text = f"{label} ({rate} % moms)" if len(split) > 1 else label
            self.add_row(self.make_row(price=r2(self.net(amount, rate)), quantity=1, rate=rate, article=article,
                                       account=(self.account_for(rate) if self.oss is not None
                                                else accounts.extra_account_for(what, rate, self.vat_type)),
                                       description=cut(text, _ROW_DESCRIPTION)))
        return None


def _currency(order: ShopOrder, facts: FortnoxFacts) -> tuple[str, Decimal | None]:
    code = (order.currency or SEK).strip().upper()
    if code == SEK:
        return code, None
    if code not in facts.currencies:
        enabled = ", ".join(sorted({SEK, *facts.currencies}))
        raise MappingProblem(
            "currency_not_enabled", "currency",
            f"Order {order.order_number} is in {code}, which is not enabled in Fortnox (enabled: {enabled}) — "
            "add the currency under Fortnox settings.")
    rate = order.currency_rate
    if not rate or rate <= 0 or rate == 1:
        known = facts.currency_rates.get(code)
        if known:
            return code, Decimal(known)
        raise MappingProblem(
            "currency_rate_missing", "currency_rate",
            f"Order {order.order_number} is in {code} without an exchange rate (the shop says {rate}) and "
            "Fortnox gave none: a document without a real rate would be booked at 1 SEK per unit. Add the "
            "currency's rate in Fortnox or in the shop.")
    return code, rate


def _check_reference(order: ShopOrder, value: str, limit: int, path: str, what: str) -> str:
    if len(value) > limit:
        raise MappingProblem(
            "field_too_long", path,
            f"Order {order.order_number}: {what} {value!r} has {len(value)} characters; Fortnox stores at "
            f"most {limit} and an identifier must not be cut — shorten it in the shop.")
    return value


# ------------------------------------------------------------------------------------------ main


def _refuse_unpostable(order: ShopOrder, max_rows: int) -> None:
    """MappingProblem for an order no document can carry (too many rows, none, a negative total)."""
    if len(order.rows) > max_rows:
        raise MappingProblem(
            "too_many_rows", "rows",
            f"Order {order.order_number} has {len(order.rows)} rows; the rules accept at most {max_rows} "
            "on one document (Fortnox: 500). Split the order.")
    if not order.rows:
        raise MappingProblem("no_rows", "rows", f"Order {order.order_number} has no rows to put on a document.")
    if order.total_inc_vat < 0:
        raise MappingProblem(
            "negative_total", "total_inc_vat",
            f"Order {order.order_number} totals {money(order.total_inc_vat, order.currency)}: a sale cannot "
            "be negative — book it as a credit in Fortnox.")


def _address_values(order: ShopOrder) -> dict[str, Any]:
    """The document's billing and delivery address fields (empty ones as None)."""
    billing, delivery = order.billing, order.delivery
    return {
        "language": "SV" if (billing.country_code or "SE").upper() in ("SE", "") else "EN",
        "address1": clean(billing.street) or None,
        "address2": clean(billing.care_of) or None,
        "zip_code": clean(billing.zip_code) or None,
        "city": clean(billing.city) or None,
        "phone1": clean(billing.phone or billing.mobile_phone) or None,
        "delivery_name": clean(delivery.company or delivery.full_name) or None,
        "delivery_address1": clean(delivery.street) or None,
        "delivery_address2": clean(delivery.care_of) or None,
        "delivery_zip_code": clean(delivery.zip_code) or None,
        "delivery_city": clean(delivery.city) or None,
    }


def _comments(order: ShopOrder, model: type[FortnoxOrder | FortnoxInvoice], notes: list[str]) -> str | None:
    """The shop comment and the payment, cut to the document's Comments limit (noted when cut)."""
    payment = order.payment
    paid = " ".join(clean(p) for p in (payment.method or payment.provider.value, payment.transaction_id) if p)
    comments = "\n".join(part for part in (clean(order.comment), f"Betalning: {paid}" if paid else "") if part)
    if not comments:
        return None
    limit = max_length(model, "comments") or 1024
    if len(comments) > limit:
        notes.append(f"shop comment cut to {limit} characters in Comments")
    return cut(comments, limit)


def _channel_values(channel: Channel | None) -> dict[str, Any]:
    """The channel's Fortnox tags (project, cost centre, our reference) where the rules set them."""
    if channel is None:
        return {}
    tags = {"project": channel.project, "cost_center": channel.cost_center,
            "our_reference": channel.our_reference}
    return {name: value for name, value in tags.items() if value}


def map_document(order: ShopOrder, rules: TenantRules, shop_key: str, *, customer_number: str,
                 facts: FortnoxFacts) -> MappedDocument:
    """The Fortnox order or invoice for ``order`` (per ``rules.orders.document``), total-checked.

    Raises :class:`MappingProblem` when a person has to act (reason and shop field inside).
    """
    orders = rules.orders
    _refuse_unpostable(order, orders.max_rows)
    currency, currency_rate = _currency(order, facts)
    b = _Builder(order, rules, facts)
    for index, row in enumerate(order.rows):
        b.product_row(index, row)
    b.order_discount()
    freight = b.extra("freight", order.freight_inc_vat, order.freight_vat_rate, orders.freight,
                      clean(f"{FREIGHT_LABEL} {order.delivery_method}") if order.delivery_method else FREIGHT_LABEL)
    fee = b.extra("payment_fee", order.payment.fee_inc_vat, order.payment.fee_vat_rate, orders.payment_fee,
                  FEE_LABEL)

    key = idempotency_key(shop_key, order)
    channel = _channel(rules, shop_key, order.channel_id)
    if channel is None:
        b.notes.append(f"channel {order.channel_id} of shop {shop_key!r} is not in the rules; "
                       "no project, cost centre or our reference set")
    model = FortnoxOrder if b.is_order else FortnoxInvoice
    values: dict[str, Any] = {
        "customer_number": customer_number,
        "customer_name": cut(buyer_name(order), max_length(model, "customer_name")),
        "vat_included": b.vat_included,
        "your_order_number": _check_reference(order, clean(order.order_number),
                                              max_length(model, "your_order_number") or 75,
                                              "order_number", "order number"),
        _IDEMPOTENCY_ATTR[orders.idempotency_field]: key,
        **_address_values(order),
        "rows": b.rows,
        "freight": freight,
        "administration_fee": fee,
        # always explicit: without it Fortnox takes the customer's currency (a buyer first seen in EUR)
        "currency": currency,
    }
    if currency != SEK:
        values.update(currency_rate=currency_rate, currency_unit=ONE)
    if is_company_buyer(order) and clean(order.billing.full_name):
        values["your_reference"] = cut(clean(order.billing.full_name), max_length(model, "your_reference"))
    values["comments"] = _comments(order, model, b.notes)
    email = normalise_email(order.customer.email)
    if email and customer_number == orders.collective_customer_number:
        # the collective customer's own e-mail is not the buyer's: a sent document must reach the buyer
        values["email_information"] = EmailInformation(email_address_to=email)
    values.update(_channel_values(channel))
    if b.is_order:
        values["order_date"] = order.order_date.date()
    document = model(**{k: v for k, v in values.items() if v is not None and not (isinstance(v, str) and not v)})
    mapped = MappedDocument(
        kind="order" if b.is_order else "invoice", document=document,
        idempotency_field=orders.idempotency_field, idempotency_key=key, shop_total=order.total_inc_vat,
        fortnox_total=ZERO, articles_to_create=used_articles(document, b.articles.values()), text_rows=b.text_rows,
        notes=b.notes, vat_type=b.vat_type, shop_vat=order.vat_total)
    if any(p.enabled for p in rules.plugins):
        return apply_document_plugins(mapped, order, rules)
    return check_total(mapped, order, rules)
