"""Warehouse purchase orders: ``/api/warehouse/purchaseorders-v1`` (camelCase, a bare JSON array, no paging).

What a shop integration reads from them is *when goods are coming*: the order's ``deliveryDate`` and per
row ``itemId``, ``stockPointCode`` and ``remainingOrderedQuantity`` (ordered - received). The official
file declares a single ``PurchaseOrder`` for the list but describes it as "A list of PurchaseOrders" and
declares no paging parameters; the sandbox returns the whole filtered list as an array, sorted by id.

Served: ``GET`` list (filters ``q``, ``supplierNumber``, ``state``, ``itemId``, ``purchaseType``,
``internalReference``, ``note``) and ``GET /{id}``. Creating, sending, receiving and voiding through
the API is not served; tests and the demo add orders with the admin route
``POST /_sandbox/companies/{tenant}/purchaseorders`` and read them back with
``GET /_sandbox/companies/{tenant}/purchaseorders`` (in process: :func:`add_purchase_order`,
:func:`purchase_orders`).

Like every ``/api/warehouse`` route, a client without the ``warehouse`` scope gets the gateway's
400 code 2000663 (the sandbox's stand-in for a company without the warehouse module).

Inferred [I], no recording: the ``state`` filter values. ``CURRENT`` (also the default when ``state``
is absent) = neither received nor voided; ``DELAYED`` = current with a delivery date before today;
``SENT_NOT_REJECTED`` = sent and not rejected by the supplier; ``ALL`` = everything. An order whose
rows have nothing left to receive is ``RECEIVED``. The error body of a bad ``state`` or id
(``{"error", "message", "id"}``) uses the warehouse API's shape with an inferred error code.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import uuid
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse, Response

from .. import totals
from ..errors import WarehouseError
from ..state import Company
from ..stock import DEFAULT_POINT
from ..web import company_of, reply

router = APIRouter()

COLLECTION = "purchaseorders"
STATES = ("NOT_SENT", "SENT", "SENT_NOT_REJECTED", "DELAYED", "RECEIVED", "VOIDED", "CURRENT", "ALL")
PURCHASE_TYPES = ("WAREHOUSE", "DROPSHIP")
SETTABLE_STATES = ("NOT_SENT", "SENT")
ROW_FIELDS = {"itemId", "orderedQuantity", "receivedQuantity", "price", "stockPointCode", "itemDescription"}
ORDER_FIELDS = {"supplierNumber", "supplierName", "orderDate", "deliveryDate", "stockPointCode",
                "purchaseOrderState", "responseState", "purchaseType", "voided", "manuallyCompleted",
                "internalReference", "note", "currencyCode", "rows"}
_NS = uuid.UUID("6f1c2a4e-5b7d-4c3a-9e2f-0a1b2c3d4e5f")  # deterministic ids for rows and stock points


def _orders(company: Company, *, create: bool = False) -> dict[str, dict[str, Any]]:
    """The stored orders; a read does not add the collection (company counts stay as they were)."""
    if create:
        return company.data.setdefault(COLLECTION, {})
    return company.data.get(COLLECTION, {})


def _remaining(row: dict[str, Any]) -> float:
    left = totals.dec(row["orderedQuantity"]) - totals.dec(row.get("receivedQuantity"))
    return totals.num(max(left, totals.dec(0)))


def _state(order: dict[str, Any]) -> str:
    """RECEIVED once nothing is left to receive (or completed by hand), VOIDED when voided."""
    if order.get("voided"):
        return "VOIDED"
    if order.get("manuallyCompleted") or all(_remaining(r) == 0 for r in order["rows"]):
        return "RECEIVED"
    return str(order.get("purchaseOrderState") or "NOT_SENT")


def render(order: dict[str, Any]) -> dict[str, Any]:
    """The API shape of one stored order: derived quantities, state and values filled in."""
    out = copy.deepcopy(order)
    rows = out["rows"]
    for row in rows:
        row["remainingOrderedQuantity"] = _remaining(row)
    out["purchaseOrderState"] = _state(order)
    out["totalReceivedQuantity"] = totals.num(sum((totals.dec(r.get("receivedQuantity")) for r in rows),
                                                  totals.dec(0)))
    out["orderValue"] = totals.num(sum((totals.dec(r["orderedQuantity"]) * totals.dec(r.get("price"))
                                        for r in rows), totals.dec(0)))
    out["orderValueInSEK"] = out["orderValue"]
    return out


def _current(order: dict[str, Any]) -> bool:
    return order["purchaseOrderState"] not in ("RECEIVED", "VOIDED")


def _state_matches(order: dict[str, Any], state: str, today: dt.date) -> bool:
    if state == "ALL":
        return True
    if state == "CURRENT":
        return _current(order)
    if state == "DELAYED":
        return _current(order) and bool(order.get("deliveryDate")) and order["deliveryDate"] < today.isoformat()
    if state == "SENT_NOT_REJECTED":
        return order["purchaseOrderState"] == "SENT" and order.get("responseState") != "REJECTED"
    return bool(order["purchaseOrderState"] == state)


def _contains(value: Any, text: str) -> bool:
    return text.casefold() in str(value or "").casefold()


def _matches(order: dict[str, Any], params: dict[str, str], today: dt.date) -> bool:
    if not _state_matches(order, params.get("state") or "CURRENT", today):
        return False
    if "q" in params and not (_contains(order["id"], params["q"]) or _contains(order.get("internalReference"),
                                                                               params["q"])):
        return False
    if "supplierNumber" in params and order.get("supplierNumber") != params["supplierNumber"]:
        return False
    if "itemId" in params and all(r["itemId"] != params["itemId"] for r in order["rows"]):
        return False
    if "purchaseType" in params and order.get("purchaseType") != params["purchaseType"]:
        return False
    if "internalReference" in params and not _contains(order.get("internalReference"), params["internalReference"]):
        return False
    return "note" not in params or _contains(order.get("note"), params["note"])


def list_orders(company: Company, params: dict[str, str]) -> list[dict[str, Any]]:
    """The filtered list (rendered), by id."""
    if params.get("state") and params["state"] not in STATES:
        raise WarehouseError(400, "invalid_parameter", f"Invalid value for state: {params['state']}")
    if params.get("purchaseType") and params["purchaseType"] not in PURCHASE_TYPES:
        raise WarehouseError(400, "invalid_parameter", f"Invalid value for purchaseType: {params['purchaseType']}")
    today = company.clock.today()
    rendered = (render(o) for _, o in sorted(_orders(company).items(), key=lambda kv: int(kv[0])))
    return [o for o in rendered if _matches(o, params, today)]


def get_order(company: Company, raw_id: str) -> dict[str, Any]:
    if not raw_id.isdigit():
        raise WarehouseError(400, "invalid_parameter", f"Invalid purchase order id: {raw_id}")
    order = _orders(company).get(str(int(raw_id)))
    if order is None:
        raise WarehouseError(404, "not_found", f"Purchase order {int(raw_id)} not found")
    return render(order)


@router.get("/api/warehouse/purchaseorders-v1")
async def purchase_order_list(request: Request) -> Response:
    company = company_of(request)
    params = {k: v for k, v in request.query_params.items() if v != ""}
    with company.lock:
        return reply(list_orders(company, params))


@router.get("/api/warehouse/purchaseorders-v1/{order_id}")
async def purchase_order(request: Request, order_id: str) -> Response:
    company = company_of(request)
    with company.lock:
        return reply(get_order(company, order_id))


# --------------------------------------------------------------------------------- admin (tests, demo)
class Refused(ValueError):
    """An admin body the sandbox will not store (names the field)."""


def _number(value: Any, field: str, *, minimum: float = 0) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
        raise Refused(f"{field}: a number >= {minimum:g} is needed, got {value!r}")
    return float(value)


def _date(value: Any, field: str) -> str:
    try:
        return dt.date.fromisoformat(str(value)).isoformat()
    except ValueError:
        raise Refused(f"{field}: a date YYYY-MM-DD is needed, got {value!r}") from None


def _row(company: Company, num: int, body: Any, point: str, currency: str) -> dict[str, Any]:
    where = f"rows[{num - 1}]"
    if not isinstance(body, dict) or set(body) - ROW_FIELDS:
        raise Refused(f"{where}: an object with fields {sorted(ROW_FIELDS)} is needed")
    item = str(body.get("itemId") or "")
    article = company.get("articles", item)
    if article is None:
        raise Refused(f"{where}.itemId: no article {item!r}")
    ordered = _number(body.get("orderedQuantity"), f"{where}.orderedQuantity")
    received = _number(body.get("receivedQuantity", 0), f"{where}.receivedQuantity")
    row_point = str(body.get("stockPointCode") or point)
    return {"rowNum": num, "itemId": item, "itemDescription": body.get("itemDescription") or article.get("Description"),
            "itemUnit": article.get("Unit") or "st", "orderedQuantity": ordered, "receivedQuantity": received,
            "price": _number(body.get("price", article.get("PurchasePrice") or 0), f"{where}.price"),
            "currencyCode": currency, "stockPointCode": row_point,
            "stockPointId": str(uuid.uuid5(_NS, f"{company.tenant_id}/point/{row_point}")),
            "isStockItem": bool(article.get("StockGoods")), "notes": []}


def add_purchase_order(company: Company, body: dict[str, Any]) -> dict[str, Any]:
    """Store a purchase order (camelCase body, fields in ``ORDER_FIELDS``); returns it as the API shows it.

    ``deliveryDate`` and ``rows`` (``itemId``, ``orderedQuantity``, optional ``receivedQuantity``,
    ``price``, ``stockPointCode``) are needed; the rest gets defaults. Raises :class:`Refused`."""
    unknown = set(body) - ORDER_FIELDS
    if unknown:
        raise Refused(f"unknown fields {sorted(unknown)}; allowed {sorted(ORDER_FIELDS)}")
    rows = body.get("rows")
    if not isinstance(rows, list) or not rows:
        raise Refused("rows: at least one row is needed")
    state = body.get("purchaseOrderState", "SENT")
    if state not in SETTABLE_STATES:
        raise Refused(f"purchaseOrderState: one of {list(SETTABLE_STATES)} (received/voided follow from the "
                      f"rows and 'voided'), got {state!r}")
    if body.get("purchaseType", "WAREHOUSE") not in PURCHASE_TYPES:
        raise Refused(f"purchaseType: one of {list(PURCHASE_TYPES)}, got {body.get('purchaseType')!r}")
    with company.lock:
        point = str(body.get("stockPointCode") or DEFAULT_POINT)
        currency = str(body.get("currencyCode") or "SEK")
        checked = [_row(company, n, r, point, currency) for n, r in enumerate(rows, 1)]
        ordered_on = _date(body.get("orderDate") or company.clock.today().isoformat(), "orderDate")
        delivery = _date(body.get("deliveryDate"), "deliveryDate")
        orders = _orders(company, create=True)  # nothing refused from here on: the id is taken
        order_id = company.next_number(COLLECTION)
        for row in checked:
            row.update(id=str(uuid.uuid5(_NS, f"{company.tenant_id}/{order_id}/{row['rowNum']}")),
                       purchaseOrderId=int(order_id))
        info = company.info
        order = {
            "id": int(order_id), "supplierNumber": str(body.get("supplierNumber") or "1"),
            "supplierName": body.get("supplierName") or "Sandbox Leverantör AB",
            "orderDate": ordered_on, "deliveryDate": delivery,
            "purchaseOrderState": state, "responseState": body.get("responseState") or "NOT_SENT",
            "purchaseType": body.get("purchaseType", "WAREHOUSE"), "dropship": body.get("purchaseType") == "DROPSHIP",
            "voided": bool(body.get("voided", False)), "manuallyCompleted": bool(body.get("manuallyCompleted", False)),
            "internalReference": body.get("internalReference") or "", "note": body.get("note") or "",
            "stockPointCode": point, "stockPointId": str(uuid.uuid5(_NS, f"{company.tenant_id}/point/{point}")),
            "currencyCode": currency, "currencyRate": 1, "currencyUnit": 1, "paymentTermsCode": "30",
            "languageCode": "SV", "deliveryName": company.name,
            "deliveryAddress": info.get("Address") or "Lagergatan 1", "deliveryZipCode": info.get("ZipCode") or "11122",
            "deliveryCity": info.get("City") or "Stockholm", "deliveryCountryCode": "SE",
            "rows": checked,
        }
        orders[order_id] = order
        return render(order)


def purchase_orders(company: Company) -> list[dict[str, Any]]:
    """Every stored purchase order as the API shows it (state inspection)."""
    with company.lock:
        return [render(o) for _, o in sorted(_orders(company).items(), key=lambda kv: int(kv[0]))]


def _company(request: Request, tenant_id: int) -> Company:
    sandbox = request.app.state.sandbox
    if tenant_id not in sandbox.companies:
        raise HTTPException(404, f"no company {tenant_id}")
    return sandbox.company(tenant_id)  # type: ignore[no-any-return]


@router.post("/_sandbox/companies/{tenant_id}/purchaseorders")
async def admin_add(request: Request, tenant_id: int) -> JSONResponse:
    company = _company(request, tenant_id)
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError:
        raise HTTPException(422, "body must be JSON") from None
    if not isinstance(body, dict):
        raise HTTPException(422, "body must be a JSON object")
    try:
        return JSONResponse(add_purchase_order(company, body), status_code=201)
    except Refused as exc:
        raise HTTPException(422, str(exc)) from None


@router.get("/_sandbox/companies/{tenant_id}/purchaseorders")
async def admin_list(request: Request, tenant_id: int) -> dict[str, Any]:
    return {COLLECTION: purchase_orders(_company(request, tenant_id))}
