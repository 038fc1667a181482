"""Catalog extension points: a tenant plugin adjusts the article/product jetfort writes."""

from __future__ import annotations

from typing import Any

import pytest

from jetfort.extensions import apply_catalog_plugins
from jetfort.fortnox.models import FortnoxArticle
from jetfort.rules import parse_tenant
from jetfort.shop.models import ProductUpsert

HERE = __name__


def after_map_article(article: FortnoxArticle, record: Any, rules: Any, config: dict[str, Any]) -> FortnoxArticle:
    return article.model_copy(update={"description": f"{config['prefix']}{record['Description']}"})


def after_map_product(product: ProductUpsert, record: Any, rules: Any, config: dict[str, Any]) -> ProductUpsert | None:
    if config.get("break"):
        return product.model_copy(update={"name": 42})  # invalid: revalidation catches it
    return None


def rules(**config: Any) -> Any:
    return parse_tenant("t", {"flow": "ecom", "fortnox_conn_id": "fx", "plugins": [{"path": HERE, "config": config}],
                              "shops": [{"key": "se", "jetshop_conn_id": "a", "channels": [
                                  {"key": "se", "culture": "sv-SE", "currency": "SEK",
                                   "price_list_guid": "7C7DFEC3-2312-4DC9-A74F-913F3DA0C686"}]}]})


def test_article_and_product_hooks() -> None:
    record = {"ArticleNumber": "1", "Description": "Kopp"}
    article = apply_catalog_plugins("after_map_article", FortnoxArticle(description="Kopp"), record, rules(prefix="W-"))
    assert article.description == "W-Kopp"
    product = ProductUpsert(article_number="1", name="Kopp")
    assert apply_catalog_plugins("after_map_product", product, record, rules(prefix="")) == product
    with pytest.raises(ValueError, match="after_map_product"):
        apply_catalog_plugins("after_map_product", product, record, rules(prefix="", **{"break": True}))
