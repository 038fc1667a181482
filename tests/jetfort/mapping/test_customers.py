"""plan_customer: match keys (org number vs e-mail, never a missing e-mail), collective B2C customer,
company/private type, VAT type by country and VAT number, organisation number checks, addresses."""

from __future__ import annotations

import pytest

from jetfort.fortnox.models import CustomerType, FortnoxCustomer, VatType, max_length
from jetfort.mapping.customers import plan_customer
from jetfort.mapping.problems import MappingProblem
from jetfort.mapping.text import luhn_ok, normalise_email, normalise_org_number
from jetfort.shop.models import ShopOrder
from sandbox.fortnox.validation import validate

from .conftest import SHOP_KEY, make_rules


def _with_customer(order: ShopOrder, **changes: str) -> ShopOrder:
    return order.model_copy(update={"customer": order.customer.model_copy(update=changes)})


def test_company_is_matched_by_org_number_first(awkward: dict[str, ShopOrder]) -> None:
    order = awkward["company_buyer_se"]
    plan = plan_customer(order, make_rules(), SHOP_KEY)
    assert plan.org_number == "556677-8899"
    assert plan.email == order.customer.email.lower()
    assert plan.match_order == ("organisation_number", "email")
    assert plan.match_values == (("organisation_number", "556677-8899"), ("email", plan.email))
    customer = plan.customer
    assert customer.type == CustomerType.COMPANY
    assert customer.vat_type == VatType.SEVAT
    assert customer.organisation_number == "556677-8899"
    assert customer.name == order.customer.company_name
    assert customer.your_reference == order.billing.full_name
    assert customer.show_price_vat_included is False


def test_match_order_follows_the_rules(awkward: dict[str, ShopOrder]) -> None:
    rules = make_rules({"customer_match": ["email", "organisation_number"]})
    plan = plan_customer(awkward["company_buyer_se"], rules, SHOP_KEY)
    assert plan.match_order == ("email", "organisation_number")
    only_email = plan_customer(awkward["company_buyer_se"], make_rules({"customer_match": ["email"]}), SHOP_KEY)
    assert only_email.match_order == ("email",)


def test_private_buyer_goes_to_the_collective_customer(awkward: dict[str, ShopOrder]) -> None:
    rules = make_rules({"collective_customer_number": "1000"})
    plan = plan_customer(awkward["plain_single_row"], rules, SHOP_KEY)
    assert plan.use_collective == "1000"
    assert plan.customer.type == CustomerType.PRIVATE
    assert plan.customer.show_price_vat_included is True
    assert plan_customer(awkward["plain_single_row"], make_rules(), SHOP_KEY).use_collective is None


@pytest.mark.parametrize("kind", ["company_buyer_se", "eu_address_sek", "vat_0_export_non_eu",
                                  "company_buyer_eu_reverse_charge"])
def test_collective_customer_only_for_swedish_private_buyers(kind: str, awkward: dict[str, ShopOrder]) -> None:
    """The VAT type lives on the Fortnox customer: companies, EU consumers and exports get their own."""
    plan = plan_customer(awkward[kind], make_rules({"collective_customer_number": "1000"}), SHOP_KEY)
    assert plan.use_collective is None


def test_missing_email_never_matches(awkward: dict[str, ShopOrder]) -> None:
    order = awkward["missing_email"]
    plan = plan_customer(order, make_rules(), SHOP_KEY)
    assert plan.email is None
    assert plan.org_number is None
    assert plan.match_order == ()
    assert plan.match_values == ()
    assert plan.customer.email is None
    assert plan.customer.name == order.billing.full_name


@pytest.mark.parametrize("email", ["   ", "not-an-address", "a@b", "two@@example.se"])
def test_malformed_email_is_no_match_key(email: str, awkward: dict[str, ShopOrder]) -> None:
    plan = plan_customer(_with_customer(awkward["plain_single_row"], email=email), make_rules(), SHOP_KEY)
    assert plan.email is None
    assert "email" not in plan.match_order
    assert plan.customer.email is None


def test_email_is_normalised(awkward: dict[str, ShopOrder]) -> None:
    plan = plan_customer(_with_customer(awkward["plain_single_row"], email="  Kund@Example.SE "), make_rules(),
                         SHOP_KEY)
    assert plan.email == "kund@example.se"
    assert plan.match_values == (("email", "kund@example.se"),)


@pytest.mark.parametrize("org", ["556677-8898", "5566778", "55667788990", "ABCDEF-1234"])
def test_invalid_swedish_org_number_is_a_problem(org: str, awkward: dict[str, ShopOrder]) -> None:
    order = _with_customer(awkward["company_buyer_se"], org_number=org)
    with pytest.raises(MappingProblem) as caught:
        plan_customer(order, make_rules(), SHOP_KEY)
    assert caught.value.reason == "invalid_org_number"
    assert caught.value.field == "customer.organisation_number"
    assert org in caught.value.message and order.order_number in caught.value.message


@pytest.mark.parametrize("org", ["5566778899", "556677 8899", "16556677-8899", "SE556677889901"])
def test_org_number_spellings_normalise(org: str, awkward: dict[str, ShopOrder]) -> None:
    plan = plan_customer(_with_customer(awkward["company_buyer_se"], org_number=org), make_rules(), SHOP_KEY)
    assert plan.org_number == "556677-8899"


def test_swedish_org_number_from_vat_number(awkward: dict[str, ShopOrder]) -> None:
    order = _with_customer(awkward["company_buyer_se"], org_number="")
    plan = plan_customer(order, make_rules(), SHOP_KEY)
    assert plan.org_number == "556677-8899"
    assert plan.customer.vat_number == "SE556677889901"
    assert any("556677-8899" in note for note in plan.notes)


def test_eu_company_with_vat_number_is_reverse_charge(awkward: dict[str, ShopOrder]) -> None:
    order = awkward["company_buyer_eu_reverse_charge"]
    plan = plan_customer(order, make_rules(), SHOP_KEY)
    assert plan.vat_type == VatType.EUREVERSEDVAT
    assert plan.customer.vat_number == "NL123456782B01"
    assert plan.customer.type == CustomerType.COMPANY
    assert plan.customer.currency == "EUR"
    assert plan.org_number is None  # foreign company without an org number: found by e-mail
    assert plan.match_order == ("email",)


def test_eu_company_without_vat_number_pays_swedish_vat(awkward: dict[str, ShopOrder]) -> None:
    order = _with_customer(awkward["company_buyer_eu_reverse_charge"], vat_number="")
    assert plan_customer(order, make_rules(), SHOP_KEY).vat_type == VatType.EUVAT


def test_foreign_org_number_is_kept_as_given(awkward: dict[str, ShopOrder]) -> None:
    order = _with_customer(awkward["company_buyer_eu_reverse_charge"], org_number="KvK 12345678")
    plan = plan_customer(order, make_rules(), SHOP_KEY)
    assert plan.org_number == "KvK 12345678"
    assert plan.match_order[0] == "organisation_number"


@pytest.mark.parametrize(("kind", "vat_type"), [
    ("plain_single_row", VatType.SEVAT),
    ("eu_address_sek", VatType.EUVAT),
    ("currency_eur_eu_consumer", VatType.EUVAT),
    ("vat_0_export_non_eu", VatType.EXPORT),
    ("non_eu_address_ch", VatType.EXPORT),
    ("currency_nok_non_eu", VatType.EXPORT),
    ("company_buyer_eu_reverse_charge", VatType.EUREVERSEDVAT),
])
def test_vat_type_by_country(kind: str, vat_type: VatType, awkward: dict[str, ShopOrder]) -> None:
    plan = plan_customer(awkward[kind], make_rules(), SHOP_KEY)
    assert plan.vat_type == vat_type
    assert plan.customer.vat_type == vat_type


def test_delivery_country_decides_vat_type(awkward: dict[str, ShopOrder]) -> None:
    """Goods are taxed where they go: Swedish billing, Norwegian delivery → export."""
    order = awkward["separate_billing_delivery"]
    moved = order.model_copy(update={"delivery": order.delivery.model_copy(update={"country_code": "NO"})})
    assert plan_customer(moved, make_rules(), SHOP_KEY).vat_type == VatType.EXPORT


def test_order_without_country_is_swedish_with_a_note(awkward: dict[str, ShopOrder]) -> None:
    order = awkward["plain_single_row"]
    blank = order.model_copy(update={"billing": order.billing.model_copy(update={"country_code": ""}),
                                     "delivery": order.delivery.model_copy(update={"country_code": ""})})
    plan = plan_customer(blank, make_rules(), SHOP_KEY)
    assert plan.vat_type == VatType.SEVAT
    assert plan.customer.country_code is None
    assert any("no country" in note for note in plan.notes)


def test_separate_delivery_address(awkward: dict[str, ShopOrder]) -> None:
    order = awkward["separate_billing_delivery"]
    customer = plan_customer(order, make_rules(), SHOP_KEY).customer
    assert customer.address1 == order.billing.street
    assert customer.delivery_address1 == order.delivery.street
    assert customer.delivery_address2 == order.delivery.care_of
    same = plan_customer(awkward["plain_single_row"], make_rules(), SHOP_KEY).customer
    assert same.delivery_address1 is None


def test_too_long_zip_code_is_a_problem_not_a_cut(awkward: dict[str, ShopOrder]) -> None:
    order = awkward["plain_single_row"]
    bad = order.model_copy(update={"billing": order.billing.model_copy(update={"zip_code": "12345-67890-1"})})
    with pytest.raises(MappingProblem) as caught:
        plan_customer(bad, make_rules(), SHOP_KEY)
    assert (caught.value.reason, caught.value.field) == ("field_too_long", "billing.zip_code")


def test_long_and_odd_text_fits_fortnox(awkward: dict[str, ShopOrder]) -> None:
    for kind in ("very_long_names", "non_latin_text", "xml_special_chars", "empty_optional_fields"):
        customer = plan_customer(awkward[kind], make_rules(), SHOP_KEY).customer
        payload = customer.to_payload()
        validate("Customer", {"Customer": payload}, create=True)  # the Fortnox sandbox accepts it
        assert len(customer.name or "") <= (max_length(FortnoxCustomer, "name") or 1024)
        assert customer.name
        assert all(ord(ch) <= 0xFFFF for value in payload.values() if isinstance(value, str) for ch in value)


def test_customer_defaults_from_rules(awkward: dict[str, ShopOrder]) -> None:
    rules = make_rules({"customer_defaults": {"terms_of_payment": "10", "way_of_delivery": "P",
                                              "price_list": "B"}})
    customer = plan_customer(awkward["plain_single_row"], rules, SHOP_KEY).customer
    assert (customer.terms_of_payment, customer.way_of_delivery, customer.price_list) == ("10", "P", "B")


def test_helpers() -> None:
    assert luhn_ok("5566778899") and not luhn_ok("5566778898")
    assert normalise_org_number("19556677-8899") == "556677-8899"
    assert normalise_org_number("556677-889") is None
    assert normalise_email("A@B.SE") == "a@b.se"


def test_vat_number_alone_makes_a_company(awkward: dict[str, ShopOrder]) -> None:
    """Peers created private customers for buyers with only a VAT number (and lost reverse charge)."""
    order = _with_customer(awkward["company_buyer_eu_reverse_charge"], company_name="")
    order = order.model_copy(update={"billing": order.billing.model_copy(update={"company": ""}),
                                     "delivery": order.delivery.model_copy(update={"company": ""})})
    plan = plan_customer(order, make_rules(), SHOP_KEY)
    assert plan.customer.type == CustomerType.COMPANY
    assert plan.vat_type == VatType.EUREVERSEDVAT


@pytest.mark.parametrize(("given", "stored"), [
    ("5566778899", "SE556677889901"), ("556677889901", "SE556677889901"), ("se 5566-778899 01", "SE556677889901"),
])
def test_swedish_vat_number_gets_its_prefix(given: str, stored: str, awkward: dict[str, ShopOrder]) -> None:
    plan = plan_customer(_with_customer(awkward["company_buyer_se"], vat_number=given), make_rules(), SHOP_KEY)
    assert plan.customer.vat_number == stored


def test_malformed_vat_number_is_not_used(awkward: dict[str, ShopOrder]) -> None:
    order = _with_customer(awkward["company_buyer_eu_reverse_charge"], vat_number="n/a")
    plan = plan_customer(order, make_rules(), SHOP_KEY)
    assert plan.customer.vat_number is None
    assert plan.vat_type == VatType.EUVAT
    assert any("not a VAT number" in note for note in plan.notes)
