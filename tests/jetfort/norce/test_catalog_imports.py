"""Catalog imports against the reference (§4): bodies, X-StormConnect-Header with exactly the fields set, never
FullFile true, jobs of at most 500 rows, and the job outcome read from Job/Get + Job/GetLog."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from jetfort.norce import catalog as cat
from jetfort.shop.errors import ShopError, ShopRejected
from jetfort.shop.interface import CatalogWrite, JobState, PendingJob
from jetfort.shop.models import PriceListPrice, ProductUpsert, StockUpdate
from tests.jetfort.norce.fake_norce import NOW, FakeNorce, make_shop

STOCKHOLM = ZoneInfo("Europe/Stockholm")


def header(post_headers: dict[str, object]) -> dict[str, object]:
    text = post_headers["X-StormConnect-Header"]
    assert isinstance(text, str) and "\n" not in text and " " not in text
    return json.loads(text)  # type: ignore[no-any-return]


def test_product_row_and_header_name_exactly_the_fields_set() -> None:
    upsert = ProductUpsert(article_number="A-100-RED", culture="sv-SE", name="Mugg", description="En mugg",
                           parent_article_number="A-100", att_value="Röd", ean="7350000000017",
                           vat_rate=Decimal("0.25"), weight=Decimal("0.4"), hide_product=False,
                           manufacturer="DEMO", manufacturer_article_number="D-1")
    [batch] = cat.product_batches([upsert], account_id=17)
    assert batch.operation == "Product/ImportProducts" and batch.keys == ("A-100-RED",)
    assert batch.rows == [{
        "Code": "A-100", "ManufacturerCode": "DEMO", "ManufacturerName": "DEMO",
        "Cultures": [{"CultureCode": "sv-SE", "Name": "Mugg", "Description": "En mugg"}],
        "Variants": [{"ManufacturerPartNo": "D-1", "Cultures": [{"CultureCode": "sv-SE", "Name": "Röd"}],
                      "Skus": [{"PartNo": "A-100-RED", "Status": 1, "EanCode": "7350000000017",
                                "ActualWeight": Decimal("0.4"), "VatRates": [{"SalesArea": 1, "Rate": Decimal(25)}]}]}],
    }]
    # ProductField 0 ManufacturerCode, 1 ManufacturerName, 3 Code, 4 Variants, 5 Cultures; ProductCultureField 0 Name,
    # 5 Description; VariantField 0 ManufacturerPartNo, 4 Cultures, 5 Skus; VariantCultureField 0 CultureCode, 1 Name;
    # SkuField 1 Status, 5 EanCode, 14 ActualWeight, 21 VatRate
    assert batch.header == {
        "AccountId": 17, "FullFile": False, "SerializationType": 0,
        "ProductFieldsThatAreSet": [0, 1, 3, 4, 5], "ProductCultureFieldsThatAreSet": [0, 5],
        "VariantFieldsThatAreSet": [0, 4, 5], "VariantCultureFieldsThatAreSet": [0, 1],
        "SkuFieldsThatAreSet": [1, 5, 14, 21]}


def test_a_bare_upsert_writes_nothing_but_finds_its_sku() -> None:
    [batch] = cat.product_batches([ProductUpsert(article_number="B-1", hide_product=True)], account_id=17)
    assert batch.rows == [{"Variants": [{"Skus": [{"PartNo": "B-1", "Status": 4}]}]}]
    assert batch.header["ProductFieldsThatAreSet"] == [4] and batch.header["ProductCultureFieldsThatAreSet"] == []
    assert batch.header["SkuFieldsThatAreSet"] == [1] and batch.header["VariantFieldsThatAreSet"] == [5]


def test_rows_setting_different_fields_go_in_different_jobs_of_at_most_500() -> None:
    named = [ProductUpsert(article_number=f"N-{i}", name=f"n{i}") for i in range(1200)]
    priced = [ProductUpsert(article_number=f"E-{i}", ean=str(i)) for i in range(3)]
    batches = cat.product_batches(named + priced, account_id=17)
    assert [len(b.rows) for b in batches] == [500, 500, 200, 3]
    assert batches[1].keys[0] == "N-500" and batches[3].keys == ("E-0", "E-1", "E-2")
    assert batches[0].header["ProductCultureFieldsThatAreSet"] == [0] and batches[0].header["SkuFieldsThatAreSet"] == []
    assert batches[3].header["ProductCultureFieldsThatAreSet"] == [] and batches[3].header["SkuFieldsThatAreSet"] == [5]


def test_vat_rate_for_a_culture_without_sales_area_is_named() -> None:
    with pytest.raises(ShopRejected, match=r"article X-1: vat_rate for culture 'de-DE'"):
        cat.product_batches([ProductUpsert(article_number="X-1", culture="de-DE", vat_rate=Decimal("0.19"))],
                            account_id=17)


def test_prices_go_ex_vat_with_the_regular_price_as_previous_when_discounted() -> None:
    prices = [PriceListPrice(article_number="A-1", price_list_id="SEK-BASE", price_inc_vat=Decimal("125.00")),
              PriceListPrice(article_number="B-2", price_list_id="SEK-BASE", price_inc_vat=Decimal("99.90"),
                             discounted_price_inc_vat=Decimal("79.90")),
              PriceListPrice(article_number="C-3", price_list_id="SEK-BASE", price_inc_vat=Decimal(10))]
    batches, refused = cat.price_batches(prices, account_id=17, vat_rates={"A-1": Decimal("0.25"),
                                                                           "B-2": Decimal("0.12")})
    assert [(r.key, r.success) for r in refused] == [("C-3@SEK-BASE", False)] and "VAT" in refused[0].message
    assert [(b.rows, b.header, b.keys) for b in batches] == [
        ([{"PartNo": "A-1", "PriceListCode": "SEK-BASE", "QuantityBreak": 1, "PriceSale": Decimal("100.0000")}],
         {"AccountId": 17, "FullFile": False, "SerializationType": 0, "SkuPriceListFieldsThatAreSet": [3]},
         ("A-1@SEK-BASE",)),
        # 99.90 / 1.12 = 89.1964..., 79.90 / 1.12 = 71.3392...
        ([{"PartNo": "B-2", "PriceListCode": "SEK-BASE", "QuantityBreak": 1, "PriceSale": Decimal("71.3393"),
           "PricePrevious": Decimal("89.1964")}],
         {"AccountId": 17, "FullFile": False, "SerializationType": 0, "SkuPriceListFieldsThatAreSet": [3, 7]},
         ("B-2@SEK-BASE",))]


def test_onhands_carry_next_delivery_and_lead_time_only_when_a_date_is_known() -> None:
    updates = [StockUpdate(article_number="A-1", stock_count=7),
               StockUpdate(article_number="B-2", stock_count=0,
                           delivery_date=datetime(2026, 12, 12, 0, 0, tzinfo=STOCKHOLM))]
    batches = cat.onhand_batches(updates, account_id=17, warehouse_code="MAIN", location_code="MAIN",
                                 now=datetime(2026, 12, 5, 23, 30, tzinfo=UTC), tz=STOCKHOLM)
    assert [(b.rows, b.header["SkuOnhandFieldsThatAreSet"]) for b in batches] == [
        ([{"PartNo": "A-1", "WarehouseCode": "MAIN", "LocationCode": "MAIN", "OnhandValue": 7}], [3]),
        ([{"PartNo": "B-2", "WarehouseCode": "MAIN", "LocationCode": "MAIN", "OnhandValue": 0,
           "NextDeliveryDate": "2026-12-11T23:00:00Z", "LeadTimeDayCount": 6}], [3, 5, 6])]
    # 23:30 UTC on the 5th is already the 6th in Stockholm (UTC+1): 6 days to the 12th; a past date is 0 days
    assert cat.lead_time_days(datetime(2026, 12, 1, tzinfo=UTC), now=NOW, tz=STOCKHOLM) == 0


def test_every_write_submits_jobs_and_never_a_full_file() -> None:
    fake = FakeNorce(products=[{"PartNo": "A-1", "VatRate": 25}])
    shop = make_shop(fake)
    stock = StockUpdate(article_number="A-1", stock_count=3)
    wrote: list[CatalogWrite[Any]] = [shop.upsert_products([ProductUpsert(article_number="A-1", name="x", stock=stock)]),
             shop.update_prices([PriceListPrice(article_number="A-1", price_list_id="SEK-BASE",
                                                price_inc_vat=Decimal(125))]),
             shop.update_stock([stock])]
    assert [[(j.operation, j.keys) for j in w.jobs] for w in wrote] == [
        [("Product/ImportProducts", ("A-1",)), ("Product/ImportOnhands", ("A-1",))],
        [("Product/ImportSkuPriceLists", ("A-1@SEK-BASE",))],
        [("Product/ImportOnhands", ("A-1",))]]
    assert all(w.results == [] for w in wrote)
    assert len(fake.posts) == 4
    for post in fake.posts:
        assert header(post.headers)["FullFile"] is False and header(post.headers)["AccountId"] == 17
    price_post = next(p for p in fake.posts if p.op == "Product/ImportSkuPriceLists")
    assert price_post.body == [{"PartNo": "A-1", "PriceListCode": "SEK-BASE", "QuantityBreak": 1,
                                "PriceSale": Decimal(100)}]


def test_a_full_file_header_is_refused_before_sending() -> None:
    with pytest.raises(ShopError, match="FullFile"):
        cat.header_text({"AccountId": 17, "FullFile": True})
    with pytest.raises(ShopError, match="FullFile"):
        cat.header_text({"AccountId": 17})


def test_imports_need_the_account_id() -> None:
    shop = make_shop(FakeNorce(), account_id=None)
    with pytest.raises(ShopError, match="account_id"):
        shop.update_stock([StockUpdate(article_number="A-1", stock_count=1)])


def test_an_answer_without_job_id_is_an_error() -> None:
    fake = FakeNorce()
    fake._apply = lambda op, body: {"StatusCode": "Failed", "Description": "no"}  # type: ignore[method-assign]
    with pytest.raises(ShopError, match="JobId"):
        make_shop(fake).update_stock([StockUpdate(article_number="A-1", stock_count=1)])


# ------------------------------------------------------------------------------------------ job outcome
def outcome(fake: FakeNorce, job_id: int, keys: tuple[str, ...], op: str = "Product/ImportOnhands"):  # type: ignore[no-untyped-def]
    return make_shop(fake).job_outcome(PendingJob(str(job_id), op, keys))


@pytest.mark.parametrize("status", [1, 5, 6])
def test_unfinished_job_is_running(status: int) -> None:
    fake = FakeNorce()
    job = fake.add_job(status)
    assert outcome(fake, job, ("A-1",)).state is JobState.RUNNING
    assert fake.gets == [("Job/Get", {"id": job})]  # the log is not read before the end


def test_succeeded_job_maps_error_rows_to_their_skus() -> None:
    fake = FakeNorce()
    job = fake.add_job(2, [
        {"SeverityId": 1, "Message": "Starting import.", "ImportedRow": None},
        {"SeverityId": 3, "Message": "Sku not found", "ImportedRow": '{"PartNo":"B-2","WarehouseCode":"MAIN"}'},
        {"SeverityId": 3, "Message": "PartNo C-3: OnhandValue is not a number", "ImportedRow": None},
        {"SeverityId": 2, "Message": "A-1 partly imported", "ImportedRow": None},
        {"SeverityId": 1, "Message": "Import finished.", "ImportedRow": None}])
    result = outcome(fake, job, ("A-1", "B-2", "C-3", "C-30"))
    assert result.state is JobState.SUCCEEDED
    assert result.failed == {"B-2": "Sku not found", "C-3": "PartNo C-3: OnhandValue is not a number",
                             "A-1": "Norce imported it in part or not at all: A-1 partly imported"}


def test_a_row_norce_ignored_with_a_warning_is_not_taken_as_written() -> None:
    fake = FakeNorce()
    job = fake.add_job(2, [{"SeverityId": 2, "Message": "Price list 'SEK-B2B' does not exist; price for PartNo "
                                                        "'A-1' ignored.",
                            "ImportedRow": {"PartNo": "A-1", "PriceListCode": "SEK-B2B"}},
                           {"SeverityId": 1, "Message": "Import finished.", "ImportedRow": None}])
    result = outcome(fake, job, ("A-1@SEK-BASE", "A-1@SEK-B2B"), "Product/ImportSkuPriceLists")
    assert result.state is JobState.SUCCEEDED
    assert list(result.failed) == ["A-1@SEK-B2B"] and "does not exist" in result.failed["A-1@SEK-B2B"]


def test_price_errors_map_to_article_at_price_list() -> None:
    fake = FakeNorce()
    job = fake.add_job(2, [{"SeverityId": 3, "Message": "Price list not found",
                            "ImportedRow": {"partNo": "A-1", "priceListCode": "EUR-BASE"}}])
    result = outcome(fake, job, ("A-1@SEK-BASE", "A-1@EUR-BASE"), "Product/ImportSkuPriceLists")
    assert result.failed == {"A-1@EUR-BASE": "Price list not found"}


def test_an_error_row_naming_no_sku_leaves_no_row_taken_as_written() -> None:
    fake = FakeNorce()
    job = fake.add_job(2, [{"SeverityId": 3, "Message": "Object reference not set", "ImportedRow": None}])
    result = outcome(fake, job, ("A-1", "B-2"))
    assert result.state is JobState.SUCCEEDED and set(result.failed) == {"A-1", "B-2"}
    assert "Object reference not set" in result.failed["A-1"]


@pytest.mark.parametrize(("status", "word"), [(3, "failed"), (4, "validation failed")])
def test_failed_job_names_what_the_log_says(status: int, word: str) -> None:
    fake = FakeNorce()
    job = fake.add_job(status, [{"SeverityId": 3, "Message": "Row 1: PartNo B-2 has an invalid EanCode",
                                 "ImportedRow": None}])
    result = outcome(fake, job, ("A-1", "B-2"))
    assert result.state is JobState.FAILED and result.failed == {"B-2": "Row 1: PartNo B-2 has an invalid EanCode"}
    assert result.message == f"job {job} {word}: Row 1: PartNo B-2 has an invalid EanCode"


def test_products_are_read_from_the_sku_entity_set() -> None:
    fake = FakeNorce(products=[{"PartNo": "1001", "Name": "T-shirt", "EanCode": "735", "StatusId": 1, "VatRate": 25,
                                "PriceSale": Decimal("199.2"), "PriceListCode": "SEK-BASE", "OnhandValue": 120,
                                "Updated": "2026-12-01T10:00:00Z", "LastChanged": "2026-12-02T10:00:00Z"},
                               {"PartNo": "1002", "StatusId": 4, "VatRate": 12, "OnhandValue": Decimal("2.5")}])
    shop = make_shop(fake)
    products = shop.iter_products(culture="sv-SE", modified_from=datetime(2026, 12, 1, tzinfo=UTC))
    first = next(products)
    assert (first.article_number, first.name, first.ean, first.vat_rate, first.price_ex_vat, first.price_list_id) == (
        "1001", "T-shirt", "735", Decimal("0.25"), Decimal("199.2"), "SEK-BASE")
    assert first.stock is not None and first.stock.stock_count == 120 and not first.hide_product
    assert first.modified_date == datetime(2026, 12, 2, 10, tzinfo=UTC)
    assert fake.queries[-1] == ("Products/ProductSkus", {"$orderby": "PartNo", "$top": 500,
                                                         "$filter": "LastChanged ge 2026-12-01T00:00:00Z"})
    with pytest.raises(ShopError, match=r"1002: OnhandValue 2\.5 is not a whole count"):
        next(products)


def test_known_price_lists_or_none_when_query_does_not_serve_them() -> None:
    assert make_shop(FakeNorce()).known_price_lists() == {"SEK-BASE", "EUR-BASE"}
    assert make_shop(FakeNorce(unserved={"Products/PriceLists"})).known_price_lists() is None


def test_prices_of_articles_norce_does_not_know_are_not_sent() -> None:
    fake = FakeNorce(products=[])
    wrote = make_shop(fake).update_prices([PriceListPrice(article_number="Z-9", price_list_id="SEK-BASE",
                                                          price_inc_vat=Decimal(10))])
    assert wrote.jobs == [] and [r.key for r in wrote.results] == ["Z-9@SEK-BASE"]
    assert not any(p.op == "Product/ImportSkuPriceLists" for p in fake.posts)
