"""The orders flow: Jetshop orders the rules release become exactly one Fortnox order or invoice.

One DAG per tenant (``jetfort__<tenant>__orders``)::

    preflight → shop[<shop key>]: extract → map → post → acknowledge → summary

``shop`` is a task group mapped over the tenant's shops; ``map_index_template`` names each mapped
task instance after its shop key, so a data engineer clears "post for shop se" by name. Tasks pass
small JSON through XCom (counts and order ids); every payload lives in the ledger (record
``detail`` and audit rows). This module holds the stages; their Airflow wiring (params, skips, the
summary) is :mod:`jetfort.tasks.orders_dag`. A dry run (``dry_run=True``) reads and builds
everything and writes nothing: no record, cursor, quarantine, shop status or Fortnox document.

Ledger contract (kind ``"order"``, source key ``"<shop key>:<order id>"``)::

    seen → mapped → posting → posted → acknowledged      (+ quarantined, held)

**Effectively once.** ``post`` never creates a document for a record that links one. Before the
first create it claims the batch: ``mapped → posting`` with a compare-and-set in one transaction (a
concurrent worker loses and leaves those orders alone); only then does it POST, and the links are
committed in small groups right after. Whatever happens in between — a dropped answer
(:class:`~jetfort.fortnox.errors.FortnoxAmbiguousWrite`), a killed worker, a task retry — leaves the
record in ``posting``, and a record in ``posting`` is never created again before Fortnox has been
asked for its idempotency key (exact equality, since Fortnox searches substrings); a match is
*adopted*. A dropped answer is looked up at once; a retried task reads the batch list (below) afresh,
which already holds whatever the crashed try created.

**Why this costs ~1 Fortnox call per order (the lookup strategy).** A per-order search before each
create would double the calls. Instead ``post`` makes one list query per batch: every Fortnox
document modified since the oldest order date in the batch (minus an hour for clock skew). A
document for an order can only have been created after the order existed, and Fortnox's
``lastmodified`` only moves forward, so that list is guaranteed to contain any document already
carrying one of the batch's keys — it is an exact-equality lookup for the whole batch in one or a
few paged calls. Orders older than :data:`LIST_LOOKUP_MAX_AGE` (e.g. released from quarantine weeks
later) get a targeted lookup instead, so the list never grows without bound. Records in ``posting``
(crash, ambiguous write) always get a targeted lookup as well.

Customers are resolved once and remembered in the ledger (cursor rows ``customer:org:<digits>`` /
``customer:email:<address>`` → customer number), so a returning customer costs no call; Fortnox
facts (articles, currencies, sales accounts per VAT rate) are cached in the ledger for
:data:`FACTS_TTL` and refreshed early when an order is quarantined for a fact (a fix in Fortnox is
seen on the next run). Steady state with returning customers: one POST per order plus a handful of
calls per batch.

Quarantine: a :class:`~jetfort.mapping.MappingProblem` or a Fortnox 4xx on the create becomes a
ledger quarantine row (reason, shop field, Fortnox code and message, the payload) and the batch goes
on. Open quarantine, ``held`` (plan cap) and unfinished records of a shop are re-examined on every
run, so a fixed cause clears on the next run; ``order_numbers`` re-syncs on demand.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from jetfort.errors import JetfortError, PermanentError, TransientError
from jetfort.tasks.runtime import TenantRuntime, Window, run_window
from jetfort.tasks.summary import push_partial

if TYPE_CHECKING:
    from jetfort.fortnox.hook import FortnoxHook
    from jetfort.jetshop.models import ShopOrder
    from jetfort.ledger.store import Record
    from jetfort.rules import Channel, TenantRules

log = logging.getLogger(__name__)

KIND = "order"
#: states a run re-examines even when the order did not change inside the window
OPEN_STATES = ("seen", "mapped", "posting", "posted", "quarantined", "held")
DONE_STATES = ("acknowledged",)
LINKED_STATES = ("posted", "acknowledged")
#: a record in ``posting`` written by another run is left alone for this long (it may be live)
POSTING_STALE_AFTER = dt.timedelta(minutes=5)
#: orders older than this get a targeted idempotency lookup instead of the batch list
LIST_LOOKUP_MAX_AGE = dt.timedelta(days=2)
LIST_LOOKUP_MARGIN = dt.timedelta(hours=1)
FACTS_TTL = dt.timedelta(minutes=15)
FACT_REASONS = frozenset({"unknown_article", "vat_rate_not_set_up", "currency_not_enabled",
                          "currency_rate_missing"})
ACK_CHUNK = 50
#: links are committed in groups of this many (a crash loses at most these; recovery adopts them)
LINK_FLUSH = 25
CREATE_ATTEMPTS = 3
CUSTOMER_PLACEHOLDER = "0"

COUNT_FIELDS = ("seen", "posted", "adopted", "acknowledged", "quarantined", "held", "skipped",
                "retry_later", "fortnox_calls")


class OrdersRunFailed(PermanentError):
    """Some shop of the tenant did not finish; the summary names the shop and the stage."""


class PostingIncomplete(TransientError):
    """Some orders could not be posted for a transient reason; they are resumed on the retry."""


class AcknowledgeIncomplete(TransientError):
    """Some shop orders could not be set to the transferred status; retried on the retry/next run."""


# ------------------------------------------------------------------------------------------ keys
def source_key(shop_key: str, order_id: int) -> str:
    return f"{shop_key}:{order_id}"


def _order_id(key: str) -> int:
    return int(key.rsplit(":", 1)[1])


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def new_counts(shop_key: str) -> dict[str, Any]:
    return {"shop": shop_key, **{name: 0 for name in COUNT_FIELDS}}


# ------------------------------------------------------------------------------------------ runtime
def open_runtime(tenant: str) -> TenantRuntime:
    """The tenant's runtime (its hooks are configured by its connections and rules alone)."""
    return TenantRuntime.for_tenant(tenant)


def _calls(runtime: TenantRuntime) -> int:
    return runtime.fortnox.request_count if "fortnox" in runtime.__dict__ else 0


def _channel_for(rules: TenantRules, shop_key: str, order: ShopOrder) -> Channel | None:
    """The rules' channel an order belongs to: by Jetshop channel id, else an id-less channel of its currency."""
    shop = next(s for s in rules.shops if s.key == shop_key)
    for channel in shop.channels:
        if channel.jetshop_channel_id is not None and channel.jetshop_channel_id == order.channel_id:
            return channel
    for channel in shop.channels:
        if channel.jetshop_channel_id is None and channel.currency == order.currency:
            return channel
    return None


def order_detail(shop_key: str, order: ShopOrder, **extra: Any) -> dict[str, Any]:
    """The record's ``detail``: the contract fields the order-status flow reads, and the order itself."""
    return {
        "shop": shop_key,
        "order_id": order.order_id,
        "order_number": order.order_number,
        "currency": order.currency,
        "total": str(order.total_inc_vat),
        "payment_provider": str(order.payment.provider),
        "authorized_amount": str(order.payment.authorized_amount),
        "channel_id": order.channel_id,
        "order_date": order.order_date.isoformat(),
        "status_id": order.status_id,
        "order": order.model_dump(mode="json"),
        **extra,
    }


def _order_from(record: Record) -> ShopOrder:
    from jetfort.jetshop.models import ShopOrder

    assert record.detail is not None
    return ShopOrder.model_validate(record.detail["order"])


# ========================================================================================== extract
def extract_shop(runtime: TenantRuntime, shop_key: str, *, context: Mapping[str, Any],
                 order_numbers: Sequence[str] = (), run_id: str | None = None, dry_run: bool = False,
                 window: Window | None = None) -> dict[str, Any]:
    """Find the shop's released orders (window + unfinished ledger records) and record them as seen.

    ``window``: a range given by the params (``since``/``until``) instead of the run's own; it
    leaves the cursor alone. ``dry_run`` records nothing: the result lists under ``fresh`` the
    orders a real run would (re)map, and the map stage reads them from the shop again."""
    from jetfort.jetshop.errors import JetshopNotFound

    rules, ledger, tenant = runtime.rules, runtime.ledger, runtime.tenant
    counts = new_counts(shop_key)
    hook = runtime.jetshop(shop_key)
    triggers = set(rules.orders.trigger_statuses_for(shop_key))
    found: dict[int, ShopOrder] = {}
    if order_numbers:
        window = None
        for number in order_numbers:
            try:
                order = hook.get_order(order_number=str(number))
            except JetshopNotFound:
                log.info("shop %s: order number %s not found (may be another shop's)", shop_key, number)
                continue
            found[order.order_id] = order
    else:
        window = window or run_window(context, ledger=ledger, tenant=tenant, cursor=f"orders:{shop_key}",
                                      overlap_minutes=rules.schedules.window_overlap_minutes)
        log.info("shop %s: window %s → %s (%s), trigger statuses %s", shop_key, window.start.isoformat(),
                 window.end.isoformat(), window.source, sorted(triggers))
        for status_id in sorted(triggers):
            for order in hook.iter_orders(status_id=status_id, modified_from=window.start,
                                          modified_to=window.end):
                found.setdefault(order.order_id, order)
        # unfinished records (quarantined, held, crashed mid-post, not yet acknowledged) come back
        prefix = f"{shop_key}:"
        for open_record in ledger.records(tenant, KIND, states=OPEN_STATES):
            if not open_record.source_key.startswith(prefix):
                continue
            order_id = _order_id(open_record.source_key)
            if order_id in found:
                continue
            try:
                found[order_id] = hook.get_order(order_id)
            except JetshopNotFound:
                log.warning("shop %s: order %s is in the ledger (%s) but gone from the shop",
                            shop_key, order_id, open_record.state)

    keys: list[str] = []
    skipped: list[str] = []
    existing = ledger.get_many(tenant, KIND, [source_key(shop_key, order_id) for order_id in found])
    fresh: list[tuple[str, dict[str, Any]]] = []
    changes: list[dict[str, Any]] = []
    for order_id in sorted(found):
        order = found[order_id]
        key = source_key(shop_key, order_id)
        record = existing.get(key)
        if _channel_for(rules, shop_key, order) is None:
            log.info("shop %s: order %s comes from channel %s, which the rules do not list; synced "
                     "without channel tags", shop_key, order.order_number, order.channel_id)
        if order.status_id not in triggers:
            if record is not None and record.state == "posted":
                # the shop moved the order on by itself after we posted it: nothing left to do
                changes.append({"source_key": key, "state": "acknowledged", "step": "acknowledge",
                                "expect": ["posted"], "run_id": run_id,
                                "message": f"shop status is already {order.status_id}; left as is"})
                continue
            if record is None or record.state not in LINKED_STATES:
                skipped.append(f"{order.order_number}: status {order.status_id} is not a trigger status")
                counts["skipped"] += 1
            continue
        detail = order_detail(shop_key, order)
        message = f"order {order.order_number} status {order.status_id}"
        if record is None:  # new: recorded below, all in one transaction
            fresh.append((key, detail))
            changes.append({"source_key": key, "state": "seen", "step": "extract", "expect": ["seen"],
                            "message": message, "run_id": run_id})
        elif record.state in DONE_STATES:
            log.info("shop %s: order %s is already in Fortnox (%s %s); not sent again", shop_key,
                     order.order_number, record.target_type, record.target_key)
            counts["skipped"] += 1
            continue
        elif record.state in ("seen", "mapped", "held", "quarantined"):
            # re-read: the shop may have changed the order; mapping starts over from what it says now
            keep = {k: v for k, v in (record.detail or {}).items() if k in ("customer_number",)}
            changes.append({"source_key": key, "state": "seen", "step": "extract",
                            "expect": ["seen", "mapped", "held", "quarantined"], "detail": {**detail, **keep},
                            "message": f"{message} (was {record.state})", "run_id": run_id})
        counts["seen"] += 1
        keys.append(key)
    for line in skipped:
        log.info("shop %s: skipped %s", shop_key, line)
    if dry_run:  # what a real run would map from scratch: new orders and the ones it would re-read
        remap = {c["source_key"] for c in changes if c["state"] == "seen"}
        log.info("[dry run] shop %s: %d order(s) found, nothing recorded", shop_key, len(keys))
        return {**counts, "keys": keys, "fresh": [k for k in keys if k in remap], "dry_run": True,
                "window": window.as_dict() if window else None}
    ledger.ensure_records(tenant, KIND, fresh, state="seen")
    ledger.transition_many(tenant, KIND, changes)
    if window is not None and window.source != "params":  # a range run leaves the schedule's cursor
        previous = ledger.get_cursor(tenant, f"orders:{shop_key}")
        if previous is None or dt.datetime.fromisoformat(previous) < window.end:
            ledger.set_cursor(tenant, f"orders:{shop_key}", window.end.isoformat())
    log.info("shop %s: %d order(s) to process, %d skipped", shop_key, len(keys), counts["skipped"])
    return {**counts, "keys": keys, "window": window.as_dict() if window else None}


# ========================================================================================== facts
def _facts_payload(hook: FortnoxHook, rules: TenantRules) -> dict[str, Any]:
    articles = {a.article_number: (str(a.vat) if a.vat is not None else None)
                for a in hook.list_articles() if a.article_number}
    currencies = {c.code: str(c.sell_rate or 1) for c in hook.list_currencies() if c.code}
    rates = []
    for rate, account in sorted(rules.orders.accounts.sales.items()):
        if hook.account_exists(account):
            rates.append(rate)
    return {"at": _now().isoformat(), "articles": articles, "currencies": currencies, "vat_rates": rates}


def load_facts(runtime: TenantRuntime, *, max_age: dt.timedelta = FACTS_TTL, need_articles: Iterable[str] = (),
               store: bool = True) -> tuple[Any, dt.datetime]:
    """:class:`~jetfort.mapping.FortnoxFacts` from the ledger cache, refreshed when older than ``max_age``
    or when the batch sells an article the cache does not know (it may be new in Fortnox)."""
    from jetfort.mapping import FortnoxFacts

    ledger, tenant = runtime.ledger, runtime.tenant
    raw = ledger.get_cursor(tenant, "orders:facts")
    data = json.loads(raw) if raw else None
    fresh = data is not None and _now() - dt.datetime.fromisoformat(data["at"]) < max_age
    if fresh and data is not None:
        unknown = {a for a in need_articles if a and a not in data["articles"]}
        if unknown and _now() - dt.datetime.fromisoformat(data["at"]) > dt.timedelta(seconds=60):
            fresh = False
    if not fresh or data is None:
        data = _facts_payload(runtime.fortnox, runtime.rules)
        if store:  # a dry run reads them and keeps nothing
            ledger.set_cursor(tenant, "orders:facts", json.dumps(data))
    facts = FortnoxFacts(
        articles={k: (Decimal(v) if v is not None else None) for k, v in data["articles"].items()},
        vat_rates=frozenset(Decimal(r) for r in data["vat_rates"]),
        currencies=frozenset(data["currencies"]),
        currency_rates={k: Decimal(v) for k, v in data["currencies"].items()},
    )
    return facts, dt.datetime.fromisoformat(data["at"])


def _remember_article(runtime: TenantRuntime, number: str, vat: Decimal | None) -> None:
    raw = runtime.ledger.get_cursor(runtime.tenant, "orders:facts")
    if not raw:
        return
    data = json.loads(raw)
    data["articles"][number] = str(vat) if vat is not None else None
    runtime.ledger.set_cursor(runtime.tenant, "orders:facts", json.dumps(data))


# ========================================================================================== map
def _month_start(now: dt.datetime) -> dt.datetime:
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def customer_cache_key(match: str, value: str, vat_type: str) -> str:
    """Ledger cursor name remembering which Fortnox customer a match key (and VAT type) resolved to."""
    if match == "organisation_number":
        value = re.sub(r"[^0-9A-Za-z]", "", value).upper()
    else:
        value = value.strip().casefold()
    return f"customer:{match}:{value}:{vat_type}"


def _match_values(plan: Any) -> tuple[tuple[str, str], ...]:
    return tuple(getattr(plan, "match_values", ()) or ())


def _vat_type(plan: Any) -> str:
    return str(getattr(plan, "vat_type", "") or "SEVAT")


def _customer_memo(runtime: TenantRuntime) -> dict[str, str]:
    """This task's copy of the ledger's customer cache (a batch meets the same buyers again)."""
    memo: dict[str, str] = runtime.__dict__.setdefault("_customer_memo", {})
    return memo


def _customer_keys(plan: Any) -> list[str]:
    vat_type = _vat_type(plan)
    return [customer_cache_key(match, value, vat_type) for match, value in _match_values(plan)]


def _prime_customers(runtime: TenantRuntime, plans: Iterable[Any]) -> None:
    """Read what the ledger remembers for a whole batch's buyers in one query, not one per buyer.

    Names the ledger does not know are noted for this task, so the batch does not ask for them
    again; a customer found or created meanwhile is remembered in the memo, which is read first."""
    memo = _customer_memo(runtime)
    absent: set[str] = runtime.__dict__.setdefault("_customer_absent", set())
    wanted = {k for plan in plans for k in _customer_keys(plan) if k not in memo}
    if not wanted:
        return
    found = runtime.ledger.get_cursors(runtime.tenant, wanted)
    memo.update({k: v for k, v in found.items() if v})
    absent.update(k for k in wanted if not found.get(k))


def _cached_customer(runtime: TenantRuntime, plan: Any) -> str | None:
    memo = _customer_memo(runtime)
    absent: set[str] = runtime.__dict__.get("_customer_absent", set())
    for cache_key in _customer_keys(plan):
        number = memo.get(cache_key)
        if number is None and cache_key not in absent:
            number = runtime.ledger.get_cursor(runtime.tenant, cache_key)
        if number:
            memo[cache_key] = number
            return number
    return None


def _document_payload(mapped: Any) -> dict[str, Any]:
    return dict(mapped.document.to_payload())


def _article_payloads(mapped: Any) -> list[dict[str, Any]]:
    out = []
    for article in mapped.articles_to_create or ():
        out.append(article.to_payload() if hasattr(article, "to_payload") else dict(article))
    return out


def map_one(runtime: TenantRuntime, shop_key: str, order: ShopOrder, facts: Any,
            customer_number: str | None = None, plan: Any = None) -> tuple[Any, Any]:
    """(customer plan, mapped document) for one order; raises MappingProblem. Pure apart from caches.

    ``plan``: the order's customer plan when the caller has already made it."""
    from jetfort.mapping import map_document, plan_customer

    rules = runtime.rules
    if plan is None:
        plan = plan_customer(order, rules, shop_key)
    if customer_number is None:
        customer_number = _cached_customer(runtime, plan) or plan.use_collective or CUSTOMER_PLACEHOLDER
    mapped = map_document(order, rules, shop_key, customer_number=customer_number, facts=facts)
    if rules.plugins:
        from jetfort.extensions import apply_document_plugins

        mapped = apply_document_plugins(mapped, order, rules)
    return plan, mapped


def _quarantine_problem(runtime: TenantRuntime, key: str, order: ShopOrder, problem: Any,
                        run_id: str | None, payload: Any = None) -> None:
    reason = getattr(problem, "reason", "mapping_failed")
    field = getattr(problem, "field", None)
    message = getattr(problem, "message", str(problem))
    text = message if order.order_number in message else f"order {order.order_number}: {message}"
    runtime.ledger.quarantine(runtime.tenant, KIND, key, reason=reason, field=field, message=text,
                              payload=payload if payload is not None else {"order_number": order.order_number},
                              run_id=run_id)
    log.warning("quarantined order %s (%s): %s [%s]", order.order_number, key, message, reason)


def map_shop(runtime: TenantRuntime, shop_key: str, batch: Mapping[str, Any], *, dry_run: bool = False,
             fresh_facts: bool = False, run_id: str | None = None) -> dict[str, Any]:
    """Build each order's customer plan and Fortnox document, check totals; quarantine what cannot go.

    ``fresh_facts`` re-reads Fortnox facts now (an on-demand re-sync after a fix in Fortnox)."""
    from jetfort.mapping import MappingProblem, plan_customer

    ledger, tenant, rules = runtime.ledger, runtime.tenant, runtime.rules
    counts = {**new_counts(shop_key), **{k: batch.get(k, 0) for k in COUNT_FIELDS if k != "shop"}}
    calls_before = _calls(runtime)
    keys: list[str] = list(batch.get("keys") or [])
    found = ledger.get_many(tenant, KIND, keys)
    records = {key: found.get(key) for key in keys}
    dry_lines: list[dict[str, Any]] = []  # dry run: per order, what a real run would do
    dry_run = dry_run or bool(batch.get("dry_run"))
    if dry_run:  # extract recorded nothing: the orders come from the shop again, exactly as it has them
        todo = list(batch.get("fresh") or [])
        hook = runtime.jetshop(shop_key)
        orders = {key: hook.get_order(_order_id(key)) for key in todo}
        for key, record in records.items():  # claimed or linked by an earlier run: post/acknowledge go on
            if key not in orders and record is not None:
                dry_lines.append(_plan_line(key, (record.detail or {}).get("order_number"),
                                            "already_linked" if record.state in LINKED_STATES else "would_post",
                                            note=f"state {record.state} from an earlier run"))
        out_keys: list[str] = []
    else:
        todo = [k for k, r in records.items() if r is not None and r.state == "seen"]
        # "mapped" here was mapped by an earlier try of this task (extract resets it every run)
        out_keys = [k for k, r in records.items() if r is not None and r.state in ("mapped", "posting", "posted")]
        orders = {key: _order_from(records[key]) for key in todo}  # type: ignore[arg-type]
    if not todo:
        return {**counts, "keys": out_keys, "plan": dry_lines, "dry_run": dry_run,
                "fortnox_calls": counts["fortnox_calls"] + _calls(runtime) - calls_before}

    wanted = {row.article_number for o in orders.values() for row in o.rows if row.article_number}
    facts, facts_at = load_facts(runtime, need_articles=wanted, store=not dry_run,
                                 **({"max_age": dt.timedelta(0)} if fresh_facts else {}))

    cap = rules.monthly_order_cap
    room: int | None = None
    if cap is not None:
        used = ledger.count(tenant, KIND, ["posting", "posted", "acknowledged"], since=_month_start(_now()))
        room = max(0, cap - used)
        log.info("plan cap %s orders/month: %s used, room for %s", cap, used, room)

    problems: dict[str, Any] = {}
    plans: dict[str, Any] = {}
    for key in todo:
        try:
            plans[key] = plan_customer(orders[key], rules, shop_key)
        except MappingProblem as problem:
            problems[key] = problem
    _prime_customers(runtime, plans.values())
    results: dict[str, tuple[Any, Any]] = {}
    for key, plan in plans.items():
        try:
            results[key] = map_one(runtime, shop_key, orders[key], facts, plan=plan)
        except MappingProblem as problem:
            problems[key] = problem
    # a fact may have been fixed in Fortnox since the cache was filled: look again once
    if any(getattr(p, "reason", "") in FACT_REASONS for p in problems.values()) and \
            _now() - facts_at > dt.timedelta(seconds=60):
        facts, facts_at = load_facts(runtime, max_age=dt.timedelta(0), store=not dry_run)
        for key in [k for k, p in problems.items() if getattr(p, "reason", "") in FACT_REASONS]:
            try:
                results[key] = map_one(runtime, shop_key, orders[key], facts)
                del problems[key]
            except MappingProblem as problem:
                problems[key] = problem

    changes: list[dict[str, Any]] = []
    for key in todo:
        order = orders[key]
        if key in problems:
            counts["quarantined"] += 1
            if dry_run:
                log.warning("[dry run] order %s would be quarantined: %s", order.order_number, problems[key])
                dry_lines.append(_plan_line(key, order.order_number, "would_quarantine",
                                       reason=str(getattr(problems[key], "reason", "mapping_failed"))))
            else:
                _quarantine_problem(runtime, key, order, problems[key], run_id,
                                    payload={"order_number": order.order_number, **problems[key].as_dict()}
                                    if hasattr(problems[key], "as_dict") else None)
            continue
        buyer, mapped = results[key]
        document = _document_payload(mapped)
        totals = {"shop_total": str(mapped.shop_total), "fortnox_total": str(mapped.fortnox_total)}
        if dry_run and (room is None or room > 0):
            log.info("[dry run] order %s → Fortnox %s (customer %s; shop total %s, Fortnox total %s):\n%s",
                     order.order_number, mapped.kind,
                     buyer.org_number or buyer.email or buyer.use_collective or "new",
                     mapped.shop_total, mapped.fortnox_total,
                     json.dumps({"Invoice" if mapped.kind == "invoice" else "Order": document},
                                ensure_ascii=False, indent=1, default=str))
            dry_lines.append(_plan_line(key, order.order_number, "would_post", note=f"{mapped.kind}, total "
                                   f"{mapped.fortnox_total} {order.currency}"))
            room = None if room is None else room - 1
            continue
        if room is not None:
            if room <= 0:
                if dry_run:
                    dry_lines.append(_plan_line(key, order.order_number, "would_hold", reason=f"monthly order cap {cap}"))
                    counts["held"] += 1
                    continue
                changes.append({"source_key": key, "state": "held", "step": "map", "expect": ["seen"],
                                "run_id": run_id, "message": f"monthly order cap {cap} reached; held until "
                                                             "next month or a raised cap"})
                counts["held"] += 1
                continue
            room -= 1
        detail = {**(records[key].detail or {}), "doc_kind": mapped.kind, "document": document,  # type: ignore[union-attr]
                  "idempotency_key": mapped.idempotency_key, "idempotency_field": mapped.idempotency_field,
                  "articles_to_create": _article_payloads(mapped), "totals": totals,
                  "notes": [str(n) for n in (mapped.notes or ())],
                  # what post needs to find a remembered customer without planning the buyer again
                  "customer_keys": {"matches": [list(m) for m in _match_values(buyer)], "vat_type": _vat_type(buyer)}}
        changes.append({"source_key": key, "state": "mapped", "step": "map", "expect": ["seen"], "detail": detail,
                        "payload": {"document": document, "totals": totals}, "run_id": run_id,
                        "message": f"{mapped.kind}: shop total {mapped.shop_total}, Fortnox total "
                                   f"{mapped.fortnox_total}"})
    if changes:
        changed = ledger.transition_many(tenant, KIND, changes)
        out_keys.extend(c["source_key"] for c in changes if c["state"] == "mapped" and c["source_key"] in changed)
    if dry_run:
        log.info("[dry run] shop %s: %d order(s) mapped, %d would be quarantined; nothing written",
                 shop_key, len(results), len(problems))
    counts["fortnox_calls"] += _calls(runtime) - calls_before
    return {**counts, "keys": out_keys, "dry_run": dry_run, "plan": dry_lines}


def _plan_line(key: str, order_number: Any, outcome: str, **more: Any) -> dict[str, Any]:
    """A dry run's line for one order (the summary lists them as they are)."""
    return {"shop": key.split(":", 1)[0], "key": key, "order": order_number, "outcome": outcome, **more}


# ========================================================================================== post
class _Lookup:
    """Exact-equality idempotency lookup: one list query per batch, targeted queries when needed."""

    def __init__(self, runtime: TenantRuntime, kind: str, field: str) -> None:
        self.hook = runtime.fortnox
        self.kind = kind
        self.field = field
        self.known: dict[str, str] | None = None

    def prime(self, since: dt.datetime) -> None:
        known: dict[str, str] = {}
        # a cancelled one counts too: never a second
        for value, number in self.hook.document_references(self.kind, self.field, since=since - LIST_LOOKUP_MARGIN):
            current = known.get(value)
            if current is None or int(number) < int(current):
                known[value] = number
        self.known = known

    def listed(self, key: str) -> str | None:
        return None if self.known is None else self.known.get(key)

    def find(self, key: str) -> str | None:
        finder = self.hook.find_invoices_by_reference if self.kind == "invoice" \
            else self.hook.find_orders_by_reference
        hits: list[Any] = list(finder(key, field=self.field))
        return str(hits[0].document_number) if hits else None


def resolve_customer(runtime: TenantRuntime, plan: Any, key: str, record_detail: Mapping[str, Any],
                     run_id: str | None) -> str:
    """Customer number for an order: ledger cache, then Fortnox by each match key (org number, e-mail;
    exact equality), then the collective customer, else create one.

    What a match key resolved to is remembered in the ledger, so a returning buyer costs no call. A
    created customer's number is written to the record before the document is posted, so a retry
    after a crash reuses it instead of creating the customer again.
    """
    from jetfort.fortnox.errors import FortnoxAmbiguousWrite

    ledger, tenant, hook = runtime.ledger, runtime.tenant, runtime.fortnox
    if record_detail.get("customer_number"):
        return str(record_detail["customer_number"])
    matches = _match_values(plan)

    vat_type = _vat_type(plan)

    def remember(number: str) -> str:
        for cache_key in _customer_keys(plan):
            ledger.set_cursor(tenant, cache_key, number)
            _customer_memo(runtime)[cache_key] = number
        return number

    cached = _cached_customer(runtime, plan)
    if cached:
        return cached

    def search() -> str | None:
        """The first exact match whose VAT type is the one this order needs: Fortnox takes the VAT
        treatment from the customer, so a buyer known under another VAT type (moved abroad, an EU
        company buying privately) is not used for this order."""
        for match, value in matches:
            hits: list[Any] = []
            if match == "organisation_number":
                hits = hook.find_customers_by_org_number(value)
            elif match == "email":
                hits = hook.find_customers_by_email(value)
            numbers = sorted((str(h.customer_number) for h in hits if h.customer_number),
                             key=lambda n: (len(n), n))
            for number in numbers[:3]:
                found_type = str(hook.get_customer(number).vat_type or "SEVAT")
                if found_type == vat_type:
                    return number
                log.info("customer %s matches by %s but has VAT type %s; this order needs %s",
                         number, match, found_type, vat_type)
        return None

    found = search()
    if found:
        return remember(found)
    if plan.use_collective:
        return remember(str(plan.use_collective))
    created: str | None = None
    for _attempt in range(CREATE_ATTEMPTS):
        try:
            created = str(hook.create_customer(plan.customer).customer_number)
            break
        except FortnoxAmbiguousWrite:
            created = search()
            if created:
                break
    if not created:
        raise PostingIncomplete("customer create answered ambiguously three times")
    detail = dict(record_detail)
    detail["customer_number"] = created
    ledger.transition(tenant, KIND, key, "posting", step="customer", expect=["posting"], detail=detail,
                      payload={"Customer": plan.customer.to_payload()}, run_id=run_id,
                      message=f"created Fortnox customer {created}")
    return remember(created)


def _stored_plan(detail: Mapping[str, Any]) -> Any:
    """The match keys map stored for an order's buyer, shaped as a customer plan's (or None)."""
    keys = detail.get("customer_keys")
    if not keys:
        return None
    return SimpleNamespace(match_values=tuple(tuple(m) for m in keys["matches"]), vat_type=keys["vat_type"])


def _create_articles(runtime: TenantRuntime, payloads: Sequence[Mapping[str, Any]]) -> None:
    from jetfort.fortnox.errors import FortnoxAmbiguousWrite, FortnoxValidationError
    from jetfort.fortnox.models import FortnoxArticle

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


def post_shop(runtime: TenantRuntime, shop_key: str, batch: Mapping[str, Any], *,
              run_id: str | None = None, owner: str | None = None) -> dict[str, Any]:
    """Create each mapped order's Fortnox document effectively once and link it in the ledger."""
    from jetfort.fortnox.errors import (
        FortnoxAmbiguousWrite,
        FortnoxPermanentError,
        FortnoxTransientError,
        FortnoxValidationError,
    )
    from jetfort.mapping import MappingProblem, plan_customer

    ledger, tenant, rules = runtime.ledger, runtime.tenant, runtime.rules
    counts = {**new_counts(shop_key), **{k: batch.get(k, 0) for k in COUNT_FIELDS if k != "shop"}}
    calls_before = _calls(runtime)
    owner = owner or f"{run_id}|{shop_key}"
    keys: list[str] = list(batch.get("keys") or [])
    found = ledger.get_many(tenant, KIND, keys)
    records = {key: found.get(key) for key in keys}
    todo = [k for k, r in records.items() if r is not None and r.state in ("mapped", "posting")]
    out_keys = [k for k, r in records.items() if r is not None and r.state == "posted"]
    for key in out_keys:  # linked by an earlier try of this run: count it where it was done
        step = _step_in_run(ledger, tenant, key, run_id, ("post", "adopt"))
        if step:
            counts["adopted" if step == "adopt" else "posted"] += 1
    if batch.get("dry_run") or not todo:
        return {**counts, "keys": out_keys, "fortnox_calls": counts["fortnox_calls"] + _calls(runtime) - calls_before}

    now = _now()
    details = {k: dict(records[k].detail or {}) for k in todo}  # type: ignore[union-attr]
    kinds = {str(details[k].get("doc_kind", rules.orders.document)) for k in todo}
    lookups = {kind: _Lookup(runtime, kind, rules.orders.idempotency_field) for kind in kinds}
    for kind, lookup in lookups.items():
        dates = [_aware(dt.datetime.fromisoformat(details[k]["order_date"]))
                 for k in todo if details[k].get("doc_kind") == kind]
        recent = [d for d in dates if now - d <= LIST_LOOKUP_MAX_AGE]
        if recent:
            lookup.prime(min(recent))

    # claim every order before the first POST, in one transaction: mapped → posting (compare-and-set),
    # and take over records left in posting by a crashed try of this run or a dead run
    claims: list[dict[str, Any]] = []
    recovering: set[str] = set()
    owned: set[str] = set()
    for key in todo:
        record = records[key]
        assert record is not None
        detail = details[key]
        if record.state == "posting":  # who claimed it: the audit's last post step names the run
            mine = _step_in_run(ledger, tenant, key, run_id, ("post",)) is not None
            if not (mine or now - record.updated_at > POSTING_STALE_AFTER):
                log.warning("order %s is being posted by another run; leaving it to that run",
                            detail.get("order_number"))
                counts["retry_later"] += 1
                continue
            recovering.add(key)
            if not mine:
                claims.append({"source_key": key, "state": "posting", "step": "post", "expect": ["posting"],
                               "run_id": run_id, "message": f"taken over by {owner} (stale since "
                                                            f"{record.updated_at.isoformat()})"})
            else:
                owned.add(key)
        else:
            claims.append({"source_key": key, "state": "posting", "step": "post", "expect": ["mapped"],
                           "run_id": run_id, "count_attempt": True,
                           "message": f"posting {detail.get('doc_kind')} with "
                                      f"{rules.orders.idempotency_field}={detail.get('idempotency_key')}"})
    claimed = ledger.transition_many(tenant, KIND, claims)
    mine_now = [k for k in todo if k in claimed or k in owned]
    counts["retry_later"] += sum(1 for c in claims if c["source_key"] not in claimed)  # another run has them
    quarantined = {q.source_key for q in ledger.open_quarantine(tenant, KIND)}
    pending: list[dict[str, Any]] = []

    linked: list[str] = []  # "order → document" of the pending links, logged as one line per flush
    linked_now: list[str] = []  # what this try linked (the summary tells it from an earlier try's work)

    def flush() -> None:
        if pending:
            ledger.transition_many(tenant, KIND, pending)
            for change in pending:
                if change["source_key"] in quarantined:
                    ledger.resolve_quarantine(tenant, KIND, change["source_key"])
            log.info("shop %s: %d order(s) → Fortnox: %s", shop_key, len(linked), ", ".join(linked))
            pending.clear()
            linked.clear()

    # the buyers' remembered customers, from what map stored (no second planning of the buyer)
    stored_plans = {k: stored for k in mine_now if not details[k].get("customer_number")
                    and (stored := _stored_plan(details[k])) is not None}
    _prime_customers(runtime, stored_plans.values())
    failures: list[str] = []
    try:
        for key in mine_now:
            record = records[key]
            assert record is not None
            detail = details[key]
            doc_kind = str(detail.get("doc_kind") or rules.orders.document)
            idem_key = str(detail["idempotency_key"])
            lookup = lookups[doc_kind]
            order_number = str(detail.get("order_number"))
            order_date = _aware(dt.datetime.fromisoformat(detail["order_date"]))
            if len(pending) >= LINK_FLUSH:
                flush()

            def link(number: str, *, adopted: bool, sent: Any = None, _key: str = key,
                     _kind: str = doc_kind, _number: str = order_number) -> None:
                pending.append({"source_key": _key, "state": "posted", "step": "adopt" if adopted else "post",
                                "expect": ["posting"], "target_type": _kind, "target_key": number, "payload": sent,
                                "run_id": run_id,
                                "message": f"{'adopted existing' if adopted else 'created'} Fortnox {_kind} {number}"})
                counts["adopted" if adopted else "posted"] += 1
                out_keys.append(_key)
                linked_now.append(_key)
                linked.append(f"{_number} → {_kind} {number}{' (adopted)' if adopted else ''}")

            plan = None
            try:
                existing = lookup.listed(idem_key)
                # the batch list was read after any earlier try of this run, so it already shows what
                # that try created; a targeted search is for old orders and takeovers from dead runs
                if existing is None and ((key in recovering and key not in owned) or lookup.known is None
                                         or now - order_date > LIST_LOOKUP_MAX_AGE):
                    existing = lookup.find(idem_key)
                if existing is not None:
                    link(existing, adopted=True)
                    continue
                plan = stored_plans.get(key)
                customer_number = (detail.get("customer_number") or (_cached_customer(runtime, plan) if plan else None))
                if not customer_number:
                    plan = plan_customer(_order_from(record), rules, shop_key)
                    customer_number = resolve_customer(runtime, plan, key, detail, run_id)
                if detail.get("articles_to_create"):
                    _create_articles(runtime, detail["articles_to_create"])
                # the document was validated by its model when it was mapped; sent as it was stored
                payload = {**detail["document"], "CustomerNumber": customer_number}
                number: str | None = None
                adopted = False
                for _attempt in range(CREATE_ATTEMPTS):
                    try:
                        number = runtime.fortnox.create_document(doc_kind, payload)
                        break
                    except FortnoxAmbiguousWrite:
                        log.warning("order %s: the create's answer was lost; looking it up", order_number)
                        number = lookup.find(idem_key)
                        if number is not None:
                            adopted = True
                            break
                if number is None:
                    raise PostingIncomplete(f"order {order_number}: create answered ambiguously {CREATE_ATTEMPTS} times")
                link(number, adopted=adopted, sent={"Invoice" if doc_kind == "invoice" else "Order": payload})
            except MappingProblem as problem:  # e.g. a plugin's customer rule refuses the buyer
                _quarantine_problem(runtime, key, _order_from(record), problem, run_id)
                counts["quarantined"] += 1
            except FortnoxValidationError as exc:
                order = _order_from(record)
                if plan is not None:  # the remembered customer may be what Fortnox refused: look again next time
                    for cache_key in _customer_keys(plan):
                        _customer_memo(runtime).pop(cache_key, None)
                        ledger.set_cursor(tenant, cache_key, "")
                ledger.quarantine(tenant, KIND, key, reason="fortnox_rejected", field=_field_from(exc),
                                  code=str(exc.code) if exc.code is not None else str(exc.status),
                                  message=f"order {order.order_number}: Fortnox said {exc.message}",
                                  payload=detail.get("document"), run_id=run_id)
                counts["quarantined"] += 1
                log.warning("order %s quarantined: Fortnox %s", order_number, exc)
            except (FortnoxTransientError, TransientError) as exc:
                failures.append(f"{order_number}: {exc}")
                counts["retry_later"] += 1
                log.warning("order %s stays in posting (resumed on retry): %s", order_number, exc)
            except FortnoxPermanentError:
                counts["fortnox_calls"] += _calls(runtime) - calls_before
                raise
    finally:
        flush()
    counts["fortnox_calls"] += _calls(runtime) - calls_before
    result = {**counts, "keys": out_keys, "linked_now": linked_now}
    if failures:
        push_partial(result)
        raise PostingIncomplete(f"shop {shop_key}: {len(failures)} order(s) not posted yet (resumed on retry): "
                                + "; ".join(failures[:10]))
    return result


def _step_in_run(ledger: Any, tenant: str, key: str, run_id: str | None, steps: Sequence[str]) -> str | None:
    """The last of ``steps`` this run recorded for ``key`` (an earlier try's work, for the counts)."""
    if run_id is None:
        return None
    for row in reversed(ledger.audit(tenant, KIND, key)):
        if row["step"] in steps:
            return str(row["step"]) if row["run_id"] == run_id else None
    return None


def _field_from(exc: Any) -> str | None:
    """The Fortnox field a 400 names, when its message quotes one (e.g. 'Ogiltigt värde för fält X')."""
    match = re.search(r"\b([A-Z][A-Za-z0-9]+(?:\.[A-Z][A-Za-z0-9]+)*)\b", str(getattr(exc, "message", "")))
    return match.group(1) if match else None


# ========================================================================================== acknowledge
def acknowledge_shop(runtime: TenantRuntime, shop_key: str, batch: Mapping[str, Any], *,
                     run_id: str | None = None) -> dict[str, Any]:
    """Set each posted order to the shop's transferred status, noting the Fortnox number."""
    from jetfort.jetshop.models import StatusUpdate

    ledger, tenant, rules = runtime.ledger, runtime.tenant, runtime.rules
    counts = {**new_counts(shop_key), **{k: batch.get(k, 0) for k in COUNT_FIELDS if k != "shop"}}
    if batch.get("dry_run"):
        return {**counts, "keys": []}
    status = rules.orders.transferred_status_for(shop_key)
    found = list(ledger.get_many(tenant, KIND, batch.get("keys") or []).values())
    records = [r for r in found if r.state == "posted"]
    counts["acknowledged"] += sum(1 for r in found if r.state == "acknowledged"
                                  and _step_in_run(ledger, tenant, r.source_key, run_id, ("acknowledge",)))
    hook = runtime.jetshop(shop_key)
    failures: list[str] = []
    for start in range(0, len(records), ACK_CHUNK):
        chunk = records[start:start + ACK_CHUNK]
        updates = [StatusUpdate(order_id=_order_id(r.source_key), status_id=status,
                                comment=f"Fortnox {r.target_type} {r.target_key} (jetfort)") for r in chunk]
        results = {res.order_id: res for res in hook.set_order_statuses(updates, strict=False)}
        done: list[dict[str, Any]] = []
        for record in chunk:
            answer = results.get(_order_id(record.source_key))
            if answer is None or not answer.success:
                failures.append(f"{record.source_key}: {answer.message if answer else 'no answer'}")
                continue
            done.append({"source_key": record.source_key, "state": "acknowledged", "step": "acknowledge",
                         "expect": ["posted"], "run_id": run_id,
                         "message": f"shop status {status}; Fortnox {record.target_type} {record.target_key}"})
        counts["acknowledged"] += len(ledger.transition_many(tenant, KIND, done))
    result = {**counts, "keys": [r.source_key for r in records]}
    if failures:
        push_partial(result)
        raise AcknowledgeIncomplete(f"shop {shop_key}: {len(failures)} order(s) not set to status {status}: "
                                    + "; ".join(failures[:10]))
    return result


__all__ = [
    "KIND",
    "JetfortError",
    "acknowledge_shop",
    "extract_shop",
    "map_shop",
    "post_shop",
    "source_key",
]
