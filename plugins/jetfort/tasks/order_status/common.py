"""What the order-status tasks share: ledger kinds and states, the runtime, the link's shop order."""

from __future__ import annotations

from jetfort.errors import PermanentError, TransientError
from jetfort.ledger.store import Record
from jetfort.tasks.runtime import TenantRuntime

CURSOR = "order_status"
#: ledger kinds: the orders flow's link, the latest derived facts, one per pushed state, one capture
KIND_LINK = "order"
KIND_FACTS = "order_status"
KIND_STATUS = "status"
KIND_CAPTURE = "capture"
LINKED = ("posted", "acknowledged")
#: status record states
PENDING, PUSHING, PUSHED = "pending", "pushing", "pushed"
UNMAPPED, SUPERSEDED, QUARANTINED = "unmapped", "superseded", "quarantined"
#: capture record states
CAPTURING, CAPTURED, BLOCKED, NOT_CAPTURABLE = "capturing", "captured", "blocked", "not_capturable"
COUNTERS = ("pushed", "captured", "emails", "skipped", "quarantined")


class StatusRunFailed(PermanentError):
    """A shop's status push did not finish after its retries; the summary names the shop."""


class StatusPushIncomplete(TransientError):
    """Some shop orders could not be finished for a transient reason; a retry continues them."""


def runtime_for(tenant: str, runtime: TenantRuntime | None) -> TenantRuntime:
    """The caller's runtime, else the tenant's own (which the caller then closes)."""
    return runtime if runtime is not None else TenantRuntime.for_tenant(tenant)


def order_key(link: Record) -> tuple[str, int]:
    """(shop key, order id) of the orders flow's link."""
    detail = link.detail or {}
    shop, _, order_id = link.source_key.partition(":")
    return str(detail.get("shop") or shop), int(detail.get("order_id") or order_id)


def invoice_index(invoice_number: str) -> str:
    """Ledger cursor row: invoice made from a linked order → the shop order's source key."""
    return f"{CURSOR}:invoice:{invoice_number}"
