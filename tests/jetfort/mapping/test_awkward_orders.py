"""Every awkward order kind of the Jetshop sandbox, through plan_customer and map_document, under
each missing-article policy: mapped with Fortnox's totals equal to the shop's (checked against the
Fortnox sandbox's own document builder), or a MappingProblem with the expected reason and field."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import pytest

from jetfort.mapping.customers import plan_customer
from jetfort.mapping.orders import FortnoxFacts, map_document
from jetfort.mapping.problems import REASONS, MappingProblem
from jetfort.mapping.totals import fortnox_totals
from jetfort.shop.models import ShopOrder
from sandbox.jetshop.seed import AWKWARD_KINDS

from .conftest import SHOP_KEY, FortnoxPoster, make_rules

# Kinds that are wrong whatever the policy: the shop charged Swedish VAT to buyers outside the EU
# (Fortnox books exports without VAT), and a return row inside a sale.
ALWAYS = {
    "currency_nok_non_eu": ("vat_charged_on_vat_free_sale", "rows[0].vat_rate"),
    "non_latin_text": ("vat_charged_on_vat_free_sale", "rows[0].vat_rate"),
    "negative_quantity": ("negative_quantity", "rows[1].quantity"),
}
# GIFT-500 has no Fortnox article; one row has no article number at all.
QUARANTINE_ONLY = {
    "mixed_vat_25_12_6_0": ("unknown_article", "rows[3].article_number"),
    "gift_card_purchase": ("unknown_article", "rows[0].article_number"),
    "missing_article_number": ("missing_article_number", "rows[1].article_number"),
}
EXPECTED_PROBLEMS = {
    "create": ALWAYS,
    "text_row": ALWAYS,
    "quarantine": {**ALWAYS, **QUARANTINE_ONLY},
}
MAPPED_EVERYWHERE = set(AWKWARD_KINDS) - set(ALWAYS) - set(QUARANTINE_ONLY)
CASES = [(policy, kind) for policy in EXPECTED_PROBLEMS for kind in AWKWARD_KINDS]


def test_every_kind_is_classified() -> None:
    """A new awkward kind in the sandbox must be given an expected outcome here."""
    assert len(AWKWARD_KINDS) >= 30
    assert set(ALWAYS) | set(QUARANTINE_ONLY) | MAPPED_EVERYWHERE == set(AWKWARD_KINDS)
    assert {reason for reason, _ in {**ALWAYS, **QUARANTINE_ONLY}.values()} <= set(REASONS)


@pytest.mark.parametrize(("policy", "kind"), CASES, ids=[f"{p}-{k}" for p, k in CASES])
def test_awkward_kind(policy: str, kind: str, awkward: dict[str, ShopOrder], facts: FortnoxFacts,
                      poster: FortnoxPoster) -> None:
    order = awkward[kind]
    rules = make_rules({"missing_article": policy, "document": "invoice"},
                       flow="erp" if policy == "quarantine" else "ecom")
    expected = EXPECTED_PROBLEMS[policy].get(kind)
    if expected is not None:
        with pytest.raises(MappingProblem) as caught:
            plan = plan_customer(order, rules, SHOP_KEY)
            map_document(order, rules, SHOP_KEY, customer_number="1", facts=facts)
        assert (caught.value.reason, caught.value.field) == expected
        assert order.order_number in caught.value.message
        return
    plan = plan_customer(order, rules, SHOP_KEY)
    number = poster.customer(plan)
    mapped = map_document(order, rules, SHOP_KEY, customer_number=number, facts=facts)
    assert mapped.vat_type == plan.vat_type
    # our total check passed, and the figure agrees with the Fortnox sandbox building the same payload
    assert mapped.totals is not None
    assert abs(mapped.shop_total - mapped.totals.unrounded) <= _tolerance(mapped.document.currency,
                                                                         mapped.document.currency_rate)
    created = {a.article_number for a in mapped.articles_to_create}
    assert not created & set(facts.articles), "only articles Fortnox lacks are created"
    assert created <= {r.article_number for r in order.rows}
    if policy != "create":
        assert not created
    stored = poster.document(mapped)
    assert Decimal(str(stored["Total"])) == mapped.fortnox_total
    assert Decimal(str(stored["TotalVAT"])) == mapped.totals.vat
    assert Decimal(str(stored["RoundOff"])) == mapped.totals.round_off
    assert Decimal(str(stored["FreightVAT"])) == mapped.totals.freight_vat
    assert abs(Decimal(str(stored["Total"])) - order.total_inc_vat) <= Decimal("0.5") + _tolerance(
        mapped.document.currency, mapped.document.currency_rate)
    # identity and references
    assert stored["YourOrderNumber"] == order.order_number
    assert stored[mapped.idempotency_field] == mapped.idempotency_key
    assert stored["Currency"] == (order.currency or "SEK")


@pytest.mark.parametrize("vat_included", [True, False])
@pytest.mark.parametrize("document", ["order", "invoice"])
def test_all_mappable_kinds_balance_for_every_document_setting(
        document: str, vat_included: bool, awkward: dict[str, ShopOrder], facts: FortnoxFacts,
        poster: FortnoxPoster) -> None:
    """Net (VATIncluded false) and gross documents, orders and invoices: Fortnox's total equals the
    shop's for every kind that maps, and the sandbox computes the same totals."""
    rules = make_rules({"missing_article": "create", "document": document, "vat_included": vat_included})
    for kind in sorted(MAPPED_EVERYWHERE | set(QUARANTINE_ONLY)):
        order = awkward[kind]
        number = poster.customer(plan_customer(order, rules, SHOP_KEY))
        mapped = map_document(order, rules, SHOP_KEY, customer_number=number, facts=facts)
        assert mapped.kind == document
        stored = poster.document(mapped)
        assert Decimal(str(stored["Total"])) == mapped.fortnox_total, kind
        assert stored["VATIncluded"] is (vat_included and not mapped.vat_free), kind
        totals = fortnox_totals(mapped.document, vat_free=mapped.vat_free)
        assert abs(totals.unrounded - order.total_inc_vat) <= _tolerance(
            mapped.document.currency, mapped.document.currency_rate), kind


def _tolerance(currency: str | None, rate: Decimal | None) -> Decimal:
    tolerance = Decimal("1.00")  # defaults.json rounding_tolerance
    if currency and currency != "SEK" and rate:
        return tolerance / rate
    return tolerance


def test_generated_ordinary_orders_all_balance(facts: FortnoxFacts, poster: FortnoxPoster) -> None:
    """Volume path: 200 generated orders of both shops map and Fortnox's totals match the shop's."""
    from zoneinfo import ZoneInfo

    from jetfort.jetshop.convert import order_from_wire
    from sandbox.jetshop.state import JetshopSandbox

    jetshop = JetshopSandbox(seed=3)
    jetshop.generate_orders("demoshop", 150, seed=11)
    jetshop.generate_orders("nordicshop", 50, seed=12)
    tz = ZoneInfo("Europe/Stockholm")
    orders = [order_from_wire(o, shop, tz) for shop in ("demoshop", "nordicshop") for o in jetshop.orders(shop)
              if o["_kind"] in ("ordinary", "generated")]
    assert len(orders) >= 200
    rules = make_rules({"document": "order"})
    for order in orders:
        number = poster.customer(plan_customer(order, rules, SHOP_KEY))
        mapped = map_document(order, rules, SHOP_KEY, customer_number=number, facts=facts)
        stored = poster.document(mapped)
        assert Decimal(str(stored["Total"])) == mapped.fortnox_total == order.total_inc_vat.quantize(
            Decimal(1), rounding=ROUND_HALF_UP)
