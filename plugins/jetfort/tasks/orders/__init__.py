"""The orders flow: Jetshop orders the rules release become exactly one Fortnox order or invoice.

One DAG per tenant (``jetfort__<tenant>__orders``)::

    preflight → shop[<shop key>]: extract → map → post → acknowledge → summary

``shop`` is a task group mapped over the tenant's shops; ``map_index_template`` names each mapped
task instance after its shop key, so a data engineer clears "post for shop se" by name. Tasks pass
small JSON through XCom (counts and order ids); every payload lives in the ledger (record
``detail`` and audit rows). This package holds the stages, one module each
(:mod:`.extract`, :mod:`.map_orders`, :mod:`.post`, :mod:`.acknowledge`; shared: :mod:`.common`,
:mod:`.facts`, :mod:`.customers`, :mod:`.recovery`); their Airflow wiring (params, skips, the
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
few paged calls. Orders older than :data:`~.recovery.LIST_LOOKUP_MAX_AGE` (e.g. released from
quarantine weeks later) get a targeted lookup instead, so the list never grows without bound, and so
do records in ``posting`` taken over from a dead run (a crashed try of the same run is covered by the
list, read afresh); a dropped answer is looked up at once. The protocol is :class:`.post.ShopPosting`,
claims and lookups are :mod:`.recovery`.

Customers are resolved once and remembered in the ledger (cursor rows ``customer:org:<digits>`` /
``customer:email:<address>`` → customer number), so a returning customer costs no call; Fortnox
facts (articles, currencies, sales accounts per VAT rate) are cached in the ledger for
:data:`~.facts.FACTS_TTL` and refreshed early when an order is quarantined for a fact (a fix in Fortnox is
seen on the next run). Steady state with returning customers: one POST per order plus a handful of
calls per batch.

Quarantine: a :class:`~jetfort.mapping.MappingProblem` or a Fortnox 4xx on the create becomes a
ledger quarantine row (reason, shop field, Fortnox code and message, the payload) and the batch goes
on. Open quarantine, ``held`` (plan cap) and unfinished records of a shop are re-examined on every
run, so a fixed cause clears on the next run; ``order_numbers`` re-syncs on demand.
"""

from __future__ import annotations

from jetfort.errors import JetfortError
from jetfort.tasks.orders.acknowledge import acknowledge_shop
from jetfort.tasks.orders.common import (
    COUNT_FIELDS,
    KIND,
    AcknowledgeIncomplete,
    OrdersRunFailed,
    PostingIncomplete,
    new_counts,
    open_runtime,
    order_detail,
    source_key,
)
from jetfort.tasks.orders.customers import customer_cache_key, resolve_customer
from jetfort.tasks.orders.extract import extract_shop
from jetfort.tasks.orders.facts import load_facts
from jetfort.tasks.orders.map_orders import map_one, map_shop
from jetfort.tasks.orders.post import post_shop

__all__ = [
    "COUNT_FIELDS",
    "KIND",
    "AcknowledgeIncomplete",
    "JetfortError",
    "OrdersRunFailed",
    "PostingIncomplete",
    "acknowledge_shop",
    "customer_cache_key",
    "extract_shop",
    "load_facts",
    "map_one",
    "map_shop",
    "new_counts",
    "open_runtime",
    "order_detail",
    "post_shop",
    "resolve_customer",
    "source_key",
]
