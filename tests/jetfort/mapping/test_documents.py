"""map_document details: freight VAT split, header vs rows, rounding, invoice vs order, discounts,
currency, references and channel tags, problems with their reasons and fields."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from jetfort.fortnox.models import DiscountType, FortnoxInvoice, FortnoxOrder, VatType
from jetfort.mapping.orders import FortnoxFacts, idempotency_key, map_document, pct
from jetfort.mapping.problems import MappingProblem
from jetfort.shop.models import OrderRow, RowType, ShopOrder

from .conftest import SHOP_KEY, FortnoxPoster, make_rules

D = Decimal


def _map(order: ShopOrder, facts: FortnoxFacts, **orders: object):
    rules = make_rules({"missing_article": "create", **orders})
    return map_document(order, rules, SHOP_KEY, customer_number="1", facts=facts)


def _freight_rows(document: FortnoxOrder | FortnoxInvoice) -> list:
    return [r for r in document.rows or [] if (r.description or "").startswith("Frakt")]


def _goods_by_rate(order: ShopOrder, *, ex_vat: bool = True) -> dict[Decimal, Decimal]:
    """Value of the goods per VAT rate (gift cards are no goods), ex VAT as Skatteverket splits freight."""
    weights: dict[Decimal, Decimal] = {}
    for row in order.rows:
        if row.row_type != RowType.GIFT_CARD and row.total_inc_vat > 0:
            rate = pct(row.vat_rate)
            value = row.total_inc_vat / (1 + row.vat_rate) if ex_vat else row.total_inc_vat
            weights[rate] = weights.get(rate, D(0)) + value
    return weights


@pytest.mark.parametrize("kind", ["paid_freight_mixed_vat", "mixed_vat_25_12_6_0", "rounding_edge",
                                  "order_discount_code"])
def test_freight_vat_follows_the_goods_in_mixed_carts(kind: str, awkward: dict[str, ShopOrder],
                                                      facts: FortnoxFacts) -> None:
    order = awkward[kind]
    mapped = _map(order, facts)
    weights = _goods_by_rate(order)
    assert len(weights) > 1
    rows = _freight_rows(mapped.document)
    assert mapped.document.freight is None, "the header carries 25 % only; a mixed split goes to rows"
    assert {r.vat for r in rows} == set(weights)
    assert sum(r.price for r in rows) == order.freight_inc_vat
    total_weight = sum(weights.values())
    for row in rows:
        share = order.freight_inc_vat * weights[row.vat] / total_weight
        assert abs(row.price - share) <= D("0.01")
        # BAS 3520 Fakturerade frakter at 25 %; the free 352x sub-accounts per other rate (vat_accounts.json)
        assert row.account_number == {D(25): 3520, D(12): 3523, D(6): 3524, D(0): 3525}[row.vat]
    assert any("follows the goods" in note for note in mapped.notes)


def test_single_rate_25_freight_stays_on_the_header(awkward: dict[str, ShopOrder], facts: FortnoxFacts,
                                                   poster: FortnoxPoster) -> None:
    order = awkward["plain_single_row"]
    mapped = _map(order, facts)
    assert mapped.document.freight == order.freight_inc_vat
    assert _freight_rows(mapped.document) == []
    stored = poster.document(mapped)
    assert D(str(stored["FreightVAT"])) == (order.freight_inc_vat * D("0.2")).quantize(D("0.01"))


def test_freight_of_a_12_percent_cart_is_a_12_percent_row(awkward: dict[str, ShopOrder],
                                                          facts: FortnoxFacts) -> None:
    """Fortnox's header freight carries 25 %: a food-only cart's freight must be a row at 12 %."""
    order = awkward["vat_12_only"]
    mapped = _map(order, facts)
    assert mapped.document.freight is None
    [row] = _freight_rows(mapped.document)
    assert (row.vat, row.price) == (D(12), order.freight_inc_vat)


def test_net_document_header_freight_is_net(awkward: dict[str, ShopOrder], facts: FortnoxFacts) -> None:
    order = awkward["plain_single_row"]
    mapped = _map(order, facts, vat_included=False)
    assert mapped.document.vat_included is False
    assert mapped.document.freight == (order.freight_inc_vat / D("1.25")).quantize(D("0.01"))
    [row] = mapped.document.rows or []
    assert row.price == order.rows[0].unit_price_ex_vat.quantize(D("0.01"))


def test_payment_fee_on_header_or_as_row(awkward: dict[str, ShopOrder], facts: FortnoxFacts) -> None:
    order = awkward["payment_fee"]
    mapped = _map(order, facts)
    assert mapped.document.administration_fee == order.payment.fee_inc_vat
    as_row = _map(order, facts, payment_fee={"mode": "row", "article_number": "S004"})
    assert as_row.document.administration_fee is None
    fee_rows = [r for r in as_row.document.rows or [] if r.article_number == "S004"]
    assert [r.price for r in fee_rows] == [order.payment.fee_inc_vat]


def test_freight_row_mode_uses_the_rule_article(awkward: dict[str, ShopOrder], facts: FortnoxFacts) -> None:
    order = awkward["paid_freight_mixed_vat"]
    mapped = _map(order, facts, freight={"mode": "row", "article_number": "S003"})
    rows = [r for r in mapped.document.rows or [] if r.article_number == "S003"]
    assert len(rows) == 2 and sum(r.price for r in rows) == order.freight_inc_vat
    with pytest.raises(MappingProblem) as caught:
        _map(order, facts, freight={"mode": "row", "article_number": "FRAKT"})
    assert (caught.value.reason, caught.value.field) == ("unknown_article", "freight_inc_vat")
    assert "FRAKT" in caught.value.message


def test_rows_carry_the_shop_row_total_to_the_ore(awkward: dict[str, ShopOrder], facts: FortnoxFacts) -> None:
    """Unit prices with 4 decimals: Fortnox keeps 2, the AMOUNT discount absorbs the difference."""
    order = awkward["rounding_edge"]
    mapped = _map(order, facts)
    for shop_row, row in zip(order.rows, mapped.document.rows or [], strict=False):
        quantity = row.delivered_quantity or D(0)
        total = quantity * (row.price or D(0)) - (row.discount or D(0))
        assert total == shop_row.total_inc_vat.quantize(D("0.01"))
        assert row.price == row.price.quantize(D("0.01"))
        if row.discount:
            assert row.discount_type == DiscountType.AMOUNT
            assert D(0) < row.discount < quantity * D("0.01")


def test_row_discount_is_an_amount(awkward: dict[str, ShopOrder], facts: FortnoxFacts) -> None:
    order = awkward["row_discount"]
    row = (_map(order, facts).document.rows or [])[0]
    assert (row.price, row.discount, row.discount_type) == (
        order.rows[0].unit_price_inc_vat, order.rows[0].discount_inc_vat, DiscountType.AMOUNT)


def test_order_discount_split_by_vat_mix(awkward: dict[str, ShopOrder], facts: FortnoxFacts) -> None:
    order = awkward["order_discount_code"]
    mapped = _map(order, facts)
    rows = [r for r in mapped.document.rows or [] if (r.description or "").startswith("Rabatt")]
    assert -sum(r.price for r in rows) == order.order_discount_inc_vat
    assert all(order.discount_code in (r.description or "") for r in rows)
    weights = _goods_by_rate(order, ex_vat=False)  # the shop spreads its discount over gross values
    for row in rows:
        assert abs(-row.price - order.order_discount_inc_vat * weights[row.vat] / sum(weights.values())) <= D("0.01")
    # the VAT of the discount equals what the shop took off (same mix as the shop)
    shop_vat_off = sum(order.order_discount_inc_vat * w / sum(weights.values()) * (r / 100) / (1 + r / 100)
                       for r, w in weights.items())
    ours = sum(-row.price * (row.vat / 100) / (1 + row.vat / 100) for row in rows)
    assert abs(shop_vat_off - ours) < D("0.02")


def test_invoice_and_order_documents(awkward: dict[str, ShopOrder], facts: FortnoxFacts) -> None:
    order = awkward["variant_rows"]
    invoice = _map(order, facts, document="invoice")
    assert isinstance(invoice.document, FortnoxInvoice) and invoice.kind == "invoice"
    payload = invoice.payload()
    assert "InvoiceRows" in payload and "InvoiceDate" not in payload
    assert all("OrderedQuantity" not in r and r["DeliveredQuantity"] for r in payload["InvoiceRows"])
    fx_order = _map(order, facts, document="order")
    assert isinstance(fx_order.document, FortnoxOrder) and fx_order.kind == "order"
    payload = fx_order.payload()
    assert payload["OrderDate"] == order.order_date.date().isoformat()
    for row, shop_row in zip(payload["OrderRows"], order.rows, strict=True):
        assert row["OrderedQuantity"] == row["DeliveredQuantity"] == str(shop_row.quantity)
    assert invoice.fortnox_total == fx_order.fortnox_total


def test_variant_text_in_description(awkward: dict[str, ShopOrder], facts: FortnoxFacts) -> None:
    order = awkward["variant_rows"]
    descriptions = [r.description for r in _map(order, facts).document.rows or []]
    assert descriptions == [f"{r.name} - {r.variant_text}" for r in order.rows]


def test_currency_and_rate(awkward: dict[str, ShopOrder], facts: FortnoxFacts) -> None:
    order = awkward["currency_eur_eu_consumer"]
    mapped = _map(order, facts)
    document = mapped.document
    assert (document.currency, document.currency_rate, document.currency_unit) == ("EUR", order.currency_rate, 1)
    assert mapped.totals is not None and mapped.totals.round_off == 0, "foreign currency keeps its öre"
    assert document.language == "EN"
    assert all(r.account_number == make_rules().orders.accounts.eu_vat
               for r in document.rows or [] if r.article_number)


def test_currency_rate_from_fortnox_when_the_shop_has_none(awkward: dict[str, ShopOrder],
                                                           facts: FortnoxFacts) -> None:
    order = awkward["currency_eur_eu_consumer"].model_copy(update={"currency_rate": D(1)})
    assert _map(order, facts).document.currency_rate == facts.currency_rates["EUR"]
    no_rates = FortnoxFacts(facts.articles, facts.vat_rates, facts.currencies, {})
    with pytest.raises(MappingProblem) as caught:
        _map(order, no_rates)
    assert (caught.value.reason, caught.value.field) == ("currency_rate_missing", "currency_rate")


def test_currency_not_enabled(awkward: dict[str, ShopOrder], facts: FortnoxFacts) -> None:
    sek_only = FortnoxFacts(facts.articles, facts.vat_rates, frozenset({"SEK"}), {})
    with pytest.raises(MappingProblem) as caught:
        _map(awkward["currency_eur_eu_consumer"], sek_only)
    assert (caught.value.reason, caught.value.field) == ("currency_not_enabled", "currency")
    assert "EUR" in caught.value.message


def test_vat_rate_not_set_up_in_fortnox(awkward: dict[str, ShopOrder], facts: FortnoxFacts) -> None:
    no_six = FortnoxFacts(facts.articles, frozenset({D(25), D(12), D(0)}), facts.currencies, facts.currency_rates)
    with pytest.raises(MappingProblem) as caught:
        _map(awkward["vat_6_only"], no_six)
    assert (caught.value.reason, caught.value.field) == ("vat_rate_not_set_up", "rows[0].vat_rate")
    assert "6 %" in caught.value.message


def test_unknown_vat_rate(awkward: dict[str, ShopOrder], facts: FortnoxFacts) -> None:
    order = awkward["plain_single_row"]
    odd = order.model_copy(update={"rows": [order.rows[0].model_copy(update={"vat_rate": D("0.10")})]})
    with pytest.raises(MappingProblem) as caught:
        _map(odd, facts)
    assert (caught.value.reason, caught.value.field) == ("unknown_vat_rate", "rows[0].vat_rate")


def test_reverse_charge_rows_without_vat(awkward: dict[str, ShopOrder], facts: FortnoxFacts) -> None:
    mapped = _map(awkward["company_buyer_eu_reverse_charge"], facts)
    assert mapped.vat_type == VatType.EUREVERSEDVAT
    assert mapped.document.vat_included is False
    rules = make_rules()
    assert all(r.vat == 0 and r.account_number == rules.orders.accounts.eu_reverse_charge
               for r in mapped.document.rows or [] if r.article_number)
    assert mapped.totals is not None and mapped.totals.vat == 0


def test_export_vat_charged_is_a_problem_naming_the_amount(awkward: dict[str, ShopOrder],
                                                           facts: FortnoxFacts) -> None:
    order = awkward["currency_nok_non_eu"]
    with pytest.raises(MappingProblem) as caught:
        _map(order, facts)
    assert order.rows[0].total_inc_vat == D("252")  # the shop sends 252.0000; a person reads 252.00 NOK
    assert "EXPORT" in caught.value.message and "row 1 (252.00 NOK)" in caught.value.message
    assert "252.0000" not in caught.value.message


def test_total_mismatch_names_both_figures(awkward: dict[str, ShopOrder], facts: FortnoxFacts) -> None:
    order = awkward["plain_single_row"]
    wrong = order.model_copy(update={"total_inc_vat": order.total_inc_vat + D("5.00")})
    with pytest.raises(MappingProblem) as caught:
        _map(wrong, facts)
    problem = caught.value
    assert (problem.reason, problem.field) == ("total_mismatch", "total")
    assert f"{wrong.total_inc_vat:.2f} SEK" in problem.message and f"{order.total_inc_vat:.2f} SEK" in problem.message
    assert not re.search(r"\d\.\d{3}", problem.message)  # amounts for a person: two decimals
    # within the tolerance it passes, and öresavrundning alone is never a mismatch
    near = order.model_copy(update={"total_inc_vat": order.total_inc_vat + D("0.40")})
    assert _map(near, facts).fortnox_total == order.total_inc_vat.quantize(D(1))
    with pytest.raises(MappingProblem):
        _map(near, facts, rounding_tolerance="0.10")


def test_oresavrundning(awkward: dict[str, ShopOrder], facts: FortnoxFacts) -> None:
    order = awkward["rounding_edge"]
    mapped = _map(order, facts)
    assert mapped.totals is not None
    assert mapped.fortnox_total == mapped.fortnox_total.to_integral_value()
    assert mapped.totals.round_off == mapped.fortnox_total - mapped.totals.unrounded
    assert abs(mapped.totals.round_off) <= D("0.50")
    assert mapped.totals.unrounded == order.total_inc_vat


def test_missing_articles_per_rule(awkward: dict[str, ShopOrder], facts: FortnoxFacts) -> None:
    order = awkward["mixed_vat_25_12_6_0"]
    created = _map(order, facts, missing_article="create")
    [article] = created.articles_to_create
    assert article.article_number == "GIFT-500"
    assert article.sales_account == make_rules().orders.accounts.sales_account_for(0)
    assert (created.document.rows or [])[3].article_number == "GIFT-500"
    text = map_document(order, make_rules({"missing_article": "text_row"}, flow="erp"), SHOP_KEY,
                        customer_number="1", facts=facts)
    row = (text.document.rows or [])[3]
    assert row.article_number is None and row.account_number is not None
    assert "GIFT-500" in (row.description or "")
    assert 3 in text.text_rows and not text.articles_to_create


def test_gift_card_redemption_is_an_account_row_under_any_policy(awkward: dict[str, ShopOrder],
                                                                 facts: FortnoxFacts) -> None:
    order = awkward["gift_card_redeemed_row"]
    mapped = map_document(order, make_rules({"missing_article": "quarantine"}, flow="erp"), SHOP_KEY,
                          customer_number="1", facts=facts)
    row = (mapped.document.rows or [])[1]
    assert row.article_number is None and row.price == order.rows[1].total_inc_vat
    assert 1 in mapped.text_rows


def test_invalid_article_number_cannot_be_created(awkward: dict[str, ShopOrder], facts: FortnoxFacts) -> None:
    order = awkward["plain_single_row"]
    odd = order.model_copy(update={"rows": [order.rows[0].model_copy(update={"article_number": "A B C"})]})
    with pytest.raises(MappingProblem) as caught:
        _map(odd, facts)
    assert (caught.value.reason, caught.value.field) == ("invalid_article_number", "rows[0].article_number")


def test_long_description_is_cut_and_kept_in_notes(awkward: dict[str, ShopOrder], facts: FortnoxFacts) -> None:
    order = awkward["very_long_names"]
    mapped = _map(order, facts)
    row = (mapped.document.rows or [])[0]
    assert row.description is not None and len(row.description) == 255 and row.description.endswith("…")
    assert any(order.rows[0].name.strip() in note for note in mapped.notes)
    assert len(mapped.document.comments or "") <= 1024


def test_text_outside_the_bmp_is_dropped(awkward: dict[str, ShopOrder], facts: FortnoxFacts) -> None:
    order = awkward["xml_special_chars"]
    document = _map(order, facts).document
    assert document.comments is not None
    assert "&" in document.comments and "<paketet>" in document.comments and "🎁" not in document.comments
    assert (document.rows or [])[0].description == order.rows[0].name


def test_references_and_channel_tags(awkward: dict[str, ShopOrder], facts: FortnoxFacts) -> None:
    order = awkward["plain_single_row"]
    rules = make_rules({"missing_article": "create", "idempotency_field": "ExternalInvoiceReference2"},
                       status_map={"tracking_field": "YourReference"})
    mapped = map_document(order, rules, SHOP_KEY, customer_number="1", facts=facts)
    document = mapped.document
    assert document.your_order_number == order.order_number
    assert document.external_invoice_reference2 == idempotency_key(SHOP_KEY, order) == mapped.idempotency_key
    assert document.external_invoice_reference1 is None
    assert mapped.idempotency_field == "ExternalInvoiceReference2"
    assert (document.project, document.cost_center, document.our_reference) == ("WEBSE", "SE", "Webbshop SE")
    b2b = _map(awkward["company_buyer_se"], facts).document
    assert (b2b.project, b2b.cost_center, b2b.our_reference) == (None, "B2B", None)
    assert b2b.your_reference == awkward["company_buyer_se"].billing.full_name


def test_unknown_channel_gets_no_tags_and_a_note(awkward: dict[str, ShopOrder], facts: FortnoxFacts) -> None:
    order = awkward["plain_single_row"].model_copy(update={"channel_id": 77})
    mapped = _map(order, facts)
    assert mapped.document.project is None
    assert any("channel 77" in note for note in mapped.notes)


def test_order_number_too_long(awkward: dict[str, ShopOrder], facts: FortnoxFacts) -> None:
    order = awkward["plain_single_row"].model_copy(update={"order_number": "N" * 76})
    with pytest.raises(MappingProblem) as caught:
        _map(order, facts)
    assert (caught.value.reason, caught.value.field) == ("field_too_long", "order_number")


def test_too_many_rows(awkward: dict[str, ShopOrder], facts: FortnoxFacts) -> None:
    order = awkward["many_rows"]
    with pytest.raises(MappingProblem) as caught:
        _map(order, facts, max_rows=len(order.rows) - 1)
    assert (caught.value.reason, caught.value.field) == ("too_many_rows", "rows")
    assert len(_map(order, facts, max_rows=len(order.rows)).document.rows or []) >= len(order.rows)


def test_negative_quantity_names_the_row(awkward: dict[str, ShopOrder], facts: FortnoxFacts) -> None:
    with pytest.raises(MappingProblem) as caught:
        _map(awkward["negative_quantity"], facts)
    assert "-1" in caught.value.message


def test_idempotency_key_is_stable_and_fits(awkward: dict[str, ShopOrder]) -> None:
    order = awkward["plain_single_row"]
    key = idempotency_key(SHOP_KEY, order)
    touched = order.model_copy(update={"modified_date": order.modified_date.replace(year=2030), "status_id": 6})
    assert idempotency_key(SHOP_KEY, touched) == key
    assert idempotency_key("other", order) != key
    other = awkward["row_discount"]
    assert idempotency_key(SHOP_KEY, other) != key
    assert str(order.order_id) in key and len(key) <= 80
    long_key = idempotency_key("s" * 100, order)
    assert len(long_key) <= 80 and long_key == idempotency_key("s" * 100, order)
    assert long_key != idempotency_key("s" * 99, order)


def test_mapping_is_deterministic(awkward: dict[str, ShopOrder], facts: FortnoxFacts) -> None:
    order = awkward["mixed_vat_25_12_6_0"]
    assert _map(order, facts).payload() == _map(order, facts).payload()


def test_zero_quantity_row(facts: FortnoxFacts, awkward: dict[str, ShopOrder]) -> None:
    order = awkward["plain_single_row"]
    extra = OrderRow(row_id=9, article_number="1006", name="Mugg", quantity=0, unit_price_inc_vat=D("129"),
                     unit_price_ex_vat=D("103.2"), vat_rate=D("0.25"), total_inc_vat=D(0))
    mapped = _map(order.model_copy(update={"rows": [*order.rows, extra]}), facts)
    assert (mapped.document.rows or [])[1].delivered_quantity == 0


def test_payment_reference_in_comments(awkward: dict[str, ShopOrder], facts: FortnoxFacts) -> None:
    order = awkward["card_payment"]
    comments = _map(order, facts).document.comments or ""
    assert order.payment.transaction_id in comments and order.payment.method in comments


def test_collective_customer_document_is_mailed_to_the_buyer(awkward: dict[str, ShopOrder],
                                                            facts: FortnoxFacts) -> None:
    order = awkward["plain_single_row"]
    rules = make_rules({"collective_customer_number": "1000"})
    mapped = map_document(order, rules, SHOP_KEY, customer_number="1000", facts=facts)
    info = mapped.document.email_information
    assert info is not None and info.email_address_to == order.customer.email
    assert mapped.document.customer_name == order.billing.full_name
    assert mapped.document.address1 == order.billing.street
    own = map_document(order, rules, SHOP_KEY, customer_number="17", facts=facts)
    assert own.document.email_information is None


def test_text_rows_list_only_shop_rows_without_article(awkward: dict[str, ShopOrder], facts: FortnoxFacts) -> None:
    order = awkward["order_discount_code"]  # discount and freight rows are jetfort's own account rows
    mapped = _map(order, facts)
    assert mapped.text_rows == []
    assert any(r.article_number is None for r in mapped.document.rows or [])


def test_sek_documents_say_sek(awkward: dict[str, ShopOrder], facts: FortnoxFacts) -> None:
    """Explicit even for SEK: a document without Currency takes the customer's, and a returning buyer's
    Fortnox customer may have been created from an EUR order."""
    for kind in ("eu_address_sek", "plain_single_row", "company_buyer_se"):
        assert _map(awkward[kind], facts).payload()["Currency"] == "SEK"
    assert _map(awkward["currency_eur_eu_consumer"], facts).payload()["Currency"] == "EUR"


def test_account_row_always_has_a_description(awkward: dict[str, ShopOrder], facts: FortnoxFacts) -> None:
    """Fortnox refuses a row with a quantity but neither article nor description (2003977)."""
    base = awkward["missing_article_number"]
    nameless = base.model_copy(update={"rows": [base.rows[0], base.rows[1].model_copy(update={"name": ""})]})
    row = (_map(nameless, facts, missing_article="text_row").document.rows or [])[1]
    assert row.article_number is None and row.description


def test_total_check_figures(awkward: dict[str, ShopOrder], facts: FortnoxFacts) -> None:
    order = awkward["rounding_edge"]
    check = _map(order, facts).total_check()
    assert check["shop_total"] == str(order.total_inc_vat) and check["shop_vat"] == str(order.vat_total)
    assert D(check["fortnox_total"]) - D(check["fortnox_unrounded"]) == D(check["round_off"])
    assert D(check["difference"]) == order.total_inc_vat - D(check["fortnox_unrounded"])


def test_negative_total_is_a_credit_not_a_sale(awkward: dict[str, ShopOrder], facts: FortnoxFacts) -> None:
    base = awkward["gift_card_redeemed_row"]
    card = base.rows[1].model_copy(update={"unit_price_inc_vat": D("-1000"), "unit_price_ex_vat": D("-1000"),
                                           "total_inc_vat": D("-1000")})
    order = base.model_copy(update={"rows": [base.rows[0], card],
                                    "total_inc_vat": base.total_inc_vat - base.rows[1].total_inc_vat - 1000})
    assert order.total_inc_vat < 0
    with pytest.raises(MappingProblem) as caught:
        _map(order, facts)
    assert (caught.value.reason, caught.value.field) == ("negative_total", "total_inc_vat")
