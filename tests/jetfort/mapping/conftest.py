"""Plain-data fixtures: the Jetshop sandbox's seeded orders as ShopOrder models, tenant rules, and
Fortnox facts read from the Fortnox sandbox's seeded company (no HTTP anywhere)."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from jetfort.jetshop.convert import order_from_wire
from jetfort.mapping.customers import CustomerPlan
from jetfort.mapping.orders import FortnoxFacts, MappedDocument
from jetfort.rules import TenantRules, parse_tenant
from jetfort.shop.models import ShopOrder
from sandbox.fortnox.emulator import FortnoxSandbox
from sandbox.fortnox.resources import documents as fx_documents
from sandbox.fortnox.seed import VAT_RATES, article_entity, customer_entity
from sandbox.fortnox.state import Company
from sandbox.fortnox.validation import validate
from sandbox.jetshop import seed as jetshop_seed
from sandbox.jetshop.state import JetshopSandbox

SHOP_TZ = ZoneInfo("Europe/Stockholm")
SHOP_KEY = "se"

CHANNELS = [
    {"key": "se", "jetshop_channel_id": 1, "culture": "sv-SE", "currency": "SEK",
     "price_list_guid": jetshop_seed.PL_SE, "project": "WEBSE", "cost_center": "SE", "our_reference": "Webbshop SE"},
    {"key": "no", "jetshop_channel_id": 2, "culture": "nb-NO", "currency": "NOK", "price_list_guid": jetshop_seed.PL_NO},
    {"key": "b2b", "jetshop_channel_id": 3, "culture": "sv-SE", "currency": "SEK",
     "price_list_guid": jetshop_seed.PL_B2B, "cost_center": "B2B"},
    {"key": "eu", "jetshop_channel_id": 4, "culture": "en-GB", "currency": "EUR", "price_list_guid": jetshop_seed.PL_EU,
     "project": "WEBEU"},
]


def make_rules(orders: dict[str, Any] | None = None, *, flow: str = "ecom", **top: Any) -> TenantRules:
    """Tenant rules with the demo shop's four channels; ``orders`` overrides rules.orders fields."""
    data: dict[str, Any] = {
        "flow": flow, "fortnox_conn_id": "fortnox_test",
        "shops": [{"key": SHOP_KEY, "jetshop_conn_id": "jetshop_test", "channels": CHANNELS}],
        "orders": orders or {}, **top,
    }
    return parse_tenant("mapping_test", data)


@lru_cache(maxsize=1)
def seeded_jetshop() -> JetshopSandbox:
    return JetshopSandbox(seed=1)


def awkward_orders() -> dict[str, ShopOrder]:
    """kind → the seeded awkward order, converted exactly as the hook converts SOAP data."""
    jetshop = seeded_jetshop()
    return {kind: order_from_wire(jetshop.order("demoshop", oid), "demoshop", SHOP_TZ)
            for kind, oid in jetshop.awkward_orders("demoshop").items()}


def seeded_facts() -> FortnoxFacts:
    sandbox = FortnoxSandbox(seed=1)
    return facts_of(sandbox.companies[sandbox.default.tenant_id])


@pytest.fixture(scope="session")
def awkward() -> dict[str, ShopOrder]:
    return awkward_orders()


@pytest.fixture(scope="session")
def ordinary() -> list[ShopOrder]:
    return [order_from_wire(o, "demoshop", SHOP_TZ) for o in seeded_jetshop().orders("demoshop")
            if o["_kind"] == "ordinary"]


def facts_of(company: Company) -> FortnoxFacts:
    """What the post stage would read from Fortnox: articles with VAT, VAT rates, currencies and rates."""
    articles = {number: Decimal(str(a["VAT"])) if a.get("VAT") is not None else None
                for number, a in company.data["articles"].items()}
    currencies = frozenset(company.data["currencies"])
    rates = {code: Decimal(str(c["SellRate"])) for code, c in company.data["currencies"].items()}
    return FortnoxFacts(articles=articles, vat_rates=frozenset(Decimal(r) for r in VAT_RATES),
                        currencies=currencies, currency_rates=rates)


@pytest.fixture(scope="session")
def facts() -> FortnoxFacts:
    return seeded_facts()


@pytest.fixture
def rules_factory() -> Callable[..., TenantRules]:
    return make_rules


class FortnoxPoster:
    """Posts mapped customers and documents through the Fortnox sandbox's own validation and
    document builder (in-process), returning the document as Fortnox would store it."""

    def __init__(self) -> None:
        sandbox = FortnoxSandbox(seed=1)
        self.company = sandbox.companies[sandbox.default.tenant_id]
        # the channels' projects and cost centres exist in the tenant's Fortnox (pre-flight checks that)
        for channel in CHANNELS:
            if channel.get("project"):
                self.company.put("projects", channel["project"], {
                    "ProjectNumber": channel["project"], "Description": channel["project"], "Status": "ONGOING"})
            if channel.get("cost_center") and "costcenters" in self.company.data:
                self.company.put("costcenters", channel["cost_center"], {
                    "Code": channel["cost_center"], "Description": channel["cost_center"], "Active": True})
        self._next = 5000

    def customer(self, plan: CustomerPlan) -> str:
        payload = json.loads(json.dumps({"Customer": plan.customer.to_payload()}))
        given = validate("Customer", payload, create=True)
        self._next += 1
        number = str(self._next)
        self.company.put("customers", number, customer_entity(number, given["Name"], **{
            k: v for k, v in given.items() if k not in ("Name", "CustomerNumber")}))
        return number

    def document(self, mapped: MappedDocument) -> dict[str, Any]:
        for article in mapped.articles_to_create:
            body = json.loads(json.dumps({"Article": article.to_payload()}))
            given = validate("Article", body, create=True)
            vat = {3001: 25, 3002: 12, 3003: 6, 3004: 0}.get(int(given.get("SalesAccount", 3001)), 25)
            self.company.put("articles", given["ArticleNumber"], article_entity(
                given["ArticleNumber"], given["Description"], vat=vat))
        kind = fx_documents.ORDER if mapped.kind == "order" else fx_documents.INVOICE
        body = json.loads(json.dumps({kind.singular: mapped.payload()}))
        changes = validate(kind.singular, body, create=True)
        return fx_documents.build(kind, self.company, changes)


@pytest.fixture
def poster() -> FortnoxPoster:
    return FortnoxPoster()
