"""The credits stage's Fortnox payload and its lost-answer handling, with plain data and a fake hook."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest

from jetfort.fortnox.errors import FortnoxAmbiguousWrite
from jetfort.fortnox.models import DocumentRow, FortnoxInvoice
from jetfort.mapping.credits import CreditPlan
from jetfort.tasks.credits.fortnox import FortnoxCredits, credit_payload
from jetfort.tasks.orders.common import PostingIncomplete

D = Decimal
ORIGINAL = FortnoxInvoice(document_number="55", customer_number="1000", customer_name="Anna", currency="EUR",
                          currency_rate=D("11.5"), vat_included=True, your_order_number="1007",
                          external_invoice_reference1="jetfort:se:7", external_invoice_reference2="PN123SE")


def plan(vat: str = "25") -> CreditPlan:
    return CreditPlan([DocumentRow(article_number="ART-1", delivered_quantity=D(-1), price=D(125), vat=D(vat))],
                      total=D(125), header_freight=D("-49"))


def test_the_credit_carries_its_own_key_the_buyer_and_the_back_reference() -> None:
    body = credit_payload("jetfort:se:7:r3", "ExternalInvoiceReference1", plan(), ORIGINAL, "Kredit för faktura 55")
    assert body["ExternalInvoiceReference1"] == "jetfort:se:7:r3"  # never the order's key
    assert "ExternalInvoiceReference2" not in body  # the tracking number is not the credit's
    assert (body["CustomerNumber"], body["Currency"], body["CurrencyRate"], body["VATIncluded"]) == (
        "1000", "EUR", 11.5, True)
    assert body["Freight"] == -49 and "55" in body["Remarks"]
    text, goods = body["InvoiceRows"]
    assert text == {"Description": "Kredit för faktura 55"}
    assert (goods["ArticleNumber"], goods["DeliveredQuantity"], goods["VAT"]) == ("ART-1", "-1", 25)


def test_a_fractional_rate_is_never_rounded_to_another() -> None:
    body = credit_payload("k", "ExternalInvoiceReference1", plan("25.5"), ORIGINAL, "x")
    assert body["InvoiceRows"][1]["VAT"] == 25.5


class LosingHook:
    """Commits the first ``commits`` creates and drops every answer; finds by key what it stored."""

    def __init__(self, commits: int) -> None:
        self.commits, self.creates, self.stored = commits, 0, {}  # type: ignore[var-annotated]

    def create_document(self, kind: str, payload: dict[str, Any]) -> str:
        self.creates += 1
        if self.creates <= self.commits:
            self.stored[payload["ExternalInvoiceReference1"]] = str(100 + self.creates)
        raise FortnoxAmbiguousWrite("connection reset after the request was sent")

    def find_invoices_by_reference(self, key: str, *, field: str, credit: bool | None = None) -> list[Any]:
        return [SimpleNamespace(document_number=self.stored[key])] if key in self.stored else []


def _credits(hook: LosingHook) -> FortnoxCredits:
    rules = SimpleNamespace(orders=SimpleNamespace(idempotency_field="ExternalInvoiceReference1"))
    return FortnoxCredits(SimpleNamespace(fortnox=hook, rules=rules))  # type: ignore[arg-type]


def test_a_lost_answer_is_looked_up_and_adopted_never_posted_twice() -> None:
    hook = LosingHook(commits=1)
    assert _credits(hook).post_credit("jetfort:se:7:r3", plan(), ORIGINAL, "x") == ("101", True)
    assert hook.creates == 1
    again = _credits(hook)  # a later try finds it before posting
    assert again.post_credit("jetfort:se:7:r3", plan(), ORIGINAL, "x") == ("101", True) and hook.creates == 1


def test_answers_lost_without_a_commit_give_up_for_a_retry() -> None:
    hook = LosingHook(commits=0)
    with pytest.raises(PostingIncomplete):
        _credits(hook).post_credit("jetfort:se:7:r3", plan(), ORIGINAL, "x")
    assert hook.creates == 3 and hook.stored == {}
