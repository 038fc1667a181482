"""Query 2.0 Orders/Orders and Core lookups: OData options, paging, shapes — values written from the seed by hand."""

from __future__ import annotations

from typing import Any

import requests

from sandbox.norce.state import NorceSandbox
from tests.sandbox.norce.conftest import QUERY

INCREMENTAL = ("ApplicationId eq 1244 and (Updated ge 2025-06-11T00:00:00Z or (Updated eq null and "
               "Created ge 2025-06-11T00:00:00Z)) and Id le 5005")


def get(http: requests.Session, base_url: str, path: str, **params: Any) -> requests.Response:
    return http.get(base_url + QUERY + path, params=params, timeout=30)


def test_incremental_pull_filter_selects_changed_or_new_orders(http: requests.Session, base_url: str) -> None:
    body = get(http, base_url, "Orders/Orders", **{"$filter": INCREMENTAL, "$orderby": "Id"}).json()
    # 100102 was updated 2025-06-11T12:00Z; 100104/100105 were created on 2025-06-11 and never updated
    assert [r["Id"] for r in body["value"]] == [5002, 5004, 5005]
    assert [r["OrderNo"] for r in body["value"]] == ["9001", "100104", "100105"]
    assert body["value"][0]["Updated"] == "2025-06-11T12:00:00Z"
    assert body["value"][1]["Updated"] is None
    assert "@odata.nextLink" not in body
    assert body["@odata.context"].endswith("/commerce/query/2.0/Orders/$metadata#Orders")


def test_order_row_shape_and_navigations_only_when_expanded(http: requests.Session, base_url: str) -> None:
    plain = get(http, base_url, "Orders/Orders", **{"$filter": "Id eq 5001"}).json()["value"][0]
    assert "Items" not in plain and "Buyer" not in plain
    assert plain["QuotationId"] == 100101
    assert plain["OrderDate"] == "2025-06-09T12:00:00Z"
    assert plain["StatusId"] == 0 and plain["TypeId"] == 1 and plain["Source"] == "WEB"
    assert plain["CurrencyId"] == 1
    assert plain["FreightCost"] == 39.2  # 49.00 incl. 25 % VAT
    row = get(http, base_url, "Orders/Orders", **{"$filter": "Id eq 5001",
                                                  "$expand": "Items,Buyer,ShipTo"}).json()["value"][0]
    tee, freight = row["Items"]
    assert (tee["PartNo"], tee["QtyOrdered"], tee["PriceSale"], tee["VatRate"], tee["LineAmount"]) == \
        ("1001", 2.0, 199.2, 25.0, 398.4)
    assert (freight["PartNo"], freight["LineAmount"]) == ("FREIGHT", 39.2)
    assert tee["OrderId"] == 5001 and tee["LineNumber"] == 1.0
    assert row["Buyer"]["Name"] == "Anna Andersson" and row["Buyer"]["CountryId"] == 1
    assert row["ShipTo"]["ZipCode"] == "11122"
    assert "Payer" not in row


def test_decimal_quantity_and_eur_and_b2b_rows(http: requests.Session, base_url: str) -> None:
    rows = get(http, base_url, "Orders/Orders", **{"$filter": "Id ge 5002 and Id le 5004", "$orderby": "Id",
                                                   "$expand": "Items,Buyer"}).json()["value"]
    assert rows[0]["Items"][0]["QtyOrdered"] == 1.5
    assert rows[0]["Items"][0]["PriceSale"] == 79.4643  # 89.00 incl. 12 %
    assert rows[1]["Buyer"]["Name"] == "Exempel AB" and rows[1]["Buyer"]["Attention"] == "Bertil Berg"
    assert rows[1]["DeliveryMark"] == "PO-4711"
    assert rows[2]["CurrencyId"] == 2 and rows[2]["Items"][0]["VatRate"] == 25.5
    assert rows[2]["Buyer"]["CountryId"] == 4


def test_select_and_nested_expand_options(http: requests.Session, base_url: str) -> None:
    row = get(http, base_url, "Orders/Orders", **{"$filter": "Id eq 5003", "$select": "Id,OrderNo",
                                                  "$expand": "Items($select=PartNo;$filter=PartNo ne 'FREIGHT')"}
              ).json()["value"][0]
    assert row == {"Id": 5003, "OrderNo": "100103", "Items": [{"PartNo": "1004"}, {"PartNo": "1016"}]}


def test_server_pages_by_500_with_a_next_link_that_keeps_the_filter(http: requests.Session, base_url: str,
                                                                    sb: NorceSandbox) -> None:
    for _ in range(1001):
        sb.add_order({"rows": [{"part_no": "1001", "qty": 1}]}, push=False)  # ids 5021 ... 6021
    params = {"$filter": "Id gt 5020", "$orderby": "Id"}
    first = get(http, base_url, "Orders/Orders", **params).json()
    assert len(first["value"]) == 500
    assert (first["value"][0]["Id"], first["value"][-1]["Id"]) == (5021, 5520)
    assert "$skip=500" in first["@odata.nextLink"]
    second = http.get(first["@odata.nextLink"], timeout=30).json()
    assert (second["value"][0]["Id"], second["value"][-1]["Id"]) == (5521, 6020)
    third = http.get(second["@odata.nextLink"], timeout=30).json()
    assert [r["Id"] for r in third["value"]] == [6021]
    assert "@odata.nextLink" not in third


def test_top_is_clamped_to_500_without_a_next_link(http: requests.Session, base_url: str,
                                                   sb: NorceSandbox) -> None:
    for _ in range(600):
        sb.add_order({"rows": [{"part_no": "1001", "qty": 1}]}, push=False)
    body = get(http, base_url, "Orders/Orders", **{"$top": "1000", "$orderby": "Id"}).json()
    assert len(body["value"]) == 500 and "@odata.nextLink" not in body
    few = get(http, base_url, "Orders/Orders", **{"$top": "3", "$skip": "2", "$orderby": "Id desc"}).json()
    assert [r["Id"] for r in few["value"]] == [5618, 5617, 5616]  # 620 orders: 5001 ... 5620


def test_unknown_property_in_filter_is_an_odata_400(http: requests.Session, base_url: str) -> None:
    response = get(http, base_url, "Orders/Orders", **{"$filter": "OrderTotal gt 100"})
    assert response.status_code == 400
    assert "OrderTotal" in response.json()["error"]["message"]


def test_quoted_datetime_and_unknown_function_are_refused(http: requests.Session, base_url: str) -> None:
    quoted = get(http, base_url, "Orders/Orders", **{"$filter": "Created ge '2025-06-11T00:00:00Z'"})
    assert quoted.status_code == 400
    function = get(http, base_url, "Orders/Orders", **{"$filter": "contains(OrderNo,'10')"})
    assert function.status_code == 400


def test_unknown_expand_and_unknown_entity_set(http: requests.Session, base_url: str) -> None:
    assert get(http, base_url, "Orders/Orders", **{"$expand": "Lines"}).status_code == 400
    missing = get(http, base_url, "Orders/Invoicez")
    assert missing.status_code == 404 and "error" in missing.json()


def test_paths_match_case_insensitively(http: requests.Session, base_url: str) -> None:
    response = http.get(base_url + "/commerce/Query/2.0/orders/ORDERS", params={"$filter": "Id eq 5001"},
                        timeout=10)
    assert response.status_code == 200 and response.json()["value"][0]["Id"] == 5001


def test_single_entity_by_key_is_the_bare_object(http: requests.Session, base_url: str) -> None:
    body = get(http, base_url, "Orders/Orders(5005)").json()
    assert body["Id"] == 5005 and body["OrderNo"] == "100105" and "value" not in body


def test_core_lookups(http: requests.Session, base_url: str) -> None:
    currencies = get(http, base_url, "Core/Currencies").json()["value"]
    assert {c["Code"]: c["Id"] for c in currencies}["EUR"] == 2
    countries = get(http, base_url, "Core/Countries", **{"$filter": "Code eq 'FI'"}).json()["value"]
    assert [c["Id"] for c in countries] == [4]
    methods = get(http, base_url, "Core/PaymentMethods", **{"$filter": "Id eq 2"}).json()["value"]
    assert methods[0]["Code"] == "ADYEN"
