"""A secrets backend for tests, configured the way a deployment configures one
(``AIRFLOW__SECRETS__BACKEND`` or, for workers only, ``AIRFLOW__WORKERS__SECRETS_BACKEND``, with
``..._KWARGS``): it serves the connections given in ``connections`` (conn id → Airflow's JSON form)
and fails, the way a sealed vault or a network outage does, for every conn id listed in ``down``
(comma-separated), and for every id while the file ``outage_file`` exists (an outage that starts
while the process runs: Airflow keeps a configured backend for the life of the process). Any other
id is simply not there."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from airflow.sdk.bases.secrets_backend import BaseSecretsBackend

#: what the failure says; tests look for it in the error jetfort raises
REASON = "secrets store unreachable: connection refused (jetfort test backend)"
BACKEND = f"{__name__}.SecretsStoreBackend"


class SecretsStoreBackend(BaseSecretsBackend):
    def __init__(self, connections: dict[str, Any] | None = None, down: str = "", outage_file: str = "",
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.connections = dict(connections or {})
        self.down = {item.strip() for item in down.split(",") if item.strip()}
        self.outage_file = Path(outage_file) if outage_file else None

    def get_conn_value(self, conn_id: str, team_name: str | None = None) -> str | None:
        if conn_id in self.down or (self.outage_file is not None and self.outage_file.exists()):
            raise ConnectionError(REASON)
        value = self.connections.get(conn_id)
        return value if value is None or isinstance(value, str) else json.dumps(value)

    def get_variable(self, key: str, team_name: str | None = None) -> str | None:
        return None

    def get_config(self, key: str) -> str | None:
        return None
