"""Query API 2.0 (read-only OData v4): ``GET /commerce/query/2.0/{Namespace}/{EntitySet}``.

Every entity set in ``NorceSandbox.entity_sets`` is served here (orders and Core lookups from this
module's sandbox, product sets added by product_routes). Bearer token and the ``applicationId`` header are
required; the header sets context but does not filter rows (filter on ``ApplicationId``). Rows are
Query 2.0 PascalCase; navigations (``Items``, ``Buyer``, ``Payer``, ``ShipTo``, ``Infos``) only
appear when ``$expand``-ed. Datetimes are UTC with ``Z``; decimals are JSON numbers.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from fastapi import Depends, FastAPI, Request, Response
from fastapi.responses import JSONResponse

from sandbox.norce.auth import apply_faults, require_application_id, require_bearer
from sandbox.norce.odata import ODataError, ODataQuery
from sandbox.norce.orders import Line, Order, Party
from sandbox.norce.seed import COUNTRIES, CURRENCIES

if TYPE_CHECKING:
    from sandbox.norce.state import NorceSandbox

QUERY_BASE = "/commerce/query/2.0/"
ODATA_JSON = "application/json; odata.metadata=minimal"
_KEYED = re.compile(r"^(?P<set>.+?)\((?P<key>'(?:[^']|'')*'|-?\d+)\)$")
_COUNTRY_IDS = {str(c["Code"]): int(c["Id"]) for c in COUNTRIES}
_CURRENCY_IDS = {str(c["Code"]): int(c["Id"]) for c in CURRENCIES}


def utc_text(value: datetime | None) -> str | None:
    """A datetime as Query renders it: UTC with ``Z``."""
    if value is None:
        return None
    text = value.astimezone(UTC).replace(tzinfo=None).isoformat()
    return text + "Z"


def num(value: Decimal | None) -> float | None:
    """A decimal as a JSON number (shortest float text; the sandbox's amounts fit exactly)."""
    return None if value is None else float(value)


def _address(order: Order, party: Party, type_id: int) -> dict[str, Any]:
    person = f"{party.first_name} {party.last_name}".strip()
    return {
        "Id": party.address_id, "TypeId": type_id, "Name": party.company_name or person,
        "Attention": person if party.company_name else None, "CareOf": party.care_of or None,
        "Line1": party.line1, "Line2": party.line2 or None, "ZipCode": party.zip_code, "City": party.city,
        "Region": party.region or None, "CountryId": _COUNTRY_IDS.get(party.country), "EmailAddress": party.email,
        "PhoneNumber": party.phone, "ShippingPhoneNumber": party.phone if type_id == 3 else None, "Gln": None,
        "Created": utc_text(order.created), "CreatedBy": 0, "RowId": f"{party.address_id:08x}-0000-0000",
        "ClientId": order.client_id,
    }


def _item(order: Order, line: Line) -> dict[str, Any]:
    discount_pct = (Decimal(0) if not line.unit_price_original else
                    ((line.unit_price_original - line.unit_price) * 100 / line.unit_price_original).quantize(
                        Decimal("0.01")))
    return {
        "Id": line.item_id, "OrderId": order.id, "LineNumber": num(Decimal(line.line_no)),
        "ParentLineNumber": num(Decimal(line.parent_line_no)) if line.parent_line_no else None,
        "StatusId": line.status_id, "PartNo": line.part_no, "ExternalPartNo": None, "ProductName": line.name,
        "StockUnitOfMeasurementCount": 1.0, "PriceUnitOfMeasurementCount": 1.0, "WarehouseId": None,
        "LocationId": None, "QtyOrdered": num(line.qty), "CurrencyId": _CURRENCY_IDS.get(order.currency),
        "VatRate": num(line.vat_rate), "CostUnit": None, "PriceSale": num(line.unit_price),
        "DiscountPercentage": num(discount_pct), "DiscountAmount": num(line.discount),
        "LineAmount": num(line.line_amount), "DeliveryMode": None, "IsPartDelivery": False,
        "ExpectedDeliveryDate": None, "ConfirmedDeliveryDate": None, "SalesRepContactId": None,
        "LedgerAccount": None, "Department": None, "Centre": None, "TransId": None, "ExternalStatusText": None,
        "Created": utc_text(order.created), "CreatedBy": 0, "Updated": utc_text(order.updated),
        "UpdatedBy": 0 if order.updated else None, "LineNumberString": str(line.line_no),
        "PriceRecommended": None, "PriceCatalog": None, "PriceStandard": num(line.unit_price_original),
        "ClientId": order.client_id, "Infos": [],
    }


def order_row(order: Order) -> dict[str, Any]:
    """The Query 2.0 ``Orders/Orders`` row of an order, navigations included (stripped unless expanded)."""
    freight = sum((ln.line_amount for ln in order.lines if ln.type == "Freight"), Decimal(0))
    line_discount = sum((ln.discount for ln in order.lines), Decimal(0))
    ship, buyer, payer = order.ship_to, order.sell_to, order.bill_to
    return {
        "Id": order.id, "ClientId": order.client_id, "ApplicationId": order.application_id,
        "QuotationId": int(order.ref) if order.ref.isdigit() else None, "OrderNo": order.order_no,
        "OrderDate": utc_text(order.order_date), "StatusId": order.status_id, "TypeId": order.type_id,
        "Source": order.source, "CurrencyId": _CURRENCY_IDS.get(order.currency),
        "PaymentMethodId": order.payments[0].method_id if order.payments else None, "PaymentTerms": None,
        "DeliveryMode": order.delivery_method_code, "IsPartDelivery": False, "FreightCost": num(freight),
        "OrderFee": 0.0, "CashDiscount": 0.0, "LineDiscount": num(line_discount),
        "DeliveryName": ship.company_name or f"{ship.first_name} {ship.last_name}".strip(),
        "DeliveryAttention": None, "DeliveryLine1": ship.line1, "DeliveryLine2": ship.line2 or None,
        "DeliveryZipCode": ship.zip_code, "DeliveryCity": ship.city,
        "DeliveryCountryId": _COUNTRY_IDS.get(ship.country), "DeliveryMark": order.customer_order_ref,
        "InvoiceMark": None, "BuyerCompanyCode": buyer.company_code, "BuyerCustomerCode": buyer.customer_code,
        "PayerCompanyCode": payer.company_code, "PayerCustomerCode": payer.customer_code,
        "TmsReference": None, "IsForgotten": False, "Created": utc_text(order.created),
        "Updated": utc_text(order.updated),
        "Items": [_item(order, ln) for ln in order.lines],
        "Buyer": _address(order, buyer, 1), "Payer": _address(order, payer, 2), "ShipTo": _address(order, ship, 3),
        "Infos": [{"OrderId": order.id, "Code": k, "Value": v} for k, v in order.infos.items()],
    }


def _odata_error(exc: ODataError) -> JSONResponse:
    return JSONResponse(exc.body(), status_code=exc.status)


def _resolve(sb: NorceSandbox, path: str) -> tuple[str, str | None]:
    """Entity set name (case-insensitive, canonical spelling) and an optional ``(key)``."""
    match = _KEYED.match(path)
    name, key = (match.group("set"), match.group("key")) if match else (path, None)
    canonical = {k.lower(): k for k in sb.entity_sets}.get(name.strip("/").lower())
    if canonical is None:
        raise ODataError(f"No HTTP resource was found that matches the request URI '{QUERY_BASE}{path}'.",
                         status=404)
    if key is not None and key.startswith("'"):
        key = key[1:-1].replace("''", "'")
    return canonical, key


def register(app: FastAPI, sb: NorceSandbox) -> None:
    """``GET /commerce/query/2.0/{path}``: every entity set, with OData options and server paging."""

    @app.get(QUERY_BASE + "{path:path}", dependencies=[Depends(apply_faults), Depends(require_bearer)])
    def query(path: str, request: Request, application_id: int = Depends(require_application_id)) -> Response:
        try:
            name, key = _resolve(sb, path)
            with sb.lock:
                rows = sb.entity_sets[name]()
            namespace, _, entity = name.partition("/")
            base = str(request.base_url).rstrip("/") + QUERY_BASE
            if key is not None:
                key_field = sb.entity_keys.get(name, "Id")
                row = next((r for r in rows if str(r.get(key_field)) == key), None)
                if row is None:
                    raise ODataError(f"No {entity} with key '{key}'.", status=404)
                q = ODataQuery.parse(dict(request.query_params))
                navs = {k for k, v in row.items() if isinstance(v, list | dict)}
                q.check(set(row) - navs, navs, entity)
                body = {"@odata.context": f"{base}{namespace}/$metadata#{entity}/$entity", **q.shape(row, navs)}
                return JSONResponse(body, media_type=ODATA_JSON)
            q = ODataQuery.parse(dict(request.query_params))
            body = q.apply(rows, f"{base}{namespace}/$metadata#{entity}", base + path,
                           sb.entity_properties.get(name), entity=entity,
                           navigation_names=sb.entity_navigations.get(name))
        except ODataError as exc:
            return _odata_error(exc)
        return JSONResponse(body, media_type=ODATA_JSON)
