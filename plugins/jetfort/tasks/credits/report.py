"""Report money back to the shop, per the status map (``credits.report_to_shop``).

A cancellation or return starts in the shop, so the shop already shows it; what it learns back:

- **cancelled**: the shop order is in a cancelled status already (that is what started it), so
  nothing is sent; the order-status flow's ``cancelled`` state is marked as already pushed for the
  order, so that flow never sets the map's cancelled status (and e-mail) over the shop's own.
- **credited** (optional state of the status map, null by default): the shop status to set once a
  return is credited in Fortnox, once per return (ledger kind ``status``, key
  ``<shop>:<order id>:credited:r<return id>``).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from jetfort.tasks.order_status.common import KIND_STATUS, PUSHED
from jetfort.tasks.orders.common import KIND as ORDER_KIND

if TYPE_CHECKING:
    from jetfort.tasks.credits.find import Candidate
    from jetfort.tasks.runtime import TenantRuntime

log = logging.getLogger(__name__)


def report_cancelled(runtime: TenantRuntime, c: Candidate) -> None:
    """The shop shows its own cancellation: mark the status flow's ``cancelled`` as already pushed."""
    if not runtime.rules.credits.report_to_shop:
        return
    key = f"{c.shop_key}:{c.current.order_id}:cancelled"
    runtime.ledger.ensure_record(runtime.tenant, KIND_STATUS, key, state=PUSHED, detail={
        "jetshop_status": c.current.status_id, "origin": "shop",
        "message": "cancelled in the shop; cancelled or credited in Fortnox by jetfort's credits stage"})


def report_credited(runtime: TenantRuntime, c: Candidate, event: str) -> None:
    rules = runtime.rules
    if not (rules.credits.report_to_shop and rules.status_map.enabled):
        return
    action = rules.status_map.states_for(c.shop_key).credited
    if action is None:
        return
    key = f"{c.shop_key}:{c.current.order_id}:credited:{event}"
    record = runtime.ledger.get(runtime.tenant, KIND_STATUS, key)
    if record is not None and record.state == PUSHED:
        return
    link = runtime.ledger.get(runtime.tenant, ORDER_KIND, f"{c.shop_key}:{c.current.order_id}")
    runtime.shop(c.shop_key).set_order_status(c.current.order_id, action.jetshop_status, send_email=action.send_email,
                                              erp_reference=link.target_key if link else None)
    runtime.ledger.ensure_record(runtime.tenant, KIND_STATUS, key, state=PUSHED,
                                 detail={"jetshop_status": action.jetshop_status, "event": event})
    log.info("shop %s order %s: return %s credited → shop status %s", c.shop_key, c.current.order_number,
             event, action.jetshop_status)
