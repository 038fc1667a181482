"""On-hands, SKU prices and price lists: whitelists, ignored rows, FullFile scopes (norce-api.md §4.2-§4.5).

Seed (by hand from sandbox/jetshop/seed.py): 13 SKUs, each with an on-hand at MAIN/MAIN and a price in SEK-BASE
and EUR-BASE; 1001 has 120 in stock and costs 249.00 SEK incl. 25 % VAT = 199.20 ex VAT.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from tests.sandbox.norce.test_catalog_helpers import Env, env, onhand, onhand_header, price_header

__all__ = ["env"]

SEEDED = ["1001", "1002", "1003", "1004", "1005", "1006", "1007", "1008", "1011", "1012", "1016", "1017", "GIFT-500"]


def _messages(env: Env, job_id: int, severity: int) -> list[str]:
    return [e["Message"] for e in env.log(job_id) if e["SeverityId"] == severity]


def test_onhand_fields_not_whitelisted_are_not_written(env: Env) -> None:
    row = onhand("1001", 40, IncomingValue=25, NextDeliveryDate="2026-11-20T00:00:00", LeadTimeDayCount=4)
    env.submit("ImportOnhands", [row], onhand_header("OnhandValue"))
    stored = env.catalog.onhand("1001")
    assert stored["OnhandValue"] == Decimal(40)
    assert (stored["IncomingValue"], stored["NextDeliveryDate"], stored["LeadTimeDayCount"]) == (None, None, None)


def test_onhand_delivery_date_and_lead_time_when_whitelisted(env: Env) -> None:
    row = onhand("1001", 0, IncomingValue=25, NextDeliveryDate="2026-11-20T00:00:00Z", LeadTimeDayCount=4)
    env.submit("ImportOnhands", [row], onhand_header(3, 4, 5, 6))
    stored = env.catalog.onhand("1001")
    assert stored["OnhandValue"] == Decimal(0)
    assert stored["IncomingValue"] == Decimal(25)
    assert stored["NextDeliveryDate"] == datetime(2026, 11, 20, tzinfo=UTC)
    assert stored["LeadTimeDayCount"] == 4
    # a listed field the row leaves out is kept; an explicit null clears it
    env.submit("ImportOnhands", [onhand("1001", 5, NextDeliveryDate=None)], onhand_header(3, 4, 5))
    again = env.catalog.onhand("1001")
    assert (again["OnhandValue"], again["IncomingValue"], again["NextDeliveryDate"]) == (Decimal(5), Decimal(25), None)


def test_onhand_for_unknown_product_or_location_is_ignored_with_a_warning(env: Env) -> None:
    rows = [onhand("NOPE-1", 5), onhand("1006", 9), onhand("1007", 9, warehouse="STORE2")]
    job_id = env.submit("ImportOnhands", rows, onhand_header(3))
    assert env.job(job_id)["StatusId"] == 2
    warnings = _messages(env, job_id, 2)
    assert len(warnings) == 2
    assert "NOPE-1" in warnings[0]
    assert "1007" in warnings[1] and "STORE2" in warnings[1]
    assert env.catalog.onhand("NOPE-1") is None
    assert env.catalog.onhand("1006")["OnhandValue"] == Decimal(9)
    assert env.catalog.onhand("1007", "STORE2", "MAIN") is None
    assert env.catalog.onhand("1007")["OnhandValue"] == Decimal(500)


def test_full_file_onhands_deactivates_everything_else_at_the_locations_in_the_import(env: Env) -> None:
    env.submit("ImportOnhands", [onhand("1001", 5)], onhand_header(3, full_file=True))
    active = {p: env.catalog.onhand(p)["IsActive"] for p in SEEDED}
    assert active == {p: p == "1001" for p in SEEDED}
    seen = env.catalog.jobs_seen[-1]
    assert seen["FullFile"] is True
    assert len(seen["Effects"]) == 12
    assert any("12 on-hand records" in m for m in _messages(env, int(seen["JobId"]), 1))


def test_full_file_false_and_full_file_elsewhere_leave_main_alone(env: Env) -> None:
    env.submit("ImportOnhands", [onhand("1001", 5)], onhand_header(3))
    header = {"AccountId": 17, "PriceListFieldsThatAreSet": ["Warehouses"]}
    env.submit("ImportPriceLists", [{"Code": "SEK-BASE", "Warehouses": [
        {"Code": "MAIN", "Locations": [{"Code": "MAIN"}]}, {"Code": "STORE2", "Locations": [{"Code": "A"}]}]}], header)
    env.submit("ImportOnhands", [onhand("1001", 2, "STORE2", "A"), onhand("1006", 3, "STORE2", "A")],
               onhand_header(3, full_file=True))
    env.submit("ImportOnhands", [onhand("1006", 4, "STORE2", "A")], onhand_header(3, full_file=True))
    assert all(env.catalog.onhand(p)["IsActive"] for p in SEEDED)
    assert env.catalog.onhand("1001", "STORE2", "A")["IsActive"] is False
    assert env.catalog.onhand("1006", "STORE2", "A")["OnhandValue"] == Decimal(4)


def test_sku_price_whitelist_null_and_zero(env: Env) -> None:
    row = {"PartNo": "1001", "PriceListCode": "SEK-BASE", "PriceSale": 100, "PriceRecommended": 150,
           "IsActive": False}
    env.submit("ImportSkuPriceLists", [row], price_header("PriceSale"))
    price = env.catalog.price("1001", "SEK-BASE")
    assert (price["PriceSale"], price["PriceRecommended"], price["IsActive"]) == (Decimal(100), None, True)
    # null and 0 never overwrite
    env.submit("ImportSkuPriceLists", [row | {"PriceSale": 0}, {"PartNo": "1006", "PriceListCode": "SEK-BASE",
                                                                "PriceSale": None}], price_header(3))
    assert env.catalog.price("1001", "SEK-BASE")["PriceSale"] == Decimal(100)
    assert env.catalog.price("1006", "SEK-BASE")["PriceSale"] == Decimal("103.20")  # 129.00 / 1.25
    # a price in a new quantity break is a new record
    env.submit("ImportSkuPriceLists", [row | {"QuantityBreak": 10, "PriceSale": "90.50"}], price_header(3))
    assert env.catalog.price("1001", "SEK-BASE", 10)["PriceSale"] == Decimal("90.50")
    assert env.catalog.price("1001", "SEK-BASE")["PriceSale"] == Decimal(100)


def test_ignore_when_empty_drops_the_whole_row(env: Env) -> None:
    header = price_header("PriceSale", "IsActive", IgnoreSkuPriceListFieldsWhenEmpty=["PriceSale"])
    rows = [{"PartNo": "1001", "PriceListCode": "SEK-BASE", "PriceSale": None, "IsActive": False},
            {"PartNo": "1006", "PriceListCode": "SEK-BASE", "IsActive": False},
            {"PartNo": "1007", "PriceListCode": "SEK-BASE", "PriceSale": 50, "IsActive": False}]
    job_id = env.submit("ImportSkuPriceLists", rows, header)
    assert env.catalog.price("1001", "SEK-BASE")["IsActive"] is True
    assert env.catalog.price("1006", "SEK-BASE")["IsActive"] is True
    assert (env.catalog.price("1007", "SEK-BASE")["PriceSale"], env.catalog.price("1007", "SEK-BASE")["IsActive"]) \
        == (Decimal(50), False)
    assert env.job(job_id)["Updates"] == 1


def test_prices_for_unknown_sku_or_price_list_are_ignored_with_a_warning(env: Env) -> None:
    rows = [{"PartNo": "NOPE-2", "PriceListCode": "SEK-BASE", "PriceSale": 1},
            {"PartNo": "1006", "PriceListCode": "NOK-BASE", "PriceSale": 2},
            {"PartNo": "1007", "PriceListCode": "SEK-BASE", "PriceSale": 3}]
    job_id = env.submit("ImportSkuPriceLists", rows, price_header(3))
    warnings = _messages(env, job_id, 2)
    assert len(warnings) == 2
    assert "NOPE-2" in warnings[0]
    assert "1006" in warnings[1] and "NOK-BASE" in warnings[1]
    assert env.catalog.price("1006", "NOK-BASE") is None
    assert env.catalog.price("1007", "SEK-BASE")["PriceSale"] == Decimal(3)
    assert env.job(job_id)["StatusId"] == 2


def test_full_file_prices_deactivate_only_within_the_price_lists_in_the_import(env: Env) -> None:
    rows = [{"PartNo": "1001", "PriceListCode": "SEK-BASE", "PriceSale": 10}]
    env.submit("ImportSkuPriceLists", rows, price_header(3, full_file=True))
    sek = {p: env.catalog.price(p, "SEK-BASE")["IsActive"] for p in SEEDED}
    eur = {p: env.catalog.price(p, "EUR-BASE")["IsActive"] for p in SEEDED}
    assert sek == {p: p == "1001" for p in SEEDED}
    assert eur == dict.fromkeys(SEEDED, True)
    assert env.catalog.jobs_seen[-1]["FullFile"] is True


def test_import_price_lists_creates_missing_lists_with_whitelisted_fields(env: Env) -> None:
    header = {"AccountId": 17, "FullFile": False, "PriceListFieldsThatAreSet": ["CurrencyCode", "IsPrimary"]}
    job_id = env.submit("ImportPriceLists", [{"Code": "NOK-BASE", "Name": "Norge", "CurrencyCode": "NOK",
                                              "IsPrimary": True}], header)
    created = env.catalog.price_list("NOK-BASE")
    assert (created["Name"], created["CurrencyCode"], created["IsPrimary"]) == ("NOK-BASE", "NOK", True)
    assert env.catalog.price_list("SEK-BASE")["IsPrimary"] is False  # one primary per application
    assert env.job(job_id)["Inserts"] == 1
    too_long = env.post("ImportPriceLists", [{"Code": "X", "Name": "N" * 51}],
                        {"AccountId": 17, "PriceListFieldsThatAreSet": [0]})
    assert too_long.json()["ValidationSummary"]["NrOfValidationFailures"] == 1
    assert env.catalog.price_list("X") is None
    # prices into the new list are now accepted
    env.submit("ImportSkuPriceLists", [{"PartNo": "1001", "PriceListCode": "NOK-BASE", "PriceSale": 190}],
               price_header(3))
    assert env.catalog.price("1001", "NOK-BASE")["PriceSale"] == Decimal(190)
