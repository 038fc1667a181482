"""The end-to-end harness itself: a hook built from the fed connections reaches each sandbox."""

from __future__ import annotations

import json
import os
from typing import Any

import httpx

from jetfort.tasks.runtime import TenantRuntime


def test_tenant_runtime_talks_to_both_sandboxes(sync_env: Any) -> None:
    with TenantRuntime.for_tenant("demo_combo") as runtime:
        info = runtime.fortnox.company_information()
        assert info is not None
        shops = {shop.key: runtime.shop(shop.key).shop_id for shop in runtime.rules.shops}
        assert sorted(shops.values()) == ["demoshop", "nordicshop"]
        for key in shops:
            assert runtime.shop(key).get_statuses()
    token = runtime.ledger.get_cursor("demo_combo", "nothing")
    assert token is None


def test_a_mixed_tenant_reaches_its_jetshop_and_its_norce_shop(sync_env: Any) -> None:
    """demo_mixed: one Jetshop shop and one Norce shop into one Fortnox company, each on its sandbox."""
    with TenantRuntime.for_tenant("demo_mixed") as runtime:
        assert runtime.fortnox.company_information() is not None
        jetshop, norce = runtime.shop("se"), runtime.shop("norce")
        assert (jetshop.shop_id, norce.shop_id) == ("demoshop", "norce-demoshop")
        # Norce's OrderStatus enum: 21 values, Cancelled = 6 (norce-api.md §3.1)
        statuses = {status.status_id: status for status in norce.get_statuses()}
        assert sorted(statuses) == list(range(21)) and statuses[6].is_cancelled
        # the sandbox's seeded orders (15 ordinary + 5 hand-made) come out of its Query API, application 1244
        unreadable: list[Any] = []
        orders = list(norce.iter_orders(unreadable=unreadable))
        assert unreadable == [] and len(orders) == 20 and {order.channel_id for order in orders} == {1244}
        assert sync_env.norce.stats()["tokens_issued"] == 1


def test_the_norce_connection_gets_a_token_from_the_in_process_norce_sandbox(sync_env: Any) -> None:
    """``norce_demo`` as a deployment feeds it (``AIRFLOW_CONN_NORCE_DEMO``) names the sandbox the
    harness started, and the sandbox's seeded client accepts its credentials for its environment."""
    conn = json.loads(os.environ["AIRFLOW_CONN_NORCE_DEMO"])
    assert conn["conn_type"] == "norce" and conn["host"] == sync_env.norce_url
    answer = httpx.post(f"{conn['host']}/identity/1.0/connect/token", timeout=30, data={
        "grant_type": "client_credentials", "client_id": conn["login"], "client_secret": conn["password"],
        "scope": conn["extra"]["environment"]})
    assert answer.status_code == 200, answer.status_code
    assert answer.json()["token_type"].lower() == "bearer" and answer.json()["expires_in"] == 3600
    receiver = json.loads(os.environ["AIRFLOW_CONN_NORCE_RECEIVER_DEMO"])
    assert conn["extra"]["receiver_conn_id"] == "norce_receiver_demo" and receiver["login"] == "norce-push"
    assert sync_env.norce is sync_env.norce_app.state.norce


def test_the_norce_client_reads_the_fed_connection(sync_env: Any) -> None:
    """The Norce client's own settings accept ``norce_demo`` as Airflow hands it over."""
    from airflow.sdk import Connection

    from jetfort.norce.settings import NorceSettings

    settings = NorceSettings.from_connection(Connection.get("norce_demo"))
    assert (settings.base_url, settings.client_id, settings.slug) == (sync_env.norce_url, "jetfort-demo", "demoshop")
    assert (settings.environment, settings.application_id, settings.account_id) == ("stage", 1244, 17)
    assert (settings.warehouse_code, settings.location_code) == ("MAIN", "MAIN")  # the sandbox's seeded warehouse
    assert settings.receiver_conn_id == "norce_receiver_demo" and settings.shop_id == "norce-demoshop"


def test_every_example_tenant_has_its_shops_connections(sync_env: Any) -> None:
    """The tenants the harness copies (include/mappings/tenants) name only connections it feeds."""
    for path in sorted(sync_env.tenants_dir.glob("*.json")):
        rules = json.loads(path.read_text())
        names = [rules["fortnox_conn_id"], *(shop.get("norce_conn_id") or shop.get("jetshop_conn_id")
                                             for shop in rules["shops"])]
        missing = [name for name in names if f"AIRFLOW_CONN_{name.upper()}" not in os.environ]
        assert not missing, f"{path.stem}: no connection {missing}"
