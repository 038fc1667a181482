"""FortnoxHook against the Fortnox sandbox: typed methods, errors, retries, writes, tokens, paging."""

from __future__ import annotations

import datetime as dt
import json
import logging
from decimal import Decimal

import pytest

from jetfort.fortnox.errors import (
    FortnoxAmbiguousWrite,
    FortnoxNotFound,
    FortnoxRateLimited,
    FortnoxServerError,
    FortnoxTokenError,
    FortnoxValidationError,
)
from jetfort.fortnox.hook import FortnoxHook, lastmodified
from jetfort.fortnox.models import DocumentRow, FortnoxCustomer, FortnoxInvoice, FortnoxOrder, Price
from jetfort.ledger import Ledger
from jetfort.ledger.tokens import TokenStore
from sandbox.fortnox.emulator import Credentials
from tests.jetfort.fortnox.conftest import ContractChecker, HookFactory, Server


def _order(customer: str, article: str, reference: str, qty: int = 2) -> FortnoxOrder:
    return FortnoxOrder(customer_number=customer, external_invoice_reference1=reference,
                        rows=[DocumentRow(article_number=article, ordered_quantity=Decimal(qty),
                                          delivered_quantity=Decimal(qty))])


def _first_customer_and_article(hook: FortnoxHook) -> tuple[str, str]:
    customer = next(iter(hook.list_customers()))
    article = next(a for a in hook.list_articles() if (a.sales_price or 0) > 0)
    assert customer.customer_number and article.article_number
    return customer.customer_number, article.article_number


# ------------------------------------------------------------------------------------------ reading


def test_reads_registers_company_and_stock(make_hook: HookFactory, company: Credentials,
                                           contract: ContractChecker) -> None:
    hook = make_hook()
    info = hook.company_information()
    assert info.database_number == company.tenant_id
    assert "SEK" in {c.code for c in hook.list_currencies()}
    assert hook.list_terms_of_payment() and hook.list_ways_of_delivery()
    assert "A" in {p.code for p in hook.list_price_lists()}
    article = next(iter(hook.list_articles()))
    assert article.article_number
    base = hook.get_price("A", article.article_number)
    assert base.from_quantity == 0 and base.price is not None
    assert any(p.from_quantity == 0 for p in hook.list_prices("A", article.article_number))
    balances = hook.stock_balance([article.article_number])
    assert {b.item_id for b in balances} == {article.article_number}
    assert hook.find_article("999999") is None  # numeric: the spec types this path parameter as int32
    assert contract.checked >= 9


def test_paging_follows_total_pages_without_gaps_or_repeats(make_hook: HookFactory) -> None:
    hook = make_hook()
    everything = [str(c.customer_number) for c in hook.list_customers()]
    pages = list(hook.iter_pages("3/customers", "Customers", limit=4))
    assert len(everything) > 8  # the seed gives enough customers for several pages
    assert len(pages) == -(-len(everything) // 4)
    assert [meta.current_page for meta, _ in pages] == list(range(1, len(pages) + 1))
    paged = [item["CustomerNumber"] for _, items in pages for item in items]
    assert sorted(paged) == sorted(everything) and len(set(paged)) == len(paged)


def test_changed_since_uses_lastmodified_and_finds_new_documents(make_hook: HookFactory) -> None:
    hook = make_hook()
    customer, article = _first_customer_and_article(hook)
    before = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    created = hook.create_order(_order(customer, article, "changed-1"))
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)
    assert created.document_number in {o.document_number for o in hook.orders_changed_since(before)}
    assert created.document_number not in {o.document_number for o in hook.orders_changed_since(later)}
    assert lastmodified(dt.datetime(2026, 1, 15, 12, 0, tzinfo=dt.UTC)) == "2026-01-15 13:00:00"  # CET


# ------------------------------------------------------------------------------------ exact matches


def test_lookups_compare_exactly_after_fortnox_substring_search(make_hook: HookFactory) -> None:
    hook = make_hook()
    customer, article = _first_customer_and_article(hook)
    anna = hook.create_customer(FortnoxCustomer(name="Anna", email="anna@example.se",
                                                organisation_number="19800101-1234"))
    hook.create_customer(FortnoxCustomer(name="Hanna", email="hanna@example.se",
                                         organisation_number="19800101-12345"))
    # Fortnox's own search matches both (substring) ...
    assert {c.name for c in hook.list_customers(email="anna@example.se")} >= {"Anna", "Hanna"}
    # ... the lookups keep only the equal one
    assert [c.customer_number for c in hook.find_customers_by_email("ANNA@example.se")] == [anna.customer_number]
    assert [c.customer_number for c in hook.find_customers_by_org_number("198001011234")] == [anna.customer_number]

    first = hook.create_order(_order(customer, article, "shop-1"))
    hook.create_order(_order(customer, article, "shop-10"))
    assert {o.external_invoice_reference1 for o in hook.list_orders(externalinvoicereference1="shop-1")} == {
        "shop-1", "shop-10"}
    assert [o.document_number for o in hook.find_orders_by_reference("shop-1")] == [first.document_number]
    assert hook.find_orders_by_reference("shop-") == []


def test_invoice_lookup_by_your_order_number_is_exact(make_hook: HookFactory) -> None:
    hook = make_hook()
    customer, article = _first_customer_and_article(hook)
    rows = [DocumentRow(article_number=article, delivered_quantity=Decimal(1))]
    wanted = hook.create_invoice(FortnoxInvoice(customer_number=customer, your_order_number="A-7", rows=rows))
    hook.create_invoice(FortnoxInvoice(customer_number=customer, your_order_number="A-77", rows=rows))
    found = hook.find_invoices_by_reference("A-7", field="YourOrderNumber")
    assert [i.document_number for i in found] == [wanted.document_number]


# ------------------------------------------------------------------------------------ documents


def test_order_to_invoice_lifecycle(make_hook: HookFactory, server: Server, company: Credentials) -> None:
    hook = make_hook()
    customer, article = _first_customer_and_article(hook)
    order = hook.create_order(_order(customer, article, "life-1", qty=3))
    assert order.total and order.total > 0 and order.invoice_reference is None
    assert order.rows and order.rows[0].delivered_quantity == 3
    invoice_number = hook.create_invoice_from_order(str(order.document_number))
    assert hook.get_order(str(order.document_number)).invoice_reference == invoice_number
    # repeating the action (a task re-run) does not invoice twice
    assert hook.create_invoice_from_order(str(order.document_number)) == invoice_number
    assert len(server.sandbox.company(company.tenant_id).snapshot("invoices")) == 1
    invoice = hook.bookkeep_invoice(invoice_number)
    assert invoice.booked is True
    assert hook.bookkeep_invoice(invoice_number).booked is True  # idempotent
    with pytest.raises(FortnoxValidationError):
        hook.cancel_invoice(invoice_number)  # booked invoices cannot be cancelled
    credited = hook.credit_invoice(invoice_number)
    assert credited.credit_invoice_reference not in (None, invoice_number)
    assert hook.list_invoice_payments(invoice_number) == []
    other = hook.create_order(_order(customer, article, "life-2"))
    assert hook.cancel_order(str(other.document_number)).cancelled is True


def test_prices_create_and_update(make_hook: HookFactory) -> None:
    hook = make_hook()
    article = next(iter(hook.list_articles())).article_number
    assert article
    created = hook.set_price(Price(price_list="A", article_number=article, from_quantity=Decimal(50),
                                   price=Decimal("12.50")))
    assert created.price == Decimal("12.50")
    updated = hook.set_price(Price(price_list="A", article_number=article, from_quantity=Decimal(50),
                                   price=Decimal("11")))
    assert updated.price == 11
    assert hook.get_price("A", article, 50).price == 11


def test_set_price_survives_a_lost_create_answer(make_hook: HookFactory, server: Server) -> None:
    hook = make_hook()
    article = next(iter(hook.list_articles())).article_number
    assert article
    server.sandbox.set_faults(forced={"drop_after_commit": 1}, drop_methods=["POST"])
    saved = hook.set_price(Price(price_list="A", article_number=article, from_quantity=Decimal(70),
                                 price=Decimal("9.90")))
    assert saved.price == Decimal("9.90")
    assert [p.price for p in hook.list_prices("A", article) if p.from_quantity == 70] == [Decimal("9.90")]


# ------------------------------------------------------------------------------------ typed errors


def test_not_found_and_validation_errors_are_typed_with_fortnox_codes(make_hook: HookFactory) -> None:
    hook = make_hook()
    with pytest.raises(FortnoxNotFound) as missing:
        hook.get_order("987654")
    assert missing.value.status == 404 and missing.value.code == 2000439  # capitalised keys on 404
    assert missing.value.retryable is False
    with pytest.raises(FortnoxValidationError) as invalid:
        hook.create_order(FortnoxOrder(customer_number="no-such-customer"))
    assert invalid.value.status == 400 and invalid.value.code == 2000204  # lowercase keys on 400
    assert invalid.value.message and invalid.value.retryable is False
    assert hook.request_count == 2  # 4xx errors are never retried


def test_error_text_and_logs_hold_no_secrets_or_bodies(make_hook: HookFactory, company: Credentials,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    hook = make_hook()
    hook.create_customer(FortnoxCustomer(name="Secret Person", email="secret.person@example.se"))
    with pytest.raises(FortnoxValidationError) as err:
        hook.create_customer(FortnoxCustomer(name="X", currency="XYZ"))
    token = hook.auth.access_token()
    for text in (caplog.text, str(err.value), repr(hook.auth.store.get(hook.token_key))):
        assert token not in text
        assert company.client_secret not in text
        assert company.refresh_token not in text
        assert "secret.person@example.se" not in text


# ------------------------------------------------------------------------------------ retries


def test_server_errors_rate_limits_and_resets_are_retried(make_hook: HookFactory, server: Server) -> None:
    hook = make_hook()
    hook.company_information()  # token first
    server.sandbox.set_faults(forced={"server_error": 2, "rate_limit": 1, "reset": 1})
    sent = hook.request_count
    assert hook.company_information().company_name
    assert hook.request_count - sent == 5  # four failures, then the answer


def test_retries_are_bounded(make_hook: HookFactory, server: Server, company: Credentials) -> None:
    def arrivals() -> int:  # counted by the sandbox: what reached the server, not what the client meant to send
        return sum(1 for e in server.log_for(company.tenant_id) if e["path"] == "/3/companyinformation")

    hook = make_hook(max_attempts=3)
    hook.company_information()
    assert arrivals() == 1
    server.sandbox.set_faults(forced={"server_error": 10})
    with pytest.raises(FortnoxServerError) as err:
        hook.company_information()
    assert err.value.retryable is True and err.value.status == 500
    assert arrivals() == 1 + 3  # exactly max_attempts, then the typed error
    server.sandbox.clear_faults()
    server.sandbox.set_faults(forced={"rate_limit": 10})
    with pytest.raises(FortnoxRateLimited):
        hook.company_information()
    assert arrivals() == 1 + 3 + 3
    server.sandbox.clear_faults()
    server.sandbox.set_faults(forced={"rate_limit": 2})
    assert hook.company_information().database_number == company.tenant_id  # third attempt answered
    assert arrivals() == 1 + 3 + 3 + 3


# ------------------------------------------------------------------------------------ ambiguous writes


def test_create_whose_answer_is_lost_is_not_repeated(make_hook: HookFactory, server: Server,
                                                     company: Credentials) -> None:
    hook = make_hook()
    customer, article = _first_customer_and_article(hook)
    server.sandbox.set_faults(forced={"drop_after_commit": 1}, drop_methods=["POST"])
    with pytest.raises(FortnoxAmbiguousWrite) as err:
        hook.create_order(_order(customer, article, "lost-1"))
    assert err.value.retryable is True
    orders = server.sandbox.company(company.tenant_id).snapshot("orders")
    assert len(orders) == 1  # committed once, never re-sent
    # the caller's idempotency lookup finds the committed order instead of creating a second one
    assert len(hook.find_orders_by_reference("lost-1")) == 1


def test_create_document_posts_a_stored_payload_once_and_returns_its_number(
        make_hook: HookFactory, server: Server, company: Credentials, contract: ContractChecker) -> None:
    hook = make_hook()
    customer, article = _first_customer_and_article(hook)
    checked = contract.checked
    for kind, collection in (("order", "orders"), ("invoice", "invoices")):
        model = FortnoxInvoice if kind == "invoice" else FortnoxOrder
        payload = _order(customer, article, f"stored-{kind}").to_payload()
        if kind == "invoice":
            payload["InvoiceRows"] = payload.pop("OrderRows")
        stored = json.loads(json.dumps(model.model_validate(payload).to_payload()))  # as kept in the ledger
        number = hook.create_document(kind, stored)
        documents = server.sandbox.company(company.tenant_id).snapshot(collection)
        assert [str(d["DocumentNumber"]) for d in documents if d.get("ExternalInvoiceReference1")
                == f"stored-{kind}"] == [number]
    assert contract.checked == checked + 2  # both writes checked against the official spec
    server.sandbox.set_faults(forced={"drop_after_commit": 1}, drop_methods=["POST"])
    with pytest.raises(FortnoxAmbiguousWrite):
        hook.create_document("order", _order(customer, article, "stored-lost").to_payload())
    assert len(hook.find_orders_by_reference("stored-lost")) == 1  # committed once, not re-sent
    with pytest.raises(KeyError):
        hook.create_document("offer", {})


def test_document_references_lists_reference_and_number_of_changed_documents(make_hook: HookFactory) -> None:
    hook = make_hook()
    customer, article = _first_customer_and_article(hook)
    before = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    first = hook.create_order(_order(customer, article, "jetfort:se:1"))
    second = hook.create_order(_order(customer, article, "jetfort:se:10"))
    unreferenced = hook.create_order(_order(customer, article, ""))
    pairs = list(hook.document_references("order", "ExternalInvoiceReference1", since=before))
    assert ("jetfort:se:1", str(first.document_number)) in pairs
    assert ("jetfort:se:10", str(second.document_number)) in pairs
    assert str(unreferenced.document_number) not in {number for _, number in pairs}
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)
    assert list(hook.document_references("order", "ExternalInvoiceReference1", since=later)) == []
    assert list(hook.document_references("invoice", "ExternalInvoiceReference1", since=before)) == []


def test_reset_before_commit_is_ambiguous_too_and_lookup_shows_nothing(make_hook: HookFactory,
                                                                       server: Server) -> None:
    hook = make_hook()
    customer, article = _first_customer_and_article(hook)
    server.sandbox.set_faults(forced={"reset": 1})
    with pytest.raises(FortnoxAmbiguousWrite):
        hook.create_order(_order(customer, article, "reset-1"))
    assert hook.find_orders_by_reference("reset-1") == []
    assert hook.create_order(_order(customer, article, "reset-1")).document_number


def test_lost_answer_of_an_action_is_resolved_by_reading_back(make_hook: HookFactory, server: Server,
                                                              company: Credentials) -> None:
    hook = make_hook()
    customer, article = _first_customer_and_article(hook)
    order = hook.create_order(_order(customer, article, "act-1"))
    server.sandbox.set_faults(forced={"drop_after_commit": 1}, drop_methods=["PUT"])
    invoice_number = hook.create_invoice_from_order(str(order.document_number))
    assert hook.get_invoice(invoice_number).document_number == invoice_number
    assert len(server.sandbox.company(company.tenant_id).snapshot("invoices")) == 1


# ------------------------------------------------------------------------------------ tokens


def test_expired_token_mid_run_is_refreshed_once_and_rotation_stored(make_hook: HookFactory,
                                                                     server: Server, ledger: Ledger) -> None:
    hook = make_hook(ledger=ledger)
    hook.company_information()
    first = TokenStore(ledger).get(hook.token_key)
    assert first is not None and first.refresh_token
    server.sandbox.set_faults(forced={"expire_token": 1})
    assert hook.company_information().company_name
    second = TokenStore(ledger).get(hook.token_key)
    assert second is not None and second.version == first.version + 1
    assert second.refresh_token != first.refresh_token


def test_a_new_worker_uses_the_rotated_token_not_the_spent_seed(make_hook: HookFactory, server: Server,
                                                                company: Credentials, ledger: Ledger) -> None:
    make_hook(ledger=ledger).company_information()  # spends the connection's seed
    server.sandbox.oauth.expire_all(company.tenant_id)
    later = make_hook(ledger=ledger)  # same (now spent) seed in its settings
    assert later.company_information().database_number == company.tenant_id
    assert later.auth.refreshes == 1


def test_refused_refresh_token_is_a_permanent_token_error(make_hook: HookFactory) -> None:
    hook = make_hook(refresh_token="not-a-real-token")
    with pytest.raises(FortnoxTokenError) as err:
        hook.company_information()
    assert err.value.oauth_error == "invalid_grant" and err.value.retryable is False
    assert hook.request_count == 0


def test_client_credentials_with_tenant_id(make_hook: HookFactory, company: Credentials) -> None:
    hook = make_hook(refresh_token=None, tenant_id=company.tenant_id)
    assert hook.company_information().database_number == company.tenant_id
    stored = hook.auth.store.get(hook.token_key)
    assert stored is not None and stored.refresh_token is None


# ------------------------------------------------------------------------------------ connection


def test_airflow_connection_extras_are_settings_not_headers(server: Server, company: Credentials,
                                                            contract: ContractChecker,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    conn = {"conn_type": "fortnox", "host": server.base, "login": company.client_id,
            "password": company.client_secret,
            "extra": {"refresh_token": company.refresh_token, "auth_url": server.auth_url,
                      "company": str(company.tenant_id), "budget": "local", "X-Trace": "jetfort-test"}}
    monkeypatch.setenv("AIRFLOW_CONN_FORTNOX_TEST", json.dumps(conn))
    hook = FortnoxHook("fortnox_test")
    sent: list[tuple[str, dict[str, str]]] = []
    session = contract.install(hook).get_conn()
    session.hooks["response"].append(lambda r, *a, **k: sent.append((r.request.url, dict(r.request.headers))))
    assert hook.company_information().database_number == company.tenant_id
    token_call = next(h for url, h in sent if url.endswith("/oauth-v1/token"))
    assert token_call["Content-Type"] == "application/x-www-form-urlencoded"  # OAuth form post
    assert token_call["Authorization"].startswith("Basic ")  # client credentials only go here
    headers = sent[-1][1]
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Trace"] == "jetfort-test"  # a real header extra still works
    assert headers["Authorization"].startswith("Bearer ")  # never Basic client credentials
    lowered = {k.lower() for k in headers}
    assert not lowered & {"refresh_token", "auth_url", "company", "budget", "tenant_id"}
    assert company.refresh_token not in json.dumps(headers)
    assert hook.company == str(company.tenant_id)
    stored = TokenStore(hook.ledger).get(hook.token_key)  # rotated token kept in the ledger, not memory
    assert stored is not None and stored.refresh_token not in (None, company.refresh_token)
    ok, message = hook.test_connection()
    assert ok, message
    # the http provider's run() contract (HttpOperator) goes through the same auth and budget
    hook.method = "GET"
    response = hook.run("3/companyinformation")
    assert response.status_code == 200 and response.json()["CompanyInformation"]["DatabaseNumber"] == company.tenant_id


def test_connection_options_of_the_http_provider_still_apply(server: Server, company: Credentials,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    conn = {"conn_type": "fortnox", "host": server.base, "login": company.client_id,
            "password": company.client_secret,
            "extra": {"refresh_token": company.refresh_token, "auth_url": server.auth_url, "budget": "local",
                      "verify": False, "proxies": {"https": "http://proxy.example:3128"}, "max_redirects": 3}}
    monkeypatch.setenv("AIRFLOW_CONN_FORTNOX_OPTIONS", json.dumps(conn))
    with FortnoxHook("fortnox_options") as hook:
        session = hook.get_conn()
        assert session.verify is False and session.max_redirects == 3
        assert session.proxies == {"https": "http://proxy.example:3128"}
        assert session.auth is None  # the client secret is for the token endpoint only
        assert not {k.lower() for k in session.headers} & {"refresh_token", "auth_url", "budget", "verify"}
        assert hook.company_information().database_number == company.tenant_id  # http: the proxy is not used


@pytest.mark.parametrize("value", ["fast", 0, -1, "-0.5", "nan", True])
def test_an_unreadable_rate_window_names_the_connection_and_the_field(
        server: Server, company: Credentials, monkeypatch: pytest.MonkeyPatch, value: object) -> None:
    conn = {"conn_type": "fortnox", "host": server.base, "login": company.client_id,
            "password": company.client_secret, "extra": {"budget": "local", "rate_window": value}}
    monkeypatch.setenv("AIRFLOW_CONN_FORTNOX_WINDOW", json.dumps(conn))
    hook = FortnoxHook("fortnox_window")
    with pytest.raises(ValueError, match=r"connection 'fortnox_window': extra rate_window .*got") as err:
        hook.budget  # noqa: B018  (the budget is what the window configures)
    assert repr(value) in str(err.value)


@pytest.mark.parametrize(("value", "expected"), [(0.5, 0.5), ("2", 2.0), (None, 5.0)])
def test_a_rate_window_sets_the_budget_window(server: Server, company: Credentials, monkeypatch: pytest.MonkeyPatch,
                                              value: object, expected: float) -> None:
    extra = {"budget": "local", **({"rate_window": value} if value is not None else {})}
    conn = {"conn_type": "fortnox", "host": server.base, "login": company.client_id,
            "password": company.client_secret, "extra": extra}
    monkeypatch.setenv("AIRFLOW_CONN_FORTNOX_WINDOW", json.dumps(conn))
    hook = FortnoxHook("fortnox_window")
    assert hook.settings.rate_window == (None if value is None else expected)
    # the budget enforces that window plus a safety margin (padding), not Fortnox's 5 s nor anything else
    assert expected < hook.budget.window < expected * 2
    assert hook.budget.limit == 25


def test_tokens_are_registered_with_airflows_secrets_masker(make_hook: HookFactory, company: Credentials) -> None:
    from airflow.sdk import log as sdk_log

    hook = make_hook()
    hook.company_information()
    stored = hook.auth.store.get(hook.token_key)
    assert stored is not None and stored.access_token and stored.refresh_token
    masked = sdk_log._secrets_masker().redact(f"a={stored.access_token} r={stored.refresh_token} "
                                              f"s={company.client_secret}")
    assert stored.access_token not in masked and stored.refresh_token not in masked
    assert company.client_secret not in masked


def test_errors_belong_to_jetforts_retry_families_and_survive_pickling(make_hook: HookFactory,
                                                                       server: Server) -> None:
    import pickle

    from jetfort.errors import PermanentError, TransientError

    hook = make_hook()
    customer, article = _first_customer_and_article(hook)
    with pytest.raises(FortnoxNotFound) as missing:
        hook.get_customer("no-such-customer")
    server.sandbox.set_faults(forced={"drop_after_commit": 1}, drop_methods=["POST"])
    with pytest.raises(FortnoxAmbiguousWrite) as lost:
        hook.create_order(_order(customer, article, "fam-1"))
    assert isinstance(missing.value, PermanentError) and not isinstance(missing.value, TransientError)
    assert isinstance(lost.value, TransientError)
    copy = pickle.loads(pickle.dumps(missing.value))
    assert type(copy) is FortnoxNotFound and copy.code == missing.value.code and str(copy) == str(missing.value)


def test_a_post_that_never_connected_is_retried_not_ambiguous() -> None:
    import datetime as dt

    from jetfort.fortnox.auth import MemoryTokenStore
    from jetfort.fortnox.errors import FortnoxConnectionError
    from sandbox.server import free_port

    store = MemoryTokenStore()
    hook = FortnoxHook.from_params(base_url=f"http://127.0.0.1:{free_port()}", client_id="c",
                                   client_secret="s", company="nowhere", token_store=store,
                                   max_attempts=2, max_backoff=0.05)
    with store.locked(hook.token_key) as slot:
        slot.save(access_token="a", refresh_token="r",
                  expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1))
    with pytest.raises(FortnoxConnectionError) as err:  # nothing listens: the order was never sent
        hook.create_order(FortnoxOrder(customer_number="1"))
    assert not isinstance(err.value, FortnoxAmbiguousWrite)
    assert hook.request_count == 2  # so it was safe to retry


def test_a_gateway_timeout_on_a_create_is_ambiguous_but_retried_on_reads(make_hook: HookFactory) -> None:
    """The sandbox has no proxy in front, so a 504 is made at the transport for this one test."""
    import requests
    from requests.adapters import HTTPAdapter

    class GatewayTimeout(HTTPAdapter):
        def __init__(self, inner: HTTPAdapter) -> None:
            super().__init__()
            self.inner, self.calls = inner, 0

        def send(self, request: requests.PreparedRequest, *args: object, **kwargs: object) -> requests.Response:
            if "/3/" not in str(request.url) or self.calls >= 1:
                return self.inner.send(request, *args, **kwargs)  # type: ignore[arg-type]
            self.calls += 1
            response = requests.Response()
            response.status_code, response.url, response.request = 504, str(request.url), request
            response._content = b"<html>Gateway Timeout</html>"
            return response

    hook = make_hook()
    customer, article = _first_customer_and_article(hook)
    session = hook.get_conn()
    adapter = GatewayTimeout(session.get_adapter(hook.settings.base_url))  # type: ignore[arg-type]
    session.mount("http://", adapter)
    with pytest.raises(FortnoxAmbiguousWrite) as err:
        hook.create_order(_order(customer, article, "gw-1"))
    assert err.value.status == 504 and hook.find_orders_by_reference("gw-1") == []
    adapter.calls = 0
    assert hook.company_information().database_number  # a read: 504 retried like any 5xx
    assert adapter.calls == 1
