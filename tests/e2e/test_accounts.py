"""Accounts through the real orders DAG: freight and fee rows per VAT rate, a redeemed gift card on
the gift-card liability, and pre-flight naming every rule account the Fortnox company lacks.

Oracles are the BAS accounts the rules document (include/mappings/vat_accounts.json, README), read
against the documents the Fortnox sandbox stored — never jetfort's view of them.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tests.e2e.conftest import run_orders
from tests.harness import task_states

#: (article of the demo_erp rules, VAT %) → the account the row must be booked on (BAS defaults)
EXPECTED = {
    ("FRAKT", 25): 3520, ("FRAKT", 12): 3523, ("FRAKT", 6): 3524,  # 3520 Fakturerade frakter, 352x free
    ("AVGIFT", 25): 3540, ("AVGIFT", 12): 3543, ("AVGIFT", 6): 3544,  # 3540 Faktureringsavgifter, 354x free
}
GIFT_CARD_LIABILITY = 2421  # BAS: Ej inlösta presentkort


def _amount(doc: dict[str, Any]) -> Decimal:
    return Decimal(str(doc["Total"])) - Decimal(str(doc.get("RoundOff") or 0))


def test_split_freight_and_fee_rows_carry_their_rates_account_and_a_redeemed_gift_card_lands_on_2421(
        orders_env: Any) -> None:
    env = orders_env
    from sandbox.jetshop import seed

    mixed = env.jetshop.add_order(
        "demoshop", kind="added_mixed_fees", rows=[seed.row("1001", 1), seed.row("1011", 2), seed.row("1016", 1)],
        freight="79.00", payment_fee="29.00", payment_method="Klarna Faktura", email="blandat@example.se")
    gift = env.jetshop.awkward_orders("demoshop")["gift_card_redeemed_row"]
    env.orders.touch("demoshop", order_ids=[mixed, gift])
    run = run_orders("demo_erp")
    assert str(run.state) == "success", task_states(run)
    assert env.ledger().open_quarantine("demo_erp") == []

    docs = env.orders.by_key("orders")
    company = env.orders.company
    (doc,) = docs[f"jetfort:se:{mixed}"]
    fee_rows = [r for r in doc["OrderRows"] if r["ArticleNumber"] in ("FRAKT", "AVGIFT")]
    # the cart has goods at 25, 12 and 6 %: freight and fee are split over all three
    assert {(r["ArticleNumber"], int(r["VAT"])) for r in fee_rows} == set(EXPECTED), fee_rows
    for r in fee_rows:
        assert r["AccountNumber"] == EXPECTED[(r["ArticleNumber"], int(r["VAT"]))], r
    # without the explicit account Fortnox would have used the article's own (a 25 % account)
    assert company.get("articles", "FRAKT")["SalesAccount"] not in (3523, 3524)
    shop = env.jetshop.order("demoshop", mixed)
    assert abs(_amount(doc) - Decimal(str(shop["OrderTotalIncVat"]))) <= Decimal("0.01")

    (card_doc,) = docs[f"jetfort:se:{gift}"]
    shop = env.jetshop.order("demoshop", gift)
    redeemed = [r for r in card_doc["OrderRows"] if Decimal(str(r["Price"])) < 0]
    (row,) = redeemed
    assert row["AccountNumber"] == GIFT_CARD_LIABILITY and int(row["VAT"]) == 0, row
    assert Decimal(str(row["Price"])) * Decimal(str(row["DeliveredQuantity"])) == Decimal("-200.00")
    assert not any(r["AccountNumber"] == 3004 for r in card_doc["OrderRows"])  # no negative 0 % sales
    assert abs(_amount(card_doc) - Decimal(str(shop["OrderTotalIncVat"]))) <= Decimal("0.01")  # what the buyer paid


def test_preflight_names_each_rule_account_missing_in_the_fortnox_company(orders_env: Any) -> None:
    env = orders_env
    company = env.orders.company
    with company.lock:
        company.data["accounts"].pop("3523")
        company.data["accounts"].pop(str(GIFT_CARD_LIABILITY))
    env.orders.touch("demoshop")
    run = run_orders("demo_erp")
    assert task_states(run)["preflight"] == "failed"
    assert env.orders.documents("orders") == []

    from jetfort.ledger import Ledger
    from jetfort.rules import parse_tenant
    from jetfort.tasks.preflight import preflight_tenant
    from jetfort.tasks.runtime import TenantRuntime

    runtime = TenantRuntime(parse_tenant("demo_erp", env.tenant_rules("demo_erp")),
                            ledger=Ledger.from_url(env.ledger_url))
    with pytest.raises(Exception) as caught:
        preflight_tenant(runtime, force=True)
    text = str(caught.value)
    assert "account 3523 (orders.accounts.freight_by_rate.12)" in text, text
    assert f"account {GIFT_CARD_LIABILITY} (orders.accounts.gift_card)" in text, text
    assert "account 3524" not in text  # only the missing ones
