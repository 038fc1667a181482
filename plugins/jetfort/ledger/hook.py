"""Airflow hook for the ledger connection type, so ``conn.get_hook()`` works for it too."""

from __future__ import annotations

from typing import Any

from airflow.sdk.bases.hook import BaseHook

from jetfort.ledger.engine import DEFAULT_CONN_ID
from jetfort.ledger.store import Ledger


class LedgerHook(BaseHook):
    conn_name_attr = "ledger_conn_id"
    default_conn_name = DEFAULT_CONN_ID
    conn_type = "jetfort_ledger"
    hook_name = "jetfort ledger"

    def __init__(self, ledger_conn_id: str = DEFAULT_CONN_ID, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ledger_conn_id = ledger_conn_id

    def get_ledger(self) -> Ledger:
        """The ledger of this connection, read as every task reads it (failures raise with the reason)."""
        return Ledger.from_conn_id(self.ledger_conn_id)
