"""The Fortnox sandbox with decimal quantities (1.5 kg): stored as Fortnox stores them, reserved and
delivered from stock by the same amount; a quantity that is not a number is refused (UNCONFIRMED code)."""

from __future__ import annotations

from typing import Any

from tests.sandbox.fortnox.conftest import Api


def _balance(api: Api) -> dict[str, Any]:
    return dict(api.get("/api/warehouse/status-v1/stockbalance?itemIds=1003").json()[0])


def test_an_order_of_1_5_reserves_1_5_and_its_invoice_takes_1_5_out_of_stock(api: Api) -> None:
    start = _balance(api)
    response = api.post("/3/orders", {"Order": {"CustomerNumber": "1", "OrderRows": [
        {"ArticleNumber": "1003", "OrderedQuantity": "1.5", "DeliveredQuantity": "1.5", "Price": 100}]}})
    assert response.status_code == 201, response.text
    order = response.json()["Order"]
    row = order["OrderRows"][0]
    assert (row["OrderedQuantity"], row["DeliveredQuantity"], row["Total"]) == ("1.5", "1.5", 150)
    assert _balance(api)["availableStock"] == start["availableStock"] - 1.5
    assert api.get("/3/articles/1003").json()["Article"]["ReservedQuantity"] == 1.5
    api.put(f"/3/orders/{order['DocumentNumber']}/createinvoice")
    after = _balance(api)
    assert (after["inStock"], after["availableStock"]) == (start["inStock"] - 1.5, start["availableStock"] - 1.5)


def test_a_quantity_that_is_not_a_number_is_refused_with_the_numeric_error(api: Api) -> None:
    for text in ("1,5", "abc"):
        response = api.post("/3/invoices", {"Invoice": {"CustomerNumber": "1", "InvoiceRows": [
            {"ArticleNumber": "1001", "DeliveredQuantity": text, "Price": 100}]}})
        assert response.status_code == 400, response.text
        assert response.json()["ErrorInformation"]["code"] == 2000108
