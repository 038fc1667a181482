"""Product mapping both ways through the canonical form (plain data, no I/O)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from jetfort.fortnox.models import FortnoxArticle
from jetfort.mapping.products import ArticleScope, ProductMapping, canonical_hash
from jetfort.rules import load_mapping, parse_tenant
from jetfort.shop.models import Product

BASE = {"flow": "ecom", "fortnox_conn_id": "fortnox_demo", "shops": [
    {"key": "se", "jetshop_conn_id": "jetshop_demo_se", "channels": [
        {"key": "se", "culture": "sv-SE", "currency": "SEK",
         "price_list_guid": "7C7DFEC3-2312-4DC9-A74F-913F3DA0C686"}]}]}


def mapping(**catalog: object) -> ProductMapping:
    rules = parse_tenant("t", {**BASE, "catalog": catalog} if catalog else BASE)
    return ProductMapping.from_rules(rules, load_mapping("catalog_fields.json"))


def test_a_fortnox_article_and_the_shop_product_it_becomes_hash_alike() -> None:
    m = mapping()
    article = FortnoxArticle(article_number="1001", description="T-shirt bomull", ean="7312345678901",
                             unit="st", vat=Decimal(25), weight=350, active=True, manufacturer="Acme",
                             manufacturer_article_number="A-1", note="Mjuk")
    record = m.canonical_from_fortnox(article)
    assert record["VAT"] == "25" and record["Weight"] == "350" and record["Active"] == "1"
    upsert = m.to_shop(record, culture="sv-SE")
    assert upsert.vat_rate == Decimal("0.25") and upsert.weight == Decimal("0.35")
    assert upsert.hide_product is False and upsert.quantity_suffix == "st" and upsert.name == "T-shirt bomull"
    # what the shop reports back after that write has the same canonical form
    shop = Product(article_number="1001", culture="sv-SE", name=upsert.name or "", ean=upsert.ean or "",
                   quantity_suffix="st", vat_rate=Decimal("0.25000000"), weight=Decimal("0.3500"),
                   manufacturer="Acme", manufacturer_article_number="A-1", short_description="Mjuk")
    assert m.canonical_from_shop(shop) == record
    assert canonical_hash(m.canonical_from_shop(shop), m.columns) == canonical_hash(record, m.columns)


def test_variants_are_flat_and_names_fit_fortnox_limits() -> None:
    m = mapping(description_max_length=20)
    variant = Product(article_number="1003", culture="sv-SE", name="Huvtröja med dragkedja", att_value="S",
                      parent_article_number="1002", quantity_suffix="0", vat_rate=Decimal("0.25"))
    record = m.canonical_from_shop(variant)
    assert record["Description"] == "Huvtröja med dragked"  # "<parent> - S", cut to 20
    assert record["Unit"] == ""  # Jetshop's "0" means no unit
    short = Product(article_number="1004", culture="sv-SE", name="Mössa", att_value="M", parent_article_number="1")
    assert m.canonical_from_shop(short)["Description"] == "Mössa - M"
    already = Product(article_number="1005", culture="sv-SE", name="Mössa - L", att_value="L", parent_article_number="1")
    assert m.canonical_from_shop(already)["Description"] == "Mössa - L"


def test_to_fortnox_writes_vat_as_the_sales_account_and_new_article_defaults() -> None:
    m = mapping()
    shop = Product(article_number="2001", culture="sv-SE", name="Kaffe", vat_rate=Decimal("0.12"), hide_product=True)
    record = m.canonical_from_shop(shop)
    created = m.to_fortnox(record, create=True).to_payload()
    assert created["ArticleNumber"] == "2001" and created["SalesAccount"] == 3002
    assert created["Active"] is False and created["WebshopArticle"] is True and created["StockGoods"] is True
    assert "VAT" not in created  # read-only in Fortnox
    updated = m.to_fortnox(record, create=False).to_payload()
    assert "ArticleNumber" not in updated and "StockGoods" not in updated
    with pytest.raises(ValueError, match="VAT"):
        m.to_fortnox({**record, "VAT": "7"}, create=False)


def test_tenant_field_map_drops_and_remaps_fields() -> None:
    m = mapping(field_map={"Weight": None, "Note": "ProductDescription"})
    assert "Weight" not in m.columns
    article = FortnoxArticle(article_number="1", description="x", note="<p>lång</p>")
    assert m.to_shop(m.canonical_from_fortnox(article), culture="sv-SE").description == "<p>lång</p>"


@pytest.mark.parametrize(("number", "ok"), [("1001", True), ("GIFT-500", True), ("A/B.1+2_3", True),
                                            ("BAD NUMBER", False), ("ÅÄÖ", False), ("x" * 51, False), ("", False)])
def test_article_numbers_fortnox_refuses_are_named(number: str, ok: bool) -> None:
    assert (mapping().article_number_problem(number) is None) is ok


def test_article_scope_globs_webshop_and_inactive() -> None:
    scope = ArticleScope(include=("10*",), exclude=("1008",))
    assert scope.admits("1001") and not scope.admits("1008") and not scope.admits("S001")
    assert not scope.admits("1002", webshop=False) and scope.admits("1002", webshop=False, known=True)
    assert not scope.admits("1003", active=False) and scope.admits("1003", active=False, known=True)
