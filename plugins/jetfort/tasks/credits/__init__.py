"""Money back: shop orders cancelled or returned after they reached Fortnox (the orders DAG's
``credits`` stage, one per shop, after acknowledge).

* **find** (:mod:`.find`): orders modified in the run's window in any status (own cursor
  ``credits:<shop>``; a backfill or a ``since``/``until`` run repeats its window and leaves the
  cursor), orders named by ``order_numbers``, and every unfinished credit record; kept when the
  orders flow's ledger record links them to a Fortnox document and the shop cancelled them or
  registered returns not yet credited.
* **decide** (:mod:`jetfort.mapping.credits`, pure): cancel the Fortnox order while it is not
  invoiced; cancel the invoice while it is neither booked (``credits.accounting_method``) nor paid;
  otherwise credit it (``PUT credit``), or, after partial credits, credit what is left. Each return
  becomes a credit invoice of exactly its rows, freight and fee (never more than was invoiced).
* **apply** (:mod:`.apply`, :mod:`.fortnox`): each event once (``pending → crediting → credited``),
  found again by its key after a crash; quarantined with the reason and the shop field when it cannot
  be; **report** (:mod:`.report`) per the status map.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from jetfort.tasks.credits.apply import COUNTS, ShopCredits
from jetfort.tasks.credits.find import KIND, find_candidates
from jetfort.tasks.orders.common import PostingIncomplete
from jetfort.tasks.runtime import TenantRuntime, Window, run_window

log = logging.getLogger(__name__)

__all__ = ["COUNTS", "KIND", "credit_shop"]


def credit_shop(runtime: TenantRuntime, shop_key: str, *, context: Mapping[str, Any],
                order_numbers: Sequence[str] = (), run_id: str | None = None, dry_run: bool = False,
                window: Window | None = None) -> dict[str, Any]:
    """Find and apply the shop's money-back events; returns the counts (raises
    :class:`~jetfort.tasks.orders.common.PostingIncomplete` when some wait for a retry)."""
    rules, ledger, tenant = runtime.rules, runtime.ledger, runtime.tenant
    if not rules.credits.enabled:
        return {"shop": shop_key, **dict.fromkeys(COUNTS, 0), "disabled": True}
    if order_numbers:
        window = None
    else:
        window = window or run_window(context, ledger=ledger, tenant=tenant, cursor=f"credits:{shop_key}",
                                      overlap_minutes=rules.schedules.window_overlap_minutes)
        log.info("shop %s: credits window %s → %s (%s)", shop_key, window.start.isoformat(),
                 window.end.isoformat(), window.source)
    candidates = find_candidates(runtime, shop_key, window, order_numbers, dry_run=dry_run)
    stage = ShopCredits(runtime, shop_key, run_id=run_id, dry_run=dry_run)
    result = stage.run(candidates)
    result["window"] = window.as_dict() if window else None
    if stage.failures:
        raise PostingIncomplete(f"shop {shop_key}: {len(stage.failures)} credit(s) not finished (resumed on "
                                "retry): " + "; ".join(stage.failures[:10]))
    if not dry_run and window is not None and window.source != "params":
        previous = ledger.get_cursor(tenant, f"credits:{shop_key}")
        if previous is None or dt.datetime.fromisoformat(previous) < window.end:
            ledger.set_cursor(tenant, f"credits:{shop_key}", window.end.isoformat())
    return result
