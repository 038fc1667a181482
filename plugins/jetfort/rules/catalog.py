"""Products between the shop and Fortnox: which articles, which fields, drift correction."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints, field_validator

from jetfort.rules.errors import Problems
from jetfort.rules.files import default_value, from_defaults, load_mapping
from jetfort.rules.types import RulesModel


class ArticleFilter(RulesModel):
    """Which articles the catalog flows touch; patterns are shell globs on the article number."""

    webshop_only: bool = Field(
        default=True, description="Fortnox side: only articles flagged WebshopArticle."
    )
    active_only: bool = True
    include: list[Annotated[str, StringConstraints(min_length=1)]] = Field(default_factory=list)
    exclude: list[Annotated[str, StringConstraints(min_length=1)]] = Field(default_factory=list)


class CatalogRules(RulesModel):
    """Products between the shop and Fortnox; field_map overrides include/mappings/product_fields.json."""

    description_max_length: int = Field(
        default_factory=lambda: default_value("catalog", "description_max_length"),
        ge=1,
        le=200,
        description="Fortnox article Description limit to write (200 max; updates over 50 fail in practice).",
    )
    variant_name_separator: str = from_defaults("catalog", "variant_name_separator")
    field_map: dict[str, Annotated[str, StringConstraints(min_length=1)] | None] = Field(
        default_factory=dict, description="Fortnox article field → Jetshop field (null drops the field)."
    )
    article_filter: ArticleFilter = Field(default_factory=lambda: ArticleFilter())
    correct_drift: bool = Field(default=False, description="The drift report also writes corrections.")

    @field_validator("field_map")
    @classmethod
    def _known_fortnox_fields(cls, value: dict[str, str | None]) -> dict[str, str | None]:
        known = set(load_mapping("product_fields.json")["fortnox_article_fields"])
        unknown = [k for k in value if k not in known]
        if unknown:
            raise Problems(
                [(k, f"not a Fortnox article field jetfort maps (known: {sorted(known)})") for k in unknown]
            )
        if value.get("ArticleNumber", "ArticleNumber") != "ArticleNumber":
            raise Problems(
                [("ArticleNumber", "article numbers are the same on both sides and cannot be remapped")]
            )
        return value

    def effective_field_map(self) -> dict[str, str]:
        fields: dict[str, str | None] = {**load_mapping("product_fields.json")["fields"], **self.field_map}
        return {k: v for k, v in fields.items() if v is not None}
