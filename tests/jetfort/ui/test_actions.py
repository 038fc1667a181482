"""Retry and dismiss from the jetfort page: who may, what Airflow's API receives (as the user), what the
ledger records, and that writes from another site are refused."""

from __future__ import annotations

from typing import Any

import lxml.html
import pytest

from jetfort.tasks.params import order_params_of
from tests.jetfort.ui.conftest import OTHER, TENANT, Ui

ORIGIN = "http://testserver"


def page_token(ui: Ui) -> str:
    """The CSRF token as the page hands it to its script (and sets its cookie)."""
    doc = lxml.html.fromstring(ui.client.get("/jetfort/quarantine").text)
    return str(doc.xpath('//meta[@name="jetfort-csrf"]/@content')[0])


def post(ui: Ui, path: str, body: dict[str, Any], *, token: str | None = None, origin: str | None = ORIGIN,
         **headers: str) -> Any:
    if token is not None:
        headers["X-Jetfort-CSRF"] = token
    if origin is not None:
        headers["Origin"] = origin
    return ui.client.post(f"/jetfort/api/quarantine/{path}", json=body, headers=headers)


def open_keys(ui: Ui) -> list[tuple[str, str]]:
    return [(e["tenant"], e["source_key"]) for e in ui.client.get("/jetfort/api/quarantine").json()]


def test_retry_triggers_the_orders_dag_for_the_order_number_as_the_user(ui: Ui) -> None:
    ui.login("admin")
    answer = post(ui, "retry", {"tenant": TENANT, "keys": ["se:1001"]}, token=page_token(ui))
    assert answer.status_code == 200, answer.text
    [sent] = ui.fake.writes()
    assert (sent.method, sent.path) == ("POST", f"/api/v2/dags/jetfort__{TENANT}__orders/dagRuns")
    assert sent.headers["authorization"] == f"Bearer {ui.tokens['admin']}"
    assert sent.body["logical_date"] is None
    # the conf is what the orders DAG reads: its own params parser finds the order number
    assert order_params_of({"params": sent.body["conf"]}).order_numbers == ("5001",)
    assert "admin" in sent.body["note"]
    run_id = "manual__2026-12-05T11:00:00.123456+00:00"
    assert answer.json()["dag_run_id"] == run_id
    assert answer.json()["run_link"].endswith(f"/dags/jetfort__{TENANT}__orders/runs/manual__2026-12-05T11%3A00%3A00.123456%2B00%3A00")
    last = ui.ledger.audit(TENANT, "order", "se:1001")[-1]
    assert (last["step"], last["run_id"], last["state"]) == ("retry_requested", run_id, "quarantined")
    assert "admin" in last["message"]


def test_the_token_sent_to_airflow_is_the_users_own(ui: Ui) -> None:
    """Airflow's auth manager reads the forwarded token as the logged-in user (an independent check)."""
    import asyncio

    from airflow.api_fastapi.app import get_auth_manager

    ui.login("admin")
    post(ui, "retry", {"tenant": TENANT, "keys": ["se:1001"]}, token=page_token(ui))
    [sent] = ui.fake.writes()
    user = asyncio.run(get_auth_manager().get_user_from_token(sent.headers["authorization"].split(" ", 1)[1]))
    assert (user.get_name(), user.role) == ("admin", "admin")


def test_a_viewer_gets_403_from_both_actions_and_airflow_receives_nothing(ui: Ui) -> None:
    ui.login("viewer")
    token = page_token(ui)
    retry = post(ui, "retry", {"tenant": TENANT, "keys": ["se:1001"]}, token=token)
    dismiss = post(ui, "dismiss", {"tenant": TENANT, "kind": "order", "key": "se:1001", "note": "no"}, token=token)
    assert (retry.status_code, dismiss.status_code) == (403, 403)
    assert f"jetfort__{TENANT}__orders" in retry.json()["detail"]
    bearer = ui.client.post("/jetfort/api/quarantine/retry", json={"tenant": TENANT, "keys": ["se:1001"]},
                            headers={"Authorization": f"Bearer {ui.tokens['viewer']}"})
    assert bearer.status_code == 403
    assert ui.fake.writes() == []
    assert (TENANT, "se:1001") in open_keys(ui)


@pytest.mark.parametrize("case", ["other origin", "no token", "token not matching cookie", "another user's token",
                                  "cross-site fetch without Origin"])
def test_a_cross_site_write_is_refused(ui: Ui, case: str) -> None:
    ui.login("viewer")
    viewers = page_token(ui)
    ui.login("admin")
    token = page_token(ui)
    body = {"tenant": TENANT, "keys": ["se:1001"]}
    if case == "other origin":
        answer = post(ui, "retry", body, token=token, origin="https://evil.example")
    elif case == "no token":
        answer = post(ui, "retry", body)
    elif case == "token not matching cookie":
        answer = post(ui, "retry", body, token=token[:-2] + "00")
    elif case == "another user's token":
        ui.client.cookies.set("jetfort_csrf", viewers)
        answer = post(ui, "retry", body, token=viewers)
    else:
        answer = post(ui, "retry", body, token=token, origin=None, **{"Sec-Fetch-Site": "cross-site"})
    assert answer.status_code == 403, answer.text
    assert "cross-site request refused" in answer.json()["detail"]
    assert ui.fake.writes() == []


def test_a_form_post_from_another_site_is_refused_before_its_body_is_read(ui: Ui) -> None:
    ui.login("admin")
    answer = ui.client.post("/jetfort/api/quarantine/dismiss", data={"tenant": TENANT, "kind": "order", "key": "se:1001",
                                                                     "note": "x"}, headers={"Origin": "https://evil.example"})
    assert answer.status_code == 403
    assert (TENANT, "se:1001") in open_keys(ui)


def test_dismiss_with_a_note_takes_the_entry_off_the_list_and_is_audited(ui: Ui) -> None:
    ui.login("admin")
    note = "customer asked to cancel; handled by phone"
    answer = post(ui, "dismiss", {"tenant": TENANT, "kind": "order", "key": "se:1001", "note": note},
                  token=page_token(ui))
    assert answer.status_code == 200, answer.text
    assert open_keys(ui) == [(OTHER, "se:7")]
    doc = lxml.html.fromstring(ui.client.get("/jetfort/quarantine").text)
    assert doc.xpath(f'//tr[@data-tenant="{TENANT}"]') == []
    last = ui.ledger.audit(TENANT, "order", "se:1001")[-1]
    assert last["step"] == "dismiss" and "admin" in last["message"] and note in last["message"]
    trail = lxml.html.fromstring(ui.client.get("/jetfort/trail", params={"tenant": TENANT, "key": "se:1001"}).text)
    notes = " ".join(trail.xpath('//*[@id="trail-notes"]')[0].text_content().split())
    assert f"admin dismissed order invalid_value: {note}" in notes
    # the same problem again (the next run quarantines it again): still dismissed; a new problem shows
    ui.ledger.quarantine(TENANT, "order", "se:1001", reason="invalid_value", field="customer.email",
                         message="order 5001: same again")
    assert (TENANT, "se:1001") not in open_keys(ui)
    ui.ledger.quarantine(TENANT, "order", "se:1001", reason="fortnox_rejected", code="2000204",
                         message="order 5001: Fortnox refused it")
    assert (TENANT, "se:1001") in open_keys(ui)


def test_dismiss_needs_a_note_and_an_open_entry(ui: Ui) -> None:
    ui.login("admin")
    token = page_token(ui)
    blank = post(ui, "dismiss", {"tenant": TENANT, "kind": "order", "key": "se:1001", "note": "   "}, token=token)
    assert blank.status_code == 422
    missing = post(ui, "dismiss", {"tenant": TENANT, "kind": "order", "key": "se:4242", "note": "x"}, token=token)
    assert missing.status_code == 404 and "se:4242" in missing.json()["detail"]
    posted = post(ui, "retry", {"tenant": TENANT, "keys": ["se:1002"]}, token=token)
    assert posted.status_code == 404 and "se:1002" in posted.json()["detail"]
    assert ui.fake.writes() == []


def test_retry_when_airflows_api_cannot_be_reached_says_so_and_records_nothing(ui: Ui) -> None:
    from airflow.api_fastapi.app import init_auth_manager
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from jetfort.ui.app import create_app

    main = FastAPI()
    init_auth_manager(main)
    main.mount("/jetfort", create_app(ledger=ui.ledger, airflow_api_url="http://127.0.0.1:9/"))
    with TestClient(main, base_url="http://testserver") as client:
        before = ui.ledger.audit(TENANT, "order", "se:1001")
        answer = client.post("/jetfort/api/quarantine/retry", json={"tenant": TENANT, "keys": ["se:1001"]},
                             headers={"Authorization": f"Bearer {ui.tokens['admin']}"})
    assert answer.status_code == 502
    assert "not reachable at http://127.0.0.1:9/" in answer.json()["detail"]
    assert ui.ledger.audit(TENANT, "order", "se:1001") == before
