"""Property test of the Fortnox sandbox alone: any document a client may post, not only what jetfort
sends — PERCENT and AMOUNT discounts, negative prices, 3-decimal quantities and 4-decimal prices
(Fortnox keeps 2), order rows without a delivered quantity, Freight and AdministrationFee on gross
documents, the four customer VAT types, three currencies — must be stored with the figures the
independent oracle computes from the posted document, to the öre (no tolerance: the oracle is the
documented rule, FIDELITY.md "Document arithmetic")."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sandbox.fortnox.errors import FortnoxError
from sandbox.fortnox.resources import documents as fx_documents
from sandbox.fortnox.seed import customer_entity
from sandbox.fortnox.validation import validate
from tests.oracle.compare import oracle_differences
from tests.oracle.fortnox import FortnoxCompany

EXAMPLES = 300
VAT_TYPES = ("SEVAT", "EUVAT", "EUREVERSEDVAT", "EXPORT")


def _number(value: Decimal) -> float | int:
    """A JSON number as a client sends it."""
    return int(value) if value == value.to_integral_value() else float(value)


@st.composite
def rows(draw: Any, order: bool) -> dict[str, Any]:
    quantity = draw(st.decimals(min_value=0, max_value=400, places=draw(st.sampled_from([0, 2, 3]))))
    row: dict[str, Any] = {
        "ArticleNumber": draw(st.sampled_from(["1001", "1011", "1016", "1006"])),
        "Price": _number(draw(st.decimals(min_value=-2000, max_value=50_000, places=draw(st.sampled_from([0, 2, 4]))))),
        "VAT": draw(st.sampled_from([25, 12, 6, 0])),
    }
    if order:
        row["OrderedQuantity"] = str(quantity)
        if draw(st.booleans()):
            row["DeliveredQuantity"] = str(quantity)
    else:
        row["DeliveredQuantity"] = str(quantity)
    discount = draw(st.sampled_from([None, "PERCENT", "AMOUNT"]))
    if discount == "PERCENT":
        row.update(DiscountType="PERCENT", Discount=_number(draw(st.decimals(0, 100, places=2))))
    elif discount == "AMOUNT":
        row.update(DiscountType="AMOUNT", Discount=_number(draw(st.decimals(0, 500, places=2))))
    return row


@st.composite
def documents(draw: Any) -> tuple[str, str, dict[str, Any]]:
    kind = draw(st.sampled_from(["invoice", "order"]))
    rows_key = "OrderRows" if kind == "order" else "InvoiceRows"
    document: dict[str, Any] = {
        "VATIncluded": draw(st.booleans()),
        "Currency": draw(st.sampled_from(["SEK", "EUR", "NOK"])),
        rows_key: draw(st.lists(rows(kind == "order"), min_size=1, max_size=15)),
    }
    for name in ("Freight", "AdministrationFee"):
        amount = draw(st.none() | st.decimals(min_value=0, max_value=800, places=2))
        if amount is not None:
            document[name] = _number(amount)
    return kind, draw(st.sampled_from(VAT_TYPES)), document


def test_any_posted_document_is_stored_with_the_oracles_figures() -> None:
    company = FortnoxCompany().company
    for vat_type in VAT_TYPES:
        company.put("customers", vat_type, customer_entity(vat_type, f"Kund {vat_type}", VATType=vat_type))
    outcome = {"stored": 0, "refused": 0}

    @settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(documents())
    def check(case: tuple[str, str, dict[str, Any]]) -> None:
        kind_name, vat_type, document = case
        kind = fx_documents.ORDER if kind_name == "order" else fx_documents.INVOICE
        posted = json.loads(json.dumps({**document, "CustomerNumber": vat_type}))
        try:
            changes = validate(kind.singular, {kind.singular: posted}, create=True)
            stored = fx_documents.build(kind, company, changes)
        except FortnoxError as refused:  # what Fortnox refuses too (e.g. a discount over 100 %)
            assert refused.status == 400, refused
            outcome["refused"] += 1
            return
        differences = oracle_differences(posted, stored, kind.rows, vat_type)
        assert not differences, differences
        outcome["stored"] += 1

    check()
    assert outcome["stored"] >= EXAMPLES * 0.9, outcome
