"""Live mode of the Jetshop sandbox: new orders keep arriving in the demo shops.

``python -m sandbox jetshop --live [--orders-per-minute N]`` (or ``create_app(live=True)``) starts a
:class:`LiveJetshop`: every ``60 / N`` seconds one new order arrives, dated "now", in the shop's
first status (the release status the demo tenants trigger on: 1 in ``demoshop``, 10 in
``nordicshop``). The sequence (which shop, which buyer, which rows, which awkward kind) comes from one
RNG seeded with ``--seed``, so the same seed gives the same orders in the same order; only the
dates come from the clock. About a third of the orders are awkward, made by the seed's own
awkward-order factories (:func:`sandbox.jetshop.seed._awkward`); about one in 17 is one jetfort has
to stop (``MEANT_FOR_QUARANTINE``: two live-only kinds, ``total_mismatch`` and ``unknown_article``,
and the seed's ``negative_quantity`` and ``missing_article_number``). Orders are tagged
``_kind = "live:<kind>"``; returning buyers come back with the same account, e-mail and address.

Buyers return goods now and then (``--returns-percent P``, default 10; 0 switches returns off): of
the live orders jetfort has posted (no longer in the release status, not cancelled), about ``P`` in
100 get, 3 to 6 minutes after they left the release status, a return of part of one row or a whole
row (:meth:`JetshopSandbox.add_return`; the refund is the row's own share, the order keeps its status,
its ``ModifiedDate`` becomes now), and one return in four a second one 3 to 6 minutes later, never
more than was sold. jetfort's ``shop.credits`` task turns each into a Fortnox credit invoice
(``jetfort:<shop>:<order id>:r<return id>``). Each order's decisions come from its own RNG derived
from the seed and the order (``jetshop-live-returns:<seed>:<shop>:<order id>``), so the same seed
gives the same returns whenever jetfort posts; only the dates come from the clock. Seeded
(non-live) orders never get a live return.

``GET /_sandbox/live`` reports what happened; ``POST /_sandbox/live/orders {"count": n}`` makes the
next ``n`` orders of the sequence arrive now.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI

from sandbox.checkdigits import luhn
from sandbox.jetshop import seed as seeding
from sandbox.live import bump, install_order_routes

if TYPE_CHECKING:
    from sandbox.jetshop.state import JetshopSandbox, ShopState

D = Decimal
DEFAULT_ORDERS_PER_MINUTE = 3.0
DEFAULT_RETURNS_PERCENT = 10.0
#: seconds from leaving the release status to the first return, and from the first to the second
RETURN_DELAY_SECONDS = (180, 360)
SECOND_RETURN_CHANCE = 0.25
SHOPS = ("demoshop", "nordicshop")
#: seeded awkward kinds that make sense as live orders: not those outside the release status
LIVE_AWKWARD = tuple(k for k in seeding.AWKWARD_KINDS if k not in ("unknown_status_id", "cancelled_order"))
#: live-only kinds: a shop total that does not add up, an article that is not in Fortnox
LIVE_ONLY = ("total_mismatch", "unknown_article")
#: kinds built so that jetfort has to stop them → the quarantine reason it should give (and when)
MEANT_FOR_QUARANTINE = {
    "total_mismatch": "total_mismatch (always: the shop total is over the sum of its parts)",
    "negative_quantity": "negative_quantity (always)",
    "unknown_article": "unknown_article (orders.missing_article 'quarantine'; 'create' makes article 1099)",
    "missing_article_number": "missing_article_number (orders.missing_article 'quarantine')",
}
#: demoshop channel of an awkward factory → nordicshop channel (SEK → 1, EUR → 2; NOK has none)
NORDIC_CHANNEL = {1: 1, 3: 1, 4: 2}
NORDIC_AWKWARD = tuple(k for k in LIVE_AWKWARD if k != "currency_nok_non_eu")
UNKNOWN_ARTICLE = ("1099", "Vandringsstav kolfiber (utgången)", D("349.00"))
MISMATCH = {"SEK": D("10.00"), "EUR": D("1.00")}  # added to the shop total, well over any tolerance

FI_FIRST = ["Aino", "Eero", "Juha", "Laura", "Mikko", "Sanna", "Timo", "Veera", "Ilkka", "Kaisa"]
FI_LAST = ["Virtanen", "Korhonen", "Mäkinen", "Nieminen", "Mäkelä", "Hämäläinen", "Laine", "Heikkinen"]
FI_STREETS = ["Mannerheimintie", "Hämeenkatu", "Aleksanterinkatu", "Kauppakatu", "Rautatienkatu"]
FI_CITIES = [("00100", "Helsinki"), ("33100", "Tampere"), ("20100", "Turku"), ("90100", "Oulu"),
             ("40100", "Jyväskylä")]
TRADES = ["Bygg", "Handel", "Design", "Konsult", "Café", "Måleri", "Friskvård"]
ARTICLES = ("1001", "1003", "1004", "1005", "1006", "1007", "1011", "1012", "1016", "1017")


@dataclass
class Buyer:
    """A shop customer; returning buyers order again with the same account, e-mail and address."""

    kind: str  # "private" | "company"
    bill: dict[str, str]
    email: str
    customer_id: int | None
    channel_id: int
    company_name: str = ""
    org_number: str = ""
    vat_number: str = ""
    orders: int = 0


@dataclass
class ShopLog:
    orders: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    buyers: dict[str, int] = field(default_factory=dict)
    by_currency: dict[str, int] = field(default_factory=dict)
    first_order_id: int | None = None
    last_order_id: int | None = None
    returns: int = 0


@dataclass
class PlannedReturn:
    """A return still to come: its order, when (shop-local, zone-less) and which one (1 or 2)."""

    shop_id: str
    order_id: int
    due: datetime
    nth: int
    rng: random.Random


def _ascii(text: str) -> str:
    table = str.maketrans({"å": "a", "ä": "a", "ö": "o", "ü": "u", "é": "e"})
    return text.lower().translate(table).replace(" ", "")


class LiveJetshop:
    """Deterministic stream of new orders for the demo shops (one RNG, seeded)."""

    def __init__(self, sandbox: JetshopSandbox, *, seed: int = 1,
                 orders_per_minute: float = DEFAULT_ORDERS_PER_MINUTE,
                 returns_percent: float = DEFAULT_RETURNS_PERCENT,
                 clock: Callable[[], datetime] | None = None) -> None:
        if orders_per_minute <= 0:
            raise ValueError("orders_per_minute must be above 0")
        if not 0 <= returns_percent <= 100:
            raise ValueError("returns_percent must be 0..100")
        self.sb = sandbox
        self.seed = seed
        self.orders_per_minute = float(orders_per_minute)
        self.clock = clock
        self.rng = random.Random(f"jetshop-live:{seed}")
        self.buyers: dict[str, list[Buyer]] = {s: [] for s in SHOPS}
        self.started: datetime | None = None
        self.created = 0
        self.shops = {s: ShopLog() for s in SHOPS}
        self.recent: deque[dict[str, Any]] = deque(maxlen=50)
        self._next_customer_id = 50000
        self.returns_percent = float(returns_percent)
        self.unposted: dict[tuple[str, int], None] = {}  # live orders still in the release status
        self.planned: list[PlannedReturn] = []
        self.returns_created = 0
        self.recent_returns: deque[dict[str, Any]] = deque(maxlen=20)

    @property
    def interval(self) -> float:
        return 60.0 / self.orders_per_minute

    def now(self) -> datetime:
        if self.clock is not None:
            return self.clock()
        if self.sb.clock is not None:
            return self.sb.clock()
        return datetime.now(UTC)

    # ------------------------------------------------------------------ driving
    def start(self, now: datetime | None = None) -> None:
        self.started = now or self.now()

    def due(self, now: datetime | None = None) -> int:
        """How many orders should exist by ``now`` (the first one arrives at the start)."""
        now = now or self.now()
        if self.started is None:
            self.start(now)
        assert self.started is not None
        elapsed = max(0.0, (now - self.started).total_seconds())
        return 1 + int(elapsed // self.interval)

    def tick(self, now: datetime | None = None, *, limit: int = 50) -> list[tuple[str, int]]:
        """Create the orders due by ``now`` (at most ``limit`` at once; the rest follow next tick)."""
        now = now or self.now()
        missing = min(limit, self.due(now) - self.created)
        made = self.create(missing, now) if missing > 0 else []
        self.returns(now)
        return made

    def create(self, count: int, now: datetime | None = None) -> list[tuple[str, int]]:
        """The next ``count`` orders of the sequence, dated ``now``; returns ``(shop_id, order_id)``."""
        now = now or self.now()
        with self.sb.lock:
            return [self._one(now) for _ in range(count)]

    # ------------------------------------------------------------------ one order
    def _one(self, now: datetime) -> tuple[str, int]:
        rng = self.rng
        shop_id = "demoshop" if rng.random() < 0.65 else "nordicshop"
        shop = self.sb.shops[shop_id]
        roll = rng.random()
        buyer: Buyer | None = None
        returning = False
        if roll < 0.06:  # about one order in 17 is one jetfort has to stop
            kind = rng.choice(tuple(MEANT_FOR_QUARANTINE))
        elif roll < 0.32:
            kind = rng.choice([k for k in (LIVE_AWKWARD if shop_id == "demoshop" else NORDIC_AWKWARD)
                               if k not in MEANT_FOR_QUARANTINE])
        else:
            kind = "company" if roll < 0.47 else "ordinary"
            buyer, returning = self._buyer(shop, "company" if kind == "company" else "private")
        if kind in LIVE_AWKWARD:
            spec = seeding._awkward(rng)[kind]()
            channel = spec.channel_id if shop_id == "demoshop" else NORDIC_CHANNEL[spec.channel_id]
            spec = replace(spec, status_id=shop.first_status_id, channel_id=channel)
            who = "company" if spec.company_name or spec.vat_number else "private"
        else:
            if buyer is None:  # a live-only kind: an ordinary private buyer, new or returning
                buyer, returning = self._buyer(shop, "private")
            spec = self._spec(shop, buyer, kind)
            who = buyer.kind
        local = now.astimezone(shop.timezone).replace(tzinfo=None, microsecond=now.microsecond // 10000 * 10000)
        order_id = self.sb._insert(shop, spec, f"live:{kind}", local)
        order = shop.orders[order_id]
        if kind == "total_mismatch":
            extra = MISMATCH.get(order["CurrencyCode"], D("10.00"))
            order["OrderTotalIncVat"] += extra
            order["OrderTotalExVat"] += extra
            order["AuthorizedAmount"] = order["OrderTotalIncVat"]
        self._log(shop_id, order_id, kind, who, returning, order, local)
        if self.returns_percent > 0:
            self.unposted[(shop_id, order_id)] = None
        return shop_id, order_id

    def _buyer(self, shop: ShopState, kind: str) -> tuple[Buyer, bool]:
        rng = self.rng
        pool = [b for b in self.buyers[shop.shop_id] if b.kind == kind]
        if pool and rng.random() < (0.5 if kind == "company" else 0.35):
            buyer = rng.choice(pool)
            buyer.orders += 1
            return buyer, True
        buyer = self._new_company(shop) if kind == "company" else self._new_private(shop)
        buyer.orders = 1
        self.buyers[shop.shop_id].append(buyer)
        return buyer, False

    def _customer_id(self, registered: bool) -> int | None:
        if not registered:
            return None  # a guest checkout
        self._next_customer_id += 1
        return self._next_customer_id

    def _new_private(self, shop: ShopState) -> Buyer:
        rng = self.rng
        finnish = shop.shop_id == "nordicshop" and rng.random() < 0.65
        if finnish:
            zip_code, city = rng.choice(FI_CITIES)
            first, last = rng.choice(FI_FIRST), rng.choice(FI_LAST)
            bill = {"FirstName": first, "LastName": last, "Address": f"{rng.choice(FI_STREETS)} {rng.randint(1, 60)}",
                    "Co": "", "ZipCode": zip_code, "City": city, "CountryCode": "FI", "Phone": "",
                    "MobilePhone": f"+358 40 {rng.randint(100, 999)} {rng.randint(1000, 9999)}", "Company": ""}
            channel, domain = 2, "example.fi"
        else:
            bill = seeding.person(rng)
            channel, domain = 1, "example.se"
        email = f"{_ascii(bill['FirstName'])}.{_ascii(bill['LastName'])}{rng.randint(1, 9999)}@{domain}"
        return Buyer("private", bill, email, self._customer_id(rng.random() < 0.6), channel)

    def _new_company(self, shop: ShopState) -> Buyer:
        rng = self.rng
        contact = seeding.person(rng)
        name = f"{contact['LastName']} {rng.choice(TRADES)} AB"
        body = f"55{rng.randint(1000000, 9999999)}"
        org = body + str(luhn(body))
        bill = {**contact, "Company": name, "Address": f"Industrivägen {rng.randint(1, 80)}"}
        email = f"inkop@{_ascii(contact['LastName'])}{_ascii(name.split()[1])}.example.se"
        channel = 3 if shop.shop_id == "demoshop" else 1
        return Buyer("company", bill, email, self._customer_id(True), channel, company_name=name,
                     org_number=f"{org[:6]}-{org[6:]}", vat_number=f"SE{org}01")

    def _spec(self, shop: ShopState, buyer: Buyer, kind: str) -> seeding.OrderSpec:
        rng = self.rng
        currency = next(c["CurrencyCode"] for c in shop.channels if c["ChannelId"] == buyer.channel_id)
        eur = currency == "EUR"
        company = buyer.kind == "company"
        articles = rng.sample(ARTICLES, k=rng.randint(1, 3 if company else 4))
        rows = []
        for number in articles:
            qty = rng.randint(5, 40) if company else rng.choice([1, 1, 1, 2, 3])
            _vat, price = seeding.article_price(number)
            unit = seeding.q2(price / seeding.EUR_RATE) if eur else price
            rows.append(seeding.row(number, qty, unit, att=seeding._variant_text(number)))
        if kind == "unknown_article":
            number, name, price = UNKNOWN_ARTICLE
            rows.append(seeding.row(number, 1, seeding.q2(price / seeding.EUR_RATE) if eur else price,
                                    vat="0.25", name=name))
        if company:
            provider, method = rng.choice([("Invoice", "Faktura 30 dagar")] * 3 + [("Card", "Kort")])
            freight, delivery = rng.choice([("0", "Hämtas i butik"), ("149.00", "DB Schenker")])
        else:
            provider, method = rng.choice([("Klarna", "Klarna Checkout")] * 3 + [
                ("Card", "Kort"), ("DIBS", "DIBS/Nets Easy"), ("Swish", "Swish")])
            freight, delivery = rng.choice(
                [("0", "Posti Pakettiautomaatti"), ("4.90", "Posti"), ("6.90", "Matkahuolto")] if eur else
                [("0", "PostNord Ombud"), ("49.00", "PostNord Ombud"), ("79.00", "Budbee Hemleverans"),
                 ("59.00", "Instabox")])
        return seeding.OrderSpec(
            rows, dict(buyer.bill), email=buyer.email, customer_id=buyer.customer_id,
            company_name=buyer.company_name, org_number=buyer.org_number, vat_number=buyer.vat_number,
            channel_id=buyer.channel_id, status_id=shop.first_status_id, freight=freight,
            delivery_method=delivery, payment_method=method, payment_provider=provider,
            payment_status="Paid" if provider == "Swish" else "Authorized")

    # ------------------------------------------------------------------ returns
    def returns(self, now: datetime | None = None) -> list[tuple[str, int, int]]:
        """Plan returns for live orders that left the release status, make those due by ``now``;
        returns ``(shop_id, order_id, return_id)`` of the returns made."""
        now = now or self.now()
        made: list[tuple[str, int, int]] = []
        with self.sb.lock:
            for key in list(self.unposted):
                self._plan(*key, now)
            for plan in sorted(self.planned, key=lambda p: (p.due, p.shop_id, p.order_id)):
                shop = self.sb.shops[plan.shop_id]
                if plan.due > now.astimezone(shop.timezone).replace(tzinfo=None):
                    continue
                self.planned.remove(plan)
                return_id = self._return(plan, shop)
                if return_id is not None:
                    made.append((plan.shop_id, plan.order_id, return_id))
        return made

    def _plan(self, shop_id: str, order_id: int, now: datetime) -> None:
        """Once the order has left the release status: decide (its own RNG) whether it comes back."""
        shop = self.sb.shops[shop_id]
        order = shop.orders.get(order_id)
        if order is not None and order["OrderStatusId"] == shop.first_status_id:
            return
        del self.unposted[(shop_id, order_id)]
        status = shop.status(order["OrderStatusId"]) if order is not None else None
        if status is None or status.get("cancelled"):
            return
        rng = random.Random(f"jetshop-live-returns:{self.seed}:{shop_id}:{order_id}")
        if rng.random() * 100 >= self.returns_percent:
            return
        left = next((datetime.fromisoformat(c["changed_at"]) for c in reversed(shop.status_changes)
                     if c["order_id"] == order_id and c["from_status_id"] == shop.first_status_id), None)
        left = left or now.astimezone(shop.timezone).replace(tzinfo=None)
        due = left + timedelta(seconds=rng.randint(*RETURN_DELAY_SECONDS))
        self.planned.append(PlannedReturn(shop_id, order_id, due, 1, rng))

    def _return(self, plan: PlannedReturn, shop: ShopState) -> int | None:
        """Part of one row or a whole row comes back, never more than is left; the refund is its share."""
        order = shop.orders[plan.order_id]
        status = shop.status(order["OrderStatusId"])
        if status is None or status.get("cancelled"):
            return None
        returned: dict[int, tuple[Decimal, Decimal]] = {}
        for earlier in order.get("Returns", []):
            for item in earlier["Items"]:
                qty, amount = returned.get(item["RowId"], (D(0), D(0)))
                returned[item["RowId"]] = (qty + item["Quantity"], amount + item["AmountIncVat"])
        left = [(item, D(str(item["Quantity"])) - returned.get(item["RowId"], (D(0), D(0)))[0])
                for item in order["OrderItems"] if D(str(item["Quantity"])) > 0 and item["RowTotalIncVat"] > 0]
        left = [(item, rest) for item, rest in left if rest > 0]
        rng = plan.rng
        if not left:
            return None
        item, rest = rng.choice(left)
        quantity = D(rng.randint(1, int(rest))) if rest == rest.to_integral_value() and rest >= 1 else rest
        row: dict[str, Any] = {"row_id": item["RowId"], "quantity": quantity}
        if quantity == rest:  # the rest of the row: exactly what was not refunded yet
            row["amount_inc_vat"] = item["RowTotalIncVat"] - returned.get(item["RowId"], (D(0), D(0)))[1]
        return_id = self.sb.add_return(plan.shop_id, plan.order_id, [row])
        if plan.nth == 1 and rng.random() < SECOND_RETURN_CHANCE:
            due = plan.due + timedelta(seconds=rng.randint(*RETURN_DELAY_SECONDS))
            self.planned.append(PlannedReturn(plan.shop_id, plan.order_id, due, 2, rng))
        self.returns_created += 1
        self.shops[plan.shop_id].returns += 1
        made = order["Returns"][-1]["Items"][0]
        self.recent_returns.append({"shop_id": plan.shop_id, "order_id": plan.order_id, "return_id": return_id,
                                    "nth": plan.nth, "row_id": made["RowId"], "quantity": str(made["Quantity"]),
                                    "amount_inc_vat": str(made["AmountIncVat"])})
        return return_id

    # ------------------------------------------------------------------ report
    def _log(self, shop_id: str, order_id: int, kind: str, who: str, returning: bool, order: dict[str, Any],
             local: datetime) -> None:
        self.created += 1
        log = self.shops[shop_id]
        log.orders += 1
        bump(log.by_kind, kind)
        bump(log.buyers, who)
        bump(log.buyers, "returning" if returning else "new")
        bump(log.by_currency, order["CurrencyCode"])
        log.first_order_id = log.first_order_id or order_id
        log.last_order_id = order_id
        self.recent.append({"shop_id": shop_id, "order_id": order_id, "kind": kind, "buyer": who,
                            "returning": returning, "channel_id": order["ChannelId"],
                            "currency": order["CurrencyCode"], "total": str(order["OrderTotalIncVat"]),
                            "status_id": order["OrderStatusId"], "order_date": local.isoformat(),
                            **({"quarantine_expected": MEANT_FOR_QUARANTINE[kind]}
                               if kind in MEANT_FOR_QUARANTINE else {})})

    def report(self) -> dict[str, Any]:
        with self.sb.lock:
            return {
                "enabled": True, "service": "jetshop", "seed": self.seed,
                "orders_per_minute": self.orders_per_minute, "interval_seconds": round(self.interval, 3),
                "started_at": self.started.isoformat() if self.started else None,
                "orders_created": self.created,
                "by_shop": {s: {"orders": g.orders, "by_kind": dict(sorted(g.by_kind.items())),
                                "buyers": dict(sorted(g.buyers.items())), "by_currency": dict(g.by_currency),
                                "first_order_id": g.first_order_id, "last_order_id": g.last_order_id,
                                "returns": g.returns}
                            for s, g in self.shops.items()},
                "returns": {"percent": self.returns_percent, "created": self.returns_created,
                            "by_shop": {s: g.returns for s, g in self.shops.items()},
                            "planned": len(self.planned), "recent": list(self.recent_returns)[-10:]},
                "awkward_kinds": list(LIVE_AWKWARD + LIVE_ONLY),
                "meant_for_quarantine": MEANT_FOR_QUARANTINE,
                "recent": list(self.recent)[-20:],
            }


def install(app: FastAPI, sandbox: JetshopSandbox, *, live: bool, seed: int,
            orders_per_minute: float = DEFAULT_ORDERS_PER_MINUTE,
            returns_percent: float = DEFAULT_RETURNS_PERCENT) -> LiveJetshop | None:
    """``/_sandbox/live`` routes always; with ``live`` the generator and its loop in the lifespan."""
    generator = LiveJetshop(sandbox, seed=seed, orders_per_minute=orders_per_minute,
                            returns_percent=returns_percent) if live else None
    install_order_routes(app, "jetshop", generator, lambda made: [{"shop_id": s, "order_id": o} for s, o in made])
    return generator
