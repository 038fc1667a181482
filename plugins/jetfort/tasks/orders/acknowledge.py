"""Acknowledge: each posted order gets the shop's transferred status, noting its Fortnox document."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jetfort.shop.models import StatusUpdate
from jetfort.tasks.orders.common import (
    KIND,
    AcknowledgeIncomplete,
    carried_counts,
    order_id_of,
    step_in_run,
)
from jetfort.tasks.runtime import TenantRuntime
from jetfort.tasks.summary import push_partial

#: status updates sent to the shop in one request
ACK_CHUNK = 50


def acknowledge_shop(runtime: TenantRuntime, shop_key: str, batch: Mapping[str, Any], *,
                     run_id: str | None = None) -> dict[str, Any]:
    """Set each posted order to the shop's transferred status, noting the Fortnox number."""
    ledger, tenant, rules = runtime.ledger, runtime.tenant, runtime.rules
    counts = carried_counts(shop_key, batch)
    if batch.get("dry_run"):
        return {**counts, "keys": []}
    status = rules.orders.transferred_status_for(shop_key)
    found = list(ledger.get_many(tenant, KIND, batch.get("keys") or []).values())
    records = [r for r in found if r.state == "posted"]
    counts["acknowledged"] += sum(1 for r in found if r.state == "acknowledged"
                                  and step_in_run(ledger, tenant, r.source_key, run_id, ("acknowledge",)))
    shop = runtime.shop(shop_key)
    failures: list[str] = []
    for start in range(0, len(records), ACK_CHUNK):
        chunk = records[start:start + ACK_CHUNK]
        updates = [StatusUpdate(order_id=order_id_of(r.source_key), status_id=status, erp_reference=r.target_key,
                                comment=f"Fortnox {r.target_type} {r.target_key} (jetfort)") for r in chunk]
        results = {res.order_id: res for res in shop.set_order_statuses(updates, strict=False)}
        done: list[dict[str, Any]] = []
        for record in chunk:
            answer = results.get(order_id_of(record.source_key))
            if answer is None or not answer.success:
                failures.append(f"{record.source_key}: {answer.message if answer else 'no answer'}")
                continue
            done.append({"source_key": record.source_key, "state": "acknowledged", "step": "acknowledge",
                         "expect": ["posted"], "run_id": run_id,
                         "message": f"shop status {status}; Fortnox {record.target_type} {record.target_key}"})
        counts["acknowledged"] += len(ledger.transition_many(tenant, KIND, done))
    result = {**counts, "keys": [r.source_key for r in records]}
    if failures:
        push_partial(result)
        raise AcknowledgeIncomplete(f"shop {shop_key}: {len(failures)} order(s) not set to status {status}: "
                                    + "; ".join(failures[:10]))
    return result
