"""Fortnox customers, articles, prices, registers and stock: the register endpoints of
:class:`~jetfort.fortnox.hook.FortnoxHook`."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import Any

from jetfort.fortnox.errors import FortnoxAmbiguousWrite, FortnoxNotFound, FortnoxValidationError
from jetfort.fortnox.models import (
    Account,
    ArticleListItem,
    CompanyInformation,
    Currency,
    CustomerListItem,
    EUVatLimitRegulation,
    FortnoxArticle,
    FortnoxCustomer,
    Price,
    PriceList,
    StockBalance,
    TermsOfPayment,
    WayOfDelivery,
)
from jetfort.fortnox.transport import FortnoxClient, path_segment

#: checking more accounts than this reads the chart of accounts as a list (see missing_accounts)
SINGLE_ACCOUNT_READS = 3


def _same_digits(a: str | None, b: str | None) -> bool:
    """Org/personal numbers compare by digits (``556677-8899`` == ``5566778899``)."""
    da, db = re.sub(r"\D", "", a or ""), re.sub(r"\D", "", b or "")
    return bool(da) and da == db


def _same_email(a: str | None, b: str | None) -> bool:
    return bool(a) and (a or "").strip().casefold() == (b or "").strip().casefold()


class RegisterEndpoints(FortnoxClient):
    """Customers, articles, price lists and prices, currencies/terms/ways of delivery, accounts, stock."""

    # ----------------------------------------------------------------------------- customers
    def get_customer(self, customer_number: str) -> FortnoxCustomer:
        return self._one(f"3/customers/{path_segment(customer_number)}", "Customer", FortnoxCustomer)

    def list_customers(self, *, since: dt.datetime | str | None = None, filter: str | None = None,
                       **search: Any) -> Iterator[CustomerListItem]:
        return self._listing("3/customers", "Customers", CustomerListItem, since=since, filter=filter, search=search)

    def find_customers_by_org_number(self, organisation_number: str) -> list[CustomerListItem]:
        """Customers whose org/personal number *equals* this one, by digits.

        Fortnox's search is a substring match on the number as typed, with or without the hyphen,
        so both spellings are searched and the hits compared digit for digit.
        """
        digits = re.sub(r"\D", "", organisation_number)
        spellings = dict.fromkeys(s for s in (organisation_number.strip(), digits,
                                              f"{digits[:-4]}-{digits[-4:]}" if len(digits) > 4 else "") if s)
        found: dict[str, CustomerListItem] = {}
        for spelling in spellings:
            for c in self.list_customers(organisationnumber=spelling):
                if _same_digits(c.organisation_number, digits) and c.customer_number:
                    found[c.customer_number] = c
        return list(found.values())

    def find_customers_by_email(self, email: str) -> list[CustomerListItem]:
        """Customers whose e-mail equals this one, case-insensitively (search is substring)."""
        return [c for c in self.list_customers(email=email.strip()) if _same_email(c.email, email)]

    def create_customer(self, customer: FortnoxCustomer) -> FortnoxCustomer:
        return self._write("POST", "3/customers", "Customer", FortnoxCustomer, customer)

    def update_customer(self, customer_number: str, customer: FortnoxCustomer) -> FortnoxCustomer:
        """Partial update: only the fields set on ``customer`` change."""
        return self._write("PUT", f"3/customers/{path_segment(customer_number)}", "Customer", FortnoxCustomer,
                           customer)

    # ----------------------------------------------------------------------------- articles
    def get_article(self, article_number: str) -> FortnoxArticle:
        return self._one(f"3/articles/{path_segment(article_number)}", "Article", FortnoxArticle)

    def find_article(self, article_number: str) -> FortnoxArticle | None:
        """The article with exactly this number, or None (a GET by id, not a substring search)."""
        try:
            return self.get_article(article_number)
        except FortnoxNotFound:
            return None

    def list_articles(self, *, since: dt.datetime | str | None = None, filter: str | None = None,
                      **search: Any) -> Iterator[ArticleListItem]:
        return self._listing("3/articles", "Articles", ArticleListItem, since=since, filter=filter, search=search)

    def create_article(self, article: FortnoxArticle) -> FortnoxArticle:
        return self._write("POST", "3/articles", "Article", FortnoxArticle, article)

    def update_article(self, article_number: str, article: FortnoxArticle) -> FortnoxArticle:
        data = article.model_copy(update={"article_number": None}) if article.article_number else article
        return self._write("PUT", f"3/articles/{path_segment(article_number)}", "Article", FortnoxArticle, data)

    # ----------------------------------------------------------------------------- prices
    def list_price_lists(self) -> list[PriceList]:
        return list(self.iter_list("3/pricelists", "PriceLists", PriceList))

    def get_price_list(self, code: str) -> PriceList:
        return self._one(f"3/pricelists/{path_segment(code)}", "PriceList", PriceList)

    def create_price_list(self, price_list: PriceList) -> PriceList:
        return self._write("POST", "3/pricelists", "PriceList", PriceList, price_list)

    def list_prices(self, price_list: str, article_number: str) -> list[Price]:
        """All quantity steps of one article in one price list."""
        body = self._request("GET", f"3/prices/sublist/{path_segment(price_list)}/{path_segment(article_number)}")
        return [Price.model_validate(p) for p in (body or {}).get("Prices") or []]

    def get_price(self, price_list: str, article_number: str, from_quantity: Decimal | int = 0) -> Price:
        return self._one(f"3/prices/{path_segment(price_list)}/{path_segment(article_number)}/"
                         f"{path_segment(Decimal(from_quantity))}", "Price", Price)

    def create_price(self, price: Price) -> Price:
        return self._write("POST", "3/prices", "Price", Price, price)

    def update_price(self, price: Price) -> Price:
        if price.price_list is None or price.article_number is None:
            raise ValueError("a price needs price_list and article_number")
        qty = price.from_quantity if price.from_quantity is not None else Decimal(0)
        path = f"3/prices/{path_segment(price.price_list)}/{path_segment(price.article_number)}/{path_segment(qty)}"
        return self._write("PUT", path, "Price", Price, price)

    def set_price(self, price: Price) -> Price:
        """Create or update the price row (price list, article, from quantity); safe to repeat."""
        try:
            return self.update_price(price)
        except FortnoxNotFound:
            pass
        try:
            return self.create_price(price)
        except (FortnoxAmbiguousWrite, FortnoxValidationError):
            # the answer was lost, or another worker created the row meanwhile: make it ours
            return self.update_price(price)

    # ----------------------------------------------------------------------------- registers
    def list_currencies(self) -> list[Currency]:
        return list(self.iter_list("3/currencies", "Currencies", Currency))

    def get_currency(self, code: str) -> Currency:
        return self._one(f"3/currencies/{path_segment(code)}", "Currency", Currency)

    def list_terms_of_payment(self) -> list[TermsOfPayment]:
        return list(self.iter_list("3/termsofpayments", "TermsOfPayments", TermsOfPayment))

    def get_terms_of_payment(self, code: str) -> TermsOfPayment:
        return self._one(f"3/termsofpayments/{path_segment(code)}", "TermsOfPayment", TermsOfPayment)

    def list_ways_of_delivery(self) -> list[WayOfDelivery]:
        return list(self.iter_list("3/wayofdeliveries", "WayOfDeliveries", WayOfDelivery))

    def get_way_of_delivery(self, code: str) -> WayOfDelivery:
        return self._one(f"3/wayofdeliveries/{path_segment(code)}", "WayOfDelivery", WayOfDelivery)

    def company_information(self) -> CompanyInformation:
        return self._one("3/companyinformation", "CompanyInformation", CompanyInformation)

    def list_accounts(self) -> list[Account]:
        """The chart of accounts (the onboarding wizard offers its active sales accounts)."""
        return list(self.iter_list("3/accounts", "Accounts", Account))

    def get_account(self, number: int) -> Account:
        return self._one(f"3/accounts/{int(number)}", "Account", Account)

    def account_exists(self, number: int) -> bool:
        """Whether the chart of accounts has ``number`` and it is active (preflight for rules)."""
        try:
            account = self.get_account(number)
        except FortnoxNotFound:
            return False
        return account.active is not False

    def eu_vat_limit(self, year: int | None = None) -> EUVatLimitRegulation:
        """The EU distance-sales threshold for ``year`` (Fortnox: the current year when not given):
        ``is_over_limit`` once sales excluding VAT to private buyers in other EU countries exceed it."""
        params = {"year": int(year)} if year is not None else None
        answer = self._request("GET", "3/euvatlimitregulation", params=params) or {}
        return EUVatLimitRegulation.model_validate(answer["EUVatLimitRegulation"])

    def missing_accounts(self, numbers: Iterable[int]) -> list[int]:
        """Accounts from the tenant's VAT/account table that Fortnox lacks or has deactivated.

        Up to :data:`SINGLE_ACCOUNT_READS` accounts are read one by one; more are looked up in the
        chart of accounts read as a list (500 a page; a full BAS chart is 2-3 pages), so a tenant
        whose rules book to twenty accounts spends two or three of the company's requests, not twenty."""
        wanted = sorted({int(n) for n in numbers})
        if len(wanted) <= SINGLE_ACCOUNT_READS:
            return [n for n in wanted if not self.account_exists(n)]
        active = {a.number for a in self.iter_list("3/accounts", "Accounts", Account) if a.active is not False}
        return [n for n in wanted if n not in active]

    # ----------------------------------------------------------------------------- warehouse
    def stock_balance(self, item_ids: Iterable[str] | None = None,
                      stock_point_codes: Iterable[str] | None = None, *, chunk: int = 100
                      ) -> list[StockBalance]:
        """Per item and stock point (warehouse module). Item ids go in chunks to keep URLs short."""
        points = ",".join(stock_point_codes) if stock_point_codes else None
        ids = list(item_ids) if item_ids is not None else None
        batches: list[list[str] | None] = [ids[i:i + chunk] for i in range(0, len(ids), chunk)] \
            if ids else [None]
        if ids == []:
            return []
        out: list[StockBalance] = []
        for batch in batches:
            params: dict[str, Any] = {}
            if batch:
                params["itemIds"] = ",".join(batch)
            if points:
                params["stockPointCodes"] = points
            body = self._request("GET", "api/warehouse/status-v1/stockbalance", params=params or None)
            out.extend(StockBalance.model_validate(x) for x in (body or []))
        return out
