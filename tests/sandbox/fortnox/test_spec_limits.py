"""Every maxLength and enum the official spec declares on a write body is enforced with a 400.

The cases are generated from the sandbox's limits table, which is itself extracted from the
official OpenAPI file; the table is first checked against the file so neither can drift.
"""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.fortnox.speclimits import extract, limits
from tests.contract.openapi import official_spec

from .conftest import Api

BASES: dict[str, tuple[str, dict[str, Any]]] = {
    "Customer": ("/3/customers", {"Name": "Kund"}),
    "Article": ("/3/articles", {"Description": "Artikel"}),
    "Order": ("/3/orders", {"CustomerNumber": "1"}),
    "Invoice": ("/3/invoices", {"CustomerNumber": "1"}),
}
ROWS = {"Order": "OrderRows", "Invoice": "InvoiceRows"}


def _cases() -> list[tuple[str, str | None, str, Any]]:
    cases: list[tuple[str, str | None, str, Any]] = []
    for envelope in BASES:
        schema = limits()[envelope]
        scopes: list[tuple[str | None, dict[str, Any]]] = [(None, schema["properties"])]
        if envelope in ROWS:
            scopes.append((ROWS[envelope], schema["properties"][ROWS[envelope]]["items"]["properties"]))
        for row_key, props in scopes:
            for name, prop in props.items():
                if prop.get("type") == "string" and "maxLength" in prop:
                    cases.append((envelope, row_key, name, "x" * (prop["maxLength"] + 1)))
                if prop.get("type") == "string" and "enum" in prop:
                    cases.append((envelope, row_key, name, "NOT-A-VALUE"))
    return cases


CASES = _cases()


def test_limits_table_is_the_official_file() -> None:
    assert extract(official_spec()) == limits()
    assert len(CASES) > 60


@pytest.mark.parametrize(("envelope", "row_key", "name", "value"), CASES,
                         ids=[f"{e}.{r + '.' if r else ''}{n}" for e, r, n, _ in CASES])
def test_value_beyond_the_spec_is_refused(api: Api, envelope: str, row_key: str | None, name: str, value: Any) -> None:
    path, base = BASES[envelope]
    entity = dict(base)
    if row_key is None:
        entity[name] = value
    else:
        entity[row_key] = [{"ArticleNumber": "1001", "OrderedQuantity" if envelope == "Order" else "DeliveredQuantity": 1,
                            name: value}]
    response = api.post(path, {envelope: entity})
    assert response.status_code == 400, f"{envelope} {name}={value[:20]!r} was accepted: {response.text[:200]}"
    error = response.json()["ErrorInformation"]
    assert set(error) == {"error", "message", "code"} and isinstance(error["code"], int)
    before = api.company.counts()
    assert all(before[c] == (17 if c == "customers" else 23 if c == "articles" else 0)
               for c in ("customers", "articles", "orders", "invoices"))


def test_malformed_write_bodies_get_client_errors_never_a_crash() -> None:
    import json
    import random

    import requests

    from sandbox.fortnox import create_app
    from sandbox.server import serve_in_thread

    values: list[Any] = [None, "", "API_BLANK", "x" * 300, -1, 0, 1.5, 10**15, True, "abc", "2024-02-30", [], {},
                         [{}], ["a"], {"a": 1}, "1001", "1"]
    paths = {"Customer": "/3/customers", "Article": "/3/articles", "Order": "/3/orders", "Invoice": "/3/invoices",
             "InvoicePayment": "/3/invoicepayments", "Price": "/3/prices", "Currency": "/3/currencies",
             "TermsOfPayment": "/3/termsofpayments", "Unit": "/3/units", "Project": "/3/projects"}
    rng = random.Random(11)
    app = create_app(seed=2, rate_limit=100_000, rate_window=1.0)
    crashes = []
    with serve_in_thread(app) as base:
        headers = {"Authorization": f"Bearer {app.sandbox.mint_access_token()}", "Content-Type": "application/json"}
        session = requests.Session()
        statuses = set()
        for _ in range(400):
            envelope = rng.choice(list(paths))
            props = limits()[envelope]["properties"]
            entity: dict[str, Any] = {}
            for name in rng.sample(list(props), k=min(len(props), rng.randint(1, 6))):
                item_props = props[name].get("items", {}).get("properties", {})
                if item_props and rng.random() < 0.7:
                    entity[name] = [{n: rng.choice(values) for n in rng.sample(list(item_props), k=min(3, len(item_props)))}]
                else:
                    entity[name] = rng.choice(values)
            if envelope in ("Order", "Invoice") and rng.random() < 0.7:
                entity["CustomerNumber"] = "1"
            method = rng.choice(["POST", "PUT"])
            path = paths[envelope] if method == "POST" else f"{paths[envelope]}/1"
            response = session.request(method, base + path, headers=headers, data=json.dumps({envelope: entity}))
            statuses.add(response.status_code)
            if response.status_code >= 500:
                crashes.append((method, path, entity, response.text[:200]))
    assert not crashes, crashes[:5]
    assert 400 in statuses and (200 in statuses or 201 in statuses)
