"""An in-memory stand-in for :class:`jetfort.norce.client.NorceClient` for the backend tests.

It keeps what Norce would keep (orders as Query rows, invoices, delivery notes, jobs and their logs),
applies Connect posts to it, refuses a second invoice or note with the same number as the reference
says Norce must ("InvoiceNo must be unique"), records every call, and can lose a post's answer before
or after it is applied.
"""

from __future__ import annotations

import copy
import re
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from jetfort.norce.backend import NorceShop
from jetfort.norce.errors import NorceConnectionError, NorceNotFound, NorceRejected
from jetfort.norce.settings import NorceSettings

NOW = datetime(2026, 12, 5, 9, 30, tzinfo=UTC)
CURRENCIES = [{"Id": 1, "Code": "SEK"}, {"Id": 2, "Code": "EUR"}]
COUNTRIES = [{"Id": 1, "Code": "SE"}, {"Id": 2, "Code": "NO"}]
METHODS = [{"Id": 7, "Code": "KlarnaCheckout"}]


def settings(**overrides: Any) -> NorceSettings:
    params: dict[str, Any] = dict(conn_id="norce_demo", slug="demoshop", environment="stage",
                                  client_id="jetfort-demo", client_secret="norce-demo-secret", application_id=1244,
                                  account_id=17, base_url="http://127.0.0.1:1", warehouse_code="MAIN",
                                  location_code="MAIN")
    params.update(overrides)
    return NorceSettings.from_params(**params)


def order_row(quotation_id: int = 1001, *, status: int = 2, order_no: str | None = None,
              items: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A Query 2.0 ``Orders/Orders`` row with ``$expand=Items,Buyer,Payer,ShipTo`` (reference §2b).

    Two items: 2 x A-100 at 80.00 ex VAT (25 %), and the freight row FRAKT 39.20 ex VAT (= FreightCost).
    Total incl. VAT: 2 x 100.00 + 49.00 = 249.00.
    """
    address = {"Id": 9, "Name": "Anna Svensson", "Line1": "Storgatan 1", "ZipCode": "11122", "City": "Stockholm",
               "CountryId": 1, "EmailAddress": "anna@example.se"}
    return {
        "Id": 50000 + quotation_id, "ApplicationId": 1244, "QuotationId": quotation_id,
        "OrderNo": order_no or str(quotation_id), "OrderDate": "2026-12-01T10:00:00Z", "Created": "2026-12-01T10:00:00Z",
        "Updated": None, "StatusId": status, "CurrencyId": 1, "PaymentMethodId": 7, "FreightCost": Decimal("39.2"),
        "OrderFee": 0,
        "Items": items if items is not None else [
            {"Id": 1, "LineNumber": 1, "PartNo": "A-100", "ProductName": "Mug", "QtyOrdered": 2,
             "PriceSale": Decimal("80"), "VatRate": 25, "LineAmount": Decimal("160")},
            {"Id": 2, "LineNumber": 2, "PartNo": "FRAKT", "ProductName": "Frakt", "QtyOrdered": 1,
             "PriceSale": Decimal("39.2"), "VatRate": 25, "LineAmount": Decimal("39.2")},
        ],
        "Buyer": dict(address), "Payer": dict(address), "ShipTo": dict(address),
    }


@dataclass
class Post:
    op: str
    body: Any
    headers: dict[str, Any]
    retry_on_reset: bool


@dataclass
class FakeNorce:
    """What the backend sees of Norce; ``faults`` is a queue of ``"reset"`` (lost before applied),
    ``"drop"`` (applied, answer lost) or None, one per post."""

    orders: list[dict[str, Any]] = field(default_factory=list)
    invoices: list[dict[str, Any]] = field(default_factory=list)
    notes: list[dict[str, Any]] = field(default_factory=list)
    jobs: dict[int, dict[str, Any]] = field(default_factory=dict)
    logs: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    products: list[dict[str, Any]] = field(default_factory=list)
    faults: list[str | None] = field(default_factory=list)
    unserved: set[str] = field(default_factory=set)  # Query entity sets answering 404
    posts: list[Post] = field(default_factory=list)
    queries: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    gets: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    calls: Counter[str] = field(default_factory=Counter)
    closed: bool = False
    next_job: int = 700

    # ------------------------------------------------------------------ the client's methods
    def connect_post(self, op: str, body: Any, headers: Mapping[str, Any] | None = None, *,
                     retry_on_reset: bool = False) -> Any:
        self.calls[op] += 1
        self.posts.append(Post(op, copy.deepcopy(body), dict(headers or {}), retry_on_reset))
        fault = self.faults.pop(0) if self.faults else None
        if fault == "reset":
            raise NorceConnectionError("connection lost after sending (ConnectionError)", operation=op)
        answer = self._apply(op, body)
        if fault == "drop":
            raise NorceConnectionError("connection lost after sending (ReadTimeout)", operation=op)
        return answer

    def connect_get(self, op: str, params: Mapping[str, Any] | None = None, *, retry_on_reset: bool = True) -> Any:
        self.calls[op] += 1
        self.gets.append((op, dict(params or {})))
        job = int((params or {})["id"])
        return self.jobs[job] if op == "Job/Get" else self.logs.get(job, [])

    def query_pages(self, entity: str, params: Mapping[str, Any] | None = None) -> Iterator[list[dict[str, Any]]]:
        self.calls[entity] += 1
        params = dict(params or {})
        self.queries.append((entity, params))
        if entity in self.unserved:
            raise NorceNotFound("HTTP 404: No HTTP resource was found that matches the request URI", operation=entity)
        rows = self._rows(entity, str(params.get("$filter") or ""))
        top = int(params.get("$top") or 500)
        for start in range(0, len(rows), top):
            yield copy.deepcopy(rows[start:start + top])
            if params.get("$top") == 1:
                return
        if not rows:
            yield []

    def close(self) -> None:
        self.closed = True

    # ------------------------------------------------------------------ helpers for tests
    def posted(self, op: str) -> list[Post]:
        return [p for p in self.posts if p.op == op]

    def add_job(self, status: int, log: list[dict[str, Any]] | None = None) -> int:
        self.next_job += 1
        self.jobs[self.next_job] = {"JobId": self.next_job, "StatusId": status, "IsFinished": status in (2, 3, 4)}
        self.logs[self.next_job] = log or []
        return self.next_job

    # ------------------------------------------------------------------ Norce's side
    def _apply(self, op: str, body: Any) -> Any:
        if op == "Order/CreateInvoice":
            if any(i["InvoiceNo"] == body["InvoiceNo"] for i in self.invoices):
                raise NorceRejected(f"InvoiceNo '{body['InvoiceNo']}' must be unique; it already exists.",
                                    operation=op)
            self.invoices.append({"InvoiceNo": body["InvoiceNo"], "TotalAmount": body["Payment"]["Amount"]})
        elif op == "Order/CreateDeliveryNote":
            if any(n["NoteNo"] == body["NoteNo"] for n in self.notes):
                raise NorceRejected(f"A delivery note with NoteNo '{body['NoteNo']}' already exists.", operation=op)
            self.notes.append({"NoteNo": body["NoteNo"], "OrderNo": body["OrderNo"]})
        elif op == "Order/SendOrderStatus":
            order = self._order(body["ClientOrderRef"])
            if order is None:
                raise NorceRejected(f"Order not found. ClientOrderRef: {body['ClientOrderRef']}", operation=op)
        elif op.startswith("Product/Import"):
            self.next_job += 1
            self.jobs[self.next_job] = {"JobId": self.next_job, "StatusId": 6, "IsFinished": False}
            return {"JobId": str(self.next_job), "StatusCode": "OK"}
        return None

    def _order(self, ref: int) -> dict[str, Any] | None:
        return next((o for o in self.orders if o["QuotationId"] == ref), None)

    def _rows(self, entity: str, condition: str) -> list[dict[str, Any]]:
        if entity == "Core/Currencies":
            return CURRENCIES
        if entity == "Core/Countries":
            return COUNTRIES
        if entity == "Core/PaymentMethods":
            return METHODS
        if entity == "Orders/Invoices":
            return [i for i in self.invoices if f"InvoiceNo eq '{i['InvoiceNo']}'" == condition]
        if entity == "Orders/DeliveryNotes":
            return [n for n in self.notes if f"NoteNo eq '{n['NoteNo']}'" == condition]
        if entity == "Orders/Orders":
            ref = re.search(r"QuotationId eq (\d+)", condition)
            number = re.search(r"OrderNo eq '([^']*)'", condition)
            return [o for o in self.orders if (ref is None or o["QuotationId"] == int(ref.group(1)))
                    and (number is None or o["OrderNo"] == number.group(1))]
        if entity == "Products/PriceLists":
            return [{"Id": 1, "Code": "SEK-BASE"}, {"Id": 2, "Code": "EUR-BASE"}]
        if entity == "Products/ProductSkus":
            parts = set(re.findall(r"PartNo eq '([^']*)'", condition))
            return [p for p in self.products if not parts or p["PartNo"] in parts]
        raise AssertionError(f"unexpected Query entity {entity}")


def make_shop(fake: FakeNorce, **overrides: Any) -> NorceShop:
    return NorceShop("norce_demo", settings=settings(**overrides), client=fake, clock=lambda: NOW)
