"""The jetfort page's pages as an admin and a viewer see them: real JWTs from Airflow's SimpleAuthManager,
the ledger as the flows leave it, Airflow's API faked only as the other end."""

from __future__ import annotations

import html
import re
from typing import Any
from urllib.parse import quote

import lxml.html

from tests.jetfort.ui.conftest import OTHER, RUN_MAP, RUN_POST, RUN_STATUS, SECRETS, TENANT, Ui

TENANTS = {"demo_combo", "demo_ecom", "demo_erp", "demo_mixed", "demo_norce"}  # include/mappings/tenants


def soup(text: str) -> Any:
    return lxml.html.fromstring(text)


def all_(node: Any, xpath: str) -> list[Any]:
    return list(node.xpath(xpath))


def one(node: Any, xpath: str) -> Any:
    found = node.xpath(xpath)
    assert len(found) == 1, (xpath, len(found))
    return found[0]


def text(node: Any, xpath: str = ".") -> str:
    return str(one(node, xpath).text_content()).strip()


def test_without_login_pages_send_to_airflows_login_and_the_api_answers_401(ui: Ui) -> None:
    ui.client.cookies.clear()
    page = ui.client.get("/jetfort/quarantine", follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"].startswith("/auth/login")
    assert "next=" in page.headers["location"]
    assert ui.client.get("/jetfort/api/quarantine").status_code == 401
    ui.client.cookies.set("_token", ui.tokens["admin"][:-4] + "AAAA")  # signature broken
    assert ui.client.get("/jetfort/api/quarantine").status_code == 403
    assert ui.fake.received == []


def test_overview_per_tenant_from_the_ledger_and_airflows_api_as_the_user(ui: Ui) -> None:
    ui.login("admin")
    page = ui.client.get("/jetfort/")
    assert page.status_code == 200
    doc = soup(page.text)
    rows = {row.get("data-tenant"): row for row in all_(doc, '//*[@id="overview"]//tr[@data-tenant]')}
    assert set(rows) == TENANTS
    mine = rows[TENANT]
    assert text(mine, './/*[@data-count="orders_today"]') == "2"
    assert text(mine, './/*[@data-count="quarantined"]') == "1"
    assert text(mine, './/*[@data-count="held"]') == "0"
    assert text(rows[OTHER], './/*[@data-count="quarantined"]') == "1"
    assert [d.get("data-dag") for d in all_(mine, ".//*[@data-dag]")] == [f"jetfort__{TENANT}__orders",
                                                                          f"jetfort__{TENANT}__order_status"]
    assert text(mine, f'.//*[@data-dag="jetfort__{TENANT}__orders"]//*[@data-last-run-state]') == "failed"
    tokens = " ".join(text(mine, ".//*[@data-tokens]").split())
    assert re.search(r"client client-id-1: valid for (49|50) min", tokens), tokens
    assert "demo-co: 0 of 25 requests" in text(mine, ".//*[@data-budget]")
    # the flows came from Airflow's API, asked as the logged-in user
    asked = [r for r in ui.fake.received if r.path == "/api/v2/dags"]
    assert {r.query["tags"][0] for r in asked} == {f"tenant:{t}" for t in TENANTS}
    assert {r.headers["authorization"] for r in ui.fake.received} == {f"Bearer {ui.tokens['admin']}"}


def test_overview_api_is_the_same_in_json(ui: Ui) -> None:
    ui.login("viewer")
    found = {t["tenant"]: t for t in ui.client.get("/jetfort/api/overview").json()}
    assert found[TENANT]["quarantined"] == 1 and found[TENANT]["orders_today"] == 2
    assert found[TENANT]["may"] == {"retry": False, "dismiss": False}
    assert found[TENANT]["tokens"][0]["client"] == "client-id-1"


def test_quarantine_lists_reason_field_code_message_and_the_mapped_payload(ui: Ui) -> None:
    ui.login("admin")
    doc = soup(ui.client.get("/jetfort/quarantine").text)
    rows = all_(doc, '//*[@id="quarantine"]//tr[@data-key]')
    assert [(r.get("data-tenant"), r.get("data-order"), r.get("data-reason")) for r in rows] == [
        (OTHER, "9007", "fortnox_rejected"), (TENANT, "5001", "invalid_value")]
    mine = one(doc, f'//*[@id="quarantine"]//tr[@data-tenant="{TENANT}"][@data-order="5001"]')
    assert (mine.get("data-key"), mine.get("data-order-id"), mine.get("data-kind")) == ("se:1001", "1001", "order")
    assert text(mine, './/*[@data-field="field"]') == "customer.email"
    assert "anna(at)example" in text(mine, './/*[@data-field="message"]')
    payload = one(mine, './/*[@data-field="payload"]')
    assert '"Name": "Anna <b>Svensson</b>"' in payload.text_content()  # shown as text, not as markup
    assert all_(payload, ".//b") == []
    assert '"api_key": "•••"' in payload.text_content()
    other = one(doc, f'//tr[@data-tenant="{OTHER}"]')
    assert text(other, './/*[@data-field="code"]') == "2000204"
    assert len(all_(mine, './/button[@data-action="retry"]')) == 1
    assert len(all_(mine, './/button[@data-action="dismiss"]')) == 1
    trail = one(mine, './/a[@data-link="trail"]').get("href")
    assert trail == f"/jetfort/trail?tenant={TENANT}&key=se%3A1001"


def test_quarantine_filters(ui: Ui) -> None:
    ui.login("admin")

    def keys(query: str) -> list[tuple[str, str]]:
        doc = soup(ui.client.get(f"/jetfort/quarantine?{query}").text)
        return [(r.get("data-tenant"), r.get("data-key")) for r in all_(doc, '//*[@id="quarantine"]//tr[@data-key]')]

    assert keys(f"tenant={TENANT}") == [(TENANT, "se:1001")]
    assert keys("reason=fortnox_rejected") == [(OTHER, "se:7")]
    assert keys("shop=se") == [(OTHER, "se:7"), (TENANT, "se:1001")]
    assert keys("shop=nordic") == []
    assert keys(f"tenant={TENANT}&reason=fortnox_rejected") == []
    api = ui.client.get("/jetfort/api/quarantine", params={"reason": "invalid_value"}).json()
    assert [(e["tenant"], e["order_number"], e["field"], e["may_retry"]) for e in api] == [
        (TENANT, "5001", "customer.email", True)]


def test_a_viewer_sees_the_quarantine_without_any_action(ui: Ui) -> None:
    ui.login("viewer")
    doc = soup(ui.client.get("/jetfort/quarantine").text)
    assert len(all_(doc, '//*[@id="quarantine"]//tr[@data-key]')) == 2
    assert all_(doc, "//button[@data-action]") == []
    assert all_(doc, "//textarea[@data-note]") == []
    assert [e["may_retry"] or e["may_dismiss"] for e in ui.client.get("/jetfort/api/quarantine").json()] == [False] * 2


def test_trail_of_a_shop_order_links_each_step_to_its_dag_run_and_task_log(ui: Ui) -> None:
    ui.login("viewer")
    page = ui.client.get("/jetfort/trail", params={"tenant": TENANT, "key": "se:1002"})
    assert page.status_code == 200
    doc = soup(page.text)
    assert text(doc, '//*[@id="fortnox-document"]').split() == ["Fortnox", "invoice", "42", "·", "state",
                                                               "acknowledged"]
    steps = [(li.get("data-kind"), li.get("data-step"), li.get("data-state"))
             for li in all_(doc, '//*[@id="trail"]//li[@data-step]')]
    assert steps == [("order", "extract", "seen"), ("order", "post", "posted"), ("order", "acknowledge", "acknowledged"),
                     ("status", "push", "pushed"), ("capture", "capture", "captured")]
    orders, status = f"jetfort__{TENANT}__orders", f"jetfort__{TENANT}__order_status"
    links = [(a.get("data-link"), a.get("href")) for a in all_(doc, '//*[@id="trail"]//li[@data-step]//a')]
    post_run = f"/dags/{orders}/runs/{quote(RUN_POST, safe='')}"
    status_run = f"/dags/{status}/runs/{quote(RUN_STATUS, safe='')}"
    assert links == [
        ("dag-run", post_run), ("task-log", f"{post_run}/tasks/shop.extract/mapped/0"),
        ("dag-run", post_run), ("task-log", f"{post_run}/tasks/shop.post/mapped/0"),
        ("dag-run", post_run), ("task-log", f"{post_run}/tasks/shop.acknowledge/mapped/0"),
        ("dag-run", status_run), ("task-log", f"{status_run}/tasks/push_status/mapped/0"),
        ("dag-run", status_run), ("task-log", f"{status_run}/tasks/push_status/mapped/0")]
    assert {a.get("target") for a in all_(doc, '//*[@id="trail"]//li//a')} == {"_top"}


def test_trail_of_a_quarantined_order_shows_why(ui: Ui) -> None:
    ui.login("admin")
    doc = soup(ui.client.get("/jetfort/trail", params={"tenant": TENANT, "key": "se:1001"}).text)
    assert "invalid_value" in text(doc, '//*[@id="trail-quarantine"]')
    quarantined = one(doc, '//*[@id="trail"]//li[@data-step="quarantine"]')
    assert quarantined.get("data-state") == "quarantined"
    assert one(quarantined, './/a[@data-link="dag-run"]').get("href") == \
        f"/dags/jetfort__{TENANT}__orders/runs/{quote(RUN_MAP, safe='')}"


def test_drift_page_shows_the_latest_plot(ui: Ui) -> None:
    import os
    import pathlib
    import time

    import pandas as pd

    from jetfort.tasks.catalog.report import report_dir, write_report

    frame = pd.DataFrame([{"kind": "stock", "shop": "se", "key": "A1"}, {"kind": "products", "shop": "se", "key": "B"}])
    folder = report_dir(TENANT)
    written: list[pathlib.Path] = []
    try:
        _, old = write_report(frame.head(1), [], folder, "scheduled__2026-12-04T00:00:00+00:00")
        os.utime(old, (time.time() - 3600, time.time() - 3600))
        _, new = write_report(frame, [], folder, "scheduled__2026-12-05T00:00:00+00:00")
        written += [old, new, old.with_suffix(".csv"), new.with_suffix(".csv")]
        ui.login("viewer")
        doc = soup(ui.client.get("/jetfort/drift").text)
        figure = one(doc, f'//*[@id="drift"]//figure[@data-tenant="{TENANT}"]')
        assert new.name in figure.text_content()
        image = ui.client.get(one(figure, ".//img").get("src"))
        assert image.status_code == 200 and image.headers["content-type"] == "image/png"
        assert image.content == new.read_bytes()
        assert "No drift report yet" in text(doc, f'//*[@id="drift"]//p[@data-tenant="{OTHER}"]')
    finally:
        for path in written:
            path.unlink(missing_ok=True)


def test_no_page_renders_a_secret(ui: Ui) -> None:
    pages = ["/jetfort/", "/jetfort/quarantine", "/jetfort/drift", "/jetfort/api/overview", "/jetfort/api/quarantine",
             f"/jetfort/trail?tenant={TENANT}&key=se:1001", f"/jetfort/trail?tenant={TENANT}&key=se:1002"]
    import os

    planted = [*SECRETS.values(), os.environ["JETFORT_LEDGER_SECRET_KEY"]]
    for who in ("admin", "viewer"):
        ui.login(who)
        for path in pages:
            answer = ui.client.get(path)
            assert answer.status_code == 200, (path, answer.text[:300])
            text = html.unescape(answer.text)
            planted_here = [*planted, ui.tokens["admin"], ui.tokens["viewer"]]
            assert [s for s in planted_here if s in text] == [], path
