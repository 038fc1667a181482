"""OSS end to end: the orders DAG books EU private buyers of an OSS-registered tenant at their
country's rate on the rules' accounts; a tenant without OSS is unchanged; an invalid EU VAT number is
quarantined instead of getting 0 % VAT.

Outcomes are read from the documents the Fortnox sandbox stored (its own totals), the Jetshop
sandbox's order statuses and the ledger's quarantine. The expected rates are the countries' laws
(Germany 19/7 %, France 20/5.5 %, Finland 25.5/13.5 % since 2026-01-01), not jetfort's table.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sandbox.fortnox.vatcodes import add_vat_code
from sandbox.jetshop import seed as jetshop_seed
from tests.e2e.conftest import run_orders, summary_of
from tests.e2e.test_orders import all_channels, assert_success, doc_amount

#: the tenant's company-defined OSS accounts: country → rate → (sales, output VAT)
ACCOUNTS = {
    "DE": {"19": (3150, 2690), "7": (3151, 2691)},
    "FR": {"20": (3152, 2692), "5.5": (3153, 2693)},
    "FI": {"25.5": (3154, 2694), "13.5": (3155, 2695)},
}
#: buyer country → (rows: article, quantity, unit price incl. VAT in EUR, VAT fraction)
BUYERS = {
    "DE": [("1001", 2, "23.80", "0.19"), ("1011", 1, "10.70", "0.07")],
    "FR": [("1001", 1, "24.00", "0.20"), ("1016", 2, "10.55", "0.055")],
    "FI": [("1001", 1, "25.10", "0.255"), ("1011", 3, "11.35", "0.135")],
}
LAW = {"DE": {Decimal(19), Decimal(7)}, "FR": {Decimal(20), Decimal("5.5")},
       "FI": {Decimal("25.5"), Decimal("13.5")}}
ORDER_DATE = dt.datetime(2026, 3, 2, 12, 0)
TRANSFERRED = 6


def _address(country: str, company: str = "") -> dict[str, str]:
    return {"Company": company, "FirstName": "Eva", "LastName": f"Buyer {country}", "Address": "Main street 5",
            "Co": "", "ZipCode": "10115", "City": "Capital", "CountryCode": country, "Phone": "", "MobilePhone": ""}


def add_orders(env: Any) -> dict[str, int]:
    """The three private buyers, plus a German company whose VAT number has a wrong check digit."""
    ids = {}
    for country, rows in BUYERS.items():
        ids[country] = env.jetshop.add_order(
            "demoshop", rows=[jetshop_seed.row(*r[:3], vat=r[3]) for r in rows], bill=_address(country),
            channel_id=4, email=f"eva.{country.lower()}@example.eu", freight="5.90", freight_vat=rows[0][3],
            order_date=ORDER_DATE, status_id=1)
    ids["bad_vat_number"] = env.jetshop.add_order(
        "demoshop", rows=[jetshop_seed.row("1001", 10, "15.94", vat="0")], bill=_address("DE", "Muster GmbH"),
        channel_id=4, company_name="Muster GmbH", vat_number="DE136695978", freight="0", freight_vat="0",
        email="einkauf@muster.example.de", order_date=ORDER_DATE, status_id=1)
    env.orders.touch("demoshop", order_ids=list(ids.values()))
    return ids


def oss_tenant(env: Any, *, registered: bool) -> dict[str, Any]:
    rules = all_channels(env, document="order")
    if registered:
        rules["vat"] = {"oss": {"registered": True, "since": "2021-07-01", "accounts": {
            country: {rate: {"sales": sales, "vat": vat} for rate, (sales, vat) in rates.items()}
            for country, rates in ACCOUNTS.items()}}}
    return rules


def set_up_vat_codes(env: Any) -> None:
    """What the bookkeeper does in Fortnox: a VAT code per OSS country and rate, with its accounts."""
    for country, rates in ACCOUNTS.items():
        for rate, (sales, vat) in rates.items():
            add_vat_code(env.orders.company, f"OSS-{country}-{rate}", rate, sales_account=sales, vat_account=vat,
                         description=f"OSS {country} {rate} %")


def test_oss_tenant_books_each_buyer_at_their_countrys_rate_on_the_rules_accounts(orders_env: Any) -> None:
    env = orders_env
    set_up_vat_codes(env)
    env.set_tenant("oss", oss_tenant(env, registered=True))
    ids = add_orders(env)
    run = run_orders("oss")
    assert_success(run)

    docs = env.orders.by_key("orders")
    for country in BUYERS:
        (doc,) = docs[f"jetfort:se:{ids[country]}"]
        shop = env.jetshop.order("demoshop", ids[country])
        rates = {Decimal(str(row["VAT"])) for row in doc["OrderRows"]}
        assert rates == LAW[country], (country, doc["OrderRows"])
        for row in doc["OrderRows"]:
            sales, _ = ACCOUNTS[country][str(row["VAT"])]
            assert row["AccountNumber"] == sales, (country, row)
        assert abs(doc_amount(doc) - Decimal(str(shop["OrderTotalIncVat"]))) <= Decimal("0.01"), country
        assert Decimal(str(doc["Freight"])) == 0, country  # freight follows the goods, on the OSS accounts
        customer = env.orders.company.get("customers", doc["CustomerNumber"])
        assert customer["VATType"] == "EUVAT" and customer["CountryCode"] == country
        assert shop["OrderStatusId"] == TRANSFERRED, country

    bad = f"se:{ids['bad_vat_number']}"
    (entry,) = [q for q in env.ledger().open_quarantine("oss") if q.source_key == bad]
    assert entry.reason == "invalid_vat_number" and entry.field == "customer.vat_number"
    assert "DE136695978 is not a valid German VAT number (check digit)" in entry.message
    assert f"jetfort:se:{ids['bad_vat_number']}" not in docs
    assert env.jetshop.order("demoshop", ids["bad_vat_number"])["OrderStatusId"] == 1
    (row,) = summary_of(run)
    assert row["quarantined"] == 1 and row["posted"] == len(BUYERS)


def test_without_oss_the_same_orders_are_unchanged(orders_env: Any) -> None:
    """No OSS: EU private buyers get Swedish VAT on the EU account as before, so the German, French
    and Finnish rates stay unbookable (quarantined as before); a Swedish-VAT order to Germany posts."""
    env = orders_env
    set_up_vat_codes(env)  # the codes exist in Fortnox, but the tenant is not OSS-registered
    env.set_tenant("nooss", oss_tenant(env, registered=False))
    ids = add_orders(env)
    swedish_vat = env.jetshop.awkward_orders("demoshop")["currency_eur_eu_consumer"]  # Berlin, 25 % and 12 %
    env.orders.touch("demoshop", order_ids=[swedish_vat])
    assert_success(run_orders("nooss"))

    quarantine = {q.source_key: q for q in env.ledger().open_quarantine("nooss")}
    for country in BUYERS:
        assert quarantine[f"se:{ids[country]}"].reason == "vat_rate_not_set_up", country
    assert quarantine[f"se:{ids['bad_vat_number']}"].reason == "invalid_vat_number"
    (doc,) = env.orders.by_key("orders")[f"jetfort:se:{swedish_vat}"]
    goods = [row for row in doc["OrderRows"] if row.get("ArticleNumber")]
    assert {Decimal(str(row["VAT"])) for row in goods} == {Decimal(25), Decimal(12)}
    assert {row["AccountNumber"] for row in goods} == {3106}  # orders.accounts.eu_vat


def test_preflight_warns_when_fortnox_says_the_eu_threshold_is_crossed_without_oss(orders_env: Any) -> None:
    from jetfort.ledger import Ledger
    from jetfort.rules import parse_tenant
    from jetfort.tasks.preflight import oss_threshold_warnings, preflight_tenant
    from jetfort.tasks.runtime import TenantRuntime
    from sandbox.fortnox.resources import documents as fortnox_documents
    from sandbox.fortnox.seed import customer_entity

    env = orders_env
    rules = oss_tenant(env, registered=False)
    runtime = TenantRuntime(parse_tenant("nooss", rules), ledger=Ledger.from_url(env.ledger_url))
    assert oss_threshold_warnings(runtime) == []  # the seeded company sells in Sweden only

    company = env.orders.company
    with company.lock:  # a year of sales to a private buyer in Germany, invoiced in Fortnox
        company.put("customers", "90", customer_entity("90", "Eva Muster", Type="PRIVATE", CountryCode="DE",
                                                       VATType="EUVAT"))
        invoice = fortnox_documents.build(fortnox_documents.INVOICE, company, {"CustomerNumber": "90", "InvoiceRows": [
            {"Description": "Waren 2026", "AccountNumber": 3106, "DeliveredQuantity": 1, "Price": 100000, "VAT": 25}]})
        company.put("invoices", invoice["DocumentNumber"], invoice)
    (warning,) = oss_threshold_warnings(runtime)
    assert "over the EU threshold of 99680 SEK" in warning and "100000" in warning and "vat.oss" in warning
    assert preflight_tenant(runtime, force=True)["warnings"] == [warning]  # a warning, not a gap

    set_up_vat_codes(env)
    registered = TenantRuntime(parse_tenant("oss", oss_tenant(env, registered=True)),
                               ledger=Ledger.from_url(env.ledger_url))
    assert oss_threshold_warnings(registered) == []
