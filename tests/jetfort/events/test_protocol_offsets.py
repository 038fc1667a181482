"""Pure parts: the wire protocol, the offset tracker (never ahead of what was applied, never comparing
offsets), the ledger tables and functions, and what a DAG run reads from its context."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from jetfort.events import protocol as p
from jetfort.events.offsets import (
    OffsetTracker,
    applied_batches,
    mark_applied,
    persisted_offsets,
    save_offsets,
    stream_key_for,
)
from jetfort.events.runs import batch_ids, batches_of, entity_ids
from jetfort.events.stream import StreamSettings
from jetfort.ledger import Ledger
from jetfort.ledger.migrate import current_revision


def ev(topic: str, offset: str, tenant: int = 7, entity: str = "1", kind: str = "order-updated-v1") -> p.Event:
    return p.Event(topic=topic, offset=offset, type=kind, tenantId=tenant, entityId=entity,
                   timestamp="2026-12-05T10:00:00.000+01:00")


# ------------------------------------------------------------------------------------------ protocol
def test_commands_are_the_reference_shapes() -> None:
    assert p.add_tenants("s3cret", ["jwt-a", "Bearer jwt-b"]) == {
        "command": "add-tenants-v1", "includeChildTenants": False, "clientSecret": "s3cret",
        "accessTokens": ["Bearer jwt-a", "Bearer jwt-b"]}
    assert p.add_topics({"invoices": None, "orders": "xDy7J"}) == {
        "command": "add-topics-v1", "topics": [{"topic": "invoices"}, {"topic": "orders", "offset": "xDy7J"}]}
    assert p.subscribe() == {"command": "subscribe-v1"}
    assert p.list_tenants() == {"command": "list-tenants-v1"}
    assert p.remove_tenants(["jwt-a"]) == {"command": "remove-tenants-v1", "accessTokens": ["Bearer jwt-a"]}
    assert set(p.COMMANDS) == {"add-tenants-v1", "remove-tenants-v1", "list-tenants-v1", "add-topics-v1",
                               "subscribe-v1"}
    with pytest.raises(ValueError):
        p.add_tenants("s", [])


def test_describe_never_shows_secret_or_token() -> None:
    text = p.describe(p.add_tenants("s3cret-value", ["jwt-token-value"]))
    assert "s3cret" not in text and "jwt-token" not in text and "add-tenants-v1" in text


def test_parse_tells_events_from_responses() -> None:
    event = p.parse('{"topic":"invoices","offset":"xDy7J","type":"invoicepayment-bookkeep-v1",'
                    '"tenantId":29302,"entityId":"3817","timestamp":"2017-12-28T14:59:16.500+01:00"}')
    assert isinstance(event, p.Event) and event.offset == "xDy7J" and event.entityId == "3817"
    answer = p.parse(json.dumps({"response": "add-tenants-v1", "result": "ok",
                                 "tenantIds": {"Bearer a": 34231}, "invalidTokens": ["Bearer b"]}))
    assert isinstance(answer, p.CommandResponse) and answer.ok
    assert answer.tenant_of("a") == 34231 and answer.tenant_of("b") is None and answer.invalid("b")
    listed = p.parse('{"response":"list-tenants-v1","result":"ok","tenantIds":[34231]}')
    assert isinstance(listed, p.CommandResponse) and listed.tenantIds == [34231]
    # numbers for the opaque fields stay strings
    numeric = p.parse('{"topic":"orders","offset":12,"type":"t","tenantId":1,"entityId":5,"timestamp":"x"}')
    assert isinstance(numeric, p.Event) and numeric.offset == "12" and numeric.entityId == "5"
    voucher = p.parse('{"topic":"vouchers","offset":"a","type":"voucher-created-v1","tenantId":1,'
                      '"year":2025,"series":"R","id":"123","timestamp":"x"}')
    assert isinstance(voucher, p.Event) and voucher.as_payload()["series"] == "R"


@pytest.mark.parametrize(("raw", "says"), [
    ("not json", "not JSON"), ("[1]", "JSON list"), ('{"x": 1}', "neither"),
    ('{"topic":"orders","type":"t","tenantId":1,"timestamp":"x"}', "'offset'"),
])
def test_parse_names_what_is_wrong(raw: str, says: str) -> None:
    with pytest.raises(p.ProtocolError, match=says):
        p.parse(raw)


def test_purpose_topics() -> None:
    assert p.PURPOSE_TOPICS == {"status": ("orders", "invoices"), "catalog": ("articles", "warehouse-stockbalances")}
    assert p.TOPIC_PURPOSE["invoices"] == "status" and p.TOPIC_PURPOSE["warehouse-stockbalances"] == "catalog"
    with pytest.raises(ValueError, match="purpose"):
        p.check_purpose("orders")


# ------------------------------------------------------------------------------------------ tracker
A = ("acme", "status")
B = ("beta", "status")


def test_offsets_never_move_past_a_pending_event_and_are_never_compared() -> None:
    # lexicographic order is the reverse of the log order: a tracker that compared would go wrong
    t = OffsetTracker({"orders": "zz"})
    e1, e2, e3 = (t.receive(ev("orders", o), needs={A}) for o in ("y9", "x5", "w1"))
    assert e1 and e2 and e3
    b1 = t.new_batch("acme", "status", [e1, e2], 0.0)
    b2 = t.new_batch("acme", "status", [e3], 0.0)
    assert t.advance() == {}  # nothing applied yet: stays at what was persisted
    assert t.resume_offsets(["orders", "invoices"]) == {"orders": "w1", "invoices": None}
    t.applied([b2.id])  # the later batch first
    assert t.advance() == {} and t.persisted["orders"] == "zz"
    t.applied([b1.id])
    assert t.advance() == {"orders": "w1"}
    t.saved({"orders": "w1"})
    assert t.advance() == {} and t.held("orders") == 0


def test_events_nobody_needs_do_not_hold_offsets_and_duplicates_are_dropped() -> None:
    t = OffsetTracker()
    first = t.receive(ev("orders", "k1", tenant=99), needs=set())
    assert first is not None and not first.pending
    assert t.receive(ev("orders", "k1", tenant=99), needs=set()) is None  # duplicate
    mine = t.receive(ev("orders", "k2"), needs={A})
    assert mine is not None
    assert t.receive(ev("orders", "k2"), needs={A}) is None
    assert t.advance() == {"orders": "k1"}
    batch = t.new_batch(*A, [mine], 0.0)
    t.applied([batch.id])
    assert t.advance() == {"orders": "k2"}
    assert t.receive(ev("orders", "k2"), needs={A}) is None  # already let go: still a duplicate


def test_an_event_two_tenants_need_waits_for_both() -> None:
    t = OffsetTracker()
    both = t.receive(ev("orders", "o1"), needs={A, B})
    assert both is not None
    ba, bb = t.new_batch(*A, [both], 0.0), t.new_batch(*B, [both], 0.0)
    t.applied([ba.id])
    assert t.advance() == {}
    t.applied([bb.id])
    assert t.advance() == {"orders": "o1"}


def test_a_failed_run_is_redelivered_under_a_new_id_and_either_id_resolves() -> None:
    t = OffsetTracker()
    e = t.receive(ev("invoices", "i1"), needs={A})
    assert e is not None
    old = t.new_batch(*A, [e], 0.0)
    assert t.stale(10.0, 60.0) == []
    [stale] = t.stale(61.0, 60.0)
    fresh = t.redeliver(stale, 61.0)
    assert fresh.id != old.id and fresh.payload["events"] == old.payload["events"]
    assert t.stale(62.0, 60.0) == []  # the copy is young, the old one superseded
    t.applied([old.id])  # the old run succeeded after all
    assert t.pending_batch_ids() == [] and t.advance() == {"invoices": "i1"}


def test_a_gone_trigger_can_be_given_up() -> None:
    t = OffsetTracker()
    e = t.receive(ev("orders", "o1"), needs={A})
    assert e is not None
    t.new_batch(*A, [e], 0.0)
    assert t.drop(*B) == 0 and t.advance() == {}
    assert t.drop(*A) == 1 and t.advance() == {"orders": "o1"}


def test_rewind_puts_replayed_events_back_in_log_order() -> None:
    """A tenant joins: the socket replays from where it started; the newcomer's older events come first."""
    t = OffsetTracker({"orders": "s0"})
    a5 = t.receive(ev("orders", "a5"), needs={A})
    a6 = t.receive(ev("orders", "a6"), needs={A})
    assert a5 and a6
    ba5 = t.new_batch(*A, [a5], 0.0)
    t.new_batch(*A, [a6], 0.0)
    t.applied([ba5.id])
    t.rewind()
    b3 = t.receive(ev("orders", "b3", tenant=8), needs={B})  # new: before a5 in the log
    assert b3 is not None
    assert t.receive(ev("orders", "a5"), needs={A}) is None  # known and done: not delivered again
    assert t.receive(ev("orders", "a6"), needs={A}) is None  # known and pending: back in line
    assert t.advance() == {}  # b3 pending: the offset may not pass it (a5 is after it)
    t.applied([t.new_batch(*B, [b3], 1.0).id])
    assert t.advance() == {"orders": "b3"}  # a6 still pending
    assert t.resume_offsets(["orders"]) == {"orders": "a6"}


# ------------------------------------------------------------------------------------------ ledger
@pytest.fixture
def ledger(ledger_url: str) -> Ledger:  # SQLite, and PostgreSQL when JETFORT_TEST_POSTGRES_URL is set
    return Ledger.from_url(ledger_url)


def test_migration_0005_creates_the_event_tables(ledger: Ledger) -> None:
    assert current_revision(ledger.engine) >= "0005"
    inspector = sa.inspect(ledger.engine)
    assert {c["name"] for c in inspector.get_columns("event_offsets")} == {"stream", "topic", "offset", "updated_at"}
    assert {c["name"] for c in inspector.get_columns("event_applied")} == {"batch", "tenant", "purpose", "applied_at"}


def test_mark_applied_is_idempotent_and_offsets_round_trip(ledger: Ledger) -> None:
    assert mark_applied(ledger, "acme", "status", ["b1", "b2", "b1"]) == 2
    assert mark_applied(ledger, "acme", "status", ["b2", "b3"]) == 1
    assert mark_applied(ledger, "acme", "status", []) == 0
    assert applied_batches(ledger, ["b1", "b3", "nope"]) == {"b1", "b3"}
    with pytest.raises(ValueError, match="purpose"):
        mark_applied(ledger, "acme", "orders", ["b9"])
    key = stream_key_for("ws://x/topics-v1", "client-1")
    assert persisted_offsets(ledger, key) == {}
    save_offsets(ledger, key, {"orders": "o1", "invoices": "i1"})
    save_offsets(ledger, key, {"orders": "o2"})
    assert persisted_offsets(ledger, key) == {"orders": "o2", "invoices": "i1"}
    assert persisted_offsets(ledger, stream_key_for("ws://x/topics-v1", "other")) == {}


# ------------------------------------------------------------------------------------------ runs
def test_batches_of_reads_only_our_trigger_payloads_once() -> None:
    payload = {"tenant": "acme", "purpose": "status", "batch": "b1",
               "events": [ev("orders", "o1", entity="100").as_payload(), ev("invoices", "i1", entity="7").as_payload(),
                          ev("orders", "o2", entity="100").as_payload()]}
    other = {"tenant": "acme", "purpose": "status", "batch": "b2",
             "events": [ev("orders", "o3", entity="101").as_payload()]}
    context = {"triggering_asset_events": {
        "asset-a": [SimpleNamespace(extra={"from_trigger": True, "payload": payload}),
                    SimpleNamespace(extra={"from_trigger": True, "payload": other}),
                    SimpleNamespace(extra={"rows": 3})],  # a task's outlet event
        "alias": [SimpleNamespace(extra={"from_trigger": True, "payload": payload}),  # same event via an alias
                  {"extra": {"from_trigger": True, "payload": {"something": "else"}}}],
    }}
    batches = batches_of(context)
    assert [b["batch"] for b in batches] == ["b1", "b2"]
    assert batch_ids(batches) == ["b1", "b2"]
    assert entity_ids(batches, "orders") == ["100", "101"] and entity_ids(batches, "invoices") == ["7"]
    assert batches_of(context, tenant="beta") == [] and batches_of({}) == []


def test_stream_settings_from_the_environment() -> None:
    settings = StreamSettings.from_env({"JETFORT_EVENTS_REDELIVER_AFTER": "60", "JETFORT_EVENTS_SETTLE": ""})
    assert settings.redeliver_after == 60.0 and settings.settle == StreamSettings().settle
    with pytest.raises(ValueError, match="JETFORT_EVENTS_POLL_INTERVAL"):
        StreamSettings.from_env({"JETFORT_EVENTS_POLL_INTERVAL": "soon"})
