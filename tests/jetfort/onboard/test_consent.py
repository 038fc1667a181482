"""Fortnox's consent from jetfort's side, against the sandbox's consent page and token endpoint: the
state is the user's own and single-use, the tokens land encrypted in the ledger where the hook reads
them, and what the consent asked for is what the tenant's pre-flight reads need."""

from __future__ import annotations

import datetime as dt
import logging
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa

from jetfort.fortnox.hook import FortnoxHook
from jetfort.ledger import Ledger
from jetfort.ledger.schema import oauth_consents, oauth_tokens
from jetfort.ledger.tokens import TokenStore
from jetfort.onboard.consent import ConsentRefused, FortnoxConsent
from jetfort.onboard.scopes import fortnox_scopes

from .conftest import CONN_ID, REDIRECT, Company, example_rules


def _token_key(company: Company, ledger: Ledger) -> str:
    return FortnoxHook(CONN_ID, ledger=ledger).token_key


def test_a_consent_stores_the_tokens_encrypted_and_the_hook_works_with_them(
        company: Company, ledger: Ledger, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    flow = FortnoxConsent(ledger)
    started = flow.begin("demo_erp", company.rules, user_id="alice")
    query = parse_qs(urlsplit(started.url).query)
    assert urlsplit(started.url).path == "/oauth-v1/auth"
    assert query["client_id"] == [company.credentials.client_id] and query["redirect_uri"] == [REDIRECT]
    assert query["scope"][0].split() == list(fortnox_scopes(company.rules)) and "order" in query["scope"][0].split()
    assert query["state"] == [started.state] and "account_type" not in query

    answer = company.consent(started.url + f"&tenant_id={company.credentials.tenant_id}")
    assert answer["state"] == started.state
    connected = flow.complete(user_id="alice", state=answer["state"], code=answer["code"])
    assert connected.fortnox_tenant_id == company.credentials.tenant_id
    assert connected.scopes == fortnox_scopes(company.rules) and connected.missing_scopes == ()

    stored = TokenStore(ledger).get(_token_key(company, ledger))
    assert stored is not None and stored.refresh_token and stored.access_token
    with ledger.engine.connect() as conn:
        raw = conn.execute(sa.select(oauth_tokens.c.access_token, oauth_tokens.c.refresh_token)).one()
    assert stored.refresh_token.encode() not in raw.refresh_token and stored.access_token.encode() not in raw.access_token

    # the connection holds no refresh token: the hook reads the one the consent stored
    hook = FortnoxHook(CONN_ID, ledger=ledger)
    assert hook.company_information().database_number == company.credentials.tenant_id
    # and after the access token dies, it refreshes with the stored refresh token (Fortnox rotates it)
    company.sandbox.sandbox.oauth.expire_all(company.credentials.tenant_id)
    assert FortnoxHook(CONN_ID, ledger=ledger).company_information().database_number == company.credentials.tenant_id
    rotated = TokenStore(ledger).get(_token_key(company, ledger))
    assert rotated is not None and rotated.version == stored.version + 1 and rotated.refresh_token != stored.refresh_token

    for secret in (stored.refresh_token, stored.access_token, rotated.refresh_token, answer["code"],
                   company.credentials.client_secret):
        assert secret not in caplog.text
    with ledger.engine.connect() as conn:
        row = conn.execute(sa.select(oauth_consents)).one()
    assert (row.user_id, row.outcome, row.tenant) == ("alice", "connected", "demo_erp")
    assert started.state not in str(row._mapping.values())


def test_the_consented_scopes_cover_every_read_of_the_tenant_s_pre_flight(company: Company, ledger: Ledger) -> None:
    flow = FortnoxConsent(ledger)
    started = flow.begin("demo_erp", company.rules, user_id="alice")
    answer = company.consent(started.url + f"&tenant_id={company.credentials.tenant_id}")
    flow.complete(user_id="alice", state=answer["state"], code=answer["code"])
    hook = FortnoxHook(CONN_ID, ledger=ledger)
    # what jetfort.tasks.preflight reads; the sandbox answers 400 "Har inte behörighet för scope" without the scope
    assert hook.company_information() is not None
    next(iter(hook.list_customers(filter=None)), None)
    next(iter(hook.list_articles()), None)
    next(iter(hook.list_invoices()), None)
    next(iter(hook.list_orders()), None)
    assert hook.missing_accounts({3001: ["orders"]}) == []
    assert hook.list_currencies() and hook.list_price_lists()
    hook.list_terms_of_payment()
    hook.list_ways_of_delivery()


def test_an_invoice_tenant_asks_no_order_scope_and_its_hook_is_refused_orders(company: Company,
                                                                             ledger: Ledger) -> None:
    rules = example_rules("demo_erp", orders={"document": "invoice"})
    assert "order" not in fortnox_scopes(rules)
    flow = FortnoxConsent(ledger)
    started = flow.begin("demo_erp", rules, user_id="alice")
    answer = company.consent(started.url + f"&tenant_id={company.credentials.tenant_id}")
    flow.complete(user_id="alice", state=answer["state"], code=answer["code"])
    hook = FortnoxHook(CONN_ID, ledger=ledger)
    next(iter(hook.list_invoices()), None)
    with pytest.raises(Exception, match="scope"):
        next(iter(hook.list_orders()), None)


def test_a_foreign_replayed_unknown_or_late_callback_is_refused_and_stores_nothing(company: Company,
                                                                                  ledger: Ledger) -> None:
    key = _token_key(company, ledger)
    flow = FortnoxConsent(ledger)
    started = flow.begin("demo_erp", company.rules, user_id="alice")
    answer = company.consent(started.url + f"&tenant_id={company.credentials.tenant_id}")
    code = answer["code"]

    with pytest.raises(ConsentRefused) as foreign:
        flow.complete(user_id="mallory", state=started.state, code=code)
    assert foreign.value.reason == "foreign_user"
    with pytest.raises(ConsentRefused) as unknown:
        flow.complete(user_id="alice", state="made-up-state", code=code)
    assert unknown.value.reason == "unknown_state"
    assert TokenStore(ledger).get(key) is None
    assert company.sandbox.sandbox.oauth.codes[code].used is False  # nothing was exchanged

    flow.complete(user_id="alice", state=started.state, code=code)  # the real one still works
    first = TokenStore(ledger).get(key)
    with pytest.raises(ConsentRefused) as replay:
        flow.complete(user_id="alice", state=started.state, code=code)
    assert replay.value.reason == "used"
    assert TokenStore(ledger).get(key) == first

    late = FortnoxConsent(ledger, now=lambda: dt.datetime.now(dt.UTC) - dt.timedelta(minutes=11))
    old = late.begin("demo_erp", company.rules, user_id="alice")
    old_answer = company.consent(old.url + f"&tenant_id={company.credentials.tenant_id}")
    with pytest.raises(ConsentRefused) as expired:
        flow.complete(user_id="alice", state=old.state, code=old_answer["code"])
    assert expired.value.reason == "expired"
    assert company.sandbox.sandbox.oauth.codes[old_answer["code"]].used is False
    assert TokenStore(ledger).get(key) == first
    outcomes = [(r["user_id"], r["outcome"]) for r in flow.recent("demo_erp")]
    assert sorted(outcomes, key=str) == sorted([("alice", "connected"), ("alice", "refused")], key=str)


def test_a_denied_consent_is_recorded_with_fortnox_s_reason(company: Company, ledger: Ledger) -> None:
    flow = FortnoxConsent(ledger)
    started = flow.begin("demo_erp", company.rules, user_id="alice")
    answer = company.consent(started.url, decision="deny")
    with pytest.raises(ConsentRefused, match="access_denied") as denied:
        flow.complete(user_id="alice", state=answer["state"], error=answer["error"],
                      error_description=answer.get("error_description"))
    assert denied.value.reason == "denied"
    assert TokenStore(ledger).get(_token_key(company, ledger)) is None
    assert [r["outcome"] for r in flow.recent("demo_erp")] == ["denied"]


def test_a_service_account_consent_lets_the_integration_use_client_credentials(company: Company,
                                                                              ledger: Ledger) -> None:
    other = company.sandbox.sandbox.create_company(redirect_uri=REDIRECT, client_id=company.credentials.client_id)
    client = company.sandbox.sandbox.oauth.clients[company.credentials.client_id]
    client.service_tenants.discard(other.tenant_id)  # create_company consents as a service account: undo that
    flow = FortnoxConsent(ledger)
    started = flow.begin("demo_erp", company.rules, user_id="alice", service_account=True)
    assert parse_qs(urlsplit(started.url).query)["account_type"] == ["service"]
    answer = company.consent(started.url + f"&tenant_id={other.tenant_id}")
    connected = flow.complete(user_id="alice", state=answer["state"], code=answer["code"])
    assert connected.service_account and connected.fortnox_tenant_id == other.tenant_id
    assert other.tenant_id in client.service_tenants
    hook = FortnoxHook.from_params(base_url=company.sandbox.base, client_id=client.client_id,
                                   client_secret=client.client_secret, tenant_id=other.tenant_id,
                                   auth_url=f"{company.sandbox.base}/oauth-v1/token", company="svc")
    assert hook.company_information().database_number == other.tenant_id


def test_a_consent_without_a_redirect_uri_or_client_says_what_is_missing(company: Company, ledger: Ledger,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", '{"conn_type": "fortnox", "host": "http://127.0.0.1:9", '
                       '"login": "app", "password": "s"}')
    with pytest.raises(ConsentRefused, match="redirect_uri") as missing:
        FortnoxConsent(ledger).begin("demo_erp", company.rules, user_id="alice")
    assert missing.value.reason == "no_redirect_uri"
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", '{"conn_type": "fortnox", "host": "http://127.0.0.1:9"}')
    with pytest.raises(ConsentRefused, match="client id") as no_client:
        FortnoxConsent(ledger).begin("demo_erp", company.rules, user_id="alice", redirect_uri=REDIRECT)
    assert no_client.value.reason == "no_client"
