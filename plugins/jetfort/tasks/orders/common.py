"""What every stage of the orders flow shares: the ledger kind and states, keys, errors, the counts."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from jetfort.errors import PermanentError, TransientError
from jetfort.ledger.store import Record
from jetfort.rules import Channel, TenantRules
from jetfort.shop.models import ShopOrder
from jetfort.tasks.runtime import TenantRuntime

log = logging.getLogger(__name__)

KIND = "order"
#: states a run re-examines even when the order did not change inside the window
OPEN_STATES = ("seen", "mapped", "posting", "posted", "quarantined", "held")
DONE_STATES = ("acknowledged",)
LINKED_STATES = ("posted", "acknowledged")
CREATE_ATTEMPTS = 3

COUNT_FIELDS = ("seen", "posted", "adopted", "acknowledged", "quarantined", "held", "skipped",
                "retry_later", "fortnox_calls")


class OrdersRunFailed(PermanentError):
    """Some shop of the tenant did not finish; the summary names the shop and the stage."""


class PostingIncomplete(TransientError):
    """Some orders could not be posted for a transient reason; they are resumed on the retry."""


class AcknowledgeIncomplete(TransientError):
    """Some shop orders could not be set to the transferred status; retried on the retry/next run."""


# ------------------------------------------------------------------------------------------ keys
def source_key(shop_key: str, order_id: int) -> str:
    return f"{shop_key}:{order_id}"


def order_id_of(key: str) -> int:
    """The Jetshop order id of a record's source key ``<shop key>:<order id>``."""
    return int(key.rsplit(":", 1)[1])


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


# ------------------------------------------------------------------------------------------ runtime
def open_runtime(tenant: str) -> TenantRuntime:
    """The tenant's runtime (its hooks are configured by its connections and rules alone)."""
    return TenantRuntime.for_tenant(tenant)


def channel_for(rules: TenantRules, shop_key: str, order: ShopOrder) -> Channel | None:
    """The rules' channel an order belongs to: by the shop's channel id, else an id-less channel of its currency."""
    shop = next(s for s in rules.shops if s.key == shop_key)
    for channel in shop.channels:
        if channel.order_channel_id is not None and channel.order_channel_id == order.channel_id:
            return channel
    for channel in shop.channels:
        if channel.order_channel_id is None and channel.currency == order.currency:
            return channel
    return None


def order_detail(shop_key: str, order: ShopOrder, **extra: Any) -> dict[str, Any]:
    """The record's ``detail``: the contract fields the order-status flow reads, and the order itself."""
    return {
        "shop": shop_key,
        "order_id": order.order_id,
        "order_number": order.order_number,
        "currency": order.currency,
        "total": str(order.total_inc_vat),
        "payment_provider": str(order.payment.provider),
        "authorized_amount": str(order.payment.authorized_amount),
        "channel_id": order.channel_id,
        "order_date": order.order_date.isoformat(),
        "status_id": order.status_id,
        "order": order.model_dump(mode="json"),
        **extra,
    }


def order_from(record: Record) -> ShopOrder:
    """The shop order as extract stored it in the record's detail."""
    assert record.detail is not None
    return ShopOrder.model_validate(record.detail["order"])


# ------------------------------------------------------------------------------------------ counts
def new_counts(shop_key: str) -> dict[str, Any]:
    return {"shop": shop_key, **{name: 0 for name in COUNT_FIELDS}}


def carried_counts(shop_key: str, batch: Mapping[str, Any]) -> dict[str, Any]:
    """The counts a stage starts from: what the stages before it handed on in ``batch``."""
    return {**new_counts(shop_key), **{k: batch.get(k, 0) for k in COUNT_FIELDS if k != "shop"}}


def fortnox_calls(runtime: TenantRuntime) -> int:
    """Fortnox requests this task made so far (0 while it has not opened the hook)."""
    return runtime.fortnox.request_count if "fortnox" in runtime.__dict__ else 0


def step_in_run(ledger: Any, tenant: str, key: str, run_id: str | None, steps: Sequence[str]) -> str | None:
    """The last of ``steps`` this run recorded for ``key`` (an earlier try's work, for the counts)."""
    if run_id is None:
        return None
    for row in reversed(ledger.audit(tenant, KIND, key)):
        if row["step"] in steps:
            return str(row["step"]) if row["run_id"] == run_id else None
    return None
