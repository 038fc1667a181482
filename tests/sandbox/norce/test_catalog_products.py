"""ImportProducts (norce-api.md §4.6): create/update rules, whitelists at every level, FullFile on variant clusters."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tests.sandbox.norce.test_catalog_helpers import Env, env

__all__ = ["env"]

HEADER: dict[str, Any] = {
    "AccountId": 17, "FullFile": False,
    "ProductFieldsThatAreSet": ["ManufacturerName", "Code", "Variants", "Cultures"],
    "ProductCultureFieldsThatAreSet": ["Name"], "VariantFieldsThatAreSet": ["ManufacturerPartNo", "Skus"],
    "SkuFieldsThatAreSet": ["Status", "Type", "EanCode", "VatRate", "StandardPrice"],
    "SkuCultureFieldsThatAreSet": ["ErpName"], "SkuPriceListFieldsThatAreSet": ["PriceSale"],
}


def _product(code: str, part_no: str, *, manufacturer: str | None = "ACME", **sku: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "Code": code, "ManufacturerName": "Acme AB",
        "Cultures": [{"CultureCode": "sv-SE", "Name": f"Produkt {part_no}", "Description": "Lång text"}],
        "Variants": [{"ManufacturerPartNo": part_no, "Skus": [{
            "PartNo": part_no, "Status": "Active", "Type": 14, "EanCode": "7350000020014", "CommodityCode": "6109",
            "VatRates": [{"SalesArea": "Sweden", "Rate": 12}], "StandardPrice": {"PriceSale": 80, "CostUnit": 20},
            "Cultures": [{"CultureCode": "sv-SE", "ErpName": f"ERP {part_no}", "Comment": "not listed"}], **sku}]}],
    }
    if manufacturer is not None:
        row["ManufacturerCode"] = manufacturer
    return row


def test_new_product_gets_only_whitelisted_fields(env: Env) -> None:
    job_id = env.submit("ImportProducts", [_product("2001", "2001")], HEADER)
    assert env.job(job_id)["StatusId"] == 2
    assert env.job(job_id)["Inserts"] == 1
    sku = env.catalog.product("2001")
    assert (sku["Status"], sku["Type"], sku["EanCode"]) == (1, 14, "7350000020014")
    assert sku["VatRates"] == [{"SalesArea": 1, "Rate": Decimal(12)}]
    assert sku["Cultures"] == {"sv-SE": {"ErpName": "ERP 2001"}}  # Comment not listed
    assert "CommodityCode" not in sku
    assert sku["StandardPrice"] == {"PriceSale": Decimal(80)}  # CostUnit not in SkuPriceListFieldsThatAreSet
    product = sku["Product"]
    assert (product["Code"], product["ManufacturerCode"], product["ManufacturerPartNo"]) == ("2001", "ACME", "2001")
    assert product["Cultures"] == {"sv-SE": {"Name": "Produkt 2001"}}  # Description not listed


def test_update_by_part_no_writes_only_listed_fields(env: Env) -> None:
    header: dict[str, Any] = {"AccountId": 17, "FullFile": False, "ProductFieldsThatAreSet": ["Variants"],
                              "VariantFieldsThatAreSet": ["Skus"], "SkuCultureFieldsThatAreSet": ["ErpName"]}
    row: dict[str, Any] = {"Variants": [{"Skus": [{"PartNo": "1001", "EanCode": "1111111111111",
                                   "Cultures": [{"CultureCode": "sv-SE", "ErpName": "T-shirt ekologisk"}]}]}]}
    job_id = env.submit("ImportProducts", [row], header)
    sku = env.catalog.product("1001")
    assert sku["Cultures"]["sv-SE"]["ErpName"] == "T-shirt ekologisk"
    assert sku["EanCode"] == "7350000010015"  # seeded EAN kept: EanCode not in SkuFieldsThatAreSet
    assert env.job(job_id)["Updates"] == 1
    # without Skus in VariantFieldsThatAreSet the SKU is not touched at all
    header["VariantFieldsThatAreSet"] = []
    row["Variants"][0]["Skus"][0]["Cultures"][0]["ErpName"] = "Ändrad"
    env.submit("ImportProducts", [row], header)
    assert env.catalog.product("1001")["Cultures"]["sv-SE"]["ErpName"] == "T-shirt ekologisk"


def test_product_without_manufacturer_code_cannot_be_created(env: Env) -> None:
    job_id = env.submit("ImportProducts", [_product("2001", "2001", manufacturer=None), _product("2002", "2002")],
                        HEADER)
    assert env.catalog.product("2001") is None
    assert env.catalog.product("2002") is not None
    errors = [e for e in env.log(job_id) if e["SeverityId"] == 3]
    assert len(errors) == 1
    assert "2001" in errors[0]["Message"] and "ManufacturerCode" in errors[0]["Message"]
    assert env.job(job_id)["Fail"] == 1


def test_rejected_sku_is_not_imported_and_the_rest_lands(env: Env) -> None:
    env.catalog.set_faults(reject_skus=["2002"])
    job_id = env.submit("ImportProducts", [_product("2001", "2001"), _product("2002", "2002")], HEADER)
    assert env.job(job_id)["StatusId"] == 2
    assert env.catalog.product("2002") is None
    assert env.catalog.product("2001") is not None
    errors = [e["Message"] for e in env.log(job_id) if e["SeverityId"] == 3]
    assert len(errors) == 1 and "PartNo '2002'" in errors[0]


def test_code_is_required_when_full_file_or_whitelisted(env: Env) -> None:
    row = _product("2001", "2001")
    del row["Code"]
    response = env.post("ImportProducts", [row], HEADER)
    assert response.json()["ValidationSummary"]["NrOfValidationFailures"] == 1
    assert "Code" in response.json()["ValidationSummary"]["Messages"][0]
    lenient = HEADER | {"ProductFieldsThatAreSet": ["Variants"]}
    assert env.post("ImportProducts", [row], lenient).json()["ValidationSummary"]["NrOfValidationFailures"] == 0
    strict = lenient | {"FullFile": True}
    assert env.post("ImportProducts", [row], strict).json()["ValidationSummary"]["NrOfValidationFailures"] == 1


def test_full_file_removes_left_out_products_from_the_variant_cluster(env: Env) -> None:
    # seeded cluster "1002" holds the products 1002, 1003, 1004, 1005
    header = {"AccountId": 17, "FullFile": True, "ProductFieldsThatAreSet": ["Code", "Variants"],
              "VariantFieldsThatAreSet": ["Skus"]}
    row = {"Code": "1002", "Variants": [{"Skus": [{"PartNo": "1003"}]}, {"Skus": [{"PartNo": "1004"}]}]}
    job_id = env.submit("ImportProducts", [row], header)
    codes = {p: env.catalog.product(p)["Product"]["Code"] for p in ("1001", "1002", "1003", "1004", "1005")}
    assert codes == {"1001": "1001", "1002": None, "1003": "1002", "1004": "1002", "1005": None}
    seen = env.catalog.jobs_seen[-1]
    assert seen["JobId"] == job_id and seen["FullFile"] is True and len(seen["Effects"]) == 2


def test_unknown_enum_name_in_a_row_fails_validation(env: Env) -> None:
    response = env.post("ImportProducts", [_product("2001", "2001", Status="Sold")], HEADER)
    summary = response.json()["ValidationSummary"]
    assert summary["NrOfValidationFailures"] == 1
    assert "Status" in summary["Messages"][0] and "Sold" in summary["Messages"][0]
