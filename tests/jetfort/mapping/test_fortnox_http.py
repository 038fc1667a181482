"""The mapped payloads as the post stage sends them: over HTTP to the Fortnox sandbox (spec checks,
registers, customer creation), every mappable awkward kind as invoice and as order, and the
document Fortnox stores carries the total jetfort computed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import requests

from jetfort.mapping.customers import plan_customer
from jetfort.mapping.orders import FortnoxFacts, map_document
from jetfort.mapping.problems import MappingProblem
from jetfort.shop.models import ShopOrder
from sandbox.fortnox import create_app
from sandbox.server import serve_in_thread

from .conftest import CHANNELS, SHOP_KEY, facts_of, make_rules


@pytest.fixture(scope="module")
def fortnox() -> Iterator[tuple[str, dict[str, str], Any]]:
    app = create_app(seed=1, rate_limit=1_000_000)
    sandbox = app.state.sandbox
    tenant = sandbox.default.tenant_id
    company = sandbox.companies[tenant]
    # what the tenant's pre-flight demands: the channels' projects exist
    for channel in CHANNELS:
        if channel.get("project"):
            company.put("projects", channel["project"], {"ProjectNumber": channel["project"],
                                                         "Description": channel["project"], "Status": "ONGOING"})
    with serve_in_thread(app) as base:
        token = requests.post(f"{base}/_sandbox/tokens", json={"tenant_id": tenant, "kind": "access"},
                              timeout=10).json()["token"]
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json",
                   "Accept": "application/json"}
        yield base, headers, company


@pytest.mark.parametrize("document", ["invoice", "order"])
def test_every_mappable_kind_posts_with_our_total(document: str, awkward: dict[str, ShopOrder],
                                                  fortnox: tuple[str, dict[str, str], Any]) -> None:
    base, headers, company = fortnox
    rules = make_rules({"missing_article": "create", "document": document})
    posted = 0
    for kind, order in awkward.items():
        facts: FortnoxFacts = facts_of(company)  # re-read: earlier kinds may have created articles
        try:
            plan = plan_customer(order, rules, SHOP_KEY)
            mapped = map_document(order, rules, SHOP_KEY, customer_number="1", facts=facts)
        except MappingProblem:
            continue
        answer = requests.post(f"{base}/3/customers", headers=headers, timeout=10,
                               data=json.dumps({"Customer": plan.customer.to_payload()}))
        assert answer.status_code == 201, (kind, answer.text)
        number = answer.json()["Customer"]["CustomerNumber"]
        for article in mapped.articles_to_create:
            answer = requests.post(f"{base}/3/articles", headers=headers, timeout=10,
                                   data=json.dumps({"Article": article.to_payload()}))
            assert answer.status_code == 201, (kind, answer.text)
        mapped = map_document(order, rules, SHOP_KEY, customer_number=number, facts=facts)
        envelope = "Invoice" if document == "invoice" else "Order"
        answer = requests.post(f"{base}/3/{envelope.lower()}s", headers=headers, timeout=10,
                               data=json.dumps({envelope: mapped.payload()}))
        assert answer.status_code == 201, (kind, answer.text)
        stored = answer.json()[envelope]
        assert Decimal(str(stored["Total"])) == mapped.fortnox_total, kind
        assert stored[mapped.idempotency_field] == mapped.idempotency_key, kind
        posted += 1
    assert posted >= 30
