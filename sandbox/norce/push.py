"""Norce's side of the order push: it POSTs each new ``OrderRequest`` to the ERP integration's receiver.

The receiver is configured like Norce Admin's *ERP integration* (REST): a URL, HTTP Basic user and
password, and optionally the legacy path (``…/CreateOrder``). A delivery succeeds only on HTTP 200
with an ``OrderResponse`` whose ``StatusCode`` is ``"OK"``; anything else (other status, timeout,
``"Failed"``, unreadable body) is retried on ``Knobs.push_schedule`` (the Norce event backoff 5 s,
10 s, 15 s, 30 s, … scaled by ``push_speed``) and marked dead after the last try. ``HasErpOrderNo``
sets the order's ERP number (Query ``OrderNo``). ``duplicate_push_percent`` re-sends some delivered
orders, as Norce's retries do, so receivers must de-duplicate on ``ClientOrderRef``.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import httpx

from sandbox.norce.orders import Line, Order, Party, Payment

if TYPE_CHECKING:
    from sandbox.norce.state import NorceSandbox

DEFAULT_PUSH_SCHEDULE: tuple[float, ...] = (5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800,
                                            14400, 18000, 21600)
APPLICATION_KEY = "5d1b9c47-0f3e-4a8e-9d55-2c4f1a7b3e10"


# -- OrderRequest rendering ------------------------------------------------------------------------------
def local_text(value: datetime | None, zone: str) -> str | None:
    """A DateTime as Connect writes it: shop-local wall time without offset (see modelled.py)."""
    if value is None:
        return None
    return value.astimezone(ZoneInfo(zone)).replace(tzinfo=None).isoformat()


def _num(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _customer(party: Party) -> dict[str, Any]:
    company = None
    if party.company_name:
        company = {"Code": party.company_code, "Name": party.company_name, "VatNo": party.vat_no,
                   "AdditionalInfo": None, "Addresses": None, "Email": None, "Fax": None, "Phone": None,
                   "IsActive": False, "PricelistCodes": None, "PricelistLimit": False}
    address = {"Line1": party.line1, "Line2": party.line2 or None, "Box": None, "CareOf": party.care_of or None,
               "ZipCode": party.zip_code, "City": party.city, "Region": party.region or None,
               "Country": party.country, "Type": None, "ShippingPhoneNumber": party.phone or None, "Gln": None}
    person: dict[str, Any] = {"Address": address, "CellPhone": party.phone or None, "CompanyCode": None,
              "CustomerCode": party.customer_code, "Email": party.email, "FirstName": party.first_name,
              "LastName": party.last_name, "JobTitle": None, "PrivatePhone": None, "WorkPhone": None,
              "SSN": None, "IsActive": False, "AdditionalInfo": []}
    return {"Company": company, "Person": person}


def _item(order: Order, line: Line) -> dict[str, Any]:
    whole = line.qty == line.qty.to_integral_value()
    promotions = ([{"Id": "1", "Name": order.discount_code, "DiscountCode": order.discount_code,
                    "AppliedAmount": _num(line.discount)}] if line.discount and order.discount_code else [])
    return {
        "LineNo": line.line_no, "ParentLineNo": line.parent_line_no, "PartNo": line.part_no,
        "ErpPartNo": line.part_no, "InternalProductId": line.product_id, "Description": line.name,
        "Quantity": int(line.qty), "Quantity2": None if whole else _num(line.qty), "UnitOfMeasure": line.uom,
        "UnitPrice": _num(line.unit_price), "UnitPriceOriginal": _num(line.unit_price_original),
        "UnitVat": _num(line.unit_vat), "UnitPriceOriginalVat": _num(line.unit_original_vat),
        "VatRate": _num(line.vat_rate), "Discount": _num(line.discount), "Type": line.type,
        "TypeGroup": line.type_group, "PriceListNo": None, "PriceLists": [], "Promotions": promotions,
        "Comment": None, "AdditionalInfo": [], "ManufacturerCode": None,
    }


def _payment(order: Order, pay: Payment) -> dict[str, Any]:
    return {"PaymentCode": pay.code, "PaymentMethodCode": pay.method_code, "PaymentRef": pay.ref,
            "Amount": _num(pay.amount), "CurrencyCode": order.currency, "PaymentName": pay.name,
            "AdditionalInfo": []}


def order_request(order: Order, zone: str) -> dict[str, Any]:
    """The ``OrderRequest`` Norce pushes for ``order`` (no order total, no ``OrderNo``; see §2a)."""
    return {
        "Header": {"ApplicationKey": APPLICATION_KEY}, "ClientOrderRef": order.ref,
        "ErpOrderNo": None, "OrderType": order.type_id, "SubmitDate": local_text(order.order_date, zone),
        "CurrencyCode": order.currency, "SellTo": _customer(order.sell_to), "BillTo": _customer(order.bill_to),
        "ShipTo": _customer(order.ship_to), "Items": [_item(order, ln) for ln in order.lines],
        "Payments": [_payment(order, p) for p in order.payments], "Fees": [], "Discounts": [],
        "ShippingAdvice": {"DeliveryMethodCode": order.delivery_method_code, "DoSMSNotify": False,
                           "IsComplete": False, "IsFeeChargedOnce": False, "PickupStore": None,
                           "ShipAdvisorOrderCode": None, "TmsReference": None},
        "AdditionalInfo": [], "CustomerOrderRef": order.customer_order_ref,
        "CustomerOrderComment": order.comment, "CustomerInvoiceRef": None, "DiscountCode": order.discount_code,
        "Source": order.source, "DoHold": False, "ReferId": None, "SalesContactCode": None,
        "SalesContactDivision": None,
    }


# -- delivery --------------------------------------------------------------------------------------------
@dataclass
class Delivery:
    """One order to push (or to push again, ``duplicate``), with every attempt's outcome."""

    ref: str
    payload: dict[str, Any]
    due: datetime
    duplicate: bool = False
    attempts: list[dict[str, Any]] = field(default_factory=list)
    state: str = "pending"  # pending | delivered | dead

    def as_dict(self) -> dict[str, Any]:
        return {"client_order_ref": self.ref, "state": self.state, "duplicate": self.duplicate,
                "due": self.due.isoformat(), "attempts": [dict(a) for a in self.attempts]}


@dataclass
class Target:
    url: str
    username: str
    password: str
    legacy_path: bool

    def __repr__(self) -> str:  # never show the password
        return f"Target({self.url!r}, user={self.username!r}, legacy_path={self.legacy_path})"

    @property
    def post_url(self) -> str:
        return self.url.rstrip("/") + "/CreateOrder" if self.legacy_path else self.url


def _outcome(response: httpx.Response) -> tuple[bool, str, str | None]:
    """(ok, reason, ERP order no) from the receiver's answer."""
    if response.status_code != 200:
        return False, f"HTTP {response.status_code}", None
    try:
        data = response.json()
    except ValueError:
        return False, "HTTP 200 without a JSON OrderResponse", None
    if not isinstance(data, dict):
        return False, "HTTP 200 with a non-object OrderResponse", None
    body = {str(k).lower(): v for k, v in data.items()}
    if body.get("statuscode") != "OK":
        return False, f"StatusCode {body.get('statuscode')!r}: {body.get('description')}", None
    erp = body.get("erporderno")
    return True, "OK", str(erp) if body.get("haserporderno") is True and erp not in (None, "") else None


class Pusher:
    """Queue and deliver pushes; ``run_due`` is synchronous, the background thread just calls it."""

    def __init__(self, sb: NorceSandbox) -> None:
        self.sb = sb
        self.target: Target | None = None
        self._queue: list[Delivery] = []
        self._run_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._rng = random.Random(0)

    def clear(self) -> None:
        with self.sb.lock:
            self._queue = []
            self._rng = random.Random(getattr(self.sb, "seed", 0))

    def configure(self, url: str | None, username: str, password: str, legacy_path: bool) -> None:
        with self.sb.lock:
            self.target = Target(url, username, password, legacy_path) if url else None

    def enqueue(self, order: Order, *, duplicate: bool = False, delay: float = 0.0) -> Delivery:
        with self.sb.lock:
            item = Delivery(order.ref, order_request(order, self.sb.knobs.local_timezone),
                            self.sb.clock() + timedelta(seconds=delay), duplicate=duplicate)
            self._queue.append(item)
            return item

    def deliveries(self, ref: str | None = None) -> list[dict[str, Any]]:
        with self.sb.lock:
            return [d.as_dict() for d in self._queue if ref is None or d.ref == ref]

    def summary(self) -> dict[str, int]:
        with self.sb.lock:
            out = {"pending": 0, "delivered": 0, "dead": 0, "attempts": 0, "duplicates": 0}
            for d in self._queue:
                out[d.state] += 1
                out["attempts"] += len(d.attempts)
                out["duplicates"] += int(d.duplicate)
            return out

    def run_due(self) -> int:
        """Attempt every pending delivery that is due (HTTP outside the state lock); returns attempts made."""
        with self._run_lock:
            with self.sb.lock:
                target = self.target
                now = self.sb.clock()
                due = [d for d in self._queue if d.state == "pending" and d.due <= now]
                timeout = self.sb.knobs.push_timeout
            if target is None:
                return 0
            for item in due:
                self._attempt(item, target, timeout)
            return len(due)

    def _attempt(self, item: Delivery, target: Target, timeout: float) -> None:
        try:
            response = httpx.post(target.post_url, json=item.payload, auth=(target.username, target.password),
                                  timeout=timeout, headers={"Accept": "application/json"})
            ok, reason, erp = _outcome(response)
        except httpx.HTTPError as exc:
            ok, reason, erp = False, f"{type(exc).__name__}", None
        with self.sb.lock:
            now = self.sb.clock()
            item.attempts.append({"at": now.isoformat(), "ok": ok, "reason": reason})
            if ok:
                item.state = "delivered"
                self._after_delivery(item, erp, now)
                return
            knobs = self.sb.knobs
            if len(item.attempts) > len(knobs.push_schedule):
                item.state = "dead"
                return
            delay = knobs.push_schedule[len(item.attempts) - 1] / max(knobs.push_speed, 1e-9)
            item.due = now + timedelta(seconds=delay)

    def _after_delivery(self, item: Delivery, erp: str | None, now: datetime) -> None:
        order = next((o for o in self.sb.orders.values() if o.ref == item.ref), None)
        if order is not None and erp and erp != order.erp_order_no:
            order.erp_order_no = erp
            order.updated = now
        percent = self.sb.knobs.duplicate_push_percent
        if not item.duplicate and percent > 0 and self._rng.random() * 100 < percent:
            first = self.sb.knobs.push_schedule[0] if self.sb.knobs.push_schedule else 0
            dup = Delivery(item.ref, item.payload, now + timedelta(seconds=first / max(self.sb.knobs.push_speed,
                                                                                        1e-9)), duplicate=True)
            self._queue.append(dup)

    # -- background ----------------------------------------------------------------------------------
    def start(self, interval: float = 0.1) -> None:
        """Deliver due pushes in a daemon thread until :meth:`stop`."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()

        def loop() -> None:
            while not self._stop.wait(interval):
                if self.sb.knobs.push_auto:
                    self.run_due()

        self._thread = threading.Thread(target=loop, name="norce-push", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
