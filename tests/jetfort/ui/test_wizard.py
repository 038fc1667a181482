"""The rules wizard's server side: problems named by field path as the user types, a save that reaches
Airflow's Variables API as the user (and only with valid, new rules), the live read of Fortnox's accounts."""

from __future__ import annotations

import json
from typing import Any

import lxml.html
import requests

from tests.jetfort.ui.conftest import ORIGIN, REPO, TENANT, Ui
from tests.jetfort.ui.test_onboarding import connect_page, start
from tests.sandbox.fortnox.consent_page import give_consent

EXAMPLE = json.loads((REPO / "include" / "mappings" / "tenants" / "demo_ecom.json").read_text())


def wizard_token(ui: Ui) -> str:
    doc = lxml.html.fromstring(ui.client.get("/jetfort/wizard").text)
    return str(doc.xpath('//meta[@name="jetfort-csrf"]/@content')[0])


def send(ui: Ui, path: str, body: dict[str, Any], token: str | None) -> requests.Response:
    headers = {"Origin": ORIGIN, **({"X-Jetfort-CSRF": token} if token else {})}
    return ui.client.post(f"/jetfort/api/wizard/{path}", json=body, headers=headers)


def test_problems_come_back_by_field_path_as_the_user_types(ui: Ui) -> None:
    ui.login("admin")
    token = wizard_token(ui)
    partial = {"flow": "ecom", "fortnox_conn_id": "fortnox_x", "orders": {"document": "bill"}}
    answer = send(ui, "validate", {"tenant": "shop_new", "rules": partial}, token)
    assert answer.status_code == 200, answer.text
    paths = {e["path"] for e in answer.json()["errors"]}
    assert {"shops", "orders.document"} <= paths and not answer.json()["ok"]
    bad_channel = {**EXAMPLE, "shops": [{**EXAMPLE["shops"][0], "channels": [
        {**EXAMPLE["shops"][0]["channels"][0], "currency": "kronor"}]}]}
    answer = send(ui, "validate", {"tenant": "shop_new", "rules": bad_channel}, token).json()
    assert [e["path"] for e in answer["errors"]] == ["shops[0].channels[0].currency"]
    assert send(ui, "validate", {"tenant": "shop_new", "rules": EXAMPLE}, token).json() == {
        "ok": True, "errors": [], "exists": False}
    assert send(ui, "validate", {"tenant": "Bad-Id", "rules": EXAMPLE}, token).json()["errors"][0]["path"] == "(tenant id)"
    assert send(ui, "validate", {"tenant": TENANT, "rules": EXAMPLE}, token).json()["exists"] is True


def test_save_creates_the_variable_through_airflow_as_the_user(ui: Ui) -> None:
    ui.login("admin")
    token = wizard_token(ui)
    saved = send(ui, "save", {"tenant": "shop_new", "rules": EXAMPLE}, token)
    assert saved.status_code == 200, saved.text
    assert saved.json()["orders_dag"] == "jetfort__shop_new__orders"
    [sent] = ui.fake.writes()
    assert (sent.path, sent.body["key"]) == ("/api/v2/variables", "jetfort_tenant_shop_new")
    assert json.loads(sent.body["value"]) == EXAMPLE and "admin" in sent.body["description"]
    assert sent.headers["authorization"] == f"Bearer {ui.tokens['admin']}"


def test_invalid_existing_or_unpermitted_rules_are_not_saved(ui: Ui) -> None:
    ui.login("admin")
    token = wizard_token(ui)
    invalid = send(ui, "save", {"tenant": "shop_new", "rules": {"flow": "ecom"}}, token)
    assert invalid.status_code == 422 and {"path": "shops", "message": "Field required"} in invalid.json()["detail"]
    existing = send(ui, "save", {"tenant": TENANT, "rules": EXAMPLE}, token)
    assert existing.status_code == 409 and "exists already" in existing.json()["detail"]
    assert send(ui, "save", {"tenant": "shop_new", "rules": EXAMPLE}, None).status_code == 403  # no CSRF token
    ui.login("viewer")
    doc = lxml.html.fromstring(ui.client.get("/jetfort/wizard").text)
    assert not doc.xpath('//button[@id="save"]') and doc.xpath('//p[@id="no-permission"]')
    refused = send(ui, "save", {"tenant": "shop_new", "rules": EXAMPLE}, wizard_token(ui))
    assert refused.status_code == 403 and "jetfort_tenant_shop_new" in refused.json()["detail"]
    assert ui.fake.writes() == []


def test_fortnox_accounts_are_read_live_once_fortnox_is_connected(ui: Ui, company: Any, fortnox_base: Any) -> None:
    ui.login("admin")
    token = wizard_token(ui)
    before = send(ui, "fortnox", {"conn_id": "fortnox_demo"}, token)
    assert before.status_code == 400 and "connect Fortnox first" in before.json()["detail"]
    _, page_token = connect_page(ui)
    back = give_consent(start(ui, page_token).json()["url"], tenant_id=company.tenant_id)
    assert ui.client.get(back.removeprefix(ORIGIN)).status_code == 200
    read = send(ui, "fortnox", {"conn_id": "fortnox_demo"}, token)
    assert read.status_code == 200, read.text
    numbers = [a["number"] for a in read.json()["accounts"]]
    assert 3001 in numbers and all(3000 <= n <= 3999 for n in numbers)
    # the oracle: the sandbox company's own chart of accounts
    sandbox = fortnox_base[1].companies[company.tenant_id]
    expected = sorted(int(n) for n, a in sandbox.data["accounts"].items()
                      if 3000 <= int(n) <= 3999 and a.get("Active", True) is not False)
    assert sorted(numbers) == expected
    assert "A" in [p["code"] for p in read.json()["price_lists"]]
