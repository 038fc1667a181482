"""summary: per state pushed, captured, e-mails, skipped, quarantined; plus open quarantine per kind."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from jetfort.mapping import status as mapping
from jetfort.tasks.order_status.common import COUNTERS, KIND_CAPTURE, KIND_FACTS, KIND_STATUS, runtime_for
from jetfort.tasks.runtime import TenantRuntime, format_table

log = logging.getLogger(__name__)


def summarize(tenant: str, read: Mapping[str, Any] | None, pushes: Iterable[Mapping[str, Any] | None], *,
              shops: Iterable[str], runtime: TenantRuntime | None = None) -> dict[str, Any]:
    """Per state: pushed, captured, e-mails, skipped, quarantined; plus open quarantine per kind."""
    totals: dict[str, dict[str, int]] = {s: dict.fromkeys(COUNTERS, 0) for s in mapping.STATE_ORDER}
    reported: set[str] = set()
    for push in pushes:
        if not push:
            continue
        reported.add(str(push.get("shop")))
        for state, counts in (push.get("states") or {}).items():
            for name in COUNTERS:
                totals[state][name] += int(counts.get(name, 0))
    rt = runtime_for(tenant, runtime)
    try:
        open_entries = rt.ledger.open_quarantine(tenant)
    finally:
        if runtime is None:
            rt.close()
    open_by_kind = {kind: sum(1 for q in open_entries if q.kind == kind)
                    for kind in (KIND_FACTS, KIND_STATUS, KIND_CAPTURE)}
    rows: list[dict[str, Any]] = [{"state": s, **totals[s]} for s in mapping.STATE_ORDER]
    rows.append({"state": "total", **{n: sum(totals[s][n] for s in totals) for n in COUNTERS}})
    missing = sorted(set(shops) - reported)
    summary = {
        "tenant": tenant, **({"dry_run": True} if (read or {}).get("dry_run") else {}),
        "window": (read or {}).get("window"),
        "read": {k: v for k, v in (read or {}).items() if k not in ("window", "planned", "shop_orders", "unsettled")},
        "rows": rows, "states": totals, "open_quarantine": open_by_kind, "shops_not_finished": missing,
    }
    log.info("order status summary for tenant %s\n%s\nopen quarantine: %s%s", tenant,
             format_table(rows, ["state", *COUNTERS]),
             open_by_kind, f"\nshops not finished (see their task logs): {missing}" if missing else "")
    return summary
