"""Warehouse purchase orders (``/api/warehouse/purchaseorders-v1``): the admin route adds them, the API
lists them as a bare camelCase array (checked against the official contract by ``api``) with the
remaining quantity per row, the state and item filters, single reads and the warehouse error body."""

from __future__ import annotations

import datetime as dt
from typing import Any

import requests

from sandbox.fortnox.oauth import ALL_SCOPES

from .conftest import Api, Server

PATH = "/api/warehouse/purchaseorders-v1"


def _add(api: Api, body: dict[str, Any]) -> requests.Response:
    url = f"{api.server.base}/_sandbox/companies/{api.credentials.tenant_id}/purchaseorders"
    return requests.post(url, json=body, timeout=10)


def _today(api: Api) -> dt.date:
    return api.server.sandbox.clock.today()


def test_an_added_order_is_listed_with_what_is_left_to_receive(api: Api) -> None:
    assert api.get(PATH).json() == []
    day = (_today(api) + dt.timedelta(days=12)).isoformat()
    added = _add(api, {"deliveryDate": day, "supplierNumber": "7", "rows": [
        {"itemId": "1001", "orderedQuantity": 10, "receivedQuantity": 4, "price": 20},
        {"itemId": "1002", "orderedQuantity": 3, "stockPointCode": "LAGER2"}]})
    assert added.status_code == 201, added.text
    listed = api.get(PATH).json()
    assert isinstance(listed, list) and len(listed) == 1
    order = listed[0]
    assert (order["id"], order["deliveryDate"], order["supplierNumber"]) == (1, day, "7")
    assert (order["purchaseOrderState"], order["purchaseType"], order["stockPointCode"]) == ("SENT", "WAREHOUSE", "LAGER1")
    rows = {r["itemId"]: r for r in order["rows"]}
    assert (rows["1001"]["orderedQuantity"], rows["1001"]["receivedQuantity"], rows["1001"]["remainingOrderedQuantity"]) == (10, 4, 6)
    assert (rows["1002"]["remainingOrderedQuantity"], rows["1002"]["stockPointCode"]) == (3, "LAGER2")
    assert rows["1001"]["stockPointCode"] == "LAGER1"  # the order's stock point when the row names none
    assert order["totalReceivedQuantity"] == 4 and order["orderValue"] == 10 * 20 + 3 * rows["1002"]["price"]
    assert api.get(f"{PATH}/1").json() == order
    assert api.validated == 3


def test_state_and_item_filters(api: Api) -> None:
    day = (_today(api) + dt.timedelta(days=3)).isoformat()
    past = (_today(api) - dt.timedelta(days=3)).isoformat()
    _add(api, {"deliveryDate": day, "rows": [{"itemId": "1001", "orderedQuantity": 2}]})  # 1: sent
    _add(api, {"deliveryDate": day, "purchaseOrderState": "NOT_SENT",
               "rows": [{"itemId": "1002", "orderedQuantity": 2}]})  # 2: not sent
    _add(api, {"deliveryDate": day, "rows": [{"itemId": "1001", "orderedQuantity": 2, "receivedQuantity": 2}]})  # 3
    _add(api, {"deliveryDate": day, "voided": True, "rows": [{"itemId": "1003", "orderedQuantity": 1}]})  # 4
    _add(api, {"deliveryDate": past, "rows": [{"itemId": "1003", "orderedQuantity": 1}]})  # 5: late

    def ids(query: str) -> list[int]:
        return [o["id"] for o in api.get(f"{PATH}{query}").json()]

    assert ids("") == [1, 2, 5] == ids("?state=CURRENT")
    assert ids("?state=ALL") == [1, 2, 3, 4, 5]
    assert ids("?state=RECEIVED") == [3] and ids("?state=VOIDED") == [4]
    assert ids("?state=NOT_SENT") == [2] and ids("?state=SENT") == [1, 5] and ids("?state=DELAYED") == [5]
    assert ids("?itemId=1001") == [1] and ids("?itemId=1001&state=ALL") == [1, 3]
    states = {o["id"]: o["purchaseOrderState"] for o in api.get(f"{PATH}?state=ALL").json()}
    assert states == {1: "SENT", 2: "NOT_SENT", 3: "RECEIVED", 4: "VOIDED", 5: "SENT"}


def test_unknown_order_bad_id_and_bad_state_answer_with_the_warehouse_error_body(api: Api) -> None:
    missing = api.get(f"{PATH}/999")
    assert missing.status_code == 404
    assert set(missing.json()) == {"error", "message", "id"}
    assert api.get(f"{PATH}?state=OPEN").status_code == 400
    assert api.get(f"{PATH}/abc", contract=False).status_code == 400


def test_a_client_without_the_warehouse_scope_is_refused_like_the_stock_balance(api: Api, server: Server) -> None:
    _add(api, {"deliveryDate": "2030-01-01", "rows": [{"itemId": "1001", "orderedQuantity": 1}]})
    other = server.sandbox.add_client(api.credentials.tenant_id,
                                      scopes=tuple(s for s in ALL_SCOPES if s != "warehouse"))
    token = server.token(other)
    for path in (PATH, f"{PATH}/1", "/api/warehouse/status-v1/stockbalance"):
        answer = api.get(path, token=token, contract=False)
        assert answer.status_code == 400
        assert answer.json()["ErrorInformation"]["code"] == 2000663
    assert len(api.get(PATH).json()) == 1  # the integration with the scope still reads it


def test_admin_route_refuses_what_it_cannot_store_and_shows_the_state(api: Api, server: Server) -> None:
    tenant = api.credentials.tenant_id
    base = f"{server.base}/_sandbox/companies/{tenant}/purchaseorders"
    refused = _add(api, {"deliveryDate": "2030-01-01", "rows": [{"itemId": "nope", "orderedQuantity": 1}]})
    assert refused.status_code == 422 and "rows[0].itemId" in refused.json()["detail"]
    bad_date = _add(api, {"deliveryDate": "2030-02-30", "rows": [{"itemId": "1001", "orderedQuantity": 1}]})
    assert bad_date.status_code == 422 and "deliveryDate" in bad_date.json()["detail"]
    negative = _add(api, {"deliveryDate": "2030-01-01", "rows": [{"itemId": "1001", "orderedQuantity": -1}]})
    assert negative.status_code == 422 and "rows[0].orderedQuantity" in negative.json()["detail"]
    assert _add(api, {"deliveryDate": "2030-01-01", "rows": []}).status_code == 422
    assert requests.get(base, timeout=10).json() == {"purchaseorders": []}
    _add(api, {"deliveryDate": "2030-01-01", "rows": [{"itemId": "1001", "orderedQuantity": 1}]})
    state = requests.get(base, timeout=10).json()["purchaseorders"]
    assert [(o["id"], o["deliveryDate"]) for o in state] == [(1, "2030-01-01")]
    assert requests.get(f"{server.base}/_sandbox/companies/1/purchaseorders", timeout=10).status_code == 404
    server.sandbox.reset()
    assert requests.get(base, timeout=10).json() == {"purchaseorders": []}
