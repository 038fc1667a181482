"""Reverse charge (0 % VAT) only for an EU VAT number that is valid: check digits per country and the
buyer's own country. Oracles: the valid and invalid examples in python-stdnum's module docs
(stdnum.de.vat, fr.tva, nl.btw, fi.alv, at.uid, it.iva, dk.cvr), not jetfort's code."""

from __future__ import annotations

import pytest

from jetfort.fortnox.models import VatType
from jetfort.mapping.customers import plan_customer
from jetfort.mapping.orders import FortnoxFacts, map_document
from jetfort.mapping.problems import MappingProblem
from jetfort.shop.models import ShopOrder

from .conftest import SHOP_KEY, make_rules

#: (VAT number, the buyer's country) — valid per stdnum's docs
VALID = [("DE136695976", "DE"), ("FR40303265045", "FR"), ("NL004495445B01", "NL"), ("FI20774740", "FI"),
         ("ATU13585627", "AT"), ("IT00743110157", "IT"), ("DK13585628", "DK")]
#: (VAT number, the buyer's country, its country's adjective) — a wrong check digit per stdnum's docs
BAD_CHECK_DIGIT = [("DE136695978", "DE", "German"), ("FI20774741", "FI", "Finnish"),
                   ("ATU13585626", "AT", "Austrian"), ("IT00743110158", "IT", "Italian"),
                   ("DK13585627", "DK", "Danish"), ("NL123456789B90", "NL", "Dutch"),
                   ("FR84323140391", "FR", "French")]


def _eu_company(order: ShopOrder, vat_number: str, country: str) -> ShopOrder:
    """The seeded EU reverse-charge order, moved to ``country`` with ``vat_number``."""
    return order.model_copy(update={
        "customer": order.customer.model_copy(update={"vat_number": vat_number}),
        "billing": order.billing.model_copy(update={"country_code": country}),
        "delivery": order.delivery.model_copy(update={"country_code": country}),
    })


@pytest.mark.parametrize(("number", "country"), VALID)
def test_a_valid_vat_number_of_the_buyers_country_is_reverse_charge(
        number: str, country: str, awkward: dict[str, ShopOrder], facts: FortnoxFacts) -> None:
    order = _eu_company(awkward["company_buyer_eu_reverse_charge"], number, country)
    plan = plan_customer(order, make_rules(), SHOP_KEY)
    assert plan.vat_type == VatType.EUREVERSEDVAT
    assert plan.customer.vat_number == number
    mapped = map_document(order, make_rules(), SHOP_KEY, customer_number="1", facts=facts)
    assert {row.vat for row in mapped.document.rows or []} == {0}


@pytest.mark.parametrize(("number", "country", "adjective"), BAD_CHECK_DIGIT)
def test_a_vat_number_with_a_wrong_check_digit_is_quarantined(
        number: str, country: str, adjective: str, awkward: dict[str, ShopOrder], facts: FortnoxFacts) -> None:
    order = _eu_company(awkward["company_buyer_eu_reverse_charge"], number, country)
    for attempt in (lambda: plan_customer(order, make_rules(), SHOP_KEY),
                    lambda: map_document(order, make_rules(), SHOP_KEY, customer_number="1", facts=facts)):
        with pytest.raises(MappingProblem) as caught:
            attempt()
        problem = caught.value
        assert problem.reason == "invalid_vat_number"
        assert problem.field == "customer.vat_number"
        message = problem.message
        assert message.startswith(f"Order {order.order_number}: {number} is not a valid {adjective} VAT number")
        assert "check digit" in message and "0 % VAT" in message and "correct it in the shop" in message


def test_a_vat_number_of_another_country_than_the_buyers_is_quarantined(
        awkward: dict[str, ShopOrder]) -> None:
    order = _eu_company(awkward["company_buyer_eu_reverse_charge"], "DE136695976", "FR")
    with pytest.raises(MappingProblem) as caught:
        plan_customer(order, make_rules(), SHOP_KEY)
    assert caught.value.reason == "vat_number_country_mismatch"
    assert caught.value.field == "customer.vat_number"
    assert "German" in caught.value.message and "France" in caught.value.message


def test_the_seeded_reverse_charge_buyer_has_a_valid_number(awkward: dict[str, ShopOrder]) -> None:
    """The sandbox seeds real-format numbers that pass the check (no fake 123456789 numbers)."""
    order = awkward["company_buyer_eu_reverse_charge"]
    assert plan_customer(order, make_rules(), SHOP_KEY).vat_type == VatType.EUREVERSEDVAT


def test_a_swedish_vat_number_abroad_is_no_reverse_charge(awkward: dict[str, ShopOrder]) -> None:
    order = _eu_company(awkward["company_buyer_eu_reverse_charge"], "SE556677889901", "DE")
    assert plan_customer(order, make_rules(), SHOP_KEY).vat_type == VatType.EUVAT


def test_text_that_is_no_vat_number_is_not_used(awkward: dict[str, ShopOrder]) -> None:
    order = _eu_company(awkward["company_buyer_eu_reverse_charge"], "n/a", "NL")
    plan = plan_customer(order, make_rules(), SHOP_KEY)
    assert plan.vat_type == VatType.EUVAT and plan.customer.vat_number is None
