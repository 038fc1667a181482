"""What the Connect Product Service refuses at the door, and the JobResponse it answers (norce-api.md §4.1, §4.2)."""

from __future__ import annotations

import json
from decimal import Decimal

from tests.sandbox.norce.test_catalog_helpers import Env, env, onhand, onhand_header, price_header

__all__ = ["env"]


def test_import_without_header_is_refused_and_queues_nothing(env: Env) -> None:
    response = env.post("ImportOnhands", [onhand("1001", 5)], None)
    assert response.status_code == 400
    assert "X-StormConnect-Header" in response.text
    assert env.catalog.jobs_seen == []


def test_header_that_is_not_json_or_lacks_account_id_is_refused(env: Env) -> None:
    rows = [onhand("1001", 5)]
    assert env.post("ImportOnhands", rows, "AccountId=17").status_code == 400
    assert env.post("ImportOnhands", rows, "[17]").status_code == 400
    missing = env.post("ImportOnhands", rows, {"FullFile": False, "SkuOnhandFieldsThatAreSet": [3]})
    assert missing.status_code == 400
    assert "AccountId" in missing.text
    unknown_account = env.post("ImportOnhands", rows, onhand_header(3) | {"AccountId": 99})
    assert unknown_account.status_code == 400
    assert env.catalog.jobs_seen == []


def test_full_file_is_required_where_the_header_type_has_it(env: Env) -> None:
    without = {"AccountId": 17, "SkuOnhandFieldsThatAreSet": [3]}
    response = env.post("ImportOnhands", [onhand("1001", 5)], without)
    assert response.status_code == 400
    assert "FullFile" in response.text
    # PriceListHeader has no FullFile (§4.5): accepted without it
    ok = env.post("ImportPriceLists", [{"Code": "SEK-BASE"}], {"AccountId": 17, "PriceListFieldsThatAreSet": [0]})
    assert ok.status_code == 200, ok.text


def test_missing_bearer_token_is_401(env: Env) -> None:
    response = env.client.post("/commerce/connect/4.0/Product/ImportOnhands", content="[]",
                               headers={"X-StormConnect-Header": json.dumps(onhand_header(3))})
    assert response.status_code == 401


def test_enum_names_integers_and_property_case_are_all_accepted(env: Env) -> None:
    by_name = env.submit("ImportOnhands", [onhand("1001", 11)], onhand_header("OnhandValue"))
    lower = '{"accountid":17,"fullfile":"false","skuonhandfieldsthatareset":["onhandvalue", 10]}'
    by_lower = env.submit("ImportOnhands", [{"partno": "1006", "warehousecode": "MAIN", "locationcode": "MAIN",
                                             "onhandvalue": "12.5", "isactive": True}], lower)
    env.catalog.jobs.process_all()
    assert env.job(by_name)["StatusId"] == 2
    assert env.job(by_lower)["StatusId"] == 2
    assert env.catalog.onhand("1001")["OnhandValue"] == Decimal("11")
    assert env.catalog.onhand("1006")["OnhandValue"] == Decimal("12.5")
    assert env.catalog.jobs_seen[1]["FieldsThatAreSet"] == {"SkuOnhandFieldsThatAreSet": ["OnhandValue", "IsActive"]}


def test_unknown_enum_value_in_header_is_refused_naming_it(env: Env) -> None:
    response = env.post("ImportOnhands", [onhand("1001", 1)], onhand_header("OnHand"))
    assert response.status_code == 400
    assert "SkuOnhandFieldsThatAreSet" in response.text and "OnHand" in response.text
    assert env.post("ImportOnhands", [onhand("1001", 1)], onhand_header(2)).status_code == 400  # 0-2 are keys


def test_ignore_when_empty_must_be_allowed_and_also_set(env: Env) -> None:
    not_set = env.post("ImportSkuPriceLists", [], price_header(3, IgnoreSkuPriceListFieldsWhenEmpty=[6]))
    assert not_set.status_code == 400
    assert "PriceRecommended" in not_set.text
    not_allowed = env.post("ImportSkuPriceLists", [], price_header(3, 9, IgnoreSkuPriceListFieldsWhenEmpty=[9]))
    assert not_allowed.status_code == 400
    assert env.post("ImportSkuPriceLists", [], price_header(3, IgnoreSkuPriceListFieldsWhenEmpty=[3])).status_code \
        == 200


def test_body_may_be_concatenated_objects_but_must_be_json(env: Env) -> None:
    stream = json.dumps(onhand("1001", 4)) + json.dumps(onhand("1006", 6))
    response = env.post("ImportOnhands", stream, onhand_header(3))
    assert response.status_code == 200, response.text
    assert response.json()["ValidationSummary"]["NrOfItemsInTotal"] == 2
    assert env.post("ImportOnhands", "PartNo;1001", onhand_header(3)).status_code == 400
    assert env.post("ImportOnhands", "", onhand_header(3)).status_code == 400
    assert env.post("ImportOnhands", "[1] [2]", onhand_header(3)).status_code == 400


def test_job_response_counts_rows_that_cannot_be_bound(env: Env) -> None:
    rows = [onhand("1001", 5), {"WarehouseCode": "MAIN", "LocationCode": "MAIN", "OnhandValue": 1},
            onhand("1006", "many"), onhand("1007", None), "not an object"]
    response = env.post("ImportOnhands", rows, onhand_header(3))
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"StatusCode", "Description", "JobId", "ValidationSummary"}
    assert isinstance(body["JobId"], str) and body["JobId"].isdigit()
    summary = body["ValidationSummary"]
    assert summary["NrOfItemsInTotal"] == 5
    assert summary["NrOfValidationFailures"] == 4
    messages = summary["Messages"]
    assert any(m.startswith("Row 2") and "PartNo" in m for m in messages)
    assert any("Row 3 (PartNo '1006')" in m and "OnhandValue" in m and "many" in m for m in messages)
    assert any("Row 4 (PartNo '1007')" in m and "OnhandValue" in m and "null" in m for m in messages)
    assert any(m.startswith("Row 5") for m in messages)


def test_job_routes_check_the_id(env: Env) -> None:
    assert env.get("Job/Get", id=123456).status_code == 404
    assert env.get("Job/GetLog", id=123456).status_code == 404
    assert env.get("Job/Get", id="abc").status_code == 400
    assert env.get("Job/Get").status_code == 400
    assert env.get("Job/Ping").status_code == 200
    assert env.client.get("/commerce/connect/4.0/Job/Get", params={"id": 1}).status_code == 401
    job_id = env.submit("ImportOnhands", [onhand("1001", 1)], onhand_header(3))
    assert env.get("api/Job/Get", id=job_id).json()["JobId"] == job_id
    assert env.get("api/Job/GetLog", id=job_id).status_code == 200
