"""The Fortnox side of the property test: one sandbox company, jetfort's tenant rules, and a poster
that sends a mapped customer and document through the sandbox's own validation and document
builder (in-process, the code behind ``POST /3/customers`` and ``POST /3/invoices|orders``).

Nothing here computes money: the sandbox stores its figures, the oracle checks them.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from jetfort.mapping.customers import CustomerPlan
from jetfort.mapping.orders import FortnoxFacts, MappedDocument
from jetfort.rules import TenantRules, parse_tenant
from sandbox.fortnox.emulator import FortnoxSandbox
from sandbox.fortnox.resources import documents as fx_documents
from sandbox.fortnox.seed import VAT_RATES, article_entity, customer_entity
from sandbox.fortnox.validation import validate
from sandbox.jetshop import seed as jetshop_seed

SHOP_KEY = "se"
CHANNELS: list[dict[str, Any]] = [
    {"key": "se", "jetshop_channel_id": 1, "culture": "sv-SE", "currency": "SEK", "price_list_guid": jetshop_seed.PL_SE,
     "project": "WEBSE", "cost_center": "SE", "our_reference": "Webbshop SE"},
    {"key": "no", "jetshop_channel_id": 2, "culture": "nb-NO", "currency": "NOK", "price_list_guid": jetshop_seed.PL_NO},
    {"key": "b2b", "jetshop_channel_id": 3, "culture": "sv-SE", "currency": "SEK",
     "price_list_guid": jetshop_seed.PL_B2B, "cost_center": "B2B"},
    {"key": "eu", "jetshop_channel_id": 4, "culture": "en-GB", "currency": "EUR", "price_list_guid": jetshop_seed.PL_EU,
     "project": "WEBEU"},
]
FEE_ARTICLES = {"FRAKT": "Frakt", "AVGIFT": "Betalningsavgift"}  # for fee rules in row mode


def tenant_rules(*, document: str, vat_included: bool, missing_article: str, freight_mode: str,
                 fee_mode: str) -> TenantRules:
    """Tenant rules as a shop owner would write them, with the choices under test."""
    def fee(mode: str, article: str) -> dict[str, Any]:
        return {"mode": "row", "article_number": article} if mode == "row" else {"mode": "header"}

    orders = {"document": document, "vat_included": vat_included, "missing_article": missing_article,
              "freight": fee(freight_mode, "FRAKT"), "payment_fee": fee(fee_mode, "AVGIFT")}
    return parse_tenant("oracle_test", {
        "flow": "ecom", "fortnox_conn_id": "fortnox_test",
        "shops": [{"key": SHOP_KEY, "jetshop_conn_id": "jetshop_test", "channels": CHANNELS}],
        "orders": orders,
    })


class FortnoxCompany:
    """One seeded sandbox company that receives every generated order."""

    def __init__(self) -> None:
        sandbox = FortnoxSandbox(seed=1)
        self.company = sandbox.companies[sandbox.default.tenant_id]
        for number, description in FEE_ARTICLES.items():
            self.company.put("articles", number, article_entity(number, description, vat=25, stock_goods=False,
                                                                article_type="SERVICE"))
        for channel in CHANNELS:
            if channel.get("project"):
                self.company.put("projects", channel["project"], {
                    "ProjectNumber": channel["project"], "Description": channel["project"], "Status": "ONGOING"})
            if channel.get("cost_center") and "costcenters" in self.company.data:
                self.company.put("costcenters", channel["cost_center"], {
                    "Code": channel["cost_center"], "Description": channel["cost_center"], "Active": True})
        self._next_customer = 7000

    def facts(self) -> FortnoxFacts:
        """What jetfort's post stage reads from Fortnox before mapping."""
        data = self.company.data
        articles = {number: Decimal(str(a["VAT"])) if a.get("VAT") is not None else None
                    for number, a in data["articles"].items()}
        rates = {code: Decimal(str(c["SellRate"])) for code, c in data["currencies"].items()}
        return FortnoxFacts(articles=articles, vat_rates=frozenset(Decimal(r) for r in VAT_RATES),
                            currencies=frozenset(data["currencies"]), currency_rates=rates)

    def customer(self, plan: CustomerPlan) -> str:
        """Create the planned customer; returns its number."""
        payload = json.loads(json.dumps({"Customer": plan.customer.to_payload()}))
        given = validate("Customer", payload, create=True)
        self._next_customer += 1
        number = str(self._next_customer)
        self.company.put("customers", number, customer_entity(number, given["Name"], **{
            k: v for k, v in given.items() if k not in ("Name", "CustomerNumber")}))
        return number

    def vat_type(self, customer_number: str) -> str:
        customer = self.company.get("customers", customer_number) or {}
        return str(customer.get("VATType") or "SEVAT")

    def post(self, mapped: MappedDocument) -> tuple[dict[str, Any], dict[str, Any]]:
        """(the document as posted, the document as Fortnox stored it)."""
        for article in mapped.articles_to_create:
            body = json.loads(json.dumps({"Article": article.to_payload()}))
            given = validate("Article", body, create=True)
            if self.company.get("articles", given["ArticleNumber"]) is None:
                vat = {3001: 25, 3002: 12, 3003: 6, 3004: 0}.get(int(given.get("SalesAccount") or 3001), 25)
                self.company.put("articles", given["ArticleNumber"], article_entity(
                    given["ArticleNumber"], given["Description"], vat=vat))
        kind = fx_documents.ORDER if mapped.kind == "order" else fx_documents.INVOICE
        body = json.loads(json.dumps({kind.singular: mapped.payload()}))
        self._accounts_exist(body[kind.singular].get(kind.rows) or [])
        changes = validate(kind.singular, body, create=True)
        stored = fx_documents.build(kind, self.company, changes)
        return body[kind.singular], stored

    def _accounts_exist(self, rows: list[dict[str, Any]]) -> None:
        """Accounts do not change a total; a company that follows the rules has every account they name
        (the pre-flight check), so an account the seed lacks is added like any chart entry."""
        template = self.company.get("accounts", "3001") or {}
        for row in rows:
            number = row.get("AccountNumber")
            if number and self.company.get("accounts", str(number)) is None:
                self.company.put("accounts", str(number), {**template, "Number": int(number),
                                                           "Description": f"Konto {number}", "VATCode": None})
