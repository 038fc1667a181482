"""MODELLED order operations of the Jetshop sandbox — all of them, in this one module.

The live service has order operations, but their names and shapes are not public. These follow
the service's conventions (``<Entity>_<Verb>``, per-item ``Success``/``Message`` results, empty result
for not-found) with the semantics of Norce's SendOrderStatus/CreateInvoice (see jetshop-api.md
§9.3). Replace the names here and in ``plugins/jetfort/jetshop/modelled.py`` once a live WSDL is known.

Rules the sandbox enforces (and jetfort relies on):

* a status flagged ``CapturesPayment`` captures the payment when an order moves into it;
* a capture takes at most the authorised amount, happens once per order (a repeat is answered
  with the first capture, ``AlreadyCaptured=true``) and is refused for a cancelled order and for
  payment methods without a PSP (invoice, Swish);
* setting the status and tracking an order already has is a no-op (no e-mail, no change record);
* an e-mail is recorded only when ``SendEmailToCustomer`` is true, something changed and the order
  has an address.
"""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sandbox.jetshop.soap import SoapFault

if TYPE_CHECKING:
    from sandbox.jetshop.state import JetshopSandbox, ShopState

MODELLED_OPERATIONS: tuple[str, ...] = (
    "OrderStatus_GetList",
    "Channel_GetList",
    "Order_Search",
    "Order_Get",
    "Order_UpdateStatus",
    "Order_CapturePayment",
    "Product_Search",
)

CAPTURABLE = frozenset({"Klarna", "DIBS", "Card"})
MAX_PAGE_SIZE = 200


def status_list(sb: JetshopSandbox, shop: ShopState, params: dict[str, Any]) -> list[dict[str, Any]]:
    culture = params.get("culture") or shop.default_culture
    return [{"OrderStatusId": s["id"], "Name": shop.status_name(s["id"], culture), "Culture": culture,
             "CapturesPayment": s["captures"], "IsCancelled": s["cancelled"], "SortOrder": s["sort"]}
            for s in shop.statuses]


def channel_list(sb: JetshopSandbox, shop: ShopState, params: dict[str, Any]) -> list[dict[str, Any]]:
    return [dict(c) for c in shop.channels]


def _public(shop: ShopState, order: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(order)
    out["OrderStatusName"] = shop.status_name(order["OrderStatusId"], order["Culture"])
    return out


def order_search(sb: JetshopSandbox, shop: ShopState, params: dict[str, Any]) -> dict[str, Any]:
    opts = params.get("orderSearchOptions") or {}
    page_index = opts.get("PageIndex") or 0
    page_size = opts.get("PageSize") or 50
    if page_index < 0 or page_size < 1 or page_size > MAX_PAGE_SIZE:
        raise SoapFault(f"Server was unable to process request. ---> PageIndex must be >= 0 and PageSize "
                        f"between 1 and {MAX_PAGE_SIZE}.")
    status_id, channel_id = opts.get("OrderStatusId"), opts.get("ChannelId")
    lo, hi = opts.get("ModifiedFrom"), opts.get("ModifiedTo")
    hits = [o for o in shop.orders.values()
            if (status_id is None or o["OrderStatusId"] == status_id)
            and (channel_id is None or o["ChannelId"] == channel_id)
            and (lo is None or o["ModifiedDate"] >= lo) and (hi is None or o["ModifiedDate"] < hi)]
    hits.sort(key=lambda o: (o["ModifiedDate"], o["OrderId"]))
    page = hits[page_index * page_size:(page_index + 1) * page_size]
    return {"TotalCount": len(hits), "PageIndex": page_index, "PageSize": page_size,
            "Orders": [_public(shop, o) for o in page]}


def order_get(sb: JetshopSandbox, shop: ShopState, params: dict[str, Any]) -> list[dict[str, Any]]:
    opts = params.get("orderOptions") or {}
    order = None
    if opts.get("OrderId") is not None:
        order = shop.orders.get(opts["OrderId"])
    elif opts.get("OrderNumber"):
        order = next((o for o in shop.orders.values() if o["OrderNumber"] == opts["OrderNumber"]), None)
    return [_public(shop, order)] if order else []


def _capture(sb: JetshopSandbox, shop: ShopState, order: dict[str, Any],
             amount: Decimal | None) -> dict[str, Any]:
    """Capture once, at most the authorised amount; repeats answer with the first capture."""
    res: dict[str, Any] = {"OrderId": order["OrderId"], "Success": False, "Message": "", "CaptureId": "",
                           "CapturedAmount": Decimal(0), "AlreadyCaptured": False,
                           "PaymentTransactionId": order["PaymentTransactionId"]}
    previous = order.get("_capture")
    if previous:
        res.update(Success=True, AlreadyCaptured=True, CaptureId=previous["capture_id"],
                   CapturedAmount=previous["amount"], Message="Payment already captured.")
        return res
    status = shop.status(order["OrderStatusId"])
    if status and status["cancelled"]:
        res["Message"] = f"Order {order['OrderId']} is cancelled; payment can not be captured."
        return res
    if order["PaymentProvider"] not in CAPTURABLE:
        res["Message"] = f"Payment method '{order['PaymentMethod']}' has no capturable authorisation."
        return res
    authorised = order["AuthorizedAmount"]
    amount = authorised if amount is None else amount
    if amount <= 0:
        res["Message"] = "Capture amount must be positive."
        return res
    if amount > authorised:
        res["Message"] = f"Capture amount {amount:.2f} exceeds the authorised amount {authorised:.2f}."
        return res
    capture_id = f"CAP-{shop.shop_id}-{order['OrderId']}-{len(shop.captures) + 1}"
    now = sb.now(shop)
    record = {"capture_id": capture_id, "shop_id": shop.shop_id, "order_id": order["OrderId"],
              "amount": amount, "currency": order["CurrencyCode"], "provider": order["PaymentProvider"],
              "transaction_id": order["PaymentTransactionId"], "captured_at": now.isoformat()}
    shop.captures.append(record)
    order["_capture"] = record
    order.update(CapturedAmount=amount, PaymentStatus="Captured", ModifiedDate=now)
    res.update(Success=True, CaptureId=capture_id, CapturedAmount=amount, Message="Payment captured.")
    return res


def order_update_status(sb: JetshopSandbox, shop: ShopState, params: dict[str, Any]) -> list[dict[str, Any]]:
    results = []
    for upd in params.get("orderStatusUpdates") or []:
        upd = upd or {}
        oid = upd.get("OrderId")
        res: dict[str, Any] = {"OrderId": oid or 0, "Success": False, "Message": "", "PaymentCaptured": False,
                               "CapturedAmount": Decimal(0)}
        results.append(res)
        order = shop.orders.get(oid) if oid is not None else None
        if order is None:
            res["Message"] = f"Order {oid} not found."
            continue
        new = shop.status(upd.get("OrderStatusId"))
        if new is None:
            res["Message"] = f"OrderStatus {upd.get('OrderStatusId')} not found."
            continue
        current = shop.status(order["OrderStatusId"])
        if current and current["cancelled"] and not new["cancelled"]:
            res["Message"] = f"Order {oid} is cancelled; its status can not change."
            continue
        if new["cancelled"] and order.get("_capture"):
            res["Message"] = f"Order {oid} has a captured payment; credit it instead of cancelling."
            continue
        tracking_number = upd.get("TrackingNumber")
        tracking_url = upd.get("TrackingUrl")
        changed = (new["id"] != order["OrderStatusId"]
                   or (tracking_number is not None and tracking_number != order["TrackingNumber"])
                   or (tracking_url is not None and tracking_url != order["TrackingUrl"]))
        messages = []
        if changed:
            now = sb.now(shop)
            shop.status_changes.append({
                "shop_id": shop.shop_id, "order_id": oid, "from_status_id": order["OrderStatusId"],
                "to_status_id": new["id"], "tracking_number": tracking_number, "tracking_url": tracking_url,
                "carrier": upd.get("Carrier"), "send_email": bool(upd.get("SendEmailToCustomer")),
                "changed_at": now.isoformat()})
            order["OrderStatusId"] = new["id"]
            if tracking_number is not None:
                order["TrackingNumber"] = tracking_number
            if tracking_url is not None:
                order["TrackingUrl"] = tracking_url
            if upd.get("Comment"):
                order["Comment"] = (order["Comment"] + "\n" + upd["Comment"]).strip()
            order["ModifiedDate"] = now
        else:
            messages.append("Unchanged.")
        if new["captures"]:
            cap = _capture(sb, shop, order, None)
            res["PaymentCaptured"] = cap["Success"]
            res["CapturedAmount"] = cap["CapturedAmount"]
            if not cap["Success"]:
                messages.append("Payment not captured: " + cap["Message"])
        if changed and upd.get("SendEmailToCustomer"):
            if order["Email"]:
                name = shop.status_name(new["id"], order["Culture"])
                body = f"Din order {order['OrderNumber']} har fått status {name}."
                if order["TrackingNumber"]:
                    body += f" Spårningsnummer: {order['TrackingNumber']} {order['TrackingUrl']}".rstrip()
                shop.emails.append({
                    "shop_id": shop.shop_id, "order_id": oid, "order_number": order["OrderNumber"],
                    "to": order["Email"], "subject": f"Order {order['OrderNumber']}: {name}", "body": body,
                    "status_id": new["id"], "tracking_number": order["TrackingNumber"],
                    "tracking_url": order["TrackingUrl"], "sent_at": sb.now(shop).isoformat()})
            else:
                messages.append("No e-mail sent: the order has no e-mail address.")
        res["Success"] = True
        res["Message"] = " ".join(messages)
    return results


def order_capture_payment(sb: JetshopSandbox, shop: ShopState, params: dict[str, Any]) -> list[dict[str, Any]]:
    results = []
    for cap in params.get("paymentCaptures") or []:
        cap = cap or {}
        order = shop.orders.get(cap.get("OrderId"))
        if order is None:
            results.append({"OrderId": cap.get("OrderId") or 0, "Success": False,
                            "Message": f"Order {cap.get('OrderId')} not found.", "CaptureId": "",
                            "CapturedAmount": Decimal(0), "AlreadyCaptured": False, "PaymentTransactionId": ""})
            continue
        results.append(_capture(sb, shop, order, cap.get("Amount")))
    return results


def product_search(sb: JetshopSandbox, shop: ShopState, params: dict[str, Any]) -> dict[str, Any]:
    """MODELLED catalog listing: products in one culture, optionally modified in [from, to), paged.

    Ordered by article number so pages are stable while the catalog is being written to.
    """
    from sandbox.jetshop.catalog import product_record

    opts = params.get("productSearchOptions") or {}
    page_index = opts.get("PageIndex") or 0
    page_size = opts.get("PageSize") or 50
    if page_index < 0 or page_size < 1 or page_size > MAX_PAGE_SIZE:
        raise SoapFault(f"Server was unable to process request. ---> PageIndex must be >= 0 and PageSize "
                        f"between 1 and {MAX_PAGE_SIZE}.")
    culture = opts.get("Culture") or shop.default_culture
    lo, hi = opts.get("ModifiedFrom"), opts.get("ModifiedTo")
    numbers = [n for n, art in sorted(shop.products.items())
               if culture in art["cultures"]
               and (lo is None or art["global"]["ModifiedDate"] >= lo)
               and (hi is None or art["global"]["ModifiedDate"] < hi)]
    page = numbers[page_index * page_size:(page_index + 1) * page_size]
    return {"TotalCount": len(numbers), "PageIndex": page_index, "PageSize": page_size,
            "Products": [product_record(sb, shop, n, culture) for n in page]}


MODELLED_HANDLERS = {
    "OrderStatus_GetList": status_list,
    "Channel_GetList": channel_list,
    "Order_Search": order_search,
    "Order_Get": order_get,
    "Order_UpdateStatus": order_update_status,
    "Order_CapturePayment": order_capture_payment,
    "Product_Search": product_search,
}
assert tuple(MODELLED_HANDLERS) == MODELLED_OPERATIONS
