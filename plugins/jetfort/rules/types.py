"""Value types of the rules (annotated strings and ints with their limits), their validators, the
closed vocabularies (flows, plans, features, Fortnox states) and the base model every rules model uses.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Annotated, Any, Literal, get_args

from croniter import croniter
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from jetfort.rules.errors import join_path

Flow = Literal["ecom", "erp", "combo"]
Plan = Literal["100", "200", "400", "800", "premium"]
Feature = Literal["order_status", "stock", "price_lists", "multishop", "plugins"]
FortnoxState = Literal["delivered", "invoiced", "paid", "cancelled", "credited"]
"""``credited``: a shop return was credited in Fortnox (a shop-originated event, pushed by the credits
stage of the orders DAG, not derived by the order-status flow)."""
PLANS: tuple[str, ...] = get_args(Plan)
FEATURES: tuple[str, ...] = get_args(Feature)


def unique(values: list[Any]) -> list[Any]:
    seen: set[Any] = set()
    dupes: list[Any] = []
    for v in values:
        if v in seen:
            dupes.append(v)
        seen.add(v)
    if dupes:
        raise ValueError(f"duplicate value(s) {', '.join(repr(d) for d in dict.fromkeys(dupes))}")
    return values


Key = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]{1,20}$")]
ConnId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.\-]{1,200}$")]
ChannelRef = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9_]{1,20}/[a-z0-9_]{1,20}$"),
    Field(description="A channel as '<shop key>/<channel key>'."),
]
StatusId = Annotated[int, Field(ge=0, description="A Jetshop order/stock status id (shop-configurable).")]
Account = Annotated[int, Field(ge=1000, le=9999, description="A BAS account number.")]
ArticleNumber = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_\-+/.]{1,50}$")]
CustomerNumber = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_\-+/]{1,50}$")]
TermsCode = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z0-9]{1,25}$"), AfterValidator(str.upper)
]  # Fortnox upper-cases terms-of-payment codes
DeliveryCode = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_\-]{1,50}$")]
PriceListCode = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_\-]{1,100}$")]
#: A Norce price list's agreement code (``PriceListCode`` in SKU prices, ``Code`` of a price list).
NorcePriceListCode = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.\-]{1,50}$")]
TagCode = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_\-]{1,20}$")]
VatRateKey = Annotated[str, StringConstraints(pattern=r"^(0|[1-9][0-9]?)(\.[0-9]{1,2})?$")]
StockPointCode = Annotated[str, StringConstraints(min_length=1, max_length=10)]
_DOTTED = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+(:[A-Za-z_][A-Za-z0-9_]*)?$")


def _check_dotted(value: str) -> str:
    if not _DOTTED.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a dotted import path like 'acme_plugins.mapper' or 'acme_plugins.mapper:adjust'"
        )
    return value


DottedPath = Annotated[str, AfterValidator(_check_dotted)]

_CRON_PRESETS = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}


@lru_cache(maxsize=256)  # a parse checks every tenant's crons; a few distinct ones, ~0.2 ms each in croniter
def _check_cron(value: str) -> str:
    """A 5-field cron (presets like ``@hourly`` become their cron) that croniter accepts."""
    text = " ".join(value.split())
    text = _CRON_PRESETS.get(text, text)
    if text.startswith("@"):
        raise ValueError(
            f"unsupported preset {value!r}; use a 5-field cron or one of {sorted(_CRON_PRESETS)}"
        )
    if len(text.split()) != 5:
        raise ValueError(f"{value!r} is not a 5-field cron expression (minute hour day month weekday)")
    if not croniter.is_valid(text):
        raise ValueError(f"invalid cron expression {value!r}")
    return text


Cron = Annotated[str, AfterValidator(_check_cron)]

_SECRET_KEY = re.compile(r"pass(word|wd)?|secret|token|api[_-]?key|private[_-]?key|credential", re.I)


def secret_keys(value: Any, path: str = "") -> list[str]:
    found: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            sub = join_path(path, str(key))
            if _SECRET_KEY.search(str(key)) and not str(key).endswith("conn_id"):
                found.append(sub)
            found.extend(secret_keys(item, sub))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found.extend(secret_keys(item, f"{path}[{i}]"))
    return found


class RulesModel(BaseModel):
    """Base: unknown keys are errors (typos surface with their path); defaults are validated too."""

    model_config = ConfigDict(extra="forbid", validate_default=True)
