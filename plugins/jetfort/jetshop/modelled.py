"""The Jetshop order operations jetfort MODELS, listed in one place.

The real Jetshop web service has order operations, but their names and shapes are not public
(see ../shared reference jetshop-api.md section 9.3). jetfort's shipped WSDL and the sandbox use the
names below. When a live ``?WSDL`` is obtained, map the real names here: the hook only ever calls
operations through :data:`ORDER_OPERATIONS`, so nothing else has to change.
"""

from __future__ import annotations

from typing import Final

#: jetfort's role name -> SOAP operation name (MODELLED, not confirmed against the live service)
ORDER_OPERATIONS: Final[dict[str, str]] = {
    "list_statuses": "OrderStatus_GetList",
    "list_channels": "Channel_GetList",
    "search_orders": "Order_Search",
    "get_order": "Order_Get",
    "update_status": "Order_UpdateStatus",
    "capture_payment": "Order_CapturePayment",
}

#: jetfort's role name -> MODELLED catalog operation: the confirmed operations cannot list a shop's
#: assortment (jetshop-api.md §2.11), which the catalog flows and the drift report need. Same
#: conventions as Order_Search (``<Entity>_<Verb>``, ModifiedFrom/To, PageIndex from 0, TotalCount).
CATALOG_OPERATIONS: Final[dict[str, str]] = {
    "search_products": "Product_Search",
}

#: operations confirmed from captured real traffic (names, elements and quirks)
CONFIRMED_OPERATIONS: Final[tuple[str, ...]] = (
    "Product_Get",
    "Product_AddUpdate",
    "Product_Delete",
    "PriceList_UpdateArticleIncVAT",
    "ProductDynamicField_GetProductDynamicFieldData",
    "ProductDynamicField_SaveProductDynamicFieldData",
)

MODELLED_OPERATIONS: Final[tuple[str, ...]] = (*ORDER_OPERATIONS.values(), *CATALOG_OPERATIONS.values())
