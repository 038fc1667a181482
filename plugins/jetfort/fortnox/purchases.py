"""Fortnox warehouse purchase orders: when goods an article is out of are expected in.

Fortnox articles carry no delivery date; the warehouse module's purchase orders do
(``GET /api/warehouse/purchaseorders-v1``: the order's ``deliveryDate``, per row ``itemId``,
``stockPointCode`` and ``remainingOrderedQuantity``). The list answer is a bare JSON array without
paging (official OpenAPI file: no paging parameters, "A list of PurchaseOrders"); an order listed
without ``rows`` is read on its own (``GET /{id}``) so a leaner list answer cannot lose dates.

A company without the warehouse module (or an integration without the ``warehouse`` scope) gets
Fortnox's code 2001101 (no licence) or 2000663 (no scope): that is :class:`WarehouseUnavailable`, a
permanent state the caller may choose to live with; every other failure is the hook's usual typed error.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from jetfort.fortnox.errors import FortnoxPermanentError
from jetfort.fortnox.models.base import Date, FortnoxModel, Int, Money, Text, api_field
from jetfort.fortnox.transport import FortnoxClient, path_segment

#: Fortnox keeps dates in Swedish local time; "today" for a delivery date is Stockholm's today.
FORTNOX_TZ = ZoneInfo("Europe/Stockholm")
#: No licence for the module's scope / the integration lacks the scope (reference §1.5).
NO_WAREHOUSE_CODES = frozenset({2001101, 2000663})
PATH = "api/warehouse/purchaseorders-v1"
#: ``state`` asked for: orders neither received nor voided [UNCONFIRMED: the value's meaning is not
#: documented; the rows are checked again here, so a wider answer changes nothing].
OPEN_STATE = "CURRENT"
CLOSED_STATES = frozenset({"RECEIVED", "VOIDED"})


class WarehouseUnavailable(FortnoxPermanentError):
    """The company has no warehouse module (or the integration no ``warehouse`` scope)."""


class UnreadablePurchaseOrder(FortnoxPermanentError):
    """An answer that does not read as purchase orders (names the order and the field)."""


class PurchaseOrderRow(FortnoxModel):
    """A purchase order row (camelCase warehouse API)."""

    item_id: Text | None = api_field("itemId")
    stock_point_code: str | None = api_field("stockPointCode")
    ordered_quantity: Money | None = api_field("orderedQuantity")
    received_quantity: Money | None = api_field("receivedQuantity")
    remaining_ordered_quantity: Money | None = api_field("remainingOrderedQuantity")


class PurchaseOrder(FortnoxModel):
    """The fields of a warehouse purchase order that say what is coming, where and when."""

    id: Int | None = api_field("id")
    delivery_date: Date | None = api_field("deliveryDate")
    purchase_order_state: str | None = api_field("purchaseOrderState")
    purchase_type: str | None = api_field("purchaseType")
    voided: bool | None = api_field("voided")
    manually_completed: bool | None = api_field("manuallyCompleted")
    stock_point_code: str | None = api_field("stockPointCode")
    rows: list[PurchaseOrderRow] | None = api_field("rows")

    @property
    def open(self) -> bool:
        """Goods still to come into stock: not voided, not completed, not drop-shipped."""
        return not (self.voided or self.manually_completed or self.purchase_order_state in CLOSED_STATES
                    or self.purchase_type == "DROPSHIP")


def parse_order(raw: Any) -> PurchaseOrder:
    """One order from the API; an unreadable one is an error naming the order and the field."""
    try:
        return PurchaseOrder.model_validate(raw)
    except ValidationError as exc:
        ident = raw.get("id") if isinstance(raw, Mapping) else None
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise UnreadablePurchaseOrder(f"purchase order {ident}: unreadable {field} ({first['msg']})",
                                      method="GET", path=f"/{PATH}") from None


def earliest_deliveries(orders: Iterable[PurchaseOrder], *, stock_points: Iterable[str] | None,
                        today: dt.date) -> dict[str, dt.date]:
    """Per article the earliest delivery date, today or later, of an open order with something left
    to receive at one of ``stock_points`` (all points when empty or None)."""
    points = set(stock_points or ())
    out: dict[str, dt.date] = {}
    for order in orders:
        day = order.delivery_date
        if not order.open or day is None or day < today:
            continue
        for row in order.rows or ():
            point = row.stock_point_code or order.stock_point_code
            if not row.item_id or (row.remaining_ordered_quantity or Decimal(0)) <= 0:
                continue
            if points and point not in points:
                continue
            if row.item_id not in out or day < out[row.item_id]:
                out[row.item_id] = day
    return out


class PurchaseOrderEndpoints(FortnoxClient):
    """Warehouse purchase orders (read only)."""

    def _warehouse_get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        try:
            return self._request("GET", path, params=params)
        except FortnoxPermanentError as exc:
            if exc.code in NO_WAREHOUSE_CODES:
                raise WarehouseUnavailable(exc.message, status=exc.status, code=exc.code,
                                           method=exc.method, path=exc.path) from None
            raise

    def purchase_orders(self, *, state: str | None = OPEN_STATE, item_id: str | None = None
                        ) -> list[PurchaseOrder]:
        """Purchase orders (all rows read); raises :class:`WarehouseUnavailable` without the module."""
        params = {k: v for k, v in (("state", state), ("itemId", item_id)) if v}
        body = self._warehouse_get(PATH, params or None)
        if not isinstance(body, list):
            raise UnreadablePurchaseOrder("the purchase order list is not a JSON array", method="GET", path=f"/{PATH}")
        orders = [parse_order(raw) for raw in body]
        return [o if o.rows is not None or o.id is None else self.get_purchase_order(o.id) for o in orders]

    def get_purchase_order(self, order_id: int) -> PurchaseOrder:
        return parse_order(self._warehouse_get(f"{PATH}/{path_segment(order_id)}"))

    def expected_deliveries(self, stock_point_codes: Iterable[str] | None = None, *,
                            today: dt.date | None = None) -> dict[str, dt.date]:
        """Article → the earliest open purchase order delivery date (today or later, Stockholm time)
        with quantity left to receive at the stock points (all when None)."""
        day = today or dt.datetime.now(FORTNOX_TZ).date()
        return earliest_deliveries(self.purchase_orders(), stock_points=stock_point_codes, today=day)
