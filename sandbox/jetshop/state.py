"""In-memory state of the Jetshop sandbox and its Python-level handle for tests.

``JetshopSandbox`` is what ``create_app`` puts on ``app.state.jetshop``. Tests running the app in
process use it directly: seed and add orders, list awkward kinds, read captures, e-mails and status
changes, change fault knobs. The same things are reachable over HTTP under ``/_sandbox/...``.
"""

from __future__ import annotations

import copy
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sandbox.faults import FaultInjector
from sandbox.jetshop import seed as seeding
from sandbox.jetshop.catalog import CONFIRMED_HANDLERS, new_article
from sandbox.jetshop.modelled import MODELLED_HANDLERS
from sandbox.jetshop.soap import (
    SOAP11,
    Reader,
    Schema,
    SoapFault,
    fault_envelope,
    parse_request,
    response_envelope,
)

HANDLERS = {**CONFIRMED_HANDLERS, **MODELLED_HANDLERS}


@dataclass
class ShopState:
    """One shop (one ShopId): its login, channels, statuses, catalog, orders and what happened to them."""

    shop_id: str
    name: str
    login: str
    password: str
    timezone: ZoneInfo
    cultures: list[str]
    channels: list[dict[str, Any]]
    statuses: list[dict[str, Any]]
    stock_statuses: dict[int, dict[str, str]]
    default_stock_status: int
    price_lists: set[str]
    default_price_list: str
    products: dict[str, dict[str, Any]] = field(default_factory=dict)
    prices: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    orders: dict[int, dict[str, Any]] = field(default_factory=dict)
    captures: list[dict[str, Any]] = field(default_factory=list)
    emails: list[dict[str, Any]] = field(default_factory=list)
    status_changes: list[dict[str, Any]] = field(default_factory=list)
    # dynamic (custom) field keys configured per product template
    dynamic_field_keys: dict[int, set[str]] = field(default_factory=dict)
    next_product_id: int = 2000
    next_order_id: int = 10000
    next_return_id: int = 1

    @property
    def default_culture(self) -> str:
        return next(c["Culture"] for c in self.channels if c["IsDefault"])

    @property
    def first_status_id(self) -> int:
        return self.statuses[0]["id"]

    def status(self, status_id: int | None) -> dict[str, Any] | None:
        return next((s for s in self.statuses if s["id"] == status_id), None)

    def status_name(self, status_id: int | None, culture: str | None = None) -> str:
        st = self.status(status_id)
        if st is None:
            return ""
        return st["names"].get(culture or self.default_culture) or st["names"][self.default_culture]

    def stock_status_name(self, status_id: int | None, culture: str) -> str:
        names = self.stock_statuses.get(status_id or -1, {})
        return names.get(culture) or names.get(self.default_culture, "")


class JetshopSandbox:
    """The sandbox's state plus the SOAP dispatcher; thread-safe (one lock around every call)."""

    def __init__(self, seed: int = 1, base_time: datetime | None = None,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.lock = threading.RLock()
        self.schema = Schema()
        self.faults = FaultInjector()
        self.clock = clock  # returns an aware datetime; default: real time
        self.calls: list[dict[str, Any]] = []
        self.seed = seed
        self.reset(seed, base_time)

    # ------------------------------------------------------------------ seeding and reset
    def reset(self, seed: int | None = None, base_time: datetime | None = None) -> None:
        """Rebuild every shop from the seed (same seed, same data); faults are left as they are."""
        with self.lock:
            if seed is not None:
                self.seed = seed
            self.base_time = base_time or seeding.SEED_EPOCH
            self.calls = []
            self.shops: dict[str, ShopState] = {}
            for spec in seeding.shop_specs():
                self._open_shop(spec)
            rng = random.Random(self.seed)
            demo = self.shops["demoshop"]
            for kind, spec in seeding.awkward_specs(self.seed):
                self._insert(demo, spec, kind)
            for _ in range(10):
                self._insert(demo, seeding.ordinary_spec(rng, demo), "ordinary")
            nordic = self.shops["nordicshop"]
            for _ in range(6):
                self._insert(nordic, seeding.ordinary_spec(rng, nordic), "ordinary")

    def _open_shop(self, spec: seeding.ShopSpec) -> ShopState:
        shop = ShopState(
            shop_id=spec.shop_id, name=spec.name, login=spec.login, password=spec.password,
            timezone=ZoneInfo(spec.timezone), cultures=spec.cultures, channels=spec.channels,
            statuses=spec.statuses, stock_statuses=spec.stock_statuses,
            default_stock_status=spec.default_stock_status, price_lists=set(spec.price_lists),
            default_price_list=spec.price_lists[0], next_order_id=spec.order_id_start,
            dynamic_field_keys={1: set(seeding.DYNAMIC_FIELD_KEYS)})
        self.shops[shop.shop_id] = shop
        self._seed_catalog(shop)
        return shop

    def add_shop(self, shop_id: str, *, login: str, password: str, like: str = "demoshop",
                 name: str | None = None) -> ShopState:
        """One more merchant's shop, set up as the seeded shop ``like`` is (channels, statuses, price
        lists, catalog) but with its own id and login and no orders: one sandbox serving many
        merchants, as one Jetshop service does. ``reset`` drops it (only the seeded shops return).
        ValueError: the id or the login is taken; LookupError: ``like`` is not a seeded shop."""
        with self.lock:
            if shop_id in self.shops:
                raise ValueError(f"shop {shop_id!r} exists already")
            if any(s.login == login for s in self.shops.values()):
                raise ValueError(f"login {login!r} is taken by another shop")
            spec = next((s for s in seeding.shop_specs() if s.shop_id == like), None)
            if spec is None:
                raise LookupError(f"unknown shop {like!r} to copy; seeded shops: "
                                 f"{[s.shop_id for s in seeding.shop_specs()]}")
            spec.shop_id, spec.login, spec.password = shop_id, login, password
            spec.name = name or f"{spec.name} ({shop_id})"
            return self._open_shop(spec)

    def _seed_catalog(self, shop: ShopState) -> None:
        rate = {"SEK": Decimal(1), "NOK": seeding.NOK_PER_SEK, "EUR": 1 / seeding.EUR_RATE}
        for number, sv, nb, vat, price, stock, parent, att in seeding.ARTICLES:
            art = new_article(shop, number, self.base_time)
            art["global"]["Vat"] = Decimal(vat)
            art["stock"]["NewStockCount"] = stock
            art["stock"]["StockStatusId"] = 1 if stock > 0 else 2
            art["parent"], art["att_value"] = parent, att
            for culture in shop.cultures:
                art["cultures"][culture] = {"Name": nb if culture == "nb-NO" else sv}
            art["cultures"][shop.default_culture]["Permalink"] = number.lower()
            shop.products[number] = art
            for channel in shop.channels:
                factor = rate.get(channel["CurrencyCode"], Decimal(1))
                inc = (Decimal(price) * factor).quantize(Decimal("0.01"))
                shop.prices[(number, channel["PriceListId"])] = {"PriceIncVat": inc,
                                                                  "DiscountedPriceIncVat": Decimal(-1)}

    def _insert(self, shop: ShopState, spec: seeding.OrderSpec, kind: str,
                order_date: datetime | None = None) -> int:
        order_id = shop.next_order_id
        shop.next_order_id += 1
        index = order_id - 10000
        date = order_date or seeding.order_dates(self.base_time, index)
        shop.orders[order_id] = seeding.build_order(shop, spec, order_id=order_id, order_date=date, kind=kind)
        return order_id

    def clear_faults(self) -> None:
        """No faults, counters back to zero."""
        self.faults = FaultInjector()

    # ------------------------------------------------------------------ Python handle
    def shop(self, shop_id: str) -> ShopState:
        return self.shops[shop_id]

    def now(self, shop: ShopState) -> datetime:
        """Shop-local, zone-less time (what the service writes into ModifiedDate)."""
        aware = self.clock() if self.clock else datetime.now(shop.timezone)
        return aware.astimezone(shop.timezone).replace(tzinfo=None, microsecond=aware.microsecond // 10000 * 10000)

    def orders(self, shop_id: str = "demoshop") -> list[dict[str, Any]]:
        with self.lock:
            return [copy.deepcopy(o) for _, o in sorted(self.shops[shop_id].orders.items())]

    def order(self, shop_id: str, order_id: int) -> dict[str, Any]:
        with self.lock:
            return copy.deepcopy(self.shops[shop_id].orders[order_id])

    def awkward_orders(self, shop_id: str = "demoshop") -> dict[str, int]:
        """kind -> order id of the seeded awkward orders."""
        with self.lock:
            return {o["_kind"]: oid for oid, o in sorted(self.shops[shop_id].orders.items())
                    if o["_kind"] != "ordinary" and not o["_kind"].startswith(("added", "live:"))}

    @staticmethod
    def awkward_kinds() -> tuple[str, ...]:
        return seeding.AWKWARD_KINDS

    def add_order(self, shop_id: str = "demoshop", *, kind: str = "added", order_date: datetime | None = None,
                  **spec: Any) -> int:
        """Add one order; keyword args are ``seed.OrderSpec`` fields (rows via ``seed.row(...)``)."""
        with self.lock:
            shop = self.shops[shop_id]
            if "rows" not in spec:
                base = seeding.ordinary_spec(random.Random(shop.next_order_id), shop)
                spec = {**base.__dict__, **spec}
            spec.setdefault("bill", seeding.SE)
            spec.setdefault("status_id", shop.first_status_id)
            return self._insert(shop, seeding.OrderSpec(**spec), kind, order_date)

    def generate_orders(self, shop_id: str = "demoshop", count: int = 100, *, seed: int | None = None,
                        start: datetime | None = None, status_id: int | None = None) -> list[int]:
        """``count`` ordinary orders (deterministic per seed), dated from ``start`` (shop-local)."""
        with self.lock:
            shop = self.shops[shop_id]
            rng = random.Random(self.seed * 1_000_003 + (seed or 0))
            base = start or self.base_time
            ids = []
            for i in range(count):
                spec = seeding.ordinary_spec(rng, shop, status_id=status_id)
                ids.append(self._insert(shop, spec, "generated", seeding.order_dates(base, i)))
            return ids

    def touch_orders(self, shop_id: str, order_ids: list[int] | None = None, when: datetime | None = None) -> None:
        """Set ModifiedDate (shop-local) of some or all orders, e.g. to 'now' for a live demo window."""
        with self.lock:
            shop = self.shops[shop_id]
            stamp = when or self.now(shop)
            for oid in order_ids or list(shop.orders):
                shop.orders[oid]["ModifiedDate"] = stamp

    def seed_articles(self, shop_id: str, articles: list[dict[str, Any]]) -> None:
        """Add articles explicitly, e.g. to mirror a Fortnox article register.

        Each dict: ``article_number``, ``name``, optional ``vat`` (fraction), ``price_inc_vat`` (default
        price list), ``stock``.
        """
        with self.lock:
            shop = self.shops[shop_id]
            now = self.now(shop)
            for a in articles:
                number = str(a["article_number"])
                art = shop.products.get(number) or new_article(shop, number, now)
                art["global"]["Vat"] = Decimal(str(a.get("vat", "0.25")))
                art["stock"]["NewStockCount"] = int(a.get("stock", 0))
                for culture in shop.cultures:
                    art["cultures"].setdefault(culture, {})["Name"] = a.get("name", number)
                shop.products[number] = art
                if "price_inc_vat" in a:
                    shop.prices[(number, shop.default_price_list)] = {
                        "PriceIncVat": Decimal(str(a["price_inc_vat"])), "DiscountedPriceIncVat": Decimal(-1)}

    def add_return(self, shop_id: str, order_id: int, rows: list[dict[str, Any]], *,
                   freight_inc_vat: Decimal | str | int = 0, payment_fee_inc_vat: Decimal | str | int = 0,
                   status_id: int | None = None) -> int:
        """Register a return (MODELLED) against an order; returns its ``ReturnId``.

        ``rows``: ``{"row_id", "quantity", "amount_inc_vat"?}``; the amount defaults to the row's share
        (quantity / sold quantity x row total incl. VAT, to the öre). Returning more than was sold is
        NOT refused (shop data can be wrong). The order's ``ModifiedDate`` becomes now; ``status_id``
        moves the order to that status as well (e.g. the shop's "Returned" status).
        """
        with self.lock:
            shop = self.shops[shop_id]
            order = shop.orders[order_id]
            by_row = {item["RowId"]: item for item in order["OrderItems"]}
            items = []
            for r in rows:
                if r["row_id"] not in by_row:
                    raise ValueError(f"order {order_id} has no row {r['row_id']}")
                sold = by_row[r["row_id"]]
                quantity = Decimal(str(r["quantity"]))
                if quantity <= 0:
                    raise ValueError(f"returned quantity must be > 0, got {quantity}")
                amount = r.get("amount_inc_vat")
                if amount is None:
                    share = quantity / Decimal(str(sold["Quantity"])) * sold["RowTotalIncVat"]
                    amount = share.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
                items.append({"RowId": r["row_id"], "Quantity": quantity, "AmountIncVat": Decimal(str(amount))})
            now = self.now(shop)
            return_id = shop.next_return_id
            shop.next_return_id += 1
            order.setdefault("Returns", []).append({
                "ReturnId": return_id, "ReturnDate": now, "FreightRefundIncVat": Decimal(str(freight_inc_vat)),
                "PaymentFeeRefundIncVat": Decimal(str(payment_fee_inc_vat)), "Items": items})
            if status_id is not None and status_id != order["OrderStatusId"]:
                self._move(shop, order, status_id, now)
            order["ModifiedDate"] = now
            return return_id

    def set_status(self, shop_id: str, order_id: int, status_id: int) -> None:
        """Move an order to a status as a shop user would (no capture, no e-mail); ModifiedDate = now."""
        with self.lock:
            shop = self.shops[shop_id]
            now = self.now(shop)
            order = shop.orders[order_id]
            self._move(shop, order, status_id, now)
            order["ModifiedDate"] = now

    @staticmethod
    def _move(shop: ShopState, order: dict[str, Any], status_id: int, now: datetime) -> None:
        """A shop user's status change (recorded; no capture, no e-mail)."""
        if shop.status(status_id) is None:
            raise ValueError(f"shop {shop.shop_id} has no status {status_id}")
        shop.status_changes.append({
            "shop_id": shop.shop_id, "order_id": order["OrderId"], "from_status_id": order["OrderStatusId"],
            "to_status_id": status_id, "tracking_number": None, "tracking_url": None, "carrier": None,
            "send_email": False, "changed_at": now.isoformat()})
        order["OrderStatusId"] = status_id

    def captures(self, shop_id: str | None = None, order_id: int | None = None) -> list[dict[str, Any]]:
        return self._events("captures", shop_id, order_id)

    def emails(self, shop_id: str | None = None, order_id: int | None = None) -> list[dict[str, Any]]:
        return self._events("emails", shop_id, order_id)

    def status_changes(self, shop_id: str | None = None, order_id: int | None = None) -> list[dict[str, Any]]:
        return self._events("status_changes", shop_id, order_id)

    def _events(self, name: str, shop_id: str | None, order_id: int | None) -> list[dict[str, Any]]:
        with self.lock:
            shops = [self.shops[shop_id]] if shop_id else list(self.shops.values())
            return [copy.deepcopy(e) for s in shops for e in getattr(s, name)
                    if order_id is None or e["order_id"] == order_id]

    def product(self, shop_id: str, article_number: str) -> dict[str, Any] | None:
        with self.lock:
            art = self.shops[shop_id].products.get(article_number)
            return copy.deepcopy(art) if art else None

    def price(self, shop_id: str, article_number: str, price_list_id: str) -> dict[str, Any] | None:
        with self.lock:
            entry = self.shops[shop_id].prices.get((article_number, price_list_id.upper()))
            return dict(entry) if entry else None

    def call_count(self, operation: str | None = None) -> int:
        with self.lock:
            return sum(1 for c in self.calls if operation is None or c["operation"] == operation)

    # ------------------------------------------------------------------ SOAP dispatch
    def handle(self, raw: bytes, login: str | None, password: str | None) -> tuple[int, bytes, dict[str, str]]:
        """One SOAP POST -> (HTTP status, body, extra headers). Work is committed before returning."""
        allowed = [s for s in self.shops.values() if s.login == login and s.password == password]
        if not allowed:
            return 401, b"401 - Unauthorized: Access is denied due to invalid credentials.", {
                "WWW-Authenticate": 'Basic realm="integration.jetshop.se"', "Content-Type": "text/html"}
        soap_ns = None
        try:
            request = parse_request(raw, self.schema)
            soap_ns = request.soap_ns
            if not request.shop_id:
                raise SoapFault("Server was unable to process request. ---> Missing ShopId in SOAP header.")
            shop = self.shops.get(request.shop_id)
            if shop is None or shop not in allowed:
                return 401, b"401 - Unauthorized: Access is denied for this shop.", {
                    "WWW-Authenticate": 'Basic realm="integration.jetshop.se"', "Content-Type": "text/html"}
            params = Reader(self.schema, raw).read_params(request.op_elem, request.operation)
            with self.lock:
                self.calls.append({"shop_id": shop.shop_id, "operation": request.operation})
                result = HANDLERS[request.operation](self, shop, params)
            body = response_envelope(self.schema, request.operation, result, soap_ns)
            return 200, body, {"Content-Type": _content_type(soap_ns)}
        except SoapFault as fault:
            ns = soap_ns or _guess_ns(raw)
            return 500, fault_envelope(fault.reason, fault.code, ns), {"Content-Type": _content_type(ns)}
        except Exception as exc:  # a sandbox bug must look like a server-side fault, not a hang
            ns = soap_ns or _guess_ns(raw)
            reason = f"Server was unable to process request. ---> {type(exc).__name__}: {exc}"
            return 500, fault_envelope(reason, "Receiver", ns), {"Content-Type": _content_type(ns)}


def _content_type(soap_ns: str) -> str:
    return "text/xml; charset=utf-8" if soap_ns == SOAP11 else "application/soap+xml; charset=utf-8"


def _guess_ns(raw: bytes) -> str:
    from sandbox.jetshop.soap import SOAP12
    return SOAP11 if SOAP11.encode() in raw[:2000] else SOAP12
