"""OSS: an OSS-registered tenant books EU private buyers at their country's rate on the rules' accounts.

Oracles: the rates each country's law sets (Germany 19/7 %, France 20/10/5.5/2.1 %, Finland 24 → 25.5 %
on 2024-09-01 and 14 → 13.5 % on 2026-01-01), written here, and the documents the Fortnox sandbox
builds and totals (its own arithmetic), not jetfort's mapping.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import pytest

from jetfort.fortnox.models import VatType
from jetfort.jetshop.convert import order_from_wire
from jetfort.mapping.orders import FortnoxFacts, map_document
from jetfort.mapping.problems import MappingProblem
from jetfort.rules import RulesError, mappings_dir
from jetfort.shop.models import ShopOrder
from sandbox.fortnox.seed import customer_entity
from sandbox.fortnox.vatcodes import add_vat_code
from sandbox.jetshop import seed as jetshop_seed
from sandbox.jetshop.state import JetshopSandbox

from .conftest import SHOP_KEY, SHOP_TZ, FortnoxPoster, make_rules

#: company-defined OSS accounts (country → rate → sales, output VAT); the tests' own choice
ACCOUNTS = {
    "DE": {"19": (3150, 2690), "7": (3151, 2691)},
    "FR": {"20": (3152, 2692), "10": (3153, 2693), "5.5": (3154, 2694)},
    "FI": {"24": (3155, 2695), "14": (3156, 2696), "25.5": (3157, 2697), "13.5": (3158, 2698)},
}
#: the law, not the table: rates valid on a day
GERMANY = {Decimal(19), Decimal(7)}
FINLAND_2026 = {Decimal("25.5"), Decimal("13.5"), Decimal(10)}
DAY = dt.datetime(2026, 3, 2, 12, 0)
BUYER = "90"  # a private EU customer (VAT type EUVAT) in the Fortnox sandbox


def oss_rules(document: str = "order", *, registered: bool = True, since: str = "2021-07-01") -> Any:
    accounts = {c: {r: {"sales": s, "vat": v} for r, (s, v) in rates.items()} for c, rates in ACCOUNTS.items()}
    return make_rules({"document": document},
                      vat={"oss": {"registered": registered, "since": since, "accounts": accounts}})


def _address(country: str) -> dict[str, str]:
    return {"Company": "", "FirstName": "Eva", "LastName": "Muster", "Address": "Hauptstraße 5", "Co": "",
            "ZipCode": "10115", "City": "Berlin", "CountryCode": country, "Phone": "", "MobilePhone": ""}


@pytest.fixture(scope="module")
def shop() -> JetshopSandbox:
    return JetshopSandbox(seed=1)


def shop_order(shop: JetshopSandbox, country: str, rows: list[tuple[str, int, str, str]], *,
               when: dt.datetime = DAY, freight: str = "0", freight_vat: str = "0.25") -> ShopOrder:
    """A private buyer in ``country`` (EUR channel); rows (article, quantity, unit price incl. VAT, VAT fraction)."""
    spec_rows = [jetshop_seed.row(a, q, p, vat=v) for a, q, p, v in rows]
    order_id = shop.add_order("demoshop", rows=spec_rows, bill=_address(country), channel_id=4,
                              email="eva@example.eu", freight=freight, freight_vat=freight_vat, order_date=when)
    return order_from_wire(shop.order("demoshop", order_id), "demoshop", SHOP_TZ)


def facts_with_oss(facts: FortnoxFacts) -> FortnoxFacts:
    """The facts of a company whose OSS sales accounts exist: their rates are bookable."""
    rates = {Decimal(r) for rates in ACCOUNTS.values() for r in rates}
    return FortnoxFacts(articles=facts.articles, vat_rates=facts.vat_rates | rates, currencies=facts.currencies,
                        currency_rates=facts.currency_rates)


def oss_poster() -> FortnoxPoster:
    poster = FortnoxPoster()
    poster.company.put("customers", BUYER, customer_entity(BUYER, "Eva Muster", Type="PRIVATE", VATType="EUVAT"))
    for country, rates in ACCOUNTS.items():
        for rate, (sales, vat) in rates.items():
            add_vat_code(poster.company, f"OSS-{country}-{rate}", rate, sales_account=sales, vat_account=vat,
                         description=f"OSS {country} {rate} %")
    return poster


def _problem(order: ShopOrder, rules: Any, facts: FortnoxFacts) -> MappingProblem:
    with pytest.raises(MappingProblem) as caught:
        map_document(order, rules, SHOP_KEY, customer_number=BUYER, facts=facts)
    return caught.value


# ------------------------------------------------------------------------------------------ booked


def test_german_buyer_is_booked_at_german_rates_on_the_rules_accounts(shop: JetshopSandbox,
                                                                       facts: FortnoxFacts) -> None:
    order = shop_order(shop, "DE", [("1001", 2, "23.80", "0.19"), ("1011", 1, "10.70", "0.07")],
                       freight="5.90", freight_vat="0.19")
    mapped = map_document(order, oss_rules("invoice"), SHOP_KEY, customer_number=BUYER, facts=facts_with_oss(facts))
    poster = oss_poster()
    stored = poster.document(mapped)
    rows = stored["InvoiceRows"]
    assert {Decimal(str(r["VAT"])) for r in rows} == GERMANY
    for row in rows:
        sales, _ = ACCOUNTS["DE"][str(row["VAT"])]
        assert row["AccountNumber"] == sales, row
    assert Decimal(str(stored["Freight"])) == 0  # freight follows the goods, as rows on the OSS accounts
    total = Decimal(str(stored["Total"])) - Decimal(str(stored["RoundOff"]))
    assert abs(total - order.total_inc_vat) <= Decimal("0.01"), (stored["Total"], order.total_inc_vat)


def test_french_reduced_rate_goes_on_an_order_but_not_on_an_invoice(shop: JetshopSandbox,
                                                                    facts: FortnoxFacts) -> None:
    order = shop_order(shop, "FR", [("1001", 1, "24.00", "0.20"), ("1016", 1, "10.55", "0.055")])
    mapped = map_document(order, oss_rules("order"), SHOP_KEY, customer_number=BUYER, facts=facts_with_oss(facts))
    stored = oss_poster().document(mapped)
    assert sorted(Decimal(str(r["VAT"])) for r in stored["OrderRows"]) == [Decimal("5.5"), Decimal(20)]
    assert {r["AccountNumber"] for r in stored["OrderRows"]} == {3152, 3154}
    assert any("5.5 %" in note and "unconfirmed" in note for note in mapped.notes)

    problem = _problem(order, oss_rules("invoice"), facts_with_oss(facts))
    assert problem.reason == "vat_rate_not_on_invoice" and problem.field == "rows[1].vat_rate"
    assert "5.5 %" in problem.message and "whole number" in problem.message and "never rounds" in problem.message


def test_finnish_rates_follow_the_order_date(shop: JetshopSandbox, facts: FortnoxFacts) -> None:
    rules, known = oss_rules("order"), facts_with_oss(facts)
    before = shop_order(shop, "FI", [("1001", 1, "24.80", "0.24"), ("1011", 1, "11.40", "0.14")],
                        when=dt.datetime(2024, 8, 31, 12))
    mapped = map_document(before, rules, SHOP_KEY, customer_number=BUYER, facts=known)
    assert {r.vat for r in mapped.document.rows or []} == {Decimal(24), Decimal(14)}

    late = shop_order(shop, "FI", [("1001", 1, "24.80", "0.24")], when=dt.datetime(2024, 9, 1, 12))
    problem = _problem(late, rules, known)
    assert problem.reason == "not_a_country_vat_rate"
    assert problem.message.startswith(f"Order {late.order_number}: the shop charged 24 % to a private buyer in Finland")

    now = shop_order(shop, "FI", [("1001", 1, "25.10", "0.255"), ("1011", 1, "11.35", "0.135")])
    stored = oss_poster().document(map_document(now, rules, SHOP_KEY, customer_number=BUYER, facts=known))
    assert {Decimal(str(r["VAT"])) for r in stored["OrderRows"]} <= FINLAND_2026
    assert {r["AccountNumber"] for r in stored["OrderRows"]} == {3157, 3158}

    old_reduced = shop_order(shop, "FI", [("1011", 1, "11.40", "0.14")])
    assert _problem(old_reduced, rules, known).reason == "not_a_country_vat_rate"


# ------------------------------------------------------------------------------------------ refused


def test_a_swedish_rate_to_a_german_private_buyer_names_the_german_rates(awkward: dict[str, ShopOrder],
                                                                         facts: FortnoxFacts) -> None:
    order = awkward["currency_eur_eu_consumer"]  # Berlin, 25 % and 12 % as in Sweden
    problem = _problem(order, oss_rules("invoice"), facts_with_oss(facts))
    assert problem.reason == "not_a_country_vat_rate" and problem.field == "rows[0].vat_rate"
    assert problem.message.startswith(
        f"Order {order.order_number}: the shop charged 25 % to a private buyer in Germany; under OSS the German "
        "rates on ")
    assert "19 % and 7 %" in problem.message


def test_a_country_without_accounts_names_the_rules_path(shop: JetshopSandbox, facts: FortnoxFacts) -> None:
    order = shop_order(shop, "NL", [("1001", 1, "24.20", "0.21")])
    problem = _problem(order, oss_rules("invoice"), facts_with_oss(facts))
    assert problem.reason == "oss_accounts_missing"
    assert 'vat.oss.accounts.NL."21"' in problem.message and "the Netherlands" in problem.message


# ------------------------------------------------------------------------------------------ unchanged


def test_without_oss_eu_private_buyers_keep_swedish_vat_on_the_eu_account(awkward: dict[str, ShopOrder],
                                                                         facts: FortnoxFacts) -> None:
    order = awkward["currency_eur_eu_consumer"]
    for rules in (make_rules({"document": "invoice"}), oss_rules("invoice", registered=False, since="2021-07-01")):
        mapped = map_document(order, rules, SHOP_KEY, customer_number=BUYER, facts=facts)
        assert mapped.vat_type == VatType.EUVAT
        goods = [r for r in mapped.document.rows or [] if r.article_number]
        assert {r.vat for r in goods} == {Decimal(25), Decimal(12)}
        assert {r.account_number for r in goods} == {rules.orders.accounts.eu_vat}


def test_orders_before_the_registration_keep_swedish_vat(awkward: dict[str, ShopOrder],
                                                         facts: FortnoxFacts) -> None:
    order = awkward["currency_eur_eu_consumer"]
    later = (order.order_date + dt.timedelta(days=1)).date().isoformat()
    mapped = map_document(order, oss_rules("invoice", since=later), SHOP_KEY, customer_number=BUYER,
                          facts=facts_with_oss(facts))
    goods = [r for r in mapped.document.rows or [] if r.article_number]
    assert {r.account_number for r in goods} == {3106}


def test_a_foreign_rate_before_the_registration_is_not_booked_as_swedish(shop: JetshopSandbox,
                                                                        facts: FortnoxFacts) -> None:
    """Before vat.oss.since the buyer pays Swedish VAT: 19 % is no Swedish rate, even though the
    company can book 19 % on its German OSS account."""
    order = shop_order(shop, "DE", [("1001", 1, "23.80", "0.19")], when=dt.datetime(2025, 6, 1, 12))
    problem = _problem(order, oss_rules("invoice", since="2026-01-01"), facts_with_oss(facts))
    assert problem.reason == "unknown_vat_rate" and problem.field == "rows[0].vat_rate"


def test_reverse_charge_companies_are_not_oss(awkward: dict[str, ShopOrder], facts: FortnoxFacts) -> None:
    order = awkward["company_buyer_eu_reverse_charge"]
    mapped = map_document(order, oss_rules("invoice"), SHOP_KEY, customer_number=BUYER, facts=facts_with_oss(facts))
    assert mapped.vat_type == VatType.EUREVERSEDVAT
    assert {r.vat for r in mapped.document.rows or []} == {0}


# ------------------------------------------------------------------------------------------ rules


def test_rules_refuse_a_rate_the_country_does_not_have() -> None:
    with pytest.raises(RulesError) as caught:
        make_rules(vat={"oss": {"registered": True, "accounts": {"DE": {"21": {"sales": 3150, "vat": 2690}}}}})
    assert "vat.oss.accounts.DE.21" in str(caught.value) and "Germany" in str(caught.value)


def test_rules_refuse_sweden_and_a_registration_without_accounts() -> None:
    with pytest.raises(RulesError) as caught:
        make_rules(vat={"oss": {"registered": True, "accounts": {"SE": {"25": {"sales": 3001, "vat": 2611}}}}})
    assert "vat.oss.accounts.SE" in str(caught.value)
    with pytest.raises(RulesError) as caught:
        make_rules(vat={"oss": {"registered": True}})
    assert "vat.oss.accounts" in str(caught.value)


def test_preflight_sees_every_oss_account() -> None:
    rules = oss_rules()
    in_use = rules.vat.accounts_in_use()
    assert in_use["vat.oss.accounts.DE.19.sales"] == 3150 and in_use["vat.oss.accounts.FI.25.5.vat"] == 2697
    assert len(in_use) == 2 * sum(len(r) for r in ACCOUNTS.values())


def test_the_rate_table_has_every_member_state_and_finlands_changes() -> None:
    table = json.loads((mappings_dir() / "eu_vat_rates.json").read_text())["countries"]
    members = {"AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE", "IT",
               "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK"}
    assert set(table) == members
    finland = {p["valid_from"]: (p["standard"], p["reduced"]) for p in table["FI"]["periods"]}
    assert finland["2024-09-01"][0] == "25.5" and "14" in finland["2024-09-01"][1]
    assert finland["2026-01-01"] == ("25.5", ["13.5", "10"])
    for country in ("DE", "FR", "FI", "DK", "NL", "IT", "ES", "AT", "BE", "PL", "IE"):
        assert all(p["reduced"] is not None for p in table[country]["periods"]), country
