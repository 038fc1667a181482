"""Per-company data: the registers and documents of one Fortnox tenant, plus the sandbox clock.

Entities are stored in the exact shape Fortnox returns them (PascalCase keys, strings for
identifiers, ``"0"`` for "no reference"), so handlers only add ``@url`` when rendering. Each write
stamps a modification time in Swedish local time, which is what ``lastmodified`` filters on.
"""

from __future__ import annotations

import copy
import threading
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

STOCKHOLM = ZoneInfo("Europe/Stockholm")

COLLECTIONS = (
    "customers", "articles", "orders", "invoices", "invoicepayments", "pricelists", "prices",
    "currencies", "termsofpayments", "wayofdeliveries", "units", "projects", "accounts",
)


class Clock:
    """Wall clock with an offset tests can advance (token expiry) without sleeping."""

    def __init__(self) -> None:
        self.offset = 0.0

    def advance(self, seconds: float) -> None:
        self.offset += seconds

    def time(self) -> float:
        return time.time() + self.offset

    def now(self) -> datetime:
        """Naive Swedish local time, the way Fortnox stamps and filters ``lastmodified``."""
        return datetime.fromtimestamp(self.time(), STOCKHOLM).replace(tzinfo=None)

    def stamp(self) -> str:
        """RFC 3339 date-time with the Swedish offset (the spec's ``format: date-time``)."""
        return datetime.fromtimestamp(self.time(), STOCKHOLM).isoformat(timespec="seconds")

    def today(self) -> date:
        return self.now().date()


@dataclass
class Company:
    """One tenant: its data, counters and modification stamps."""

    tenant_id: int
    name: str
    organisation_number: str
    clock: Clock
    data: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    modified: dict[tuple[str, str], datetime] = field(default_factory=dict)
    deleted_customer_numbers: set[str] = field(default_factory=set)
    # stock per (article number, stock point code): [in stock, reserved]
    stock: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)

    def __post_init__(self) -> None:
        for name in COLLECTIONS:
            self.data.setdefault(name, {})

    # --- storage -----------------------------------------------------------------------------------
    def get(self, collection: str, key: str) -> dict[str, Any] | None:
        return self.data[collection].get(key)

    def put(self, collection: str, key: str, entity: dict[str, Any]) -> dict[str, Any]:
        self.data[collection][key] = entity
        self.modified[(collection, key)] = self.clock.now()
        return entity

    def delete(self, collection: str, key: str) -> None:
        self.data[collection].pop(key, None)
        self.modified.pop((collection, key), None)

    def modified_at(self, collection: str, key: str) -> datetime:
        return self.modified.get((collection, key), datetime.min)

    def next_number(self, collection: str, start: int = 1) -> str:
        """Next free numeric identifier: one above the highest numeric key ever used."""
        used = [int(k) for k in self.data[collection] if k.isdigit()]
        if collection == "customers":
            used += [int(k) for k in self.deleted_customer_numbers if k.isdigit()]
        floor = self.counters.get(collection, start - 1)
        number = max([floor, *used]) + 1
        self.counters[collection] = number
        return str(number)

    def next_counter(self, name: str) -> int:
        self.counters[name] = self.counters.get(name, 0) + 1
        return self.counters[name]

    def counts(self) -> dict[str, int]:
        return {name: len(items) for name, items in self.data.items()}

    def snapshot(self, collection: str) -> list[dict[str, Any]]:
        return [copy.deepcopy(v) for v in self.data[collection].values()]


def days_after(day: date, days: int) -> date:
    return day + timedelta(days=days)
