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
