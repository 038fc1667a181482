"""Query 2.0 entity sets over the catalog: Products/ProductSkus, Products/Products, Products/PriceLists."""

from __future__ import annotations

from tests.sandbox.norce.test_catalog_helpers import Env, env

__all__ = ["env"]


def test_product_sku_row_carries_what_a_shop_read_needs(env: Env) -> None:
    response = env.query("Products/ProductSkus('1001')")
    assert response.status_code == 200, response.text
    row = response.json()
    # 249.00 SEK incl. 25 % VAT → 199.20 ex VAT in the primary list SEK-BASE; stock 120 at MAIN/MAIN
    assert (row["PartNo"], row["Name"], row["EanCode"], row["VatRate"]) == ("1001", "T-shirt bomull",
                                                                             "7350000010015", 25)
    assert (row["PriceListCode"], row["CurrencyCode"], row["PriceSale"], row["OnhandValue"]) == (
        "SEK-BASE", "SEK", 199.2, 120)
    assert row["Updated"] == "2026-11-02T08:00:00.000Z"
    assert "Prices" not in row  # navigations only when expanded


def test_changed_since_finds_skus_whose_price_or_stock_changed(env: Env) -> None:
    env.move(3600)
    header = {"AccountId": 17, "FullFile": False, "SkuPriceListFieldsThatAreSet": [3]}
    env.submit("ImportSkuPriceLists", [{"PartNo": "1006", "PriceListCode": "SEK-BASE", "PriceSale": 99}], header)
    env.submit("ImportOnhands", [{"PartNo": "1007", "WarehouseCode": "MAIN", "LocationCode": "MAIN",
                                  "OnhandValue": 1}],
               {"AccountId": 17, "FullFile": False, "SkuOnhandFieldsThatAreSet": [3]})
    response = env.query("Products/ProductSkus", **{"$filter": "LastChanged ge 2026-11-02T08:30:00Z",
                                                     "$select": "PartNo,PriceSale,OnhandValue"})
    assert response.status_code == 200, response.text
    assert response.json()["value"] == [{"PartNo": "1006", "PriceSale": 99, "OnhandValue": 60},
                                        {"PartNo": "1007", "PriceSale": 63.2, "OnhandValue": 1}]


def test_products_expand_skus_and_price_lists(env: Env) -> None:
    response = env.query("Products/Products", **{"$filter": "Code eq '1002'", "$expand": "Skus($select=PartNo)",
                                                  "$select": "ManufacturerPartNo"})
    assert response.status_code == 200, response.text
    assert response.json()["value"] == [{"ManufacturerPartNo": p, "Skus": [{"PartNo": p}]}
                                        for p in ("1002", "1003", "1004", "1005")]
    lists = env.query("Products/PriceLists", **{"$select": "Code,CurrencyCode,IsPrimary"}).json()["value"]
    assert lists == [{"Code": "SEK-BASE", "CurrencyCode": "SEK", "IsPrimary": True},
                     {"Code": "EUR-BASE", "CurrencyCode": "EUR", "IsPrimary": False}]


def test_inactive_primary_price_is_not_reported(env: Env) -> None:
    header = {"AccountId": 17, "FullFile": False, "SkuPriceListFieldsThatAreSet": ["IsActive"]}
    env.submit("ImportSkuPriceLists", [{"PartNo": "1001", "PriceListCode": "SEK-BASE", "IsActive": False}], header)
    assert env.query("Products/ProductSkus('1001')").json()["PriceSale"] is None
