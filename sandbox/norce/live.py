"""Live mode of the Norce sandbox: new checkouts keep arriving and are pushed, as in a running shop.

``python -m sandbox norce --live [--orders-per-minute N]`` (or ``create_app(live=True)``) starts a
:class:`LiveNorce`: every ``60 / N`` seconds one new order arrives in application 1244, dated "now"
on the sandbox clock, in status Created (0) with ``Updated`` null — so a Query pull on
``Updated``/``Created`` sees it — and queued for push to the configured push target (Norce pushes
every new order; the sandbox's push thread delivers it, retrying on its schedule). Orders are built
through the same spec path as ``POST /_sandbox/orders`` from the seeded catalog's article numbers
(the Jetshop sandbox's): mostly SEK private checkouts (Klarna, card or Swish; some with freight), some
company orders with a PO reference and invoice payment, a few EUR orders from Finland (VAT 25.5 %),
coffee sold by weight (``Quantity2``) and rows discounted with a code. One RNG seeded with ``--seed``
decides everything, so the same seed gives the same orders in the same order; only the dates come
from the clock. Returning buyers come back with the same e-mail and address.

``GET /_sandbox/live`` reports what happened (orders created, pushed); ``POST /_sandbox/live/orders
{"count": n}`` makes the next ``n`` orders of the sequence arrive now.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI

from sandbox.checkdigits import luhn
from sandbox.jetshop.seed import ARTICLES, article_price
from sandbox.live import bump, install_order_routes

if TYPE_CHECKING:
    from sandbox.norce.state import NorceSandbox

DEFAULT_ORDERS_PER_MINUTE = 3.0
APPLICATION_ID = 1244
#: (kind, weight): what a live checkout is
KINDS: tuple[tuple[str, float], ...] = (("private", 0.55), ("company", 0.15), ("discounted", 0.12),
                                        ("eur", 0.10), ("by_weight", 0.08))
#: sellable articles: digits, a price, in stock, not the parent of variants (1002 is sold as 1003-1005)
SELLABLE = tuple(a[0] for a in ARTICLES if a[0].isdigit() and Decimal(a[4]) > 0 and a[5] > 0
                 and not any(b[6] == a[0] for b in ARTICLES))
#: articles a Finnish buyer gets (standard rate: 25 % in Sweden → 25.5 % in Finland)
STANDARD_RATE = tuple(n for n in SELLABLE if article_price(n)[0] == Decimal("0.25"))
BY_WEIGHT = ("1011", ("0.5", "1.5", "2.25", "3"))  # coffee sold per kg
PRIVATE_FREIGHT = (None, None, "49.00", "59.00", "79.00")
PRIVATE_PAYMENTS = (("KLARNA", "Klarna Checkout"), ("KLARNA", "Klarna Checkout"), ("ADYEN", "Card"),
                    ("SWISH", "Swish"))
DISCOUNT_CODES = ("SOMMAR", "VIP10")
FIRST = ["Anna", "Erik", "Maria", "Johan", "Sara", "Lars", "Karin", "Nils", "Elin", "Oskar", "Ida", "Per"]
LAST = ["Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Olsson", "Persson", "Lind"]
STREETS = ["Storgatan", "Kungsgatan", "Drottninggatan", "Vasagatan", "Skolgatan", "Ringvägen"]
CITIES = [("11122", "Stockholm"), ("41101", "Göteborg"), ("21120", "Malmö"), ("75320", "Uppsala"),
          ("58223", "Linköping"), ("90326", "Umeå")]
FI_FIRST = ["Aino", "Eero", "Juha", "Laura", "Mikko", "Sanna"]
FI_LAST = ["Virtanen", "Korhonen", "Mäkinen", "Nieminen", "Laine"]
FI_CITIES = [("00100", "Helsinki"), ("33100", "Tampere"), ("20100", "Turku")]
TRADES = ["Bygg", "Handel", "Design", "Konsult", "Café"]


@dataclass
class LiveLog:
    """What live mode made: counts and the most recent orders."""

    by_kind: dict[str, int] = field(default_factory=dict)
    by_currency: dict[str, int] = field(default_factory=dict)
    buyers: dict[str, int] = field(default_factory=dict)
    refs: list[str] = field(default_factory=list)
    recent: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=50))


def _ascii(text: str) -> str:
    return text.lower().translate(str.maketrans("åäöü", "aaou")).replace(" ", "")


class LiveNorce:
    """Deterministic stream of new checkouts for application 1244 (one RNG, seeded)."""

    def __init__(self, sandbox: NorceSandbox, *, seed: int = 1,
                 orders_per_minute: float = DEFAULT_ORDERS_PER_MINUTE,
                 clock: Callable[[], datetime] | None = None) -> None:
        if orders_per_minute <= 0:
            raise ValueError("orders_per_minute must be above 0")
        self.sb = sandbox
        self.seed = seed
        self.orders_per_minute = float(orders_per_minute)
        self.clock = clock or sandbox.clock
        self.rng = random.Random(f"norce-live:{seed}")
        self.buyers: dict[str, list[dict[str, Any]]] = {"private": [], "company": [], "eur": []}
        self.started: datetime | None = None
        self.created = 0
        self.log = LiveLog()

    @property
    def interval(self) -> float:
        return 60.0 / self.orders_per_minute

    # ------------------------------------------------------------------ driving
    def start(self, now: datetime | None = None) -> None:
        self.started = now or self.clock()

    def due(self, now: datetime | None = None) -> int:
        """How many orders should exist by ``now`` (the first one arrives at the start)."""
        now = now or self.clock()
        if self.started is None:
            self.start(now)
        assert self.started is not None
        return 1 + int(max(0.0, (now - self.started).total_seconds()) // self.interval)

    def tick(self, now: datetime | None = None, *, limit: int = 50) -> list[str]:
        """Create the orders due by ``now`` (at most ``limit`` at once; the rest follow next tick)."""
        now = now or self.clock()
        missing = min(limit, self.due(now) - self.created)
        return self.create(missing, now) if missing > 0 else []

    def create(self, count: int, now: datetime | None = None) -> list[str]:
        """The next ``count`` orders of the sequence, dated ``now``, queued for push; their ClientOrderRefs."""
        now = now or self.clock()
        when = now.replace(microsecond=now.microsecond // 1000 * 1000)
        made = []
        with self.sb.lock:
            for _ in range(count):
                kind = self.rng.choices([k for k, _ in KINDS], weights=[w for _, w in KINDS])[0]
                spec, who, returning = self._spec(kind)
                order = self.sb.add_order({**spec, "order_date": when, "kind": f"live:{kind}",
                                           "application_id": APPLICATION_ID}, push=True)
                self._note(order.ref, kind, who, returning, order.currency, str(order.total_inc_vat), when)
                made.append(order.ref)
        return made

    # ------------------------------------------------------------------ one order
    def _spec(self, kind: str) -> tuple[dict[str, Any], str, bool]:
        rng = self.rng
        group = "company" if kind == "company" else "eur" if kind == "eur" else "private"
        buyer, returning = self._buyer(group)
        spec: dict[str, Any] = {"buyer": buyer}
        if kind == "company":
            spec["rows"] = [{"part_no": p, "qty": rng.randint(5, 30)} for p in rng.sample(SELLABLE, rng.randint(1, 3))]
            spec["customer_order_ref"] = f"PO-{rng.randint(1000, 9999)}"
            spec["payment"] = {"method_code": "INVOICE", "name": "Faktura 30 dagar"}
            freight = rng.choice((None, "99.00"))
        elif kind == "eur":
            spec["currency"] = "EUR"
            spec["rows"] = [{"part_no": p, "qty": rng.randint(1, 3), "vat_rate": "25.5"}
                            for p in rng.sample(STANDARD_RATE, rng.randint(1, 2))]
            spec["payment"] = {"method_code": "KLARNA", "name": "Klarna Checkout"}
            freight = rng.choice((None, "9.90"))
            if freight:
                spec["freight_vat_rate"] = "25.5"
        else:
            spec["rows"] = self._private_rows(kind)
            method, name = rng.choice(PRIVATE_PAYMENTS)
            spec["payment"] = {"method_code": method, "name": name}
            freight = rng.choice(PRIVATE_FREIGHT)
            if kind == "discounted":
                spec["discount_code"] = rng.choice(DISCOUNT_CODES)
        if freight:
            spec["freight_inc_vat"] = freight
        return spec, group, returning

    def _private_rows(self, kind: str) -> list[dict[str, Any]]:
        rng = self.rng
        if kind == "by_weight":
            part, weights = BY_WEIGHT
            rows: list[dict[str, Any]] = [{"part_no": part, "qty": rng.choice(weights), "uom": "kg"}]
            others = [n for n in SELLABLE if n != part]
            return rows + [{"part_no": p, "qty": 1} for p in rng.sample(others, rng.randint(0, 1))]
        rows = [{"part_no": p, "qty": rng.choice((1, 1, 1, 2, 3))} for p in rng.sample(SELLABLE, rng.randint(1, 3))]
        if kind == "discounted":  # 10 % off the first row, incl. VAT, rounded to öre
            price = article_price(rows[0]["part_no"])[1]
            rows[0]["discount_inc_vat"] = str((price / 10).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))
        return rows

    def _buyer(self, group: str) -> tuple[dict[str, Any], bool]:
        rng = self.rng
        pool = self.buyers[group]
        if pool and rng.random() < (0.5 if group == "company" else 0.3):
            return dict(rng.choice(pool)), True
        if group == "eur":
            first, last = rng.choice(FI_FIRST), rng.choice(FI_LAST)
            zip_code, city = rng.choice(FI_CITIES)
            buyer = {"first_name": first, "last_name": last, "country": "FI", "zip_code": zip_code, "city": city,
                     "line1": f"Mannerheimintie {rng.randint(1, 60)}", "phone": f"+35840{rng.randint(1000000, 9999999)}",
                     "email": f"{_ascii(first)}.{_ascii(last)}{rng.randint(1, 999)}@example.fi"}
        else:
            first, last = rng.choice(FIRST), rng.choice(LAST)
            zip_code, city = rng.choice(CITIES)
            buyer = {"first_name": first, "last_name": last, "country": "SE", "zip_code": zip_code, "city": city,
                     "line1": f"{rng.choice(STREETS)} {rng.randint(1, 80)}", "phone": f"+4670{rng.randint(1000000, 9999999)}",
                     "email": f"{_ascii(first)}.{_ascii(last)}{rng.randint(1, 999)}@example.se"}
            if group == "company":
                body = f"55{rng.randint(1000000, 9999999)}"
                org = body + str(luhn(body))
                name = f"{last} {rng.choice(TRADES)} AB"
                buyer.update(company_name=name, company_code=f"{org[:6]}-{org[6:]}", vat_no=f"SE{org}01",
                             email=f"inkop@{_ascii(last)}{_ascii(name.split()[1])}.example.se",
                             line1=f"Industrivägen {rng.randint(1, 80)}")
        pool.append(buyer)
        return dict(buyer), False

    # ------------------------------------------------------------------ report
    def _note(self, ref: str, kind: str, who: str, returning: bool, currency: str, total: str,
              when: datetime) -> None:
        self.created += 1
        bump(self.log.by_kind, kind)
        bump(self.log.by_currency, currency)
        bump(self.log.buyers, who)
        bump(self.log.buyers, "returning" if returning else "new")
        self.log.refs.append(ref)
        self.log.recent.append({"client_order_ref": ref, "kind": kind, "buyer": who, "returning": returning,
                                "currency": currency, "total_inc_vat": total, "application_id": APPLICATION_ID,
                                "created": when.isoformat()})

    def push_summary(self) -> dict[str, int]:
        """Push state of the live orders (first deliveries only): delivered, pending, dead."""
        mine = set(self.log.refs)
        out = {"delivered": 0, "pending": 0, "dead": 0}
        for delivery in self.sb.pusher.deliveries():
            if delivery["client_order_ref"] in mine and not delivery["duplicate"]:
                out[delivery["state"]] += 1
        return out

    def report(self) -> dict[str, Any]:
        with self.sb.lock:
            return {
                "enabled": True, "service": "norce", "seed": self.seed, "application_id": APPLICATION_ID,
                "orders_per_minute": self.orders_per_minute, "interval_seconds": round(self.interval, 3),
                "started_at": self.started.isoformat() if self.started else None,
                "orders_created": self.created, "pushed": self.push_summary(),
                "push_target": self.sb.pusher.target is not None,
                "by_kind": dict(sorted(self.log.by_kind.items())), "by_currency": dict(self.log.by_currency),
                "buyers": dict(sorted(self.log.buyers.items())),
                "first_ref": self.log.refs[0] if self.log.refs else None,
                "last_ref": self.log.refs[-1] if self.log.refs else None,
                "recent": list(self.log.recent)[-20:],
            }


def install(app: FastAPI, sandbox: NorceSandbox, *, live: bool, seed: int,
            orders_per_minute: float = DEFAULT_ORDERS_PER_MINUTE) -> LiveNorce | None:
    """``/_sandbox/live`` routes always; with ``live`` the generator and its loop in the lifespan."""
    generator = LiveNorce(sandbox, seed=seed, orders_per_minute=orders_per_minute) if live else None
    install_order_routes(app, "norce", generator, lambda made: [{"client_order_ref": ref} for ref in made])
    return generator
