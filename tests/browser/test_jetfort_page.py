"""The jetfort page in a real browser (issue 16), on the stack ``make up`` gives.

Chromium (the system's, driven by Playwright) against ``make up``'s api-server, scheduler and sandboxes;
every step as a person takes it, every outcome checked against the sandboxes themselves:

1. a shop order whose article does not exist in the Fortnox company of tenant ``demo_erp`` (its rules say
   ``missing_article: quarantine``) is read by a run of the tenant's orders DAG → quarantined;
2. the viewer (Airflow role Viewer) signs in through Airflow's login page, opens "jetfort" in Airflow's
   navigation and sees the order with its reason, but no retry or dismiss button; a POST to the retry API
   from that page (with the viewer's own CSRF token, same origin) is refused with 403 and starts no run;
3. the admin signs in, sees the order in the quarantine (filtered by tenant) with reason, field and the
   message; the cause is fixed in the Fortnox sandbox (the article created through Fortnox's REST API);
   the admin presses retry → a run of the orders DAG with that order number, triggered as the admin,
   runs on the real scheduler and succeeds; the order leaves the quarantine;
4. the trail of the order shows the Fortnox document the sandbox holds for it (one, keyed by the
   idempotency reference) with links to the DAG run and task log that posted it; the run link opens
   Airflow's page of that run; the shop shows the order transferred.

Screenshots for the README go to ``docs/img/``. Runs in ``make test-distributed``.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import pytest

from tests.browser.conftest import FIGURES, REPO, BrowserStack

TENANT = "demo_erp"  # rules: missing_article "quarantine", document "order", transferred_status 6
ORDERS_DAG = f"jetfort__{TENANT}__orders"
COMPANY_NAME = f"Demo {TENANT} AB"  # its Fortnox sandbox company (sandbox.demo_setup, company per tenant)
SHOP = "demoshop"
SHOP_KEY = "se"
TRANSFERRED_STATUS = 6
IDEMPOTENCY_FIELD = "ExternalInvoiceReference1"
ARTICLE = f"BROWSER-KVARN-{os.getpid()}"  # not in any Fortnox company (nor in the shop's catalog)
IMG = REPO / "docs" / "img"
VIEWPORT = {"width": 1440, "height": 900}
RUN_SECONDS = 600


# ------------------------------------------------------------------------------------ REST helpers
def api(stack: BrowserStack, method: str, path: str, token: str, **kwargs: Any) -> httpx.Response:
    return httpx.request(method, f"{stack.api_url}/api/v2{path}", headers={"Authorization": f"Bearer {token}"},
                         timeout=60, **kwargs)


def orders_runs(stack: BrowserStack, token: str) -> list[dict[str, Any]]:
    answer = api(stack, "GET", f"/dags/{ORDERS_DAG}/dagRuns", token, params={"limit": 100, "order_by": "-id"})
    return list(answer.raise_for_status().json()["dag_runs"])


def wait_run(stack: BrowserStack, token: str, run_id: str, seconds: float = RUN_SECONDS,
             dag: str = ORDERS_DAG) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while True:
        run = api(stack, "GET", f"/dags/{dag}/dagRuns/{quote(run_id, safe='')}", token).raise_for_status().json()
        if run["state"] in ("success", "failed") or time.monotonic() > deadline:
            return dict(run)
        time.sleep(2)


def quiet_other_tenants(stack: BrowserStack, token: str) -> list[str]:
    """Pause every jetfort DAG of the other demo tenants (as an operator would, through the REST API):
    on a 2-core machine their first runs would queue the scenario's runs behind them for minutes."""
    dags = api(stack, "GET", "/dags", token, params={"limit": 200, "dag_id_pattern": "jetfort__"}).raise_for_status()
    paused = []
    for dag in dags.json()["dags"]:
        if not dag["dag_id"].startswith(f"jetfort__{TENANT}__"):
            api(stack, "PATCH", f"/dags/{dag['dag_id']}", token, json={"is_paused": True}).raise_for_status()
            paused.append(dag["dag_id"])
    return paused


# ------------------------------------------------------------------------------------ sandbox oracles
def fortnox_company(stack: BrowserStack) -> int:
    companies = httpx.get(f"{stack.fortnox_url}/_sandbox/companies", timeout=60).raise_for_status().json()
    [company] = [c for c in companies["companies"] if c["name"] == COMPANY_NAME]
    return int(company["tenant_id"])


def fortnox_token(stack: BrowserStack, company: int) -> str:
    """An access token of the company, as Fortnox's OAuth flow would give the person fixing the cause."""
    answer = httpx.post(f"{stack.fortnox_url}/_sandbox/tokens", json={"tenant_id": company, "kind": "access"},
                        timeout=60)
    return str(answer.raise_for_status().json()["token"])


def fortnox_article(stack: BrowserStack, token: str) -> httpx.Response:
    return httpx.get(f"{stack.fortnox_url}/3/articles/{ARTICLE}", headers={"Authorization": f"Bearer {token}"},
                     timeout=60)


def documents_for(stack: BrowserStack, company: int, order_id: int) -> list[str]:
    """Fortnox orders and invoices of the company that carry the order's idempotency reference."""
    wanted = f"jetfort:{SHOP_KEY}:{order_id}"
    found = []
    for collection in ("orders", "invoices"):
        body = httpx.get(f"{stack.fortnox_url}/_sandbox/companies/{company}/state/{collection}", timeout=60)
        for doc in body.raise_for_status().json()[collection]:
            derived = str(doc.get("OrderReference") or "0") != "0"  # an invoice the live sandbox made from an order
            if doc.get(IDEMPOTENCY_FIELD) == wanted and not derived:
                found.append(str(doc["DocumentNumber"]))
    return found


def shop_order(stack: BrowserStack, order_id: int) -> dict[str, Any]:
    answer = httpx.get(f"{stack.jetshop_url}/_sandbox/shops/{SHOP}/orders/{order_id}", timeout=60)
    return dict(answer.raise_for_status().json())


# ------------------------------------------------------------------------------------ browser helpers
def sign_in(browser: Any, stack: BrowserStack, user: str) -> Any:
    """A fresh browser context signed in through Airflow's own login page."""
    context = browser.new_context(viewport=VIEWPORT, base_url=stack.ui_url)
    page = context.new_page()
    page.goto("/")
    page.wait_for_url("**/auth/login**")
    page.get_by_label("Username").fill(user)
    page.get_by_label("Password").fill(stack.password(user))
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{stack.ui_url}/")
    assert any(c["name"] == "_token" for c in context.cookies()), f"{user}: no Airflow session cookie after login"
    return page


def open_jetfort(page: Any) -> Any:
    """Click "jetfort" in Airflow's navigation; the page shows inside Airflow (an iframe of /jetfort/)."""
    page.get_by_role("link", name="jetfort", exact=True).click()
    page.wait_for_url("**/plugin/jetfort")
    frame = page.frame_locator("iframe")
    frame.locator("#overview").wait_for()
    return frame


def jetfort_frame(page: Any) -> Any:
    """The page's iframe as a Frame (for navigation and fetch() from its origin)."""
    found = [f for f in page.main_frame.child_frames if urlsplit(f.url).path.startswith("/jetfort/")]
    assert found, f"no jetfort frame in {[f.url for f in page.frames]}"
    return found[0]


def show_quarantine(page: Any) -> None:
    """Quarantine in the page's own navigation, then the tenant filter (each a page load in the iframe)."""
    frame = jetfort_frame(page)
    with frame.expect_navigation():
        frame.locator("#nav-quarantine").click()
    frame.locator("select[name=tenant]").select_option(TENANT)
    with frame.expect_navigation(url=f"**/jetfort/quarantine?tenant={TENANT}*"):
        frame.get_by_role("button", name="filter").click()
    frame.locator("#quarantine").wait_for()


def shot(page: Any, name: str) -> None:
    IMG.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(IMG / name))


#: a POST from the page itself, as its own script sends one: same origin, the user's CSRF token
POST_FROM_PAGE = """async ([path, body]) => {
  const csrf = document.querySelector('meta[name="jetfort-csrf"]').content;
  const root = document.querySelector('meta[name="jetfort-root"]').content;
  const answer = await fetch(root + path, {method: "POST", credentials: "same-origin",
    headers: {"Content-Type": "application/json", "X-Jetfort-CSRF": csrf}, body: JSON.stringify(body)});
  return {status: answer.status, body: await answer.text()};
}"""


# ------------------------------------------------------------------------------------ the scenario
def quarantine_an_order(stack: BrowserStack, admin_token: str, company: int) -> tuple[int, str]:
    """A shop order with an article Fortnox does not have, read by a run of the orders DAG."""
    assert fortnox_article(stack, fortnox_token(stack, company)).status_code == 404, f"{ARTICLE} already in Fortnox"
    row = {"article": ARTICLE, "qty": 2, "unit": "349.00", "vat": "0.25", "name": "Kaffekvarn Browser"}
    made = httpx.post(f"{stack.jetshop_url}/_sandbox/shops/{SHOP}/orders", json={"rows": [row]}, timeout=60)
    order_id = int(made.raise_for_status().json()["order_id"])
    number = str(shop_order(stack, order_id)["OrderNumber"])
    began = time.monotonic()
    run = api(stack, "POST", f"/dags/{ORDERS_DAG}/dagRuns", admin_token,
              json={"logical_date": None, "conf": {"order_numbers": [number]}}).raise_for_status().json()
    done = wait_run(stack, admin_token, run["dag_run_id"])
    FIGURES["run that quarantines the order (s)"] = round(time.monotonic() - began)
    assert done["state"] == "success", f"{ORDERS_DAG} {run['dag_run_id']}: {done['state']}"
    return order_id, number


def viewer_sees_but_may_not_act(browser: Any, stack: BrowserStack, admin_token: str, key: str) -> None:
    page = sign_in(browser, stack, "viewer")
    try:
        frame = open_jetfort(page)
        assert frame.locator("#user").inner_text() == "viewer"
        show_quarantine(page)
        row = frame.locator(f'tr[data-tenant="{TENANT}"][data-key="{key}"]')
        row.wait_for()
        assert row.get_attribute("data-reason") == "unknown_article"
        assert frame.locator("button[data-action=retry]").count() == 0, "the viewer is offered retry"
        assert frame.locator("button[data-action=dismiss]").count() == 0, "the viewer is offered dismiss"
        shot(page, "jetfort-viewer.png")
        runs_before = {r["dag_run_id"] for r in orders_runs(stack, admin_token)}
        for path, body in (("/api/quarantine/retry", {"tenant": TENANT, "keys": [key]}),
                           ("/api/quarantine/dismiss", {"tenant": TENANT, "kind": "order", "key": key, "note": "no"})):
            answer = jetfort_frame(page).evaluate(POST_FROM_PAGE, [path, body])
            assert answer["status"] == 403, f"the viewer's POST {path} answered {answer}"
            detail = str(json.loads(answer["body"]).get("detail", ""))
            # refused for what the user may do, not for a missing token or a foreign origin
            assert ORDERS_DAG in detail and "csrf" not in detail.lower() and "origin" not in detail.lower(), detail
        time.sleep(3)
        assert {r["dag_run_id"] for r in orders_runs(stack, admin_token)} == runs_before, "the refused POST made a run"
        inner = jetfort_frame(page)
        inner.goto(inner.url)  # the list again
        frame.locator(f'tr[data-tenant="{TENANT}"][data-key="{key}"]').wait_for()  # still in quarantine
    finally:
        page.context.close()


def admin_retries(browser: Any, stack: BrowserStack, admin_token: str, company: int, key: str,
                  number: str) -> tuple[Any, str]:
    """The admin sees the entry, the cause is fixed in Fortnox, retry pressed; returns (page, run id)."""
    page = sign_in(browser, stack, "admin")
    frame = open_jetfort(page)
    tenant_row = frame.locator(f'#overview tr[data-tenant="{TENANT}"]')
    assert int(tenant_row.locator('[data-count="quarantined"]').inner_text()) >= 1
    shot(page, "jetfort-overview.png")
    show_quarantine(page)
    row = frame.locator(f'tr[data-tenant="{TENANT}"][data-key="{key}"]')
    assert row.get_attribute("data-order") == number
    assert row.get_attribute("data-reason") == "unknown_article"
    assert row.locator('[data-field="reason"]').inner_text() == "unknown_article"
    assert row.locator('[data-field="field"]').inner_text() == "rows[0].article_number"
    assert ARTICLE in row.locator('[data-field="message"]').inner_text()
    shot(page, "jetfort-quarantine.png")

    # the cause, fixed where it lives: the article created in Fortnox (its REST API, as a person would)
    token = fortnox_token(stack, company)
    created = httpx.post(f"{stack.fortnox_url}/3/articles", headers={"Authorization": f"Bearer {token}"}, timeout=60,
                         json={"Article": {"ArticleNumber": ARTICLE, "Description": "Kaffekvarn Browser"}})
    assert created.status_code in (200, 201), created.text
    assert fortnox_article(stack, token).status_code == 200

    row.locator("button[data-action=retry]").click()
    flash = frame.locator("#flash [data-run-id]")
    flash.wait_for()
    run_id = str(flash.get_attribute("data-run-id"))
    assert row.get_attribute("data-state") == "retried"
    assert number in frame.locator("#flash").inner_text()
    return page, run_id


@pytest.mark.timeout(1800)  # make up, two orders runs on the real scheduler, two browsers
def test_quarantine_retry_trail_and_viewer(stack: BrowserStack, browser: Any) -> None:
    began = time.monotonic()
    admin_token = stack.token("admin")
    FIGURES["DAGs of other tenants paused"] = len(quiet_other_tenants(stack, admin_token))
    company = fortnox_company(stack)
    order_id, number = quarantine_an_order(stack, admin_token, company)
    key = f"{SHOP_KEY}:{order_id}"

    viewer_sees_but_may_not_act(browser, stack, admin_token, key)
    fixed_at = time.monotonic()
    page, run_id = admin_retries(browser, stack, admin_token, company, key, number)
    try:
        run = wait_run(stack, admin_token, run_id)
        FIGURES["fix in Fortnox, retry → run finished (s)"] = round(time.monotonic() - fixed_at)
        assert run["state"] == "success", f"retry run {run_id}: {run['state']}"
        assert run["conf"].get("order_numbers") == [number], run["conf"]
        assert run.get("triggering_user_name") == "admin", run.get("triggering_user_name")
        trail_shows_it_posted(page, stack, admin_token, company, order_id, run_id)
    finally:
        page.context.close()
    FIGURES["scenario wall time after make up (s)"] = round(time.monotonic() - began)


def trail_shows_it_posted(page: Any, stack: BrowserStack, admin_token: str, company: int, order_id: int,
                          retry_run: str) -> None:
    key = f"{SHOP_KEY}:{order_id}"
    frame = page.frame_locator("iframe")
    with jetfort_frame(page).expect_navigation():
        frame.get_by_role("button", name="filter").click()  # the list again, as it is now
    frame.locator("#quarantine").wait_for()
    assert frame.locator(f'tr[data-tenant="{TENANT}"][data-key="{key}"]').count() == 0, "still in quarantine"

    [document] = documents_for(stack, company, order_id)  # the sandbox's own answer: exactly one document
    assert shop_order(stack, order_id)["OrderStatusId"] == TRANSFERRED_STATUS
    jetfort_frame(page).goto(f"{stack.ui_url}/jetfort/trail?tenant={TENANT}&key={quote(key)}")
    frame.locator("#trail").wait_for()
    retried = frame.locator('#trail-steps li[data-step="retry_requested"] a[data-link=dag-run]')
    assert quote(retry_run, safe="") in str(retried.last.get_attribute("href")), "the retry is not in the trail"
    assert frame.locator("#fortnox-document b").first.inner_text() == document  # the document number Fortnox gave
    assert frame.locator("#trail-quarantine").count() == 0
    posted = frame.locator('#trail-steps li[data-step="post"][data-state="posted"]')
    assert posted.count() == 1, frame.locator("#trail-steps").inner_text()
    run_link = posted.locator("a[data-link=dag-run]")
    href = str(run_link.get_attribute("href"))
    # the run that posted it: the retry, or (if the hour turned meanwhile) the scheduled run, which re-examines
    # the quarantine too; either way a successful run of the orders DAG
    posted_by = [r for r in orders_runs(stack, admin_token) if quote(r["dag_run_id"], safe="") in href
                 or r["dag_run_id"] in href]
    assert len(posted_by) == 1 and posted_by[0]["state"] == "success", (href, posted_by)
    # the task that posted it: the retry's post task, or the scheduled run's first task (it does the whole run)
    poster = "preflight" if posted_by[0]["run_type"] == "scheduled" else "shop.post"
    assert str(posted.locator("a[data-link=task-log]").get_attribute("href")).startswith(f"{href}/tasks/{poster}")
    FIGURES["posted by"] = posted_by[0]["dag_run_id"]
    shot(page, "jetfort-trail.png")
    run_link.click()
    page.wait_for_url(f"**/dags/{ORDERS_DAG}/runs/**")
    page.get_by_text(posted_by[0]["dag_run_id"]).first.wait_for()


# ------------------------------------------------------------------------------------ connect Fortnox (issue 19)
def issued_tokens(stack: BrowserStack) -> dict[str, str]:
    """Every refresh and access token the Fortnox sandbox ever issued (the consent's among them)."""
    issued = httpx.get(f"{stack.fortnox_url}/_sandbox/secrets", timeout=60).raise_for_status().json()
    return {f"{kind} #{i}": value for i, (kind, value) in enumerate(zip(issued["kinds"], issued["secrets"], strict=True))
            if kind in ("refresh_token", "access_token")}


@pytest.mark.timeout(1200)  # the consent in two tabs, then one orders run on the real scheduler
def test_connect_fortnox_from_the_page_then_the_orders_dag_posts(stack: BrowserStack, browser: Any) -> None:
    from tests.distributed.test_newcomer import scan_databases, scan_files

    began = time.monotonic()
    admin_token = stack.token("admin")
    quiet_other_tenants(stack, admin_token)
    company = fortnox_company(stack)
    before = set(issued_tokens(stack).values())
    page = sign_in(browser, stack, "admin")
    try:
        frame = open_jetfort(page)
        with jetfort_frame(page).expect_navigation(url=f"**/jetfort/connect?tenant={TENANT}"):
            frame.locator(f'#overview tr[data-tenant="{TENANT}"] a[data-connect-link]').click()
        frame.locator("#scopes code").first.wait_for()
        scopes = frame.locator("#scopes code").all_inner_texts()
        assert "order" in scopes and "bookkeeping" in scopes, scopes
        frame.locator("#connect").click()
        # inside Airflow's frame the page may not open Fortnox: it shows the address to open in a new tab
        address = frame.locator("#consent-url")
        address.wait_for()
        url = str(address.input_value())
        assert url.startswith(f"{stack.fortnox_url}/oauth-v1/auth?"), url
        shot(page, "jetfort-connect.png")

        tab = page.context.new_page()
        tab.goto(url)
        assert tab.locator("#scopes code").all_inner_texts() == scopes  # Fortnox asks for exactly those
        tab.locator("#company").select_option(str(company))
        with tab.expect_navigation(url="**/jetfort/oauth/callback?**"):
            tab.get_by_role("button", name="Godkänn").click()
        assert tab.locator("#result").inner_text() == f"Fortnox connected for tenant {TENANT}"
        assert tab.locator("#granted").inner_text().split() == scopes
        tab.locator("#no-gaps").wait_for()  # the demo company and shop have all the rules use
        tab.screenshot(path=str(IMG / "jetfort-connected.png"))
        FIGURES["connect Fortnox: page → connected (s)"] = round(time.monotonic() - began)
        replay = tab.goto(tab.url)  # the same callback again: refused, nothing changes
        assert replay is not None and replay.status == 400 and "already answered" in tab.content()
    finally:
        page.context.close()
    consented = {name: value for name, value in issued_tokens(stack).items() if value not in before}
    assert any(name.startswith("refresh_token") for name in consented), "the consent obtained no refresh token"

    # the tenant's orders DAG now runs on the consented token: a new shop order of an existing article is posted
    order_id = post_a_new_order(stack, admin_token, ORDERS_DAG)
    assert len(documents_for(stack, company, order_id)) == 1
    FIGURES["connect Fortnox → first order posted (s)"] = round(time.monotonic() - began)

    hits = scan_databases(stack, consented) + scan_files(stack, consented)
    assert not hits, f"the consent's tokens were found in plain text: {hits}"


NEW_TENANT = f"onboard_{os.getpid()}"
NEW_CONN = f"fortnox_{NEW_TENANT}"


def post_a_new_order(stack: BrowserStack, token: str, dag: str) -> int:
    """A new shop order of an article every Fortnox company has, run through ``dag`` by its number."""
    made = httpx.post(f"{stack.jetshop_url}/_sandbox/shops/{SHOP}/orders", timeout=60, json={"rows": [
        {"article": "1011", "qty": 1, "unit": "89.00", "vat": "0.12", "name": "Kaffe mörkrost 500 g"}]})
    order_id = int(made.raise_for_status().json()["order_id"])
    number = str(shop_order(stack, order_id)["OrderNumber"])
    run = api(stack, "POST", f"/dags/{dag}/dagRuns", token,
              json={"logical_date": None, "conf": {"order_numbers": [number]}}).raise_for_status().json()
    done = wait_run(stack, token, run["dag_run_id"], dag=dag)
    assert done["state"] == "success", f"{dag} {run['dag_run_id']}: {done['state']}"
    return order_id


def wait_for_dag(stack: BrowserStack, token: str, dag: str, seconds: float = 300) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if api(stack, "GET", f"/dags/{dag}", token).status_code == 200:
            return
        time.sleep(3)
    raise AssertionError(f"{dag} did not appear within {seconds} s of saving the rules")


def wait_valid(tab: Any, seconds: float = 30) -> None:
    """Until the wizard says the rules validate; else fail with the problems it lists."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if tab.locator("#no-errors").count():
            return
        time.sleep(0.5)
    raise AssertionError(f"the wizard still lists problems: {tab.locator('#errors').inner_text()}\n"
                         f"{tab.locator('#rules-json').inner_text()}")


@pytest.mark.timeout(1500)  # the wizard in two tabs, the next parse, one orders run on the real scheduler
def test_onboard_a_new_tenant_from_the_page(stack: BrowserStack, browser: Any) -> None:
    """New tenant → connect Fortnox (the sandbox's consent page) → wizard (live reads, live checks) → save →
    the tenant's orders DAG appears, runs and posts the shop's new order into the new company."""
    from tests.distributed.test_newcomer import scan_databases, scan_files

    admin_token = stack.token("admin")
    quiet_other_tenants(stack, admin_token)
    callback = f"{stack.ui_url}/jetfort/oauth/callback"
    made = httpx.post(f"{stack.fortnox_url}/_sandbox/companies", timeout=60,
                      json={"name": f"Onboard {os.getpid()} AB", "redirect_uri": callback}).raise_for_status().json()
    company = int(made["tenant_id"])
    # README "Add a tenant", step 2: the Fortnox connection, client id and secret only
    api(stack, "POST", "/connections", admin_token, json={
        "connection_id": NEW_CONN, "conn_type": "fortnox", "host": stack.fortnox_url, "login": made["client_id"],
        "password": made["client_secret"], "extra": json.dumps({
            "auth_url": f"{stack.fortnox_url}/oauth-v1/token", "company": NEW_CONN})}).raise_for_status()
    before = set(issued_tokens(stack).values())

    began = time.monotonic()
    page = sign_in(browser, stack, "admin")
    try:
        open_jetfort(page)
        inner = jetfort_frame(page)
        with inner.expect_navigation(url="**/jetfort/wizard"):
            inner.locator("#nav-wizard").click()
        frame = page.frame_locator("iframe")
        frame.locator("#tenant").fill(NEW_TENANT)
        frame.locator('[data-path="flow"]').select_option("ecom")
        frame.locator('[data-path="fortnox_conn_id"]').fill(NEW_CONN)
        frame.locator('[data-path="orders.document"]').select_option("invoice")
        frame.locator("#errors li").first.wait_for()  # checked as typed: no shop yet
        frame.locator("#wizard-connect").click()
        address = frame.locator("#consent-url")
        address.wait_for()
        tab = page.context.new_page()
        tab.goto(str(address.input_value()))
        tab.locator("#company").select_option(str(company))
        with tab.expect_navigation(url="**/jetfort/oauth/callback?**"):
            tab.get_by_role("button", name="Godkänn").click()
        assert tab.locator("#result").inner_text() == f"Fortnox connected for tenant {NEW_TENANT}"
        with tab.expect_navigation(url=f"**/jetfort/wizard?tenant={NEW_TENANT}"):
            tab.locator("#continue-wizard").click()
        # the draft came back (localStorage); the rest is read live from the shop and from Fortnox
        assert tab.locator('[data-path="fortnox_conn_id"]').input_value() == NEW_CONN
        tab.locator("#shop-conn").fill("jetshop_demo_se")
        tab.locator("#read-shop").click()
        tab.locator("[data-channel-row]").first.wait_for()
        for status in (1, 2):
            tab.locator(f'[data-trigger][value="{status}"]').check()
        tab.locator("#transferred").select_option(str(TRANSFERRED_STATUS))
        tab.locator("#read-fortnox").click()
        tab.locator('[data-path="orders.accounts.sales.25"] option[value="3001"]').wait_for(state="attached")
        tab.locator('[data-path="orders.accounts.sales.25"]').select_option("3001")
        wait_valid(tab)
        shown = json.loads(tab.locator("#rules-json").inner_text())
        assert shown["fortnox_conn_id"] == NEW_CONN and shown["orders"]["accounts"]["sales"]["25"] == 3001, shown
        tab.screenshot(path=str(IMG / "jetfort-wizard.png"), full_page=True)
        tab.locator("#save").click()
        tab.locator("#saved-connect").wait_for()
        FIGURES["onboarding in the browser: wizard → saved (s)"] = round(time.monotonic() - began)
    finally:
        page.context.close()

    variable = api(stack, "GET", f"/variables/jetfort_tenant_{NEW_TENANT}", admin_token).raise_for_status().json()
    assert json.loads(variable["value"]) == shown  # saved what the page showed
    dag = f"jetfort__{NEW_TENANT}__orders"
    wait_for_dag(stack, admin_token, dag)
    FIGURES["onboarding: saved → DAG parsed (s)"] = round(time.monotonic() - began)
    api(stack, "PATCH", f"/dags/{dag}", admin_token, json={"is_paused": False}).raise_for_status()
    order_id = post_a_new_order(stack, admin_token, dag)
    assert len(documents_for(stack, company, order_id)) == 1  # in the new company, once
    assert shop_order(stack, order_id)["OrderStatusId"] == TRANSFERRED_STATUS
    FIGURES["onboarding: page → first order posted (s)"] = round(time.monotonic() - began)

    consented = {name: value for name, value in issued_tokens(stack).items() if value not in before}
    assert any(name.startswith("refresh_token") for name in consented)
    hits = scan_databases(stack, consented) + scan_files(stack, consented)
    assert not hits, f"the new tenant's tokens were found in plain text: {hits}"
