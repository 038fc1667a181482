"""Order status back: what happens to a linked document in Fortnox reaches the Jetshop order.

Three tasks (wired in ``dags/jetfort_order_status.py``; ``commit_events`` follows when events are on):

``read_changes``
    Fortnox orders and invoices changed since the window start (data interval or cursor, minus the
    overlap). Only documents linked to a shop order in the ledger (kind ``order``, written by the
    orders flow) count. For each affected shop order the documents are read in full, the states
    are derived (:mod:`jetfort.mapping.status`) and stored in the ledger: the latest facts as
    kind ``order_status`` and one record per state as kind ``status`` (``<shop>:<order>:<state>``,
    state ``pending`` until pushed). A scheduled run pushes nothing here; only counts go to XCom.
``push_status`` (one mapped instance per shop)
    Pushes pending states in order (delivered, invoiced, paid; cancelled wins), each exactly once:
    a compare-and-set ``pending → pushing → pushed`` in the ledger guards against concurrent and
    retried runs, and a push whose answer was lost (``pushing``) is first checked against the shop
    order before anything is sent again. Before the status that captures, the payment is captured
    once (kind ``capture``, ``<shop>:<order>``), for the lower of the document total and the
    authorised amount, never for an order cancelled in Fortnox or in the shop; a refused capture is
    quarantined with the PSP's message and the status is still pushed.
``summary``
    A table per state: pushed, captured, e-mails, skipped, quarantined (XCom and key ``summary``).

A run started by Fortnox events (or by the orders DAG's ``orders_posted`` asset) does all of this in
``read_changes`` for the shop orders its events name, commits its events, and skips the other tasks
(:mod:`jetfort.tasks.order_status.event_run`): every task costs seconds of scheduling.

Failures: a refusal by the shop (status or capture) is quarantined with the shop's message and a
hint; a transient failure leaves its record in doubt and fails the shop's task instance after the
other orders were handled, so Airflow retries it and the retry starts from the ledger.
"""
from __future__ import annotations

from jetfort.tasks.order_status.common import (
    COUNTERS,
    CURSOR,
    KIND_CAPTURE,
    KIND_FACTS,
    KIND_LINK,
    KIND_STATUS,
    StatusPushIncomplete,
)
from jetfort.tasks.order_status.push import push_status
from jetfort.tasks.order_status.read import read_changes
from jetfort.tasks.order_status.summary import summarize
from jetfort.tasks.order_status.wiring import build_order_status

__all__ = [
    "COUNTERS",
    "CURSOR",
    "KIND_CAPTURE",
    "KIND_FACTS",
    "KIND_LINK",
    "KIND_STATUS",
    "StatusPushIncomplete",
    "build_order_status",
    "push_status",
    "read_changes",
    "summarize",
]
