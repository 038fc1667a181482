"""Formats jetfort persists outside itself, pinned to literal values.

The idempotency key is written into every Fortnox document jetfort creates and is how a re-run finds
the document instead of creating a second one; the catalog row hash is stored per article in the
ledger's snapshots and decides what counts as changed. A change to either re-keys every document
(a re-run would post duplicates) or rewrites every catalog row on the next run. So the literals
below were derived outside jetfort (``sha256sum`` / ``b2sum -l 128`` from coreutils over the
documented byte strings) and must never be updated to make a test pass: changing them needs a
migration of the stored keys or hashes, and a note in the changelog.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from jetfort.catalog.diff import frame_of, hash_rows
from jetfort.fortnox.models import FortnoxArticle
from jetfort.mapping import idempotency_key
from jetfort.mapping.products import ProductMapping, canonical_hash
from jetfort.rules import load_mapping, parse_tenant
from jetfort.shop.models import Address, Product, ShopCustomer, ShopOrder

STAMP = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
RULES = {"flow": "ecom", "fortnox_conn_id": "fortnox_demo", "shops": [
    {"key": "se", "jetshop_conn_id": "jetshop_demo_se", "channels": [
        {"key": "se", "culture": "sv-SE", "currency": "SEK",
         "price_list_guid": "7C7DFEC3-2312-4DC9-A74F-913F3DA0C686"}]}]}


def order(order_id: int) -> ShopOrder:
    return ShopOrder(shop_id="demoshop", order_id=order_id, order_number=str(order_id), order_date=STAMP,
                     modified_date=STAMP, status_id=1, channel_id=1, customer=ShopCustomer(), billing=Address(),
                     delivery=Address(), total_inc_vat=Decimal("125"), total_ex_vat=Decimal("100"),
                     vat_total=Decimal("25"))


# ------------------------------------------------------------------------------ idempotency key
def test_the_idempotency_key_is_prefix_shop_key_and_order_id() -> None:
    assert idempotency_key("se", order(104527)) == "jetfort:se:104527"
    assert idempotency_key("nordic", order(7)) == "jetfort:nordic:7"


def test_a_key_of_exactly_80_characters_stays_readable() -> None:
    shop_key = "b" * 65  # "jetfort:" + 65 + ":" + "104527" = 80 characters, the field's length
    assert idempotency_key(shop_key, order(104527)) == f"jetfort:{shop_key}:104527"


@pytest.mark.parametrize(("shop_key", "expected"), [
    # sha256sum of "<shop key>\0<order id>", first 40 hex digits
    ("s" * 100, "jetfort:h:d85dc6eb0c6ebf92f95ea506a1991cb5e38f3200"),
    ("b" * 66, "jetfort:h:5ef3ab65952b008b47848b36025742f5ac7f531b"),  # 81 characters: one too many
])
def test_a_longer_key_is_the_pinned_hash(shop_key: str, expected: str) -> None:
    assert idempotency_key(shop_key, order(104527)) == expected


# ------------------------------------------------------------------------------ catalog row hash
@pytest.fixture(scope="module")
def products() -> ProductMapping:
    return ProductMapping.from_rules(parse_tenant("t", RULES), load_mapping("catalog_fields.json"))


def test_the_hashed_columns_and_their_order(products: ProductMapping) -> None:
    # the row hash joins the values in this order: a column added, dropped or moved changes every hash
    assert products.columns == ["Active", "Description", "EAN", "Manufacturer", "ManufacturerArticleNumber",
                                "Note", "Unit", "VAT", "Weight"]


def test_a_fortnox_article_row_hash(products: ProductMapping) -> None:
    article = FortnoxArticle(article_number="1001", description="T-shirt bomull", ean="7312345678901",
                             unit="st", vat=Decimal(25), weight=350, active=True, manufacturer="Acme",
                             manufacturer_article_number="A-1", note="Mjuk")
    record = products.canonical_from_fortnox(article)
    # b2sum -l 128 of "1␟T-shirt bomull␟7312345678901␟Acme␟A-1␟Mjuk␟st␟25␟350" (␟ = U+001F)
    expected = "939397f69994ed95a4231ab4d5a9805d"
    assert canonical_hash(record, products.columns) == expected
    frame = frame_of([{"key": "1001", **record}], products.columns, key="key")
    assert hash_rows(frame, products.columns).tolist() == [expected]  # the vectorised hash stored in snapshots


def test_a_shop_product_row_hash_with_empty_fields_and_utf8(products: ProductMapping) -> None:
    shop = Product(article_number="2001", culture="sv-SE", name="Kaffe mörkrost 500 g", quantity_suffix="0",
                   vat_rate=Decimal("0.12000000"), weight=Decimal("0.5000"), hide_product=True)
    record = products.canonical_from_shop(shop)
    # b2sum -l 128 of "0␟Kaffe mörkrost 500 g␟␟␟␟␟␟12␟500" in UTF-8 (hidden, no unit, 12 %, 500 g)
    expected = "3c30f89d638fafcef240b9dddddd3d29"
    assert canonical_hash(record, products.columns) == expected
    frame = frame_of([{"key": "2001", **record}], products.columns, key="key")
    assert hash_rows(frame, products.columns).tolist() == [expected]
