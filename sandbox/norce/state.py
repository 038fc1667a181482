"""In-memory state of the Norce sandbox and its Python-level handle for tests (``app.state.norce``).

One :class:`NorceSandbox` holds the OAuth clients and tokens, the orders (one model rendered as
``OrderRequest`` and as Query rows), the catalog (:class:`~sandbox.norce.catalog.NorceCatalog`),
the Query entity sets, the push client, fault plan and counters. Everything that changes state takes
``lock``. The clock is frozen at ``base_time`` when one is given (tests move it with :meth:`advance`),
else it follows real time plus whatever :meth:`advance` added.
"""

from __future__ import annotations

import copy
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sandbox.faults import FaultInjector, FaultPlan
from sandbox.norce import query_documents
from sandbox.norce import seed as seeding
from sandbox.norce.auth import Client, IssuedToken, TokenBucket
from sandbox.norce.catalog import NorceCatalog
from sandbox.norce.orders import Order
from sandbox.norce.push import DEFAULT_PUSH_SCHEDULE, Pusher, order_request
from sandbox.norce.query import order_row

RowProvider = Callable[[], list[dict[str, Any]]]


@dataclass
class Knobs:
    """Behaviour switches; every one can be set in ``create_app(**knobs)`` or ``POST /_sandbox/knobs``."""

    token_rate_per_minute: float = 3.0  # token endpoint refill per client IP (norce-api.md §1.1)
    token_burst: int = 20  # token endpoint burst per client IP
    token_retry_after_header: bool = False  # UNCONFIRMED whether Norce sends Retry-After on 429
    push_schedule: tuple[float, ...] = DEFAULT_PUSH_SCHEDULE  # seconds between push attempts
    push_speed: float = 1.0  # divide every push delay by this (tests: large)
    push_timeout: float = 5.0  # seconds the receiver has to answer
    duplicate_push_percent: float = 0.0  # percent of delivered orders pushed once more
    push_auto: bool = True  # a background thread delivers due pushes (off: call push_pending())
    local_timezone: str = "Europe/Stockholm"  # zone of offset-less DateTimes in OrderRequest

    def update(self, **changes: Any) -> Knobs:
        names = {f.name for f in fields(self)}
        for key, value in changes.items():
            if key not in names:
                raise TypeError(f"unknown knob {key!r}; known: {sorted(names)}")
            setattr(self, key, tuple(value) if key == "push_schedule" else value)
        return self

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Clock:
    """Aware UTC time: frozen at ``base`` (tests) or real time, both plus ``offset``."""

    base: datetime | None
    offset: timedelta = field(default_factory=timedelta)

    def __call__(self) -> datetime:
        now = self.base if self.base is not None else datetime.now(UTC)
        return now + self.offset


class NorceSandbox:
    """Everything one Norce tenant (slug ``demoshop``, environment ``stage``) holds."""

    catalog: NorceCatalog

    def __init__(self, seed: int = 1, base_time: datetime | None = None, **knobs: Any) -> None:
        self.lock = threading.RLock()
        self.knobs = Knobs().update(**knobs)
        self.faults = FaultInjector()
        self.entity_sets: dict[str, RowProvider] = {}
        self.entity_properties: dict[str, set[str]] = {}  # for $filter checks when a set is empty
        self.entity_keys: dict[str, str] = {}  # key property of a set for Set(key) GETs (default "Id")
        self.entity_navigations: dict[str, set[str]] = {}  # for $expand checks when a set is empty
        self.clients = {seeding.CLIENT_ID: Client(seeding.CLIENT_ID, seeding.CLIENT_SECRET,
                                                  frozenset({seeding.ENVIRONMENT}))}
        self.pusher = Pusher(self)
        self._started = time.monotonic()
        self.reset(seed, base_time)
        self.entity_sets.update({
            "Orders/Orders": lambda: [order_row(o) for o in self.order_list()],
            "Core/Currencies": lambda: copy.deepcopy(seeding.CURRENCIES),
            "Core/Countries": lambda: copy.deepcopy(seeding.COUNTRIES),
            "Core/PaymentMethods": lambda: copy.deepcopy(seeding.PAYMENT_METHODS),
        })
        query_documents.register(self)  # Orders/Invoices, Orders/DeliveryNotes

    # -- lifecycle -----------------------------------------------------------------------------------
    def reset(self, seed: int | None = None, base_time: datetime | None = None) -> None:
        """Back to the seeded state: orders, tokens, rate buckets, counters, faults, push log, catalog."""
        with self.lock:
            if seed is not None:
                self.seed = seed
            if not hasattr(self, "clock"):
                self.clock = Clock(None)
            if base_time is not None:
                self.clock.base = base_time.astimezone(UTC)
            self.clock.offset = timedelta()
            now = self.clock()
            self.base_time = now.replace(microsecond=0) if self.clock.base else now.replace(second=0, microsecond=0)
            self.ids = seeding.Ids()
            seed_base = self.base_time
            self.orders: dict[int, Order] = {o.id: o for o in seeding.seed_orders(self.seed, seed_base, self.ids)}
            self.tokens: dict[str, IssuedToken] = {}
            self.token_bucket = TokenBucket(self.knobs.token_rate_per_minute, self.knobs.token_burst)
            self.token_requests = 0
            self.tokens_issued = 0
            self.token_throttled = 0
            self.calls: Counter[str] = Counter()
            self.faults.configure(FaultPlan())
            self.pusher.clear()
            if hasattr(self, "catalog"):
                self.catalog.reset(self.seed)  # same object: entity-set providers may hold it
            else:
                self.catalog = NorceCatalog(self.seed, self.clock)

    def set_knobs(self, **changes: Any) -> Knobs:
        with self.lock:
            self.knobs.update(**changes)
            self.token_bucket.rate_per_minute = self.knobs.token_rate_per_minute
            self.token_bucket.burst = self.knobs.token_burst
            return self.knobs

    def advance(self, seconds: float) -> datetime:
        """Move the sandbox clock forward (token expiry, rate-limit refill, push retry schedule)."""
        with self.lock:
            self.clock.offset += timedelta(seconds=seconds)
            return self.clock()

    # -- orders --------------------------------------------------------------------------------------
    def order_list(self) -> list[Order]:
        with self.lock:
            return sorted(self.orders.values(), key=lambda o: o.id)

    def order_by_ref(self, ref: str | int) -> Order:
        """The order whose ClientOrderRef is ``ref``; KeyError naming it otherwise."""
        with self.lock:
            found = next((o for o in self.orders.values() if o.ref == str(ref)), None)
        if found is None:
            raise KeyError(f"no order with ClientOrderRef {ref!r}")
        return found

    def add_order(self, spec: dict[str, Any], *, push: bool = True) -> Order:
        """A new checkout (admin ``POST /_sandbox/orders``); queued for push when ``push`` and a target is set."""
        with self.lock:
            ref = spec.get("client_order_ref")
            if ref is not None and any(o.ref == str(ref) for o in self.orders.values()):
                raise ValueError(f"an order with ClientOrderRef {ref!r} already exists")
            order = seeding.order_from_spec(spec, self.ids, self.clock())
            self.orders[order.id] = order
            if push:
                self.pusher.enqueue(order)
            return order

    def order_state(self, ref: str | int) -> dict[str, Any]:
        """Full state of one order for tests and ``GET /_sandbox/orders/{ref}``."""
        order = self.order_by_ref(ref)
        with self.lock:
            return {
                "id": order.id, "client_order_ref": order.ref, "order_no": order.order_no,
                "erp_order_no": order.erp_order_no, "kind": order.kind, "status_id": order.status_id,
                "updated": order.updated, "reserved": order.reserved, "captured": order.captured,
                "reservation_closed": order.reservation_closed,
                "shipped": {ln.line_no: ln.shipped for ln in order.lines},
                "status_history": copy.deepcopy(order.history), "infos": dict(order.infos),
                "delivery_notes": copy.deepcopy(order.delivery_notes), "invoices": copy.deepcopy(order.invoices),
                "captures": copy.deepcopy(order.captures), "credits": copy.deepcopy(order.credits),
                "psp_cancels": copy.deepcopy(order.psp_cancels),
                "order_request": order_request(order, self.knobs.local_timezone),
                "query_row": order_row(order),
                "pushes": self.pusher.deliveries(order.ref),
            }

    def captures(self) -> list[dict[str, Any]]:
        """Every PSP capture so far, with its order's ClientOrderRef (tests count double captures here)."""
        with self.lock:
            return [{"client_order_ref": o.ref, **c} for o in self.order_list() for c in o.captures]

    # -- push ----------------------------------------------------------------------------------------
    def set_push_target(self, url: str | None, username: str = "", password: str = "",
                        legacy_path: bool = False) -> None:
        self.pusher.configure(url, username, password, legacy_path)

    def push_pending(self) -> int:
        """Deliver every push that is due now, synchronously; returns how many attempts were made."""
        return self.pusher.run_due()

    # -- stats ---------------------------------------------------------------------------------------
    def count_call(self, method: str, path: str) -> None:
        with self.lock:
            self.calls[f"{method} {path}"] += 1

    def stats(self) -> dict[str, Any]:
        with self.lock:
            return {"token_requests": self.token_requests, "tokens_issued": self.tokens_issued,
                    "token_throttled": self.token_throttled, "calls": dict(self.calls),
                    "faults": dict(self.faults.counts), "captures": len(self.captures()),
                    "double_captures": self.double_captures(), "pushes": self.pusher.summary(),
                    "orders": len(self.orders), "now": self.clock().isoformat()}

    def double_captures(self) -> int:
        """Captures beyond the reservation or repeating an InvoiceNo: must always be 0."""
        with self.lock:
            bad = 0
            for order in self.orders.values():
                numbers = [c["InvoiceNo"] for c in order.captures if c["InvoiceNo"]]
                bad += len(numbers) - len(set(numbers))
                bad += int(order.captured > order.reserved + Decimal("0.005"))
            return bad
