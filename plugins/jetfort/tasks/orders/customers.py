"""Customers: a buyer's Fortnox customer, resolved once and remembered in the ledger.

Cursor rows ``customer:<match>:<value>:<VAT type>`` (match ``organisation_number`` or ``email``)
→ customer number, so a returning customer costs no call. A task keeps its own copy of what it
read (the memo) and what the ledger did not know (the absent set): a batch meets the same buyers
again.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from types import SimpleNamespace
from typing import Any

from jetfort.fortnox.errors import FortnoxAmbiguousWrite
from jetfort.tasks.orders.common import CREATE_ATTEMPTS, KIND, PostingIncomplete
from jetfort.tasks.runtime import TenantRuntime

log = logging.getLogger(__name__)

#: how many exact matches of one key are checked for the VAT type the order needs
MATCHES_CHECKED = 3


def customer_cache_key(match: str, value: str, vat_type: str) -> str:
    """Ledger cursor name remembering which Fortnox customer a match key (and VAT type) resolved to."""
    if match == "organisation_number":
        value = re.sub(r"[^0-9A-Za-z]", "", value).upper()
    else:
        value = value.strip().casefold()
    return f"customer:{match}:{value}:{vat_type}"


def match_values(plan: Any) -> tuple[tuple[str, str], ...]:
    return tuple(getattr(plan, "match_values", ()) or ())


def vat_type_of(plan: Any) -> str:
    return str(getattr(plan, "vat_type", "") or "SEVAT")


def customer_memo(runtime: TenantRuntime) -> dict[str, str]:
    """This task's copy of the ledger's customer cache (a batch meets the same buyers again)."""
    memo: dict[str, str] = runtime.__dict__.setdefault("_customer_memo", {})
    return memo


def customer_keys(plan: Any) -> list[str]:
    vat_type = vat_type_of(plan)
    return [customer_cache_key(match, value, vat_type) for match, value in match_values(plan)]


def prime_customers(runtime: TenantRuntime, plans: Iterable[Any]) -> None:
    """Read what the ledger remembers for a whole batch's buyers in one query, not one per buyer.

    Names the ledger does not know are noted for this task, so the batch does not ask for them
    again; a customer found or created meanwhile is remembered in the memo, which is read first."""
    memo = customer_memo(runtime)
    absent: set[str] = runtime.__dict__.setdefault("_customer_absent", set())
    wanted = {k for plan in plans for k in customer_keys(plan) if k not in memo}
    if not wanted:
        return
    found = runtime.ledger.get_cursors(runtime.tenant, wanted)
    memo.update({k: v for k, v in found.items() if v})
    absent.update(k for k in wanted if not found.get(k))


def cached_customer(runtime: TenantRuntime, plan: Any) -> str | None:
    memo = customer_memo(runtime)
    absent: set[str] = runtime.__dict__.get("_customer_absent", set())
    for cache_key in customer_keys(plan):
        number = memo.get(cache_key)
        if number is None and cache_key not in absent:
            number = runtime.ledger.get_cursor(runtime.tenant, cache_key)
        if number:
            memo[cache_key] = number
            return number
    return None


def remember_customer(runtime: TenantRuntime, plan: Any, number: str) -> str:
    for cache_key in customer_keys(plan):
        runtime.ledger.set_cursor(runtime.tenant, cache_key, number)
        customer_memo(runtime)[cache_key] = number
    return number


def forget_customer(runtime: TenantRuntime, plan: Any) -> None:
    """Drop what the buyer's keys resolved to (Fortnox refused it): looked up afresh next time."""
    for cache_key in customer_keys(plan):
        customer_memo(runtime).pop(cache_key, None)
        runtime.ledger.set_cursor(runtime.tenant, cache_key, "")


def stored_plan(detail: Mapping[str, Any]) -> Any:
    """The match keys map stored for an order's buyer, shaped as a customer plan's (or None)."""
    keys = detail.get("customer_keys")
    if not keys:
        return None
    return SimpleNamespace(match_values=tuple(tuple(m) for m in keys["matches"]), vat_type=keys["vat_type"])


def search_customer(runtime: TenantRuntime, plan: Any) -> str | None:
    """The first exact match whose VAT type is the one this order needs: Fortnox takes the VAT
    treatment from the customer, so a buyer known under another VAT type (moved abroad, an EU
    company buying privately) is not used for this order."""
    hook, vat_type = runtime.fortnox, vat_type_of(plan)
    for match, value in match_values(plan):
        hits: list[Any] = []
        if match == "organisation_number":
            hits = hook.find_customers_by_org_number(value)
        elif match == "email":
            hits = hook.find_customers_by_email(value)
        numbers = sorted((str(h.customer_number) for h in hits if h.customer_number), key=lambda n: (len(n), n))
        for number in numbers[:MATCHES_CHECKED]:
            found_type = str(hook.get_customer(number).vat_type or "SEVAT")
            if found_type == vat_type:
                return number
            log.info("customer %s matches by %s but has VAT type %s; this order needs %s",
                     number, match, found_type, vat_type)
    return None


def resolve_customer(runtime: TenantRuntime, plan: Any, key: str, record_detail: Mapping[str, Any],
                     run_id: str | None) -> str:
    """Customer number for an order: ledger cache, then Fortnox by each match key (org number, e-mail;
    exact equality), then the collective customer, else create one.

    What a match key resolved to is remembered in the ledger, so a returning buyer costs no call. A
    created customer's number is written to the record before the document is posted, so a retry
    after a crash reuses it instead of creating the customer again.
    """
    if record_detail.get("customer_number"):
        return str(record_detail["customer_number"])
    cached = cached_customer(runtime, plan)
    if cached:
        return cached
    found = search_customer(runtime, plan)
    if found:
        return remember_customer(runtime, plan, found)
    if plan.use_collective:
        return remember_customer(runtime, plan, str(plan.use_collective))
    created: str | None = None
    for _attempt in range(CREATE_ATTEMPTS):
        try:
            created = str(runtime.fortnox.create_customer(plan.customer).customer_number)
            break
        except FortnoxAmbiguousWrite:
            created = search_customer(runtime, plan)
            if created:
                break
    if not created:
        raise PostingIncomplete("customer create answered ambiguously three times")
    detail = {**record_detail, "customer_number": created}
    runtime.ledger.transition(runtime.tenant, KIND, key, "posting", step="customer", expect=["posting"],
                              detail=detail, payload={"Customer": plan.customer.to_payload()}, run_id=run_id,
                              message=f"created Fortnox customer {created}")
    return remember_customer(runtime, plan, created)
