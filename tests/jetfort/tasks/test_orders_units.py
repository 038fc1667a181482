"""Small, Airflow-free pieces of the orders flow: keys, the batch idempotency lookup, the customer cache."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from typing import Any

import pytest

from jetfort.fortnox.errors import FortnoxAmbiguousWrite
from jetfort.tasks.orders import common, customers, post, recovery
from jetfort.tasks.orders.common import PostingIncomplete


def test_source_and_cache_keys_are_stable() -> None:
    assert common.source_key("se", 10001) == "se:10001"
    assert common.order_id_of("nordic:42") == 42
    a = customers.customer_cache_key("organisation_number", "556677-8899", "SEVAT")
    b = customers.customer_cache_key("organisation_number", "5566778899", "SEVAT")
    assert a == b == "customer:organisation_number:5566778899:SEVAT"
    assert customers.customer_cache_key("email", " Kund@Example.SE ", "EUVAT") == "customer:email:kund@example.se:EUVAT"
    # a buyer known under another VAT type is a different cache entry
    assert customers.customer_cache_key("email", "a@b.se", "SEVAT") != customers.customer_cache_key("email", "a@b.se", "EXPORT")


class FakeHook:
    """Fortnox list/search answers as the real API gives them: substring matches, cancelled ones."""

    def __init__(self, items: list[Any]) -> None:
        self.items = items
        self.listed: list[Any] = []
        self.searched: list[str] = []

    def document_references(self, kind: str, field: str, *, since: dt.datetime,
                            credit: bool | None = None) -> list[tuple[str, str]]:
        assert (kind, field, credit) == ("invoice", "ExternalInvoiceReference1", False)  # never a credit note
        self.listed.append(since)
        return [(i.external_invoice_reference1, i.document_number) for i in self.items]

    def find_invoices_by_reference(self, value: str, *, field: str, credit: bool | None = None) -> list[Any]:
        assert credit is False  # a credit invoice may carry a copy of the order's key
        self.searched.append(value)
        return [i for i in self.items if i.external_invoice_reference1 == value]


def item(number: str, ref: str, cancelled: bool = False) -> Any:
    return SimpleNamespace(document_number=number, external_invoice_reference1=ref, cancelled=cancelled)


def test_batch_lookup_is_exact_and_prefers_the_first_document_even_cancelled() -> None:
    hook = FakeHook([item("7", "jetfort:se:100"), item("3", "jetfort:se:100"), item("9", "jetfort:se:1000"),
                     item("4", "jetfort:se:200", cancelled=True)])
    lookup = recovery.IdempotencyLookup(SimpleNamespace(fortnox=hook), "invoice", "ExternalInvoiceReference1")  # type: ignore[arg-type]
    since = dt.datetime(2026, 11, 29, 12, tzinfo=dt.UTC)
    lookup.prime(since)
    assert hook.listed == [since - recovery.LIST_LOOKUP_MARGIN]
    assert lookup.listed("jetfort:se:100") == "3"
    assert lookup.listed("jetfort:se:10") is None  # no substring match
    assert lookup.listed("jetfort:se:200") == "4"  # cancelled by a person: still never a second one
    assert lookup.find("jetfort:se:1000") == "9"


class CountingLedger:
    """The two cursor reads of the ledger, counted."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = values
        self.single: list[str] = []
        self.many: list[set[str]] = []

    def get_cursor(self, tenant: str, name: str) -> str | None:
        self.single.append(name)
        return self.values.get(name)

    def get_cursors(self, tenant: str, names: Any) -> dict[str, str]:
        self.many.append(set(names))
        return {n: self.values[n] for n in names if n in self.values}


def test_a_batch_reads_its_buyers_remembered_customers_in_one_query() -> None:
    ledger = CountingLedger({customers.customer_cache_key("email", f"b{i}@example.se", "SEVAT"): str(10 + i)
                             for i in range(3)} | {customers.customer_cache_key("email", "forgot@example.se", "SEVAT"): ""})
    runtime = SimpleNamespace(ledger=ledger, tenant="acme")
    plans = [SimpleNamespace(match_values=(("email", f"B{i % 5}@example.se "),), vat_type="SEVAT") for i in range(40)]
    plans.append(SimpleNamespace(match_values=(("email", "forgot@example.se"),), vat_type="SEVAT"))
    customers.prime_customers(runtime, plans)  # type: ignore[arg-type]
    assert len(ledger.many) == 1 and len(ledger.many[0]) == 6  # five buyers and the forgotten one, once each
    numbers = [customers.cached_customer(runtime, plan) for plan in plans]  # type: ignore[arg-type]
    assert numbers[:5] == ["10", "11", "12", None, None] and numbers[-1] is None
    assert ledger.single == []  # nothing asked again, found or not

    # a customer created meanwhile (remembered in the memo) wins over what the prime found missing
    customers.customer_memo(runtime)[customers.customer_cache_key("email", "b3@example.se", "SEVAT")] = "77"  # type: ignore[arg-type]
    assert customers.cached_customer(runtime, plans[3]) == "77"  # type: ignore[arg-type]
    # a buyer the prime did not cover is still read from the ledger, once, then remembered
    late = SimpleNamespace(match_values=(("email", "b2@example.se"),), vat_type="EUVAT")
    ledger.values[customers.customer_cache_key("email", "b2@example.se", "EUVAT")] = "55"
    assert [customers.cached_customer(runtime, late) for _ in range(3)] == ["55"] * 3  # type: ignore[arg-type]
    assert ledger.single == [customers.customer_cache_key("email", "b2@example.se", "EUVAT")]
    # primed again (the next stage): only what is not known yet is asked for
    customers.prime_customers(runtime, plans)  # type: ignore[arg-type]
    assert ledger.many[-1] == {customers.customer_cache_key("email", "b4@example.se", "SEVAT"),
                               customers.customer_cache_key("email", "forgot@example.se", "SEVAT")}


class LosingFortnox:
    """Fortnox whose create answers are lost: the first ``commits`` creates are stored all the same."""

    def __init__(self, commits: int) -> None:
        self.commits = commits
        self.request_count = 0
        self.stored: dict[str, str] = {}  # idempotency key → document number
        self.creates = 0

    def create_document(self, kind: str, payload: dict[str, Any]) -> str:
        self.creates += 1
        if self.creates <= self.commits:
            self.stored[payload["ExternalInvoiceReference1"]] = str(100 + self.creates)
        raise FortnoxAmbiguousWrite("connection reset after the request was sent")

    def find_invoices_by_reference(self, key: str, *, field: str, credit: bool | None = None) -> list[Any]:
        return [SimpleNamespace(document_number=self.stored[key])] if key in self.stored else []


def _posting(hook: LosingFortnox) -> tuple[post.ShopPosting, Any]:
    runtime = SimpleNamespace(fortnox=hook, ledger=None, tenant="acme", rules=None)
    posting = post.ShopPosting(runtime, "se", run_id="r1", owner="r1|se")  # type: ignore[arg-type]
    lookup = recovery.IdempotencyLookup(runtime, "invoice", "ExternalInvoiceReference1")  # type: ignore[arg-type]
    order = post.ClaimedOrder("se:1", None, {"idempotency_key": "jetfort:se:1", "order_number": "1"},  # type: ignore[arg-type]
                        "invoice", lookup)
    return posting, order


def test_a_lost_create_answer_is_looked_up_and_the_document_adopted_not_created_again() -> None:
    hook = LosingFortnox(commits=1)
    posting, order = _posting(hook)
    assert posting.create_document(order, {"ExternalInvoiceReference1": "jetfort:se:1"}) == ("101", True)
    assert hook.creates == 1


def test_creates_whose_answers_are_always_lost_stop_after_three_and_leave_the_order_to_the_retry() -> None:
    hook = LosingFortnox(commits=0)
    posting, order = _posting(hook)
    with pytest.raises(PostingIncomplete, match="answered ambiguously 3 times"):
        posting.create_document(order, {"ExternalInvoiceReference1": "jetfort:se:1"})
    assert hook.creates == 3
