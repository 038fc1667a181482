"""``/topics-v1`` commands: in-band auth, command order, tenants on one socket, isolation, control routes."""

from __future__ import annotations

import json
import time

import requests
from starlette.testclient import TestClient

from sandbox.fortnox import create_app
from tests.sandbox.fortnox.events_support import (  # noqa: F401 (fixtures)
    Env,
    env_fixture,
    kinds,
    knobs_off_fixture,
    order_body,
)


def test_add_tenants_refuses_a_wrong_secret_and_lists_invalid_tokens(env: Env) -> None:
    mine = env.company()
    other_client = env.company(shared_client=False)  # consented to another integration
    good = env.token(mine)
    expired = env.sandbox.mint_access_token(mine.tenant_id, mine.client_id, ttl=-1)
    foreign = env.token(other_client)
    with env.socket() as sock:
        refused = sock.command("add-tenants-v1", clientSecret="not-the-secret", accessTokens=[f"Bearer {good}"])
        assert refused["result"] == "error" and refused["tenantIds"] == {}
        assert refused["invalidTokens"] == [f"Bearer {good}"]
        sent = [f"Bearer {good}", f"Bearer {expired}", "Bearer not.a.jwt", f"Bearer {foreign}"]
        answer = sock.command("add-tenants-v1", clientSecret=env.sandbox.default.client_secret, accessTokens=sent,
                              includeChildTenants=False)
        assert answer == {"response": "add-tenants-v1", "result": "ok", "tenantIds": {f"Bearer {good}": mine.tenant_id},
                          "invalidTokens": sent[1:]}
        assert sock.command("list-tenants-v1") == {"response": "list-tenants-v1", "result": "ok",
                                                   "tenantIds": [mine.tenant_id]}


def test_only_invalid_tokens_is_an_error_and_adds_nobody(env: Env) -> None:
    with env.socket() as sock:
        answer = sock.command("add-tenants-v1", clientSecret=env.sandbox.default.client_secret,
                              accessTokens=["Bearer nope"])
        assert answer["result"] == "error" and answer["invalidTokens"] == ["Bearer nope"]
        assert sock.command("list-tenants-v1")["result"] == "error"  # still nobody on the socket


def test_every_command_before_add_tenants_is_answered_with_an_error(env: Env) -> None:
    with env.socket() as sock:
        for name, fields in (("add-topics-v1", {"topics": [{"topic": "orders"}]}), ("subscribe-v1", {}),
                             ("list-tenants-v1", {}), ("remove-tenants-v1", {"tenants": [1]})):
            answer = sock.command(name, **fields)
            assert answer["result"] == "error" and "add-tenants-v1" in answer["message"], answer
        sock.ws.send("not json")
        assert sock.response(None)["result"] == "error"
        assert sock.command("subscribe-v2")["result"] == "error"
        company = env.company()
        sock.command("add-tenants-v1", clientSecret=company.client_secret, accessTokens=[env.token(company)])
        assert sock.command("subscribe-v1")["result"] == "error"  # no topics yet
        answer = sock.command("add-topics-v1", topics=[{"topic": "orders"}, {"topic": "no-such-topic"}])
        assert answer == {"response": "add-topics-v1", "result": "ok", "invalidTopics": ["no-such-topic"]}
        assert sock.command("subscribe-v1") == {"response": "subscribe-v1", "result": "ok"}


def test_remove_tenants_by_token_or_by_id_and_a_rotated_token_keeps_the_tenant(env: Env) -> None:
    a, b = env.company(), env.company()
    old_a, new_a, token_b = env.token(a), env.token(a), env.token(b)
    with env.socket() as sock:
        sock.subscribe(a.client_secret, [old_a, token_b], [{"topic": "orders"}])
        # rotation: new token first, then the old one goes; the tenant never leaves the socket
        assert sock.command("add-tenants-v1", clientSecret=a.client_secret,
                            accessTokens=[f"Bearer {new_a}"])["tenantIds"] == {f"Bearer {new_a}": a.tenant_id}
        assert sock.command("remove-tenants-v1", accessTokens=[f"Bearer {old_a}"])["result"] == "ok"
        assert sock.command("list-tenants-v1")["tenantIds"] == sorted([a.tenant_id, b.tenant_id])
        env.call(a, "POST", "/3/orders", order_body())
        assert [e["tenantId"] for e in sock.take(1)] == [a.tenant_id]
        answer = sock.command("remove-tenants-v1", tenants=[b.tenant_id, 999_999])
        assert answer == {"response": "remove-tenants-v1", "result": "ok", "invalidTenants": [999_999]}
        assert sock.command("list-tenants-v1")["tenantIds"] == [a.tenant_id]
        env.call(b, "POST", "/3/orders", order_body())
        assert sock.drain() == []  # b left the socket


def test_tenant_isolation_between_sockets_and_integrations(env: Env) -> None:
    a = env.company()
    b = env.company(shared_client=False)  # another integration, another secret
    with env.socket() as sock_a, env.socket() as sock_b:
        sock_a.subscribe(a.client_secret, [env.token(a)], [{"topic": "orders"}])
        sock_b.subscribe(b.client_secret, [env.token(b)], [{"topic": "orders"}])
        # a's secret does not let b's token in, and the other way round
        wrong = sock_a.command("add-tenants-v1", clientSecret=a.client_secret, accessTokens=[env.token(b)])
        assert wrong["result"] == "error"
        made_a = env.call(a, "POST", "/3/orders", order_body())["Order"]["DocumentNumber"]
        made_b = env.call(b, "POST", "/3/orders", order_body(qty=1))["Order"]["DocumentNumber"]
        got_a, got_b = sock_a.take(1), sock_b.take(1)
        assert sock_a.drain(0.3) == [] and sock_b.drain(0.3) == []
        assert [(e["tenantId"], e["entityId"]) for e in got_a] == [(a.tenant_id, made_a)]
        assert [(e["tenantId"], e["entityId"]) for e in got_b] == [(b.tenant_id, made_b)]


def test_one_socket_serves_two_tenants_and_the_connections_route_counts_one(env: Env) -> None:
    assert requests.get(f"{env.base}/_sandbox/events/connections", timeout=5).json()["count"] == 0
    a, b = env.company(), env.company()
    with env.socket() as sock:
        added = sock.subscribe(a.client_secret, [env.token(a), env.token(b)], [{"topic": "orders"}])
        assert sorted(added["tenantIds"].values()) == sorted([a.tenant_id, b.tenant_id])
        seen = requests.get(f"{env.base}/_sandbox/events/connections", timeout=5).json()
        assert seen["count"] == 1
        assert seen["connections"][0]["tenantIds"] == sorted([a.tenant_id, b.tenant_id])
        assert seen["connections"][0]["subscribed"] and seen["connections"][0]["topics"] == ["orders"]
        assert "Bearer" not in json.dumps(seen) and env.token(a)[:20] not in json.dumps(seen)
        number_a = env.call(a, "POST", "/3/orders", order_body())["Order"]["DocumentNumber"]
        number_b = env.call(b, "POST", "/3/orders", order_body())["Order"]["DocumentNumber"]
        got = sock.take(2)
        assert {(e["tenantId"], e["entityId"], e["type"]) for e in got} == {
            (a.tenant_id, number_a, "order-created-v1"), (b.tenant_id, number_b, "order-created-v1")}
    deadline = time.monotonic() + 5
    while requests.get(f"{env.base}/_sandbox/events/connections", timeout=5).json()["count"] != 0:
        assert time.monotonic() < deadline, "the closed socket is still counted"
        time.sleep(0.05)


def test_event_shape_and_opaque_offsets(env: Env) -> None:
    company = env.company()
    with env.socket() as sock:
        sock.subscribe(company.client_secret, [env.token(company)], [{"topic": "orders"}])
        numbers = [env.call(company, "POST", "/3/orders", order_body())["Order"]["DocumentNumber"] for _ in range(12)]
        got = sock.take(12)
    assert [e["entityId"] for e in got] == numbers
    for event in got:
        assert set(event) == {"topic", "offset", "type", "tenantId", "entityId", "timestamp"}
        assert isinstance(event["offset"], str) and isinstance(event["tenantId"], int)
        assert event["timestamp"][-6:] in ("+01:00", "+02:00") and "." in event["timestamp"]
    offsets = [e["offset"] for e in got]
    assert len(set(offsets)) == 12
    assert offsets != sorted(offsets), "offsets must not sort like the log (clients must never compare them)"


def test_control_routes_validate_knobs(env: Env) -> None:
    bad = requests.post(f"{env.base}/_sandbox/events/knobs", json={"duplicate_evry": 2}, timeout=5)
    assert bad.status_code == 422 and "duplicate_evry" in bad.text
    bad = requests.post(f"{env.base}/_sandbox/events/knobs", json={"lag_ms": -5}, timeout=5)
    assert bad.status_code == 422 and "lag_ms" in bad.text
    assert env.knobs(lag_ms=5)["lag_ms"] == 5
    assert requests.get(f"{env.base}/_sandbox/events/knobs", timeout=5).json()["lag_ms"] == 5
    assert requests.get(f"{env.base}/_sandbox/events/log", params={"topic": "nope"}, timeout=5).status_code == 422


def test_starlette_test_client_works_too() -> None:
    """The same endpoint in process (no server thread), as other tests may prefer."""
    app = create_app(seed=3)
    sandbox = app.state.sandbox
    token = sandbox.mint_access_token()
    with TestClient(app) as client, client.websocket_connect("/topics-v1") as ws:
        ws.send_json({"command": "add-tenants-v1", "clientSecret": sandbox.default.client_secret,
                      "accessTokens": [f"Bearer {token}"]})
        assert ws.receive_json()["tenantIds"] == {f"Bearer {token}": sandbox.default.tenant_id}
        ws.send_json({"command": "add-topics-v1", "topics": [{"topic": "articles"}]})
        assert ws.receive_json()["result"] == "ok"
        ws.send_json({"command": "subscribe-v1"})
        assert ws.receive_json()["result"] == "ok"
        created = client.post("/3/articles", json={"Article": {"ArticleNumber": "TC-1", "Description": "x"}},
                              headers={"Authorization": f"Bearer {token}"})
        assert created.status_code == 201
        event = ws.receive_json()
        assert kinds([event]) == [("articles", "article-created-v1", "TC-1")]
        assert sandbox.events.log("articles") == [event]


def test_binary_frames_and_a_client_that_vanishes_mid_stream(env: Env) -> None:
    company = env.company()
    with env.socket() as sock:
        sock.ws.send(json.dumps({"command": "list-tenants-v1"}).encode())  # a binary frame is read as UTF-8 JSON
        assert sock.response("list-tenants-v1")["result"] == "error"
        sock.subscribe(company.client_secret, [env.token(company)], [{"topic": "orders"}])
        env.call(company, "POST", "/3/orders", order_body())
        sock.ws.close_socket()  # gone without a close frame
    for _ in range(3):
        env.call(company, "POST", "/3/orders", order_body())
    with env.socket() as sock:  # the server carries on
        sock.subscribe(company.client_secret, [env.token(company)], [{"topic": "orders"}])
        number = env.call(company, "POST", "/3/orders", order_body())["Order"]["DocumentNumber"]
        assert [e["entityId"] for e in sock.take(1)] == [number]
