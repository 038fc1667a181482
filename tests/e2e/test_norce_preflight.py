"""Pre-flight for a Norce shop: the credentials, the application, the price lists and the status values the
rules use are checked against the Norce sandbox before anything is synced; each gap is named."""

from __future__ import annotations

import json
from typing import Any

import pytest

from jetfort.errors import PreflightFailed
from jetfort.tasks.preflight import preflight_tenant
from jetfort.tasks.runtime import TenantRuntime

TENANT = "demo_norce"


def gaps_of(env: Any, rules: dict[str, Any]) -> str:
    env.set_tenant("norce_check", rules)
    with TenantRuntime.for_tenant("norce_check") as rt, pytest.raises(PreflightFailed) as failed:
        preflight_tenant(rt, force=True, remember=False)
    return str(failed.value)


def test_the_demo_norce_tenant_passes(orders_env: Any) -> None:
    with TenantRuntime.for_tenant(TENANT) as rt:
        assert preflight_tenant(rt, force=True, remember=False)["gaps"] == []


def test_each_norce_gap_is_named(orders_env: Any) -> None:
    rules = orders_env.tenant_rules(TENANT)
    channel = rules["shops"][0]["channels"][0]
    channel["norce_application_id"] = 999
    channel["norce_price_list"] = "NO-SUCH-LIST"
    rules["orders"]["transferred_status"] = 42
    text = gaps_of(orders_env, rules)
    assert "Norce shop norce: channel id 999 (channel se) does not exist" in text
    assert "Norce shop norce: price list NO-SUCH-LIST does not exist (the shop has" in text and "SEK-BASE" in text
    assert "Norce shop norce: status 42 (transferred status) does not exist" in text


def test_wrong_credentials_are_a_gap_naming_the_connection(orders_env: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    conn = json.loads(json.dumps(orders_env.env.connections["norce_demo"]))
    conn["password"] = "not-the-secret"
    monkeypatch.setenv("AIRFLOW_CONN_NORCE_DEMO", json.dumps(conn))
    text = gaps_of(orders_env, orders_env.tenant_rules(TENANT))
    assert "Norce shop norce: cannot connect with connection 'norce_demo'" in text
    assert "not-the-secret" not in text
