"""Airflow hook for the ledger connection type, so ``conn.get_hook()`` works for it too."""

from __future__ import annotations

from typing import Any

from airflow.sdk.bases.hook import BaseHook

from jetfort.ledger.engine import DEFAULT_CONN_ID, url_from_connection
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
        conn = self.get_connection(self.ledger_conn_id)
        return Ledger.from_url(url_from_connection(conn), secret_key=conn.extra_dejson.get("secret_key"))
