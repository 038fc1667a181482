"""Fortnox facts the mapping needs (articles, currencies, sales accounts), cached in the ledger.

Cached for :data:`FACTS_TTL` and refreshed early when the batch sells an article the cache does
not know, or when an order is quarantined for a fact (a fix in Fortnox is seen on the next run).
Articles an order needs are created here too, and remembered in the cache.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from jetfort.fortnox.errors import FortnoxAmbiguousWrite, FortnoxValidationError
from jetfort.fortnox.models import FortnoxArticle
from jetfort.mapping.orders import FortnoxFacts
from jetfort.rules import TenantRules
from jetfort.tasks.orders.common import utcnow
from jetfort.tasks.runtime import TenantRuntime

if TYPE_CHECKING:
    from jetfort.fortnox.hook import FortnoxHook

log = logging.getLogger(__name__)

FACTS_TTL = dt.timedelta(minutes=15)
FACT_REASONS = frozenset({"unknown_article", "vat_rate_not_set_up", "currency_not_enabled",
                          "currency_rate_missing"})
#: a cache younger than this is not re-read for an unknown article or a fact problem
RECHECK_AFTER = dt.timedelta(seconds=60)
CURSOR = "orders:facts"


def _facts_payload(hook: FortnoxHook, rules: TenantRules) -> dict[str, Any]:
    articles = {a.article_number: (str(a.vat) if a.vat is not None else None)
                for a in hook.list_articles() if a.article_number}
    currencies = {c.code: str(c.sell_rate or 1) for c in hook.list_currencies() if c.code}
    sales = sorted(rules.orders.accounts.sales.items())
    oss = list(rules.vat.oss_sales_accounts())  # OSS: a foreign rate Fortnox can book
    missing = set(hook.missing_accounts(account for _, account in sales + oss))
    rates = []
    for rate, account in sales + oss:
        if rate not in rates and account not in missing:
            rates.append(rate)
    return {"at": utcnow().isoformat(), "articles": articles, "currencies": currencies, "vat_rates": rates}


def load_facts(runtime: TenantRuntime, *, max_age: dt.timedelta = FACTS_TTL, need_articles: Iterable[str] = (),
               store: bool = True) -> tuple[FortnoxFacts, dt.datetime]:
    """:class:`~jetfort.mapping.FortnoxFacts` from the ledger cache, refreshed when older than ``max_age``
    or when the batch sells an article the cache does not know (it may be new in Fortnox)."""
    ledger, tenant = runtime.ledger, runtime.tenant
    raw = ledger.get_cursor(tenant, CURSOR)
    data = json.loads(raw) if raw else None
    fresh = data is not None and utcnow() - dt.datetime.fromisoformat(data["at"]) < max_age
    if fresh and data is not None:
        unknown = {a for a in need_articles if a and a not in data["articles"]}
        if unknown and utcnow() - dt.datetime.fromisoformat(data["at"]) > RECHECK_AFTER:
            fresh = False
    if not fresh or data is None:
        data = _facts_payload(runtime.fortnox, runtime.rules)
        if store:  # a dry run reads them and keeps nothing
            ledger.set_cursor(tenant, CURSOR, json.dumps(data))
    facts = FortnoxFacts(
        articles={k: (Decimal(v) if v is not None else None) for k, v in data["articles"].items()},
        vat_rates=frozenset(Decimal(r) for r in data["vat_rates"]),
        currencies=frozenset(data["currencies"]),
        currency_rates={k: Decimal(v) for k, v in data["currencies"].items()},
    )
    return facts, dt.datetime.fromisoformat(data["at"])


def _remember_article(runtime: TenantRuntime, number: str, vat: Decimal | None) -> None:
    raw = runtime.ledger.get_cursor(runtime.tenant, CURSOR)
    if not raw:
        return
    data = json.loads(raw)
    data["articles"][number] = str(vat) if vat is not None else None
    runtime.ledger.set_cursor(runtime.tenant, CURSOR, json.dumps(data))


def create_articles(runtime: TenantRuntime, payloads: Sequence[Mapping[str, Any]]) -> None:
    """Create the articles map asked for (a lost answer or a parallel order's create is looked up)."""
    hook = runtime.fortnox
    for payload in payloads:
        article = FortnoxArticle.model_validate(payload)
        number = str(article.article_number)
        created: FortnoxArticle | None
        try:
            created = hook.create_article(article)
        except (FortnoxAmbiguousWrite, FortnoxValidationError):
            created = hook.find_article(number)  # lost answer, or made by a parallel order
            if created is None:
                raise
        log.info("created Fortnox article %s (%s)", number, article.description)
        _remember_article(runtime, number, created.vat)
