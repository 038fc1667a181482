"""Pushed orders: what Norce's receiver stored in the ledger's inbox, read by the orders flow's extract.

The inbox is keyed by the shop's connection id (one shop = one connection); a shop whose backend has
no push model (Jetshop) never has anything stored there, so this reads nothing for it. Each stored
payload is read with the shop backend's :meth:`~jetfort.shop.interface.ShopBackend.order_from_push`;
one it cannot read is returned as a :class:`ShopUnreadableOrder` beside the readable orders, never
dropped: it stays in the inbox until extract has recorded it (quarantined, or logged when it has no id).

Rows leave the pending list only through :func:`mark_consumed`, after extract committed its own
ledger records of those orders; a row pushed again with other content while the run read it stays
pending (see :meth:`jetfort.ledger.inbox.InboxStore.inbox_mark_consumed`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from jetfort.ledger.inbox import InboxEntry
from jetfort.shop.errors import ShopUnreadableOrder
from jetfort.shop.interface import ShopBackend
from jetfort.shop.models import ShopOrder
from jetfort.tasks.runtime import TenantRuntime

log = logging.getLogger(__name__)

INT32_MAX = 2**31 - 1


@dataclass
class PushedOrders:
    """One read of a shop's inbox: the orders, the unreadable ones, and which inbox row each came from.

    ``refs`` maps every row read (ref → the payload hash read), for :func:`mark_consumed`; ``ref_of``
    maps a readable order's id to its row's ref, ``unreadable_refs`` is parallel to ``unreadable``.
    """

    conn_id: str
    orders: list[ShopOrder] = field(default_factory=list)
    unreadable: list[ShopUnreadableOrder] = field(default_factory=list)
    unreadable_refs: list[str] = field(default_factory=list)
    ref_of: dict[int, str] = field(default_factory=dict)
    refs: dict[str, str] = field(default_factory=dict)

    def consumable(self, *, keep: Iterable[str] = ()) -> dict[str, str]:
        """ref → hash of the rows read, except those in ``keep`` (for :func:`mark_consumed`)."""
        kept = set(keep)
        return {ref: digest for ref, digest in self.refs.items() if ref not in kept}


def inbox_conn_id(runtime: TenantRuntime, shop_key: str) -> str:
    """The connection id the shop's pushed orders are stored under (a shop that never pushes has none stored)."""
    shop_rules = next((s for s in runtime.rules.shops if s.key == shop_key), None)
    if shop_rules is None:
        raise KeyError(f"tenant {runtime.tenant!r} has no shop {shop_key!r}")
    return shop_rules.conn_id


def read_pushed(runtime: TenantRuntime, shop_key: str, shop: ShopBackend, *, limit: int = 500) -> PushedOrders:
    """Up to ``limit`` pending pushed orders of the shop, oldest first, read by ``shop``."""
    conn_id = inbox_conn_id(runtime, shop_key)
    batch = PushedOrders(conn_id)
    for entry in runtime.ledger.inbox_pending(conn_id, limit):
        batch.refs[entry.ref] = entry.payload_hash
        try:
            order = shop.order_from_push(entry.payload)
        except ShopUnreadableOrder as problem:
            batch.unreadable.append(problem)
            batch.unreadable_refs.append(entry.ref)
            continue
        except Exception as exc:  # a reader's bug must not hide the order: reported like unreadable data
            log.exception("shop %s: pushed order %s could not be read", shop_key, entry.ref)
            batch.unreadable.append(_unreadable(entry, exc))
            batch.unreadable_refs.append(entry.ref)
            continue
        batch.orders.append(order)
        batch.ref_of[order.order_id] = entry.ref
    if batch.refs:
        log.info("shop %s: %d pushed order(s) in the inbox of %s (%d unreadable)", shop_key, len(batch.refs),
                 batch.conn_id, len(batch.unreadable))
    return batch


def mark_consumed(runtime: TenantRuntime, shop_key: str, refs: Iterable[str] | Mapping[str, str]) -> int:
    """Take rows off the shop's pending list once extract recorded their orders; returns how many.

    Pass :meth:`PushedOrders.consumable` (ref → hash read) so that a row replaced by a newer push in
    the meantime stays pending; plain refs mark the rows whatever they hold now."""
    if not refs:
        return 0
    return runtime.ledger.inbox_mark_consumed(inbox_conn_id(runtime, shop_key), refs)


def note_unusable(runtime: TenantRuntime, shop_key: str, problems: Mapping[str, str]) -> None:
    """Note on each row (ref → message) why it was left pending, for whoever looks at the inbox."""
    conn_id = inbox_conn_id(runtime, shop_key)
    for ref, message in problems.items():
        runtime.ledger.inbox_note_error(conn_id, ref, message)


def _unreadable(entry: InboxEntry, exc: Exception) -> ShopUnreadableOrder:
    """A payload the backend failed on with something other than :class:`ShopUnreadableOrder`."""
    text = entry.ref.strip()
    order_id = int(text) if text.isascii() and text.isdigit() and 0 < int(text) <= INT32_MAX else None
    return ShopUnreadableOrder(order_id, entry.ref, "OrderRequest", "pushed payload",
                               f"could not be read ({type(exc).__name__})")
