"""The accounts a bookkeeper signs off: freight and payment-fee rows per VAT rate (header split and
article rows alike), a redeemed gift card on the gift-card liability, the rules' account list that
pre-flight checks, and quarantine messages that lead with the cause and show amounts to the öre.

Oracles are the BAS accounts (BAS 2024: 3520 Fakturerade frakter, 3521 ... EU-land, 3522 ... export,
3540 Faktureringsavgifter, 3541/3542 likewise, 2421 Ej inlösta presentkort; 3523-3525 and 3543-3545
are free BAS sub-accounts the rules document for 12/6/0 %) and the documents the Fortnox sandbox
stores — not jetfort's own tables.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from jetfort.jetshop.convert import order_from_wire
from jetfort.mapping.customers import plan_customer
from jetfort.mapping.orders import map_document
from jetfort.mapping.problems import MappingProblem
from jetfort.mapping.text import money
from jetfort.rules import RulesError
from jetfort.shop.models import RowType, ShopOrder
from jetfort.tasks.preflight import rule_accounts
from sandbox.fortnox.seed import article_entity
from sandbox.jetshop import seed as shop_seed
from sandbox.jetshop.state import JetshopSandbox

from .conftest import SHOP_KEY, SHOP_TZ, FortnoxPoster, facts_of, make_rules

D = Decimal
FREIGHT = {D(25): 3520, D(12): 3523, D(6): 3524, D(0): 3525}
FEE = {D(25): 3540, D(12): 3543, D(6): 3544, D(0): 3545}
FREIGHT_EU, FREIGHT_EXPORT, FEE_EU, FEE_EXPORT = 3521, 3522, 3541, 3542
GIFT_CARD_LIABILITY = 2421
ROW_MODE = {"freight": {"mode": "row", "article_number": "FRAKT"},
            "payment_fee": {"mode": "row", "article_number": "AVGIFT"}}


@pytest.fixture(scope="module")
def shop() -> JetshopSandbox:
    return JetshopSandbox(seed=1)


def _order(shop: JetshopSandbox, **spec: Any) -> ShopOrder:
    order_id = shop.add_order("demoshop", kind="added_accounts", **spec)
    return order_from_wire(shop.order("demoshop", order_id), "demoshop", SHOP_TZ)


@pytest.fixture(scope="module")
def mixed(shop: JetshopSandbox) -> ShopOrder:
    """Goods at 25, 12 and 6 %, freight 79.00 and a payment fee 29.00 (both 25 % in the shop)."""
    return _order(shop, rows=[shop_seed.row("1001", 1), shop_seed.row("1011", 2), shop_seed.row("1016", 1)],
                  freight="79.00", payment_fee="29.00", payment_method="Klarna Faktura")


@pytest.fixture
def fortnox() -> FortnoxPoster:
    poster = FortnoxPoster()
    for number, text in (("FRAKT", "Frakt"), ("AVGIFT", "Betalningsavgift")):  # 25 % service articles
        poster.company.put("articles", number, article_entity(number, text, vat=25, stock_goods=False,
                                                              article_type="SERVICE"))
    return poster


def _post(fortnox: FortnoxPoster, order: ShopOrder, orders: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    rules = make_rules({"missing_article": "quarantine", **orders}, flow="erp")
    number = fortnox.customer(plan_customer(order, rules, SHOP_KEY))
    mapped = map_document(order, rules, SHOP_KEY, customer_number=number, facts=facts_of(fortnox.company))
    return mapped, fortnox.document(mapped)


def _extra_rows(stored: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    rows = stored["InvoiceRows"]
    freight = [r for r in rows if r["Description"].startswith("Frakt")]
    fee = [r for r in rows if r["Description"].startswith("Betalningsavgift")]
    return freight, fee


def _paid(stored: dict[str, Any]) -> Decimal:
    return D(str(stored["Total"])) - D(str(stored["RoundOff"]))


# ------------------------------------------------------------------------------------------ freight and fees


@pytest.mark.parametrize("mode", ["row", "header"])
def test_every_split_freight_and_fee_row_is_stored_on_the_account_of_its_vat_rate(
        mode: str, mixed: ShopOrder, fortnox: FortnoxPoster) -> None:
    orders = ROW_MODE if mode == "row" else {}
    _, stored = _post(fortnox, mixed, orders)
    freight, fee = _extra_rows(stored)
    assert {D(r["VAT"]) for r in freight} == {D(r["VAT"]) for r in fee} == {D(25), D(12), D(6)}
    for row in freight:
        assert row["AccountNumber"] == FREIGHT[D(row["VAT"])], row
    for row in fee:
        assert row["AccountNumber"] == FEE[D(row["VAT"])], row
    if mode == "row":  # the article rows keep their article; the account is not the article's own
        assert {r["ArticleNumber"] for r in freight} == {"FRAKT"} and {r["ArticleNumber"] for r in fee} == {"AVGIFT"}
        assert fortnox.company.get("articles", "FRAKT")["SalesAccount"] == 3001
    assert sum(D(str(r["Price"])) for r in freight) == D("79.00")
    assert sum(D(str(r["Price"])) for r in fee) == D("29.00")
    assert abs(_paid(stored) - mixed.total_inc_vat) <= D("0.01")


def test_a_single_25_percent_row_in_row_mode_is_on_3520(awkward: dict[str, ShopOrder], fortnox: FortnoxPoster) -> None:
    order = awkward["payment_fee"]  # one 25 % article, freight 49.00 and a fee 29.00
    _, stored = _post(fortnox, order, ROW_MODE)
    freight, fee = _extra_rows(stored)
    assert [(r["VAT"], r["AccountNumber"]) for r in freight] == [(25, 3520)]
    assert [(r["VAT"], r["AccountNumber"]) for r in fee] == [(25, 3540)]


@pytest.mark.parametrize(("kind", "account"), [("company_buyer_eu_reverse_charge", FREIGHT_EU),
                                               ("vat_0_export_non_eu", FREIGHT_EXPORT)])
def test_vat_free_buyers_freight_rows_use_the_eu_and_export_accounts(
        kind: str, account: int, awkward: dict[str, ShopOrder], fortnox: FortnoxPoster) -> None:
    order = awkward[kind]
    assert order.freight_inc_vat > 0
    _, stored = _post(fortnox, order, ROW_MODE)
    freight, _ = _extra_rows(stored)
    assert [(r["VAT"], r["AccountNumber"]) for r in freight] == [(0, account)]


def test_fee_of_an_export_buyer_uses_3542(shop: JetshopSandbox, fortnox: FortnoxPoster) -> None:
    us = {"Company": "", "FirstName": "John", "LastName": "Smith", "Address": "5th Avenue 100", "Co": "",
          "ZipCode": "10001", "City": "New York", "CountryCode": "US", "Phone": "", "MobilePhone": ""}
    order = _order(shop, rows=[shop_seed.row("1001", 1, "199.20", vat="0")], bill=us, freight="0",
                   freight_vat="0", payment_fee="25.00", payment_fee_vat="0")
    _, stored = _post(fortnox, order, ROW_MODE)
    _, fee = _extra_rows(stored)
    assert [(r["VAT"], r["AccountNumber"]) for r in fee] == [(0, FEE_EXPORT)]


def test_a_single_freight_account_in_the_rules_still_means_every_rate(mixed: ShopOrder,
                                                                      fortnox: FortnoxPoster) -> None:
    _, stored = _post(fortnox, mixed, {**ROW_MODE, "accounts": {"freight": 3520}})
    freight, fee = _extra_rows(stored)
    assert {r["AccountNumber"] for r in freight} == {3520} and len(freight) == 3
    assert {D(r["VAT"]): r["AccountNumber"] for r in fee} == {D(25): 3540, D(12): 3543, D(6): 3544}


def test_one_rate_overridden_keeps_the_other_defaults(mixed: ShopOrder, fortnox: FortnoxPoster) -> None:
    fortnox.company.put("accounts", "3530", {**fortnox.company.get("accounts", "3523"), "Number": 3530})
    _, stored = _post(fortnox, mixed, {**ROW_MODE, "accounts": {"freight_by_rate": {"12": 3530}}})
    freight, _ = _extra_rows(stored)
    assert {D(r["VAT"]): r["AccountNumber"] for r in freight} == {D(25): 3520, D(12): 3530, D(6): 3524}


# ------------------------------------------------------------------------------------------ gift cards


def test_a_redeemed_gift_card_is_a_payment_on_the_liability_account(awkward: dict[str, ShopOrder],
                                                                     fortnox: FortnoxPoster) -> None:
    order = awkward["gift_card_redeemed_row"]
    card = order.rows[1]
    assert card.row_type == RowType.GIFT_CARD and card.total_inc_vat == D("-200")
    _, stored = _post(fortnox, order, ROW_MODE)
    rows = [r for r in stored["InvoiceRows"] if D(str(r["Price"])) < 0]
    assert [(r["AccountNumber"], r["VAT"], D(str(r["Price"])), r["ArticleNumber"]) for r in rows] == [
        (GIFT_CARD_LIABILITY, 0, D("-200.00"), "")]
    assert all(r["AccountNumber"] != 3004 for r in stored["InvoiceRows"])
    assert abs(_paid(stored) - order.total_inc_vat) <= D("0.01")  # what the buyer paid
    # the card is no goods: the freight (49.00) follows the 25 % goods alone
    freight, _ = _extra_rows(stored)
    assert [(r["VAT"], r["AccountNumber"]) for r in freight] == [(25, 3520)]


def test_a_redeemed_card_with_article_and_vat_from_the_shop_is_still_a_0_percent_payment(
        shop: JetshopSandbox, fortnox: FortnoxPoster) -> None:
    order = _order(shop, rows=[shop_seed.row("1001", 2), shop_seed.row("GIFT-500", 1, "-100.00", vat="0.25",
                                                                        name="Presentkort", item_type="GiftCard")])
    mapped, stored = _post(fortnox, order, ROW_MODE)
    (row,) = [r for r in stored["InvoiceRows"] if D(str(r["Price"])) < 0]
    assert (row["AccountNumber"], row["VAT"], row["ArticleNumber"]) == (GIFT_CARD_LIABILITY, 0, "")
    assert abs(_paid(stored) - order.total_inc_vat) <= D("0.01")
    assert any("25 % VAT on a redeemed gift card" in note for note in mapped.notes)


def test_a_gift_card_purchase_stays_a_0_percent_sale(awkward: dict[str, ShopOrder], fortnox: FortnoxPoster) -> None:
    order = awkward["gift_card_purchase"]
    rules = make_rules({"missing_article": "create"})
    mapped = map_document(order, rules, SHOP_KEY, customer_number="1", facts=facts_of(fortnox.company))
    (row,) = mapped.document.rows or []
    assert row.article_number == "GIFT-500" and row.vat == 0 and row.price > 0
    assert row.account_number == 3004  # BAS Försäljning inom Sverige, momsfri — not the liability


# ------------------------------------------------------------------------------------------ rules and pre-flight


def test_the_rules_list_every_account_they_can_book_to_with_its_path() -> None:
    accounts = make_rules().orders.accounts_in_use()
    expected = {
        "orders.accounts.sales.25": 3001, "orders.accounts.sales.12": 3002, "orders.accounts.sales.6": 3003,
        "orders.accounts.sales.0": 3004, "orders.accounts.eu_vat": 3106, "orders.accounts.eu_reverse_charge": 3108,
        "orders.accounts.export": 3105, "orders.accounts.freight": 3520, "orders.accounts.freight_by_rate.12": 3523,
        "orders.accounts.freight_by_rate.6": 3524, "orders.accounts.freight_by_rate.0": 3525,
        "orders.accounts.freight_eu_reverse_charge": 3521, "orders.accounts.freight_export": 3522,
        "orders.accounts.payment_fee": 3540, "orders.accounts.payment_fee_by_rate.12": 3543,
        "orders.accounts.payment_fee_by_rate.6": 3544, "orders.accounts.payment_fee_by_rate.0": 3545,
        "orders.accounts.payment_fee_eu_reverse_charge": 3541, "orders.accounts.payment_fee_export": 3542,
        "orders.accounts.gift_card": 2421,
    }
    assert accounts == expected


def test_preflight_names_every_path_of_an_account() -> None:
    rules = make_rules({"accounts": {"freight": 3001, "gift_card": 2420}})
    named = rule_accounts(rules)
    assert named[3001] == ["orders.accounts.sales.25", "orders.accounts.freight"]
    assert named[2420] == ["orders.accounts.gift_card"]
    assert 3523 not in named  # 'freight' alone: one account for every rate, as before


@pytest.mark.parametrize(("accounts", "path"), [({"gift_card": 999}, "orders.accounts.gift_card"),
                                                ({"freight_by_rate": {"12": 10000}}, "orders.accounts.freight_by_rate.12"),
                                                ({"payment_fee_by_rate": {"x": 3543}}, "orders.accounts.payment_fee_by_rate")])
def test_a_bad_account_rule_names_its_path(accounts: dict[str, Any], path: str) -> None:
    with pytest.raises(RulesError) as caught:
        make_rules({"accounts": accounts})
    assert path in str(caught.value)


# ------------------------------------------------------------------------------------------ messages


def test_a_rate_sweden_does_not_have_is_blamed_on_the_shop_first(shop: JetshopSandbox,
                                                                 fortnox: FortnoxPoster) -> None:
    order = _order(shop, rows=[shop_seed.row("1001", 1), shop_seed.row("1006", 1, "107.00", vat="0.07")])
    with pytest.raises(MappingProblem) as caught:
        map_document(order, make_rules(), SHOP_KEY, customer_number="1", facts=facts_of(fortnox.company))
    problem = caught.value
    assert (problem.reason, problem.field) == ("unknown_vat_rate", "rows[1].vat_rate")
    text = problem.message
    assert text.startswith(f"Order {order.order_number}: 7 % (row 2) is not a Swedish VAT rate"), text
    assert text.index("correct the article's VAT in the shop") < text.index("tenant rules"), text


def test_amounts_in_messages_have_two_decimals(awkward: dict[str, ShopOrder], fortnox: FortnoxPoster) -> None:
    base = awkward["gift_card_redeemed_row"]
    card = base.rows[1].model_copy(update={"unit_price_inc_vat": D("-1000.0000"), "unit_price_ex_vat": D("-1000.0000"),
                                           "total_inc_vat": D("-1000.0000")})
    total = base.total_inc_vat - base.rows[1].total_inc_vat + card.total_inc_vat
    order = base.model_copy(update={"rows": [base.rows[0], card], "total_inc_vat": total})
    assert str(total).endswith("0000")
    with pytest.raises(MappingProblem) as caught:
        map_document(order, make_rules(), SHOP_KEY, customer_number="1", facts=facts_of(fortnox.company))
    assert caught.value.reason == "negative_total"
    assert f"totals {total.quantize(D('0.01'))} SEK" in caught.value.message
    assert "0000" not in caught.value.message

    missing = awkward["missing_article_number"]
    with pytest.raises(MappingProblem) as caught:
        map_document(missing, make_rules({"missing_article": "quarantine"}, flow="erp"), SHOP_KEY,
                     customer_number="1", facts=facts_of(fortnox.company))
    assert caught.value.reason == "missing_article_number" and "99.00 SEK) has no article number" in caught.value.message


@pytest.mark.parametrize(("amount", "currency", "text"), [
    (D("-71.0000"), "SEK", "-71.00 SEK"), (D("1234.5"), "EUR", "1234.50 EUR"), (D("0.005"), "SEK", "0.01 SEK"),
    (D("-0.005"), "SEK", "-0.01 SEK"), (12, None, "12.00"), ("33.3333", "NOK", "33.33 NOK")])
def test_money_is_two_decimals_and_the_currency(amount: Any, currency: str | None, text: str) -> None:
    assert money(amount, currency) == text
