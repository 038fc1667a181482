"""Fortnox WebSocket events ("Topics" API) of the sandbox: the per-topic logs, what feeds them, the knobs.

Fortnox keeps one append-only log per topic (Kafka) for all its customers; a WebSocket subscription
(:mod:`.ws_routes`, ``/topics-v1``) reads the events of its own tenants from the topics it added,
in order per topic. Here the :class:`EventHub` (``sandbox.events``) owns those logs.

What feeds them: the sandbox's state. After every write that goes through the app (REST calls,
``/_sandbox`` admin writes, live-mode moves — all pass ``ws_routes.EventsMiddleware``) the hub compares
each company's orders, invoices, invoice payments, articles and stock balances with what it saw
last (:meth:`EventHub.sync`) and appends an event per changed entity, so an event always follows a
committed change. Entity changes are found through the modification stamps every write sets;
stock balances by value. ``sync()`` also runs when a test reads the log and every half second while
a subscription is open, so changes made directly in Python show up too.

Offsets are opaque strings that look like hashes (deliberately not ordered like the log); the hub
maps them back to positions. Retention is 14 days on the sandbox clock.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import string
import threading
import time
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .state import STOCKHOLM, Company

if TYPE_CHECKING:
    from .emulator import FortnoxSandbox

RETENTION_SECONDS = 14 * 24 * 3600.0
TOPICS = (
    "invoices", "customers", "orders", "offers", "articles", "currencies", "termsofdeliveries",
    "waysofdeliveries", "termsofpayments", "bureau-activities", "bureau-assignments", "cost-centers",
    "financial-years", "messages", "projects", "suppliers", "supplier-invoices", "vouchers",
    "warehouse-stockbalances",
)
EMITTED_TYPES = {
    "orders": ("order-created-v1", "order-updated-v1", "order-cancelled-v1"),
    "invoices": ("invoice-created-v1", "invoice-updated-v1", "invoice-cancelled-v1", "invoice-bookkeep-v1",
                 "invoicepayment-bookkeep-v1"),
    "articles": ("article-created-v1", "article-updated-v1", "article-deleted-v1"),
    "warehouse-stockbalances": ("warehouse-stockbalance-changed-v1",),
}
_ALPHABET = string.ascii_letters + string.digits


@dataclass
class Knobs:
    """Event faults and choices; change them with :meth:`EventHub.set_knobs` (or the admin route)."""

    duplicate_every: int = 0  # every n-th event a connection sends is sent twice (0: off)
    disconnect_after: int = 0  # every connection is closed after n more events sent (0: off)
    lag_ms: int = 0  # an event is sent no earlier than this long after the change
    shuffle_topics: bool = False  # interleave topics at random (each topic stays in order)
    replay_includes_offset: bool = False  # add-topics with an offset re-sends that offset's event too
    drop_expired_tokens: bool = False  # a tenant whose access tokens all expired gets no more events
    rest_lag_ms: int = 0  # after a change, GET /3/orders|invoices/{n} shows the old version this long

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Entry:
    seq: int  # position across all topics (commit order)
    index: int  # position in its topic's log
    at: float  # sandbox clock (retention)
    ready: float  # time.monotonic() when it may be sent (lag)
    event: dict[str, Any]


@dataclass
class TopicLog:
    entries: list[Entry] = field(default_factory=list)
    base: int = 0  # index of entries[0]; everything before it is past retention
    tokens: dict[str, int] = field(default_factory=dict)  # offset → index (pruned ones too)

    @property
    def end(self) -> int:
        return self.base + len(self.entries)

    def after(self, index: int) -> list[Entry]:
        return self.entries[max(index - self.base, 0):]


@dataclass
class Seen:
    """What the hub saw of one company last time (to tell what changed since)."""

    data: Any
    stamps: dict[tuple[str, str], Any]
    flags: dict[tuple[str, str], tuple[Any, ...]]
    stock: dict[str, tuple[Any, ...]]
    bodies: dict[tuple[str, str], str] = field(default_factory=dict)  # orders/invoices as JSON (REST lag knob)


def _flags(collection: str, entity: dict[str, Any]) -> tuple[Any, ...]:
    if collection == "orders":
        return (bool(entity.get("Cancelled")),)
    if collection == "invoices":
        return bool(entity.get("Cancelled")), bool(entity.get("Booked"))
    if collection == "invoicepayments":
        return bool(entity.get("Booked")), str(entity.get("InvoiceNumber"))
    return ()


def stock_figures(company: Company) -> dict[str, tuple[Any, ...]]:
    """Per article: its stock points with in-stock and available quantity (what the warehouse API shows)."""
    reserved: dict[str, float] = {}
    for order in company.data["orders"].values():
        if order.get("Cancelled") or order.get("InvoiceReference", "0") != "0":
            continue
        for row in order.get("OrderRows", []):
            number = str(row.get("ArticleNumber") or "")
            reserved[number] = reserved.get(number, 0.0) + float(row.get("OrderedQuantity") or 0)
    out: dict[str, list[tuple[str, float, float]]] = {}
    for (item, point), (in_stock, held) in sorted(company.stock.items()):
        article = company.get("articles", item) or {}
        taken = held + (reserved.get(item, 0.0) if article.get("StockGoods") else 0.0)
        out.setdefault(item, []).append((point, round(in_stock, 2), round(in_stock - taken, 2)))
    return {item: tuple(points) for item, points in out.items()}


def _look(company: Company, bodies: bool = False) -> Seen:
    stamps: dict[tuple[str, str], Any] = {}
    flags: dict[tuple[str, str], tuple[Any, ...]] = {}
    for collection in ("orders", "invoices", "invoicepayments", "articles"):
        for key, entity in company.data[collection].items():
            stamps[(collection, key)] = company.modified.get((collection, key))
            flags[(collection, key)] = _flags(collection, entity)
    seen = Seen(company.data, stamps, flags, stock_figures(company))
    if bodies:
        seen.bodies = {(c, k): json.dumps(e, default=str) for c in ("orders", "invoices")
                       for k, e in company.data[c].items()}
    return seen


def _changes(before: Seen, now: Seen) -> list[tuple[str, str, str]]:
    """(topic, type, entityId) for every change from ``before`` to ``now``, in a stable order."""
    out: list[tuple[str, str, str]] = []
    for (collection, key), stamp in now.stamps.items():
        old = before.stamps.get((collection, key), _MISSING)
        if old == stamp:
            continue
        flags, old_flags = now.flags[(collection, key)], before.flags.get((collection, key))
        if collection == "orders":
            kind = ("order-created-v1" if old_flags is None else
                    "order-cancelled-v1" if flags[0] and not old_flags[0] else "order-updated-v1")
            out.append(("orders", kind, key))
        elif collection == "invoices":
            kind = ("invoice-created-v1" if old_flags is None else
                    "invoice-cancelled-v1" if flags[0] and not old_flags[0] else
                    "invoice-bookkeep-v1" if flags[1] and not old_flags[1] else "invoice-updated-v1")
            out.append(("invoices", kind, key))
        elif collection == "invoicepayments":
            if flags[0] and not (old_flags or (False,))[0]:
                out.append(("invoices", "invoicepayment-bookkeep-v1", flags[1]))
        else:
            out.append(("articles", "article-created-v1" if old_flags is None else "article-updated-v1", key))
    for (collection, key) in before.stamps:
        if collection == "articles" and (collection, key) not in now.stamps:
            out.append(("articles", "article-deleted-v1", key))
    for item in sorted(set(now.stock) | set(before.stock)):
        if now.stock.get(item) != before.stock.get(item):
            out.append(("warehouse-stockbalances", "warehouse-stockbalance-changed-v1", item))
    order = {"orders": 0, "invoices": 1, "articles": 2, "warehouse-stockbalances": 3}
    return sorted(out, key=lambda change: order[change[0]])


_MISSING = object()


class EventHub:
    """The sandbox's event logs, subscriptions and knobs (``sandbox.events``); thread-safe."""

    def __init__(self, sandbox: FortnoxSandbox) -> None:
        self.sandbox = sandbox
        self.knobs = Knobs()
        self.knob_generation = 0  # bumped by set_knobs (restarts disconnect_after counting)
        self._logs: dict[str, TopicLog] = {topic: TopicLog() for topic in TOPICS}
        self._seen: dict[int, Seen] = {}
        self._seq = 0
        self._salt = secrets.token_bytes(8)
        self._lock = threading.RLock()
        self._connections: dict[int, Any] = {}  # id → ws_routes.Connection
        self._stale: dict[tuple[int, str, str], tuple[str, float]] = {}  # REST lag: old body, until (monotonic)

    # --- feeding the logs --------------------------------------------------------------------------
    def baseline(self, company: Company) -> None:
        """Take a company's current state as seen (no events): new, seeded or reset companies."""
        with self._lock, company.lock:
            self._seen[company.tenant_id] = _look(company, bool(self.knobs.rest_lag_ms))

    def sync(self) -> int:
        """Append an event for every change since the last look; returns how many were appended."""
        added = 0
        with self._lock:
            for tenant_id, company in list(self.sandbox.companies.items()):
                with company.lock:
                    before = self._seen.get(tenant_id)
                    now = _look(company, bool(self.knobs.rest_lag_ms))
                    self._seen[tenant_id] = now
                if before is None or before.data is not company.data:
                    continue  # first look, or the company was reset: nothing to report
                for topic, kind, entity in _changes(before, now):
                    self._hold_back(tenant_id, topic, entity, before)
                    self.emit(tenant_id, topic, kind, entity)
                    added += 1
        return added

    def _hold_back(self, tenant_id: int, topic: str, key: str, before: Seen) -> None:
        """REST lag knob: GET of a changed order/invoice keeps showing its previous version a while."""
        old = before.bodies.get((topic, key)) if topic in ("orders", "invoices") else None
        if old is not None and self.knobs.rest_lag_ms:
            self._stale[(tenant_id, topic, key)] = (old, time.monotonic() + self.knobs.rest_lag_ms / 1000)

    def stale_body(self, tenant_id: int, collection: str, key: str) -> str | None:
        """The version of a document REST still shows under the REST lag knob (JSON), or None."""
        with self._lock:
            held = self._stale.get((tenant_id, collection, key))
            if held is None:
                return None
            if held[1] <= time.monotonic():
                del self._stale[(tenant_id, collection, key)]
                return None
            return held[0]

    def emit(self, tenant_id: int, topic: str, kind: str, entity_id: str) -> dict[str, Any]:
        """Append one event to a topic's log (the sandbox does this itself; public for tests)."""
        if topic not in self._logs:
            raise ValueError(f"unknown topic {topic!r}; known {TOPICS}")
        with self._lock:
            log = self._logs[topic]
            now = self.sandbox.clock.time()
            token = self._token(topic, log)
            event = {"topic": topic, "offset": token, "type": kind, "tenantId": int(tenant_id),
                     "entityId": str(entity_id),
                     "timestamp": datetime.fromtimestamp(now, STOCKHOLM).isoformat(timespec="milliseconds")}
            self._seq += 1
            log.tokens[token] = log.end
            log.entries.append(Entry(self._seq, log.end, now, time.monotonic() + self.knobs.lag_ms / 1000, event))
            self._prune(log, now)
            self._wake()
            return dict(event)

    def _token(self, topic: str, log: TopicLog) -> str:
        counter = 0
        while True:
            digest = hashlib.sha256(self._salt + f"{topic}:{log.end}:{counter}".encode()).digest()
            token = "".join(_ALPHABET[b % len(_ALPHABET)] for b in digest[:7])
            if token not in log.tokens:
                return token
            counter += 1

    @staticmethod
    def _prune(log: TopicLog, now: float) -> None:
        keep = 0
        while keep < len(log.entries) and log.entries[keep].at < now - RETENTION_SECONDS:
            keep += 1
        if keep:
            del log.entries[:keep]
            log.base += keep

    # --- reading -----------------------------------------------------------------------------------
    def log(self, topic: str | None = None, tenant_id: int | None = None) -> list[dict[str, Any]]:
        """The retained events (oldest first) of one topic or all (commit order), optionally one tenant's."""
        self.sync()
        with self._lock:
            now = self.sandbox.clock.time()
            for each in self._logs.values():
                self._prune(each, now)
            logs = [self._logs[topic]] if topic is not None else list(self._logs.values())
            entries = sorted((e for each in logs for e in each.entries), key=lambda e: e.seq)
            return [dict(e.event) for e in entries if tenant_id is None or e.event["tenantId"] == tenant_id]

    def start_index(self, topic: str, offset: str | None) -> int:
        """Where a subscription to ``topic`` starts: after ``offset`` (or at it, by the knob); the
        earliest retained event if the offset is past retention or unknown; the end without one."""
        with self._lock:
            log = self._logs[topic]
            self._prune(log, self.sandbox.clock.time())
            if offset is None:
                return log.end
            index = log.tokens.get(offset)
            if index is None or index < log.base:
                return log.base
            return index if self.knobs.replay_includes_offset else index + 1

    def pending(self, cursors: dict[str, int], wanted: Any) -> tuple[list[Entry], float | None]:
        """Events after ``cursors`` ready to send now and accepted by ``wanted(event)``; advances the
        cursors past them. Also returns the monotonic time the next lagged event becomes ready."""
        out: list[Entry] = []
        next_ready: float | None = None
        now = time.monotonic()
        with self._lock:
            for topic, index in list(cursors.items()):
                log = self._logs[topic]
                position = max(index, log.base)
                for entry in log.after(position):
                    if entry.ready > now:
                        next_ready = entry.ready if next_ready is None else min(next_ready, entry.ready)
                        break
                    position = entry.index + 1
                    if wanted(entry.event):
                        out.append(entry)
                cursors[topic] = position
        return sorted(out, key=lambda e: e.seq), next_ready

    # --- knobs and connections ---------------------------------------------------------------------
    def set_knobs(self, **changes: Any) -> Knobs:
        """Change some knobs (unknown names and wrong types are refused with a ValueError)."""
        kinds = {f.name: f.type for f in fields(Knobs)}
        for name, value in changes.items():
            if name not in kinds:
                raise ValueError(f"unknown event knob {name!r}; known {sorted(kinds)}")
            if kinds[name] in ("bool", bool):
                if not isinstance(value, bool):
                    raise ValueError(f"event knob {name} must be true or false, not {value!r}")
            elif isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"event knob {name} must be a whole number >= 0, not {value!r}")
        with self._lock:
            lag_was = self.knobs.rest_lag_ms
            for name, value in changes.items():
                setattr(self.knobs, name, value)
            self.knob_generation += 1
            if bool(lag_was) != bool(self.knobs.rest_lag_ms):
                self.sync()  # (stop) keep(ing) the documents' bodies from here on
                if not self.knobs.rest_lag_ms:
                    self._stale.clear()
        return self.knobs

    def reset(self) -> None:
        """Empty the logs, knobs off, every company's current state taken as seen."""
        with self._lock:
            self.knobs = Knobs()
            self.knob_generation += 1
            self._stale.clear()
            self._logs = {topic: TopicLog() for topic in TOPICS}
            for company in list(self.sandbox.companies.values()):
                self.baseline(company)

    def register(self, connection: Any) -> None:
        with self._lock:
            self._connections[id(connection)] = connection

    def unregister(self, connection: Any) -> None:
        with self._lock:
            self._connections.pop(id(connection), None)

    def connections(self) -> list[dict[str, Any]]:
        """The open sockets: tenants, topics, whether subscribed, events sent (no tokens)."""
        with self._lock:
            return [c.describe() for c in self._connections.values()]

    def disconnect_all(self) -> int:
        """Drop every open socket now (from any thread); returns how many."""
        with self._lock:
            open_now = list(self._connections.values())
        for connection in open_now:
            connection.kill()
        return len(open_now)

    def _wake(self) -> None:
        for connection in list(self._connections.values()):
            connection.wake()
