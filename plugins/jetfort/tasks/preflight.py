"""Pre-flight: check both sides against a tenant's rules and report every gap in one list.

Runs before a tenant's first orders sync and on demand (param ``preflight_only``). Fortnox does not
list an integration's scopes or licences, so each is checked by a cheap read that needs it (a 401/
403 names the missing scope). A pass is remembered in the ledger (cursor ``orders:preflight`` with
a hash of the rules), so later runs skip the slow part until the rules change.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from jetfort.errors import PreflightFailed
from jetfort.fortnox.errors import FortnoxAuthError, FortnoxError, FortnoxNotFound
from jetfort.mapping.prices import price_targets

if TYPE_CHECKING:
    from jetfort.rules import TenantRules
    from jetfort.tasks.runtime import TenantRuntime

log = logging.getLogger(__name__)

CURSOR = "orders:preflight"


def rules_hash(runtime: TenantRuntime) -> str:
    text = json.dumps(runtime.rules.model_dump(mode="json"), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _probe(gaps: list[str], what: str, call: Callable[[], Any]) -> Any:
    """Run one read; a refusal becomes a gap naming the scope/licence instead of a traceback."""
    try:
        return call()
    except FortnoxAuthError as exc:
        gaps.append(f"Fortnox: no access to {what} (scope or licence missing: {exc})")
    except FortnoxError as exc:
        gaps.append(f"Fortnox: cannot read {what}: {exc}")
    return None


def rule_accounts(rules: TenantRules) -> dict[int, list[str]]:
    """Account → every rules path that names it (order accounts, OSS accounts)."""
    named: dict[int, list[str]] = {}
    for path, account in rules.orders.accounts_in_use().items():
        named.setdefault(account, []).append(path)
    for path, account in rules.vat.accounts_in_use().items():
        named.setdefault(account, []).append(path)
    return named


def fortnox_gaps(runtime: TenantRuntime) -> list[str]:
    rules, hook = runtime.rules, runtime.fortnox
    orders = rules.orders
    gaps: list[str] = []
    _probe(gaps, "company information (scope companyinformation)", hook.company_information)
    _probe(gaps, "customers (scope customer)", lambda: next(iter(hook.list_customers(filter=None)), None))
    _probe(gaps, "articles (scope article)", lambda: next(iter(hook.list_articles()), None))
    _probe(gaps, "invoices (scope invoice, invoicing licence)", lambda: next(iter(hook.list_invoices()), None))
    if orders.document == "order":
        _probe(gaps, "orders (scope order, order module licence)", lambda: next(iter(hook.list_orders()), None))
    # bookkeeping: every account the rules can book to must exist and be active
    accounts = rule_accounts(rules)
    missing = _probe(gaps, "the chart of accounts (scope bookkeeping)",
                     lambda: hook.missing_accounts(accounts))
    for number in missing or []:
        gaps.append(f"Fortnox: account {number} ({', '.join(accounts[number])}) is missing or inactive in the "
                    "chart of accounts; add it in Fortnox or change the rules")
    currencies = _probe(gaps, "currencies (scope settings)", hook.list_currencies)
    if currencies is not None:
        enabled = {c.code for c in currencies}
        for shop, channel in rules.channels():
            if channel.currency not in enabled:
                gaps.append(f"Fortnox: currency {channel.currency} (channel {shop.key}/{channel.key}) is not enabled")
    defaults = orders.customer_defaults
    if defaults.terms_of_payment:
        terms = _probe(gaps, "terms of payment", hook.list_terms_of_payment)
        if terms is not None and defaults.terms_of_payment.upper() not in {str(t.code).upper() for t in terms}:
            gaps.append(f"Fortnox: terms of payment {defaults.terms_of_payment!r} "
                        "(orders.customer_defaults.terms_of_payment) do not exist")
    if defaults.way_of_delivery:
        ways = _probe(gaps, "ways of delivery", hook.list_ways_of_delivery)
        if ways is not None and defaults.way_of_delivery not in {w.code for w in ways}:
            gaps.append(f"Fortnox: way of delivery {defaults.way_of_delivery!r} "
                        "(orders.customer_defaults.way_of_delivery) does not exist")
    wanted_lists = {defaults.price_list: "orders.customer_defaults.price_list"}
    if rules.flow in ("erp", "combo"):
        for shop, channel in rules.channels():
            wanted_lists.setdefault(channel.fortnox_price_list, f"shops.{shop.key}.channels.{channel.key}.fortnox_price_list")
        for i, rule in enumerate(rules.price_lists):
            wanted_lists.setdefault(rule.fortnox_price_list, f"price_lists[{i}].fortnox_price_list")
    lists = _probe(gaps, "price lists", hook.list_price_lists)
    if lists is not None:
        codes = {p.code for p in lists}
        for code, where in wanted_lists.items():
            if code not in codes:
                gaps.append(f"Fortnox: price list {code!r} ({where}) does not exist")
    projects = {ch.project: f"shops.{shop.key}.channels.{ch.key}.project" for shop, ch in rules.channels() if ch.project}
    for project, where in sorted(projects.items()):
        try:
            hook.get_json(f"3/projects/{project}")
        except FortnoxNotFound:
            gaps.append(f"Fortnox: project {project!r} ({where}) does not exist")
        except Exception as exc:
            gaps.append(f"Fortnox: cannot read project {project!r} ({where}): {exc}")
    if orders.collective_customer_number:
        try:
            hook.get_customer(orders.collective_customer_number)
        except FortnoxNotFound:
            gaps.append(f"Fortnox: collective customer {orders.collective_customer_number} "
                        "(orders.collective_customer_number) does not exist")
        except Exception as exc:
            gaps.append(f"Fortnox: cannot read customer {orders.collective_customer_number}: {exc}")
    for name in ("freight", "payment_fee"):
        fee = getattr(orders, name)
        if fee.mode == "row" and fee.article_number:
            number = str(fee.article_number)
            article = _probe(gaps, f"article {number}", lambda n=number: hook.find_article(n))  # type: ignore[misc]
            if article is None and not any(fee.article_number in g for g in gaps):
                gaps.append(f"Fortnox: article {fee.article_number} (orders.{name}.article_number) does not exist")
    return gaps


def shop_gaps(runtime: TenantRuntime) -> list[str]:
    """What each shop lacks that the rules use: credentials, statuses, channels, price lists."""
    gaps: list[str] = []
    for shop in runtime.rules.shops:
        backend = runtime.shop(shop.key)
        label = f"{shop.backend.capitalize()} shop {shop.key}"
        connected, message = backend.test_connection()
        if not connected:
            gaps.append(f"{label}: cannot connect with connection {shop.conn_id!r}: {message}")
            continue
        try:
            statuses = {s.status_id: s.name for s in backend.get_statuses()}
        except Exception as exc:
            gaps.append(f"{label}: cannot read order statuses: {exc}")
            continue
        gaps += _status_gaps(runtime, shop.key, label, statuses)
        try:
            channels = {c.channel_id: c for c in backend.get_channels()}
        except Exception as exc:
            gaps.append(f"{label}: cannot read channels: {exc}")
            continue
        for channel in shop.channels:
            if channel.order_channel_id is None:
                continue
            found = channels.get(channel.order_channel_id)
            if found is None:
                gaps.append(f"{label}: channel id {channel.order_channel_id} (channel {channel.key}) does not exist")
            elif found.currency and found.currency != channel.currency:
                gaps.append(f"{label}: channel {channel.key} sells in {found.currency}, "
                            f"the rules say {channel.currency}")
        gaps += _price_list_gaps(runtime, shop.key, label)
    return gaps


def _status_gaps(runtime: TenantRuntime, shop_key: str, label: str, statuses: dict[int, str]) -> list[str]:
    rules = runtime.rules
    named: dict[int, str] = {}
    for status in rules.orders.trigger_statuses_for(shop_key):
        named.setdefault(status, "trigger status")
    named.setdefault(rules.orders.transferred_status_for(shop_key), "transferred status")
    if rules.status_map.enabled:
        for state, action in rules.status_map.states_for(shop_key).mapped():
            named.setdefault(action.jetshop_status, f"status_map {state}")
    return [f"{label}: status {status} ({role}) does not exist "
            f"(the shop has {', '.join(f'{k} {v}' for k, v in sorted(statuses.items()))})"
            for status, role in sorted(named.items()) if status not in statuses]


def _price_list_gaps(runtime: TenantRuntime, shop_key: str, label: str) -> list[str]:
    """Price lists the rules write to that the shop does not have (when the shop can list them)."""
    if runtime.rules.flow not in ("erp", "combo"):
        return []
    try:
        known = runtime.shop(shop_key).known_price_lists()
    except Exception as exc:
        return [f"{label}: cannot read price lists: {exc}"]
    if known is None:
        return []
    wanted = sorted({t.guid for t in price_targets(runtime.rules) if t.shop == shop_key})
    return [f"{label}: price list {code} does not exist (the shop has {', '.join(sorted(known)) or 'none'})"
            for code in wanted if code not in known]


def oss_threshold_warnings(runtime: TenantRuntime) -> list[str]:
    """A warning (never a gap) when Fortnox says this year's sales to private buyers in other EU
    countries are over the EU threshold but the tenant is not OSS-registered (rules vat.oss)."""
    if runtime.rules.vat.oss.registered:
        return []
    try:
        limit = runtime.fortnox.eu_vat_limit()
    except FortnoxError as exc:
        log.warning("pre-flight: cannot read the EU VAT threshold from Fortnox (euvatlimitregulation): %s", exc)
        return []
    if not limit.is_over_limit:
        return []
    message = (f"Fortnox: sales to private buyers in other EU countries in {limit.year} are {limit.total_excl_vat} "
               f"SEK excluding VAT, over the EU threshold of {limit.limit} SEK — from the sale that crossed it those "
               "buyers owe their own country's VAT, yet the tenant is not OSS-registered; register for OSS and set "
               "vat.oss (registered, since, accounts) in the tenant rules")
    log.warning(message)
    return [message]


def findings(runtime: TenantRuntime) -> tuple[list[str], list[str]]:
    """Every gap (Fortnox and shops) and every warning, checked now (the jetfort page's prerequisites)."""
    return fortnox_gaps(runtime) + shop_gaps(runtime), oss_threshold_warnings(runtime)


def preflight_tenant(runtime: TenantRuntime, *, force: bool = False, remember: bool = True) -> dict[str, Any]:
    """Check the tenant (unless a pass for these rules is remembered); raise PreflightFailed with every gap.

    ``remember=False`` (a dry run) checks the same and keeps no memory of a pass."""
    digest = rules_hash(runtime)
    remembered = runtime.ledger.get_cursor(runtime.tenant, CURSOR)
    if remembered and not force:
        data = json.loads(remembered)
        if data.get("rules_hash") == digest:
            log.info("pre-flight passed on %s for these rules; skipped (param preflight_only re-checks)",
                     data.get("passed_at"))
            return {"checked": False, "passed_at": data.get("passed_at"), "gaps": []}
    gaps, warnings = findings(runtime)
    if gaps:
        message = (f"pre-flight for tenant {runtime.tenant} found {len(gaps)} gap(s); fix them in Fortnox, "
                   "the shop or the rules, then clear this task:\n" + "\n".join(f"  - {g}" for g in gaps))
        log.error(message)
        raise PreflightFailed(message)
    passed_at = dt.datetime.now(dt.UTC).isoformat()
    if remember:
        runtime.ledger.set_cursor(runtime.tenant, CURSOR, json.dumps({"rules_hash": digest, "passed_at": passed_at}))
    log.info("pre-flight for tenant %s passed: Fortnox and %d shop(s) match the rules", runtime.tenant,
             len(runtime.rules.shops))
    return {"checked": True, "passed_at": passed_at, "gaps": [], "warnings": warnings}
