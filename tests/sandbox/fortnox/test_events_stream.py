"""``/topics-v1`` stream: events for REST/admin/live changes, order per topic, replay, retention, knobs."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from typing import Any

import requests

from sandbox.fortnox import create_app
from sandbox.server import serve_in_thread
from tests.sandbox.fortnox.events_support import (  # noqa: F401 (fixtures)
    Env,
    env_fixture,
    kinds,
    knobs_off_fixture,
    order_body,
)

ALL = [{"topic": "orders"}, {"topic": "invoices"}, {"topic": "articles"}, {"topic": "warehouse-stockbalances"}]


def _per_topic(events: list[dict[str, Any]]) -> dict[str, list[tuple[str, str]]]:
    out: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for event in events:
        out[event["topic"]].append((event["type"], event["entityId"]))
    return dict(out)


def test_order_and_invoice_changes_through_rest_emit_their_events(env: Env) -> None:
    company = env.company()
    with env.socket() as sock:
        sock.subscribe(company.client_secret, [env.token(company)], ALL)
        order = env.call(company, "POST", "/3/orders", order_body(article="1001", qty=2))["Order"]["DocumentNumber"]
        env.call(company, "PUT", f"/3/orders/{order}", {"Order": {"Comments": "packed"}})
        invoice = env.call(company, "PUT", f"/3/orders/{order}/createinvoice")["Order"]["InvoiceReference"]
        total = env.call(company, "PUT", f"/3/invoices/{invoice}/bookkeep")["Invoice"]["Total"]
        payment = env.call(company, "POST", "/3/invoicepayments",
                           {"InvoicePayment": {"InvoiceNumber": int(invoice), "Amount": total}})["InvoicePayment"]
        env.call(company, "PUT", f"/3/invoicepayments/{payment['Number']}/bookkeep")
        cancelled = env.call(company, "POST", "/3/orders", order_body(article="1002"))["Order"]["DocumentNumber"]
        env.call(company, "PUT", f"/3/orders/{cancelled}/cancel")
        direct = env.call(company, "POST", "/3/invoices", {"Invoice": {
            "CustomerNumber": "2", "InvoiceRows": [{"ArticleNumber": "S001", "DeliveredQuantity": 1}]}})
        env.call(company, "PUT", f"/3/invoices/{direct['Invoice']['DocumentNumber']}/cancel")
        got = sock.take(15, timeout=10)
        assert sock.drain(0.3) == []
    direct_number = direct["Invoice"]["DocumentNumber"]
    assert _per_topic(got) == {
        "orders": [("order-created-v1", order), ("order-updated-v1", order), ("order-updated-v1", order),
                   ("order-created-v1", cancelled), ("order-cancelled-v1", cancelled)],
        "invoices": [("invoice-created-v1", invoice), ("invoice-bookkeep-v1", invoice),
                     ("invoice-updated-v1", invoice), ("invoicepayment-bookkeep-v1", invoice),
                     ("invoice-created-v1", direct_number), ("invoice-cancelled-v1", direct_number)],
        # 1001: reserved by the order, then delivered by its invoice; 1002: reserved, then released
        "warehouse-stockbalances": [("warehouse-stockbalance-changed-v1", "1001")] * 2
        + [("warehouse-stockbalance-changed-v1", "1002")] * 2,
    }
    assert {e["tenantId"] for e in got} == {company.tenant_id}
    assert got == env.log(tenant=company.tenant_id)  # the socket saw exactly the sandbox's log


def test_article_and_stock_changes_through_rest_and_admin_emit_their_events(env: Env) -> None:
    company = env.company()
    with env.socket() as sock:
        sock.subscribe(company.client_secret, [env.token(company)], ALL)
        env.call(company, "POST", "/3/articles", {"Article": {"ArticleNumber": "EV-1", "Description": "Lamp"}})
        env.call(company, "PUT", "/3/articles/EV-1", {"Article": {"Description": "Lamp, red"}})
        env.call(company, "PUT", "/3/articles/EV-1", {"Article": {"QuantityInStock": 7}})
        admin = requests.put(f"{env.base}/_sandbox/companies/{company.tenant_id}/stock",
                             json={"itemId": "1003", "inStock": 42}, timeout=10)
        assert admin.status_code == 200
        env.call(company, "DELETE", "/3/articles/EV-1")
        got = sock.take(7, timeout=10)
        assert sock.drain(0.3) == []
    assert _per_topic(got) == {
        "articles": [("article-created-v1", "EV-1"), ("article-updated-v1", "EV-1"), ("article-updated-v1", "EV-1"),
                     ("article-updated-v1", "1003"), ("article-deleted-v1", "EV-1")],
        "warehouse-stockbalances": [("warehouse-stockbalance-changed-v1", "EV-1"),
                                    ("warehouse-stockbalance-changed-v1", "1003")],
    }
    balance = env.call(company, "GET", "/api/warehouse/status-v1/stockbalance?itemIds=1003")
    assert balance[0]["inStock"] == 42  # the event came after the change REST shows


def test_changes_made_in_python_show_up_within_a_second(env: Env) -> None:
    company = env.company()
    with env.socket() as sock:
        sock.subscribe(company.client_secret, [env.token(company)], [{"topic": "articles"}])
        data = env.sandbox.company(company.tenant_id)
        with data.lock:
            data.put("articles", "1004", data.get("articles", "1004"))
        assert kinds(sock.take(1, timeout=3)) == [("articles", "article-updated-v1", "1004")]


def test_each_topic_keeps_its_order_when_topics_are_shuffled(env: Env) -> None:
    company = env.company()
    env.knobs(shuffle_topics=True)
    with env.socket() as sock:
        sock.subscribe(company.client_secret, [env.token(company)], ALL)
        for i in range(15):
            number = env.call(company, "POST", "/3/orders", order_body(article=str(1001 + i % 5)))["Order"]["DocumentNumber"]
            env.call(company, "PUT", f"/3/articles/{1001 + i % 5}", {"Article": {"Note": f"n{i}"}})
            env.call(company, "PUT", f"/3/orders/{number}/cancel")
        log = env.log(tenant=company.tenant_id)
        got = sock.take(len(log), timeout=10)
        assert sock.drain(0.3) == []
    assert sorted(map(str, got)) == sorted(map(str, log))  # the same events
    for topic in ("orders", "articles", "warehouse-stockbalances"):
        assert [e for e in got if e["topic"] == topic] == [e for e in log if e["topic"] == topic], topic


def test_replay_after_an_offset_and_the_inclusive_knob(env: Env) -> None:
    company = env.company()
    numbers = [env.call(company, "POST", "/3/orders", order_body())["Order"]["DocumentNumber"] for _ in range(5)]
    log = env.log("orders", company.tenant_id)
    assert [e["entityId"] for e in log] == numbers
    with env.socket() as sock:
        sock.subscribe(company.client_secret, [env.token(company)], [{"topic": "orders", "offset": log[1]["offset"]}])
        assert sock.take(3) == log[2:]
        assert sock.drain() == []
    env.knobs(replay_includes_offset=True)
    with env.socket() as sock:
        sock.subscribe(company.client_secret, [env.token(company)], [{"topic": "orders", "offset": log[1]["offset"]}])
        assert sock.take(4) == log[1:]
    with env.socket() as sock:  # without an offset: only what happens from now on
        sock.subscribe(company.client_secret, [env.token(company)], [{"topic": "orders"}])
        assert sock.drain(0.3) == []
        later = env.call(company, "POST", "/3/orders", order_body())["Order"]["DocumentNumber"]
        assert [e["entityId"] for e in sock.take(1)] == [later]


def test_retention_is_14_days_and_older_offsets_start_at_the_earliest_retained() -> None:
    app = create_app(seed=4)
    sandbox = app.state.sandbox
    with serve_in_thread(app) as base:
        env = Env(base, sandbox)
        company = sandbox.default
        old = [env.call(company, "POST", "/3/orders", order_body())["Order"]["DocumentNumber"] for _ in range(2)]
        old_log = env.log("orders")
        sandbox.clock.advance(13 * 24 * 3600)
        kept = env.call(company, "POST", "/3/orders", order_body())["Order"]["DocumentNumber"]
        sandbox.clock.advance(2 * 24 * 3600)  # the first two are now 15 days old, the third 2 days
        new = env.call(company, "POST", "/3/orders", order_body())["Order"]["DocumentNumber"]
        assert [e["entityId"] for e in env.log("orders")] == [kept, new]
        assert [e["entityId"] for e in old_log] == old
        for offset in (old_log[0]["offset"], "never-issued"):
            with env.socket() as sock:
                sock.subscribe(company.client_secret, [env.token(company)], [{"topic": "orders", "offset": offset}])
                assert [e["entityId"] for e in sock.take(2)] == [kept, new]
                assert sock.drain(0.3) == []


def test_duplicates_knob_sends_every_nth_event_twice(env: Env) -> None:
    company = env.company()
    env.knobs(duplicate_every=3)
    with env.socket() as sock:
        sock.subscribe(company.client_secret, [env.token(company)], [{"topic": "orders"}])
        numbers = [env.call(company, "POST", "/3/orders", order_body())["Order"]["DocumentNumber"] for _ in range(7)]
        got = sock.take(9, timeout=10)
        assert sock.drain(0.3) == []
    expected: list[str] = []
    for i, number in enumerate(numbers, start=1):
        expected += [number] * (2 if i % 3 == 0 else 1)
    assert [e["entityId"] for e in got] == expected
    assert got[2] == got[3] and got[6] == got[7]  # a duplicate is the same event, same offset


def test_disconnect_knob_closes_after_n_events_and_a_resume_from_the_last_offset_loses_nothing(env: Env) -> None:
    company = env.company()
    numbers = [env.call(company, "POST", "/3/orders", order_body())["Order"]["DocumentNumber"] for _ in range(7)]
    first = env.log("orders", company.tenant_id)[0]["offset"]
    env.knobs(disconnect_after=3)
    received: list[str] = []
    offset = first
    for _round in range(3):
        with env.socket() as sock:
            sock.subscribe(company.client_secret, [env.token(company)], [{"topic": "orders", "offset": offset}])
            got = sock.take(3, timeout=10) if received[-1:] != numbers[-1:] else []
            assert sock.drain(2.0 if got else 0.5) == []
            if got:  # closed right after its 3rd event
                assert sock.closed is not None and sock.closed.rcvd is not None
                assert sock.closed.rcvd.code == 1001
            received += [e["entityId"] for e in got]
            offset = got[-1]["offset"] if got else offset
    assert received == numbers[1:]  # 3 + 3 events, then the remaining none: closed after each 3


def test_disconnect_route_drops_every_socket_now(env: Env) -> None:
    company = env.company()
    with env.socket() as one, env.socket() as two:
        one.subscribe(company.client_secret, [env.token(company)], [{"topic": "orders"}])
        two.subscribe(company.client_secret, [env.token(company)], [{"topic": "orders"}])
        closed = requests.post(f"{env.base}/_sandbox/events/disconnect", timeout=5).json()["closed"]
        assert closed >= 2
        for sock in (one, two):
            assert sock.drain(2.0) == [] and sock.closed is not None


def test_lag_knob_delays_events(env: Env) -> None:
    company = env.company()
    env.knobs(lag_ms=600)
    with env.socket() as sock:
        sock.subscribe(company.client_secret, [env.token(company)], [{"topic": "orders"}])
        started = time.monotonic()
        number = env.call(company, "POST", "/3/orders", order_body())["Order"]["DocumentNumber"]
        assert sock.drain(0.3) == []
        assert [e["entityId"] for e in sock.take(1, timeout=3)] == [number]
        assert time.monotonic() - started >= 0.6


def test_expired_tokens_knob_stops_a_tenants_events(env: Env) -> None:
    company = env.company()
    short = env.sandbox.mint_access_token(company.tenant_id, company.client_id, ttl=60)
    env.knobs(drop_expired_tokens=True)
    with env.socket() as sock:
        sock.subscribe(company.client_secret, [short], [{"topic": "orders"}])
        env.call(company, "POST", "/3/orders", order_body())
        assert len(sock.take(1)) == 1
        env.sandbox.oauth.expire(short)
        env.call(company, "POST", "/3/orders", order_body())
        assert sock.drain() == []


def test_live_mode_moves_emit_events() -> None:
    app = create_app(seed=2, live=True, live_delay_seconds=60)
    sandbox = app.state.sandbox
    with serve_in_thread(app) as base:
        env = Env(base, sandbox)
        company = sandbox.default
        numbers = [env.call(company, "POST", "/3/orders", order_body(customer=str(1 + i)))["Order"]["DocumentNumber"]
                   for i in range(6)]
        for _ in range(12):
            sandbox.clock.advance(30)
            asyncio.run(app.state.live.tick())
        moves = [m for m in app.state.live.report()["recent"] if m["document"] == "order" and "refused" not in m]
        assert moves, "live mode moved no order"
        log = env.log("orders", company.tenant_id)
        for move in moves:
            expected = "order-cancelled-v1" if move["move"] == "order_cancelled" else "order-updated-v1"
            assert any(e["entityId"] == move["number"] and e["type"] == expected for e in log), move
        invoiced = [m["invoice"] for m in moves if m["move"] == "order_invoiced"]
        created = {e["entityId"] for e in env.log("invoices") if e["type"] == "invoice-created-v1"}
        assert set(invoiced) <= created and set(numbers) >= {m["number"] for m in moves}


def test_rest_lag_knob_shows_the_previous_version_for_a_while_after_the_event(env: Env) -> None:
    company = env.company()
    number = env.call(company, "POST", "/3/orders", order_body())["Order"]["DocumentNumber"]
    before = env.call(company, "GET", f"/3/orders/{number}")["Order"]
    env.knobs(rest_lag_ms=4000)
    with env.socket() as sock:
        sock.subscribe(company.client_secret, [env.token(company)], [{"topic": "orders"}])
        env.call(company, "PUT", f"/3/orders/{number}", {"Order": {"Comments": "now packed"}})
        assert kinds(sock.take(1)) == [("orders", "order-updated-v1", number)]
        changed_at = time.monotonic()
        stale = env.call(company, "GET", f"/3/orders/{number}")["Order"]
        assert stale == before and stale["Comments"] != "now packed" and stale["@url"].endswith(f"/3/orders/{number}")
        while env.call(company, "GET", f"/3/orders/{number}")["Order"]["Comments"] != "now packed":
            assert time.monotonic() - changed_at < 10, "the change never showed"
            time.sleep(0.1)
        assert time.monotonic() - changed_at >= 3.0
