"""The trigger with jetfort's real credential path: Airflow connections (AIRFLOW_CONN_*), the Fortnox
hook's OAuth against the sandbox's token endpoint, tokens in the ledger's encrypted store, offsets in
the ledger named by the environment. Two tenants of one app still share ONE socket."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from jetfort.events import hub as hubs
from jetfort.events.credentials import AirflowCredentials, Subscriber
from jetfort.events.offsets import mark_applied, persisted_offsets, stream_key_for
from jetfort.events.stream import StreamSettings
from jetfort.events.trigger import FortnoxEventTrigger
from jetfort.ledger import Ledger
from tests.jetfort.events.support import FAST, events_of, running, until

pytestmark = pytest.mark.timeout(120)


def test_triggers_read_airflow_connections_and_share_one_socket(
        sandbox_server: tuple[str, Any], tmp_path: Any, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    base, sandbox = sandbox_server
    ws_url = base.replace("http://", "ws://") + "/topics-v1"
    ledger_url = f"sqlite:///{tmp_path}/ledger.db"
    monkeypatch.setenv("JETFORT_LEDGER_URL", ledger_url)
    companies = {}
    for conn_id in ("fortnox_x1", "fortnox_x2"):
        company = sandbox.create_company(client_id=sandbox.default.client_id)
        companies[conn_id] = company
        conn = {"conn_type": "fortnox", "host": base, "login": company.client_id, "password": company.client_secret,
                "extra": {"refresh_token": company.refresh_token, "auth_url": f"{base}/oauth-v1/token",
                          "company": f"{conn_id}-{company.tenant_id}", "events_url": ws_url}}
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))
    hubs.reset()
    hubs.configure(settings=lambda: StreamSettings(**FAST))  # real AirflowCredentials
    caplog.set_level("DEBUG", logger="jetfort")

    async def scenario() -> None:
        app = await AirflowCredentials().app(Subscriber("x1", "status", "fortnox_x1"))
        assert (app.events_url, app.client_id) == (ws_url, sandbox.default.client_id)
        async with running() as runner:
            runner.start(1, FortnoxEventTrigger(tenant="x1", purpose="status", fortnox_conn_id="fortnox_x1"))
            runner.start(2, FortnoxEventTrigger(tenant="x2", purpose="catalog", fortnox_conn_id="fortnox_x2"))
            ids = {c.tenant_id for c in companies.values()}
            await until(lambda: [c for c in sandbox.events.connections() if c["subscribed"]
                                 and set(c["tenantIds"]) == ids], what="one socket for both tenants")
            x1 = sandbox.events.emit(companies["fortnox_x1"].tenant_id, "invoices", "invoice-bookkeep-v1", "12")
            sandbox.events.emit(companies["fortnox_x2"].tenant_id, "warehouse-stockbalances",
                                "warehouse-stockbalance-changed-v1", "ART-9")
            await until(lambda: runner.events[1] and runner.events[2], what="both tenants' events")
            assert events_of(runner.events[1]) == [("invoices", x1["offset"], "12")]
            assert [e[2] for e in events_of(runner.events[2])] == ["ART-9"]
            assert len(sandbox.events.connections()) == 1
            ledger = Ledger.from_url(ledger_url)
            mark_applied(ledger, "x1", "status", [p["batch"] for p in runner.events[1]])
            key = stream_key_for(ws_url, sandbox.default.client_id)
            await until(lambda: persisted_offsets(ledger, key).get("invoices") == x1["offset"], what="offset saved")

    asyncio.run(scenario())
    hubs.reset()
    sandbox.events.disconnect_all()
    for company in companies.values():
        assert company.client_secret not in caplog.text and company.refresh_token not in caplog.text
    assert "Bearer" not in caplog.text
